// sys/wait.h: reaping our own children, one known pid at a time (waitpid(-1) would steal child_process's).
import { libc, koffi, cInt, EINTR } from './libc.js';
import { sysError } from './errors.js';

export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WCONTINUED = 8;

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

