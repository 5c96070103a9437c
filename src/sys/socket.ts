// sys/socket.h: the unix sockets Node cannot make itself (a socketpair to hand to a child, a datagram for sd_notify).
import { libc, koffi, checkMinusOne, cString, EINTR } from './libc.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;

const socketpairNative = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const socketNative = libc.func('int socket(int domain, int type, int protocol)');
const sendtoNative = libc.func('long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, unsigned int addrlen)');
const closeNative = libc.func('int close(int fd)');

/** socketpair(2), -1/errno: two connected close-on-exec stream sockets; adddup2 hands one to a child. */
export function socketpair(): [number, number] {
  const sv = [0, 0];
  checkMinusOne(socketpairNative(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
  return [sv[0]!, sv[1]!];
}

/** sendto(2) on a fresh socket(2) datagram socket, -1/errno: sd_notify(3)'s wire protocol; '@' names the abstract namespace. */
export function notifySocket(path: string, message: string): void {
  cString(path, 'notify socket path');
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (name.length >= SUN_PATH_MAX) throw new RangeError(`notify socket path too long: ${path}`);
  const addr = Buffer.alloc(2 + name.length + (path.startsWith('@') ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  const fd = checkMinusOne(socketNative(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket', path);
  try {
    const body = Buffer.from(message);
    for (;;) {
      const n = sendtoNative(fd, body, body.length, 0, addr, addr.length);
      if (n === -1 && koffi.errno() === EINTR) continue;
      checkMinusOne(Number(n), 'sendto', path);
      return;
    }
  } finally {
    closeNative(fd);
  }
}
