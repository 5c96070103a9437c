// fcntl.h's signal-driven I/O: the kernel sends SIGIO when a descriptor becomes readable, so Node's own signal
// watcher (no polling, no thread) can wake us for a socket libuv cannot adopt, such as a unix datagram socket.
import { libc, checkMinusOne, cInt } from './libc.js';

const F_GETFL = 3;
const F_SETFL = 4;
const F_SETOWN = 8;
const O_ASYNC = 0o20000;

const fcntlNative = libc.func('int fcntl(int fd, int cmd, ...)');

/**
 * fcntl(2) F_SETOWN then F_GETFL/F_SETFL | O_ASYNC, -1/errno: from now on the kernel sends SIGIO to process `pid` when
 * fd has input (for a datagram socket: each datagram queued). Listen for SIGIO before calling this: its default kills.
 */
export function signalOnInput(fd: number, pid: number): void {
  cInt(fd, 'fd');
  checkMinusOne(fcntlNative(fd, F_SETOWN, 'int', cInt(pid, 'pid')), 'fcntl');
  const flags = checkMinusOne(fcntlNative(fd, F_GETFL), 'fcntl');
  if ((flags & O_ASYNC) === 0) checkMinusOne(fcntlNative(fd, F_SETFL, 'int', flags | O_ASYNC), 'fcntl');
}
