// sys/wait.h: reaping our own children, one known pid at a time (waitpid(-1) would steal child_process's).
import { libc, koffi, cInt, EINTR } from './libc.js';
import { constants } from 'node:os';
import { sysError } from './errors.js';

export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WCONTINUED = 8;
const ECHILD = constants.errno.ECHILD;

export interface WaitResult {
  pid: number;
  /** The raw wait status; decoding it is the planner's job. */
  status: number;
}

// The status is an out-parameter: koffi writes it back into a one-element array.
const waitpidNative = libc.func('int waitpid(int pid, _Out_ int *status, int options)');

/**
 * waitpid(2): -1/errno convention. Returns null when WNOHANG finds the child still running
 * (expected); retries EINTR; throws SysError for ECHILD and the rest.
 */
export function waitpid(pid: number, options = 0): WaitResult | null {
  cInt(pid, 'pid');
  for (;;) {
    const status = [0];
    const ret = waitpidNative(pid, status, options);
    if (ret > 0) return { pid: ret, status: status[0] };
    if (ret === 0) return null;
    const errno = koffi.errno();
    if (errno !== EINTR) throw sysError(errno, 'waitpid');
  }
}

const P_ALL = 0;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
/** siginfo_t is 128 bytes; si_pid is its int at byte 16 on Linux (after si_signo, si_errno, si_code and padding). */
const SIGINFO_BYTES = 128;
const SI_PID_OFFSET = 16;
const waitidNative = libc.func('int waitid(int idtype, int id, _Out_ uint8_t *infop, int options)');

/**
 * waitid(2) P_ALL with WEXITED|WNOHANG|WNOWAIT: the PID of a child that has exited, left waitable (not reaped), or
 * null when none has (or there are no children). -1/errno convention; retries EINTR.
 */
export function peekExited(): number | null {
  for (;;) {
    const info = Buffer.alloc(SIGINFO_BYTES);
    const ret = waitidNative(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT);
    if (ret === 0) {
      const pid = info.readInt32LE(SI_PID_OFFSET);
      return pid > 0 ? pid : null;
    }
    const errno = koffi.errno();
    if (errno === ECHILD) return null;
    if (errno !== EINTR) throw sysError(errno, 'waitid');
  }
}
