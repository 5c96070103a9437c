// fcntl.h: the close-on-exec flag and the open(2) flags that file actions and PID files use.
import { constants } from 'node:fs';
import { libc, checkMinusOne, cInt } from './libc.js';

export const O_RDONLY = constants.O_RDONLY;
export const O_WRONLY = constants.O_WRONLY;
export const O_RDWR = constants.O_RDWR;
export const O_CREAT = constants.O_CREAT;
export const O_TRUNC = constants.O_TRUNC;
export const O_APPEND = constants.O_APPEND;
export const O_NOCTTY = constants.O_NOCTTY;
export const O_NOFOLLOW = constants.O_NOFOLLOW;
export const O_NONBLOCK = constants.O_NONBLOCK;
// Node's fs.constants has no O_CLOEXEC (its opens always set it); 02000000 on x86_64 and arm64.
export const O_CLOEXEC = 0o2000000;

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

// fcntl is variadic: koffi takes each extra argument as a (type, value) pair, e.g. fcntl(fd, F_SETFD, 'int', flags).
const fcntlNative = libc.func('int fcntl(int fd, int cmd, ...)');

/** fcntl(2) F_GETFD then F_SETFD: sets or clears close-on-exec, keeping other fd flags. -1/errno convention. */
export function setCloexec(fd: number, on: boolean): void {
  const flags = checkMinusOne(fcntlNative(cInt(fd, 'fd'), F_GETFD), 'fcntl');
  const next = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (next !== flags) checkMinusOne(fcntlNative(fd, F_SETFD, 'int', next), 'fcntl');
}
