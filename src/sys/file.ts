// sys/file.h: flock(2), the PID file's liveness lock.
import { libc, koffi, cInt, EAGAIN, EINTR } from './libc.js';
import { sysError } from './errors.js';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

const flockNative = libc.func('int flock(int fd, int operation)');

/**
 * flock(2): -1/errno convention. true when the lock was taken (or released); false when LOCK_NB
 * found it held elsewhere (EWOULDBLOCK, expected); retries EINTR; throws SysError otherwise.
 */
export function flock(fd: number, operation: number): boolean {
  cInt(fd, 'fd');
  for (;;) {
    if (flockNative(fd, cInt(operation, 'operation')) === 0) return true;
    const errno = koffi.errno();
    if (errno === EAGAIN && (operation & LOCK_NB) !== 0) return false; // EWOULDBLOCK == EAGAIN on Linux
    if (errno !== EINTR) throw sysError(errno, 'flock');
  }
}
