// unistd.h: chroot, pipes, dup2, _exit. All -1/errno convention but _exit, which cannot fail.
import { libc, koffi, checkMinusOne, cInt, cString, EINTR } from './libc.js';

const chrootNative = libc.func('int chroot(const char *path)');
const pipe2Native = libc.func('int pipe2(_Out_ int *fds, int flags)');
const exitNative = libc.func('void _exit(int status)');
const dup2Native = libc.func('int dup2(int oldfd, int newfd)');

const O_CLOEXEC = 0o2000000;

/** chroot(2), -1/errno: errors carry the path. */
export function chroot(path: string): void {
  checkMinusOne(chrootNative(cString(path, 'path')), 'chroot', path);
}

/** pipe2(2) with O_CLOEXEC, -1/errno: [read end, write end]; a child gets an end only through an explicit adddup2. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  checkMinusOne(pipe2Native(fds, O_CLOEXEC), 'pipe2');
  return [fds[0]!, fds[1]!];
}

/** dup2(2), -1/errno, retrying EINTR: newfd becomes a copy of oldfd, without close-on-exec. */
export function dup2(oldfd: number, newfd: number): void {
  for (;;) {
    if (dup2Native(cInt(oldfd, 'oldfd'), cInt(newfd, 'newfd')) !== -1) return;
    if (koffi.errno() !== EINTR) checkMinusOne(-1, 'dup2');
  }
}

/** _exit(2): ends the process at once, without Node's teardown or 'exit' handlers. Never returns. */
export function exitNow(status: number): never {
  exitNative(cInt(status, 'status'));
  throw new Error('_exit returned');
}
