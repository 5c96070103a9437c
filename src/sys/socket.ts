// sys/socket.h: the unix sockets Node cannot make itself (a socketpair to hand to a child, a datagram for sd_notify),
// and a listening socket made without loading node:net.
import { libc, koffi, checkMinusOne, cString, EINTR } from './libc.js';
import { SUN_PATH_MAX } from './un.js';

export { SUN_PATH_MAX };

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

const socketpairNative = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const socketNative = libc.func('int socket(int domain, int type, int protocol)');
const sendtoNative = libc.func('long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, unsigned int addrlen)');
const closeNative = libc.func('int close(int fd)');
const bindNative = libc.func('int bind(int fd, const void *addr, unsigned int addrlen)');
const listenNative = libc.func('int listen(int fd, int backlog)');

/** socketpair(2), -1/errno: two connected close-on-exec stream sockets; adddup2 hands one to a child. */
export function socketpair(): [number, number] {
  const sv = [0, 0];
  checkMinusOne(socketpairNative(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
  return [sv[0]!, sv[1]!];
}

/** A struct sockaddr_un for path; '@' names the abstract namespace. */
function unixAddress(path: string, what: string): Buffer {
  cString(path, what);
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (name.length >= SUN_PATH_MAX) throw new RangeError(`${what} too long: ${path}`);
  const addr = Buffer.alloc(2 + name.length + (path.startsWith('@') ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return addr;
}

/**
 * socket(2), bind(2) and listen(2), -1/errno: a close-on-exec unix stream socket listening at path, errors carrying
 * the path. Clients can connect (the kernel queues them) before anyone accepts: net.Server adopts it with listen({ fd }).
 */
export function listenUnix(path: string, backlog: number): number {
  const addr = unixAddress(path, 'socket path');
  const fd = checkMinusOne(socketNative(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket', path);
  try {
    checkMinusOne(bindNative(fd, addr, addr.length), 'bind', path);
    checkMinusOne(listenNative(fd, backlog), 'listen', path);
    return fd;
  } catch (e) {
    closeNative(fd);
    throw e;
  }
}

/** sendto(2) on a fresh socket(2) datagram socket, -1/errno: sd_notify(3)'s wire protocol; '@' names the abstract namespace. */
export function notifySocket(path: string, message: string): void {
  const addr = unixAddress(path, 'notify socket path');
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
