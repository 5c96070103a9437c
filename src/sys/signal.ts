// signal.h: sending signals, and the sigset_t layout the spawn attributes need.
import { libc, koffi, cInt, ESRCH } from './libc.js';
import { sysError } from './errors.js';
import { constants } from 'node:os';

// glibc's sigset_t is 1024 bits (128 bytes) on Linux; the kernel uses the first 64.
export const SIGSET_BYTES = 128;
/** Signals 1..64: the kernel's whole range, including the two glibc keeps for itself (32, 33). */
export const ALL_SIGNALS: readonly number[] = Array.from({ length: 64 }, (_, i) => i + 1);

// The signals daemonkit sends or handles by number, named once here (Linux numbering, from Node's own table).
export const { SIGHUP, SIGINT, SIGKILL, SIGUSR1, SIGUSR2, SIGTERM, SIGCONT, SIGSTOP, SIGCHLD } = constants.signals;

export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

/**
 * A sigset_t holding `signals`, built bit by bit: sigaddset(3) refuses 32 and 33 (EINVAL), yet
 * posix_spawn leaves those SIG_IGN in the child unless they are in the SETSIGDEF set.
 */
export function sigset(signals: readonly number[]): Buffer {
  const set = Buffer.alloc(SIGSET_BYTES); // all-zero is the empty set, as sigemptyset(3) makes it
  for (const sig of signals) {
    if (!Number.isInteger(sig) || sig < 1 || sig > 64) throw new RangeError(`signal must be 1..64, got ${String(sig)}`);
    // Bit sig-1 of an array of little-endian unsigned longs is bit (sig-1)%8 of byte (sig-1)/8.
    set[(sig - 1) >> 3] |= 1 << ((sig - 1) & 7);
  }
  return set;
}

const killNative = libc.func('int kill(int pid, int sig)');

function send(target: number, signal: number): boolean {
  cInt(signal, 'signal');
  if (killNative(target, signal) === 0) return true;
  const errno = koffi.errno();
  if (errno === ESRCH) return false; // already gone (or reaped): expected, not exceptional
  throw sysError(errno, 'kill');
}

/**
 * kill(2) for one process: true when sent, false for ESRCH; throws SysError (EPERM...) otherwise.
 * pid 0, -1 and other non-positive pids are refused (RangeError): they address groups or everyone.
 */
export function kill(pid: number, signal: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) {
    throw new RangeError(`kill: pid must be a positive integer (use killGroup for a process group), got ${String(pid)}`);
  }
  return send(pid, signal);
}

/**
 * kill(2) of a whole process group, as kill(-pgid, signal): true when sent, false for ESRCH.
 * pgid 1 is refused too, since kill(-1) means every process we may signal.
 */
export function killGroup(pgid: number, signal: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid > 0x7fffffff) {
    throw new RangeError(`killGroup: pgid must be an integer > 1, got ${String(pgid)}`);
  }
  return send(-pgid, signal);
}

/**
 * kill(2) as kill(-1, signal): every process we may signal but ourselves. Only for a PID namespace's init, where that
 * is exactly its own tree. True when sent to some process, false for ESRCH (nobody left).
 */
export function killEveryone(signal: number): boolean {
  if (process.pid !== 1) throw new RangeError('killEveryone: only PID 1 (of its namespace) may signal every process');
  return send(-1, signal);
}
