// sys/socket.h: the unix sockets Node cannot make itself (a socketpair to hand to a child, a datagram for sd_notify,
// a datagram socket that reads its senders' credentials), and listening sockets made without loading node:net.
import { libc, koffi, checkMinusOne, cString, cInt, EINTR, EAGAIN } from './libc.js';
import { SUN_PATH_MAX } from './un.js';

export { SUN_PATH_MAX };

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_PASSCRED = 16;
const SCM_RIGHTS = 1;
const SCM_CREDENTIALS = 2;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const MSG_CTRUNC = 0x08;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;

const socketpairNative = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const socketNative = libc.func('int socket(int domain, int type, int protocol)');
const sendtoNative = libc.func(
  'long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, unsigned int addrlen)',
);
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
export function unixAddress(path: string, what: string): Buffer {
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

/**
 * sendto(2) on a fresh socket(2) datagram socket, -1/errno: sd_notify(3)'s wire protocol; '@' names the abstract
 * namespace. nonblocking: a full receive queue fails with EAGAIN instead of waiting for the receiver to read.
 */
export function notifySocket(path: string, message: string, nonblocking = false): void {
  const addr = unixAddress(path, 'notify socket path');
  const fd = checkMinusOne(socketNative(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0), 'socket', path);
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

const setsockoptNative = libc.func('int setsockopt(int fd, int level, int name, const int *value, unsigned int len)');
const connectNative = libc.func('int connect(int fd, const void *addr, unsigned int addrlen)');
const getsocknameNative = libc.func('int getsockname(int fd, _Out_ uint8_t *addr, _Inout_ unsigned int *addrlen)');
const recvmsgNative = libc.func('long recvmsg(int fd, void *msg, int flags)');
const sendmsgNative = libc.func('long sendmsg(int fd, const void *msg, int flags)');

/** sizeof(struct sockaddr_storage): room for any address getsockname(2) returns. */
const SOCKADDR_STORAGE_BYTES = 128;
const INT_BYTES = 4;

/** socket(2), -1/errno: a new socket of that domain and type (SOCK_* flags or'ed in); errors carry `path` when given. */
export function socket(domain: number, type: number, path?: string): number {
  return checkMinusOne(socketNative(cInt(domain, 'domain'), cInt(type, 'type'), 0), 'socket', path);
}

/** setsockopt(2) with an int value (SO_REUSEADDR, SO_PASSCRED, IPV6_V6ONLY...), -1/errno. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  checkMinusOne(
    setsockoptNative(cInt(fd, 'fd'), cInt(level, 'level'), cInt(name, 'name'), [cInt(value, 'value')], INT_BYTES),
    'setsockopt',
  );
}

/** bind(2), -1/errno: addr is a struct sockaddr_* (unixAddress, sockaddrIn, sockaddrIn6); errors carry `path`. */
export function bind(fd: number, addr: Buffer, path?: string): void {
  checkMinusOne(bindNative(cInt(fd, 'fd'), addr, addr.length), 'bind', path);
}

/** listen(2), -1/errno. */
export function listen(fd: number, backlog: number, path?: string): void {
  checkMinusOne(listenNative(cInt(fd, 'fd'), cInt(backlog, 'backlog')), 'listen', path);
}

/** connect(2), -1/errno: errors carry `path` (EINPROGRESS/EAGAIN on a non-blocking socket are the caller's to read). */
export function connect(fd: number, addr: Buffer, path?: string): void {
  checkMinusOne(connectNative(cInt(fd, 'fd'), addr, addr.length), 'connect', path);
}

/** getsockname(2), -1/errno: the struct sockaddr the socket is bound to (parseInetAddress reads an inet one). */
export function getsockname(fd: number): Buffer {
  const addr = Buffer.alloc(SOCKADDR_STORAGE_BYTES);
  const len = [addr.length];
  checkMinusOne(getsocknameNative(cInt(fd, 'fd'), addr, len), 'getsockname');
  return addr.subarray(0, Math.min(len[0]!, addr.length));
}

/** sendto(2), -1/errno, retrying EINTR: one datagram to addr; errors carry `path`. */
export function sendto(fd: number, data: Buffer, addr: Buffer, path?: string): void {
  for (;;) {
    const n = sendtoNative(cInt(fd, 'fd'), data, data.length, 0, addr, addr.length);
    if (n === -1 && koffi.errno() === EINTR) continue;
    checkMinusOne(Number(n), 'sendto', path);
    return;
  }
}

export interface Datagram {
  /** At most the maxBytes asked for. */
  data: Buffer;
  /** The datagram was longer than maxBytes: the kernel dropped the rest (MSG_TRUNC). */
  truncated: boolean;
  /** The sender's credentials (SCM_CREDENTIALS, in our PID namespace), present when the socket has SO_PASSCRED. */
  pid: number | null;
  uid: number | null;
  gid: number | null;
}

// x86_64/arm64 layouts (LP64): struct msghdr is 56 bytes, struct iovec 16, and CMSG_SPACE(sizeof(struct ucred)) is
// a 16-byte cmsghdr plus 12 bytes of pid, uid, gid rounded up to 8.
const MSGHDR_BYTES = 56;
const IOVEC_BYTES = 16;
const CMSG_HEADER_BYTES = 16;
const CONTROL_BYTES = 32;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROL = 32;
const MSG_CONTROLLEN = 40;
const MSG_FLAGS = 48;

/** A struct msghdr with one iovec of dataBytes and controlBytes of ancillary room, in one koffi allocation. */
interface Msghdr {
  base: bigint;
  view: DataView;
  /** Offsets in the allocation. */
  control: number;
  data: number;
}

function allocMsghdr(dataBytes: number, controlBytes: number): Msghdr {
  const iov = MSGHDR_BYTES;
  const control = iov + IOVEC_BYTES;
  const data = control + controlBytes;
  const base = koffi.alloc('uint8_t', data + dataBytes) as bigint;
  const view = new DataView(koffi.view(base, data + dataBytes));
  for (let i = 0; i < data; i++) view.setUint8(i, 0);
  view.setBigUint64(MSG_IOV, base + BigInt(iov), true);
  view.setBigUint64(MSG_IOVLEN, 1n, true);
  if (controlBytes > 0) {
    view.setBigUint64(MSG_CONTROL, base + BigInt(control), true);
    view.setBigUint64(MSG_CONTROLLEN, BigInt(controlBytes), true);
  }
  view.setBigUint64(iov, base + BigInt(data), true);
  view.setBigUint64(iov + 8, BigInt(dataBytes), true);
  return { base, view, control, data };
}

/** CMSG_SPACE(3) for n fds: the header plus the ints, rounded up to 8. */
function fdsControlBytes(n: number): number {
  return n > 0 ? CMSG_HEADER_BYTES + ((n * INT_BYTES + 7) & ~7) : 0;
}

/**
 * recvmsg(2) with MSG_DONTWAIT, -1/errno, retrying EINTR: the next datagram and its sender's SCM_CREDENTIALS, or null
 * when none is queued (EAGAIN). The control buffer holds credentials only: fds a sender attaches (SCM_RIGHTS) do not
 * fit, so the kernel closes them instead of installing them here.
 */
export function recvDatagram(fd: number, maxBytes: number): Datagram | null {
  cInt(fd, 'fd');
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${String(maxBytes)}`);
  const { base, view, control, data } = allocMsghdr(maxBytes, CONTROL_BYTES);
  try {
    let n: number;
    for (;;) {
      n = Number(recvmsgNative(fd, base, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      if (n !== -1) break;
      const errno = koffi.errno();
      if (errno === EAGAIN) return null;
      if (errno !== EINTR) checkMinusOne(n, 'recvmsg');
    }
    const flags = view.getInt32(MSG_FLAGS, true);
    const controlLen = Number(view.getBigUint64(MSG_CONTROLLEN, true));
    let pid: number | null = null;
    let uid: number | null = null;
    let gid: number | null = null;
    // The credentials come first when present (scm_recv puts them before any fds).
    if (
      controlLen >= CMSG_HEADER_BYTES + 3 * INT_BYTES &&
      view.getInt32(control + 8, true) === SOL_SOCKET &&
      view.getInt32(control + 12, true) === SCM_CREDENTIALS
    ) {
      pid = view.getInt32(control + CMSG_HEADER_BYTES, true);
      uid = view.getUint32(control + CMSG_HEADER_BYTES + 4, true);
      gid = view.getUint32(control + CMSG_HEADER_BYTES + 8, true);
    }
    const bytes = Buffer.from(new Uint8Array(view.buffer, data, Math.min(n, maxBytes)));
    return { data: bytes, truncated: (flags & MSG_TRUNC) !== 0, pid, uid, gid };
  } finally {
    koffi.free(base);
  }
}

/**
 * sendmsg(2) with MSG_NOSIGNAL, -1/errno, retrying EINTR: data on a stream socket with fds attached (SCM_RIGHTS, the
 * receiver gets its own copies). Returns the bytes sent, which on a stream socket may be fewer than given: the fds
 * travel with the first of them, so the caller sends the rest without fds.
 */
export function sendWithFds(fd: number, data: Buffer, fds: readonly number[]): number {
  cInt(fd, 'fd');
  const controlBytes = fdsControlBytes(fds.length);
  const m = allocMsghdr(data.length, controlBytes);
  try {
    new Uint8Array(m.view.buffer, m.data, data.length).set(data);
    if (fds.length) {
      m.view.setBigUint64(m.control, BigInt(CMSG_HEADER_BYTES + fds.length * INT_BYTES), true);
      m.view.setInt32(m.control + 8, SOL_SOCKET, true);
      m.view.setInt32(m.control + 12, SCM_RIGHTS, true);
      fds.forEach((f, i) => m.view.setInt32(m.control + CMSG_HEADER_BYTES + i * INT_BYTES, cInt(f, 'fds'), true));
    }
    for (;;) {
      const n = Number(sendmsgNative(fd, m.base, MSG_NOSIGNAL));
      if (n !== -1) return n;
      if (koffi.errno() !== EINTR) checkMinusOne(n, 'sendmsg');
    }
  } finally {
    koffi.free(m.base);
  }
}

export interface Received {
  /** What was read (at most maxBytes); empty at end of file. */
  data: Buffer;
  /** The fds that came with it (SCM_RIGHTS), installed close-on-exec. */
  fds: number[];
  /** More fds were attached than there was room for: the kernel closed the rest (MSG_CTRUNC). */
  fdsTruncated: boolean;
}

/**
 * recvmsg(2) with MSG_CMSG_CLOEXEC, -1/errno, retrying EINTR: up to maxBytes of a stream socket and up to maxFds fds
 * sent with them (any beyond are closed and flagged); null when the socket is non-blocking and nothing is there (EAGAIN).
 */
export function recvWithFds(fd: number, maxBytes: number, maxFds: number): Received | null {
  cInt(fd, 'fd');
  const m = allocMsghdr(maxBytes, fdsControlBytes(maxFds));
  try {
    let n: number;
    for (;;) {
      n = Number(recvmsgNative(fd, m.base, MSG_CMSG_CLOEXEC));
      if (n !== -1) break;
      const errno = koffi.errno();
      if (errno === EAGAIN) return null;
      if (errno !== EINTR) checkMinusOne(n, 'recvmsg');
    }
    const fds: number[] = [];
    const controlLen = Number(m.view.getBigUint64(MSG_CONTROLLEN, true));
    for (let at = m.control; at + CMSG_HEADER_BYTES <= m.control + controlLen;) {
      const len = Number(m.view.getBigUint64(at, true));
      if (len < CMSG_HEADER_BYTES) break;
      if (m.view.getInt32(at + 8, true) === SOL_SOCKET && m.view.getInt32(at + 12, true) === SCM_RIGHTS) {
        for (let i = 0; i < (len - CMSG_HEADER_BYTES) / INT_BYTES; i++)
          fds.push(m.view.getInt32(at + CMSG_HEADER_BYTES + i * INT_BYTES, true));
      }
      at += (len + 7) & ~7;
    }
    // CMSG_SPACE rounds the room up to 8 bytes, so an odd maxFds can let one more in: that one counts as cut off too.
    const extra = fds.splice(maxFds);
    for (const f of extra) closeNative(f);
    const data = Buffer.from(new Uint8Array(m.view.buffer, m.data, n));
    return { data, fds, fdsTruncated: extra.length > 0 || (m.view.getInt32(MSG_FLAGS, true) & MSG_CTRUNC) !== 0 };
  } finally {
    koffi.free(m.base);
  }
}
