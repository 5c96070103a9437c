// Decodes a raw Linux wait status (as waitpid fills it) into what happened and the exit code a shell would report.
import { signalName } from './signals';

export const WAIT_EXITED: i32 = 0;
export const WAIT_KILLED: i32 = 1;
export const WAIT_STOPPED: i32 = 2;
export const WAIT_CONTINUED: i32 = 3;

// The kernel's status is 16 bits; higher bits only carry ptrace event numbers, which daemonkit never asks for.
function low16(status: i32): i32 {
  return status & 0xffff;
}

/** 0 exited, 1 killed by a signal, 2 stopped, 3 continued. */
export function waitKind(status: i32): i32 {
  const s = low16(status);
  if (s == 0xffff) return WAIT_CONTINUED;
  if ((s & 0xff) == 0x7f) return WAIT_STOPPED;
  if ((s & 0x7f) == 0) return WAIT_EXITED;
  return WAIT_KILLED;
}

/** The exit code if it exited, the signal if it was killed or stopped, 0 if it continued. */
export function waitCode(status: i32): i32 {
  const s = low16(status);
  const kind = waitKind(s);
  if (kind == WAIT_KILLED) return s & 0x7f;
  if (kind == WAIT_CONTINUED) return 0;
  return (s >> 8) & 0xff;
}

/** Whether a signal killed it and the kernel wrote a core dump. */
export function waitCoreDumped(status: i32): bool {
  return waitKind(status) == WAIT_KILLED && (status & 0x80) != 0;
}

/** Whether it exited with code 0. */
export function waitSucceeded(status: i32): bool {
  return waitKind(status) == WAIT_EXITED && waitCode(status) == 0;
}

/** The raw status of a process that exited with `code`, as waitpid would fill it. */
export function exitedStatus(code: i32): i32 {
  return (code & 0xff) << 8;
}

/** The code a shell reports for it: the exit code, or 128 + the signal that killed or stopped it; 0 if it continued. */
export function shellExitCode(status: i32): i32 {
  const kind = waitKind(status);
  if (kind == WAIT_EXITED || kind == WAIT_CONTINUED) return waitCode(status);
  return 128 + waitCode(status);
}

function nameOf(signal: i32): string {
  const name = signalName(signal);
  return name.length ? name : 'signal ' + signal.toString();
}

/** "exited 3", "killed by SIGSEGV (core dumped)", "stopped by SIGSTOP", "continued". */
export function describeWaitStatus(status: i32): string {
  const kind = waitKind(status);
  const code = waitCode(status);
  if (kind == WAIT_EXITED) return 'exited ' + code.toString();
  if (kind == WAIT_STOPPED) return 'stopped by ' + nameOf(code);
  if (kind == WAIT_CONTINUED) return 'continued';
  return 'killed by ' + nameOf(code) + (waitCoreDumped(status) ? ' (core dumped)' : '');
}
