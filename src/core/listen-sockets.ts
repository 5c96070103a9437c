// Binds the `--listen` sockets, all or none: each failure closes what was opened and names the spec that failed.
import { closeSync, fstatSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import type { ListenSpec } from './listen-spec.js';
import { ListenError } from '../errors.js';
import { AF_INET, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, inetPton, parseInetAddress, sockaddrIn, sockaddrIn6 } from '../sys/inet.js';
import { fchmodFd, fchownFd, openPath } from '../sys/path-fd.js';
import { asUser, type FsIdentity } from './as-user.js';
import { sharedWithOthers, whereUnsafe } from './dir-safety.js';
import {
  AF_UNIX,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  bind,
  connect,
  getsockname,
  listen,
  setsockoptInt,
  socket,
  unixAddress,
} from '../sys/socket.js';

/** The accept queue each listening socket asks for (nginx's default; the kernel caps it at net.core.somaxconn). */
export const LISTEN_BACKLOG = 511;

export interface Listener {
  name: string;
  /** The supervisor's close-on-exec fd; a worker gets it at 3, 4, ... (listenerFdTargets). */
  fd: number;
  spec: ListenSpec;
  /** What it is bound to, with the port the kernel chose for tcp:0: "0.0.0.0:8080", "[::1]:8080", "/run/app.sock". */
  address: string;
  /** null for unix sockets. */
  port: number | null;
  /** The socket file this bind created (device and inode), so closing removes that file and never a successor's. */
  file: SocketFile | null;
}

/** A socket file a bind made: its path, its device and inode, and whose ids made it (null: ours). */
export interface SocketFile {
  path: string;
  dev: number;
  ino: number;
  as?: FsIdentity | null;
}

export interface BindOptions {
  /** The worker's identity (--user): unix socket files are chowned to it so the workers can use and remove them. */
  owner?: { uid: number; gid: number };
  /** Mode for unix socket files; without it, bind(2)'s 0777 less the umask. */
  mode?: number;
  /** The option that names a user to make socket files as (the CLI's --user), for a refusal to point at. */
  userFlag?: string;
}

const systemErrors = getSystemErrorMap();

/** Node's text for a system error ("address already in use"), whatever produced it. */
function reasonOf(e: unknown): string {
  const n = (e as { errno?: unknown }).errno;
  return (typeof n === 'number' && systemErrors.get(n)?.[1]) || (e as Error).message;
}

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

/**
 * Clears the way for a socket at path: nothing there, or a stale socket file (a connect is refused: nobody behind it),
 * which is removed. Otherwise why not: "a process is listening on it", "... exists and is not a socket". Never follows
 * a symlink (lstat). `type` is the socket type to probe with (a datagram socket refuses a stream connect).
 */
export function clearStaleSocketFile(path: string, type: number): string | null {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (codeOf(e) === 'ENOENT') return null;
    return reasonOf(e);
  }
  if (!st.isSocket()) return `${path} exists and is not a socket`;
  const probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, path);
  try {
    connect(probe, unixAddress(path, 'socket path'), path);
  } catch (e) {
    if (codeOf(e) === 'EAGAIN') return 'a process is listening on it';
    if (codeOf(e) !== 'ECONNREFUSED') return reasonOf(e);
    unlinkSync(path);
    return null;
  } finally {
    closeSync(probe);
  }
  return 'a process is listening on it';
}

/** Mode and owner of the socket file bind(2) just made, through an O_PATH fd: never what a symlink swapped in points at. */
export function settleSocketFile(path: string, options: BindOptions): { dev: number; ino: number } {
  const fd = openPath(path);
  try {
    const st = fstatSync(fd);
    if (!st.isSocket()) throw new Error(`${path} was replaced by something else while binding`);
    if (options.mode !== undefined) fchmodFd(fd, options.mode, path);
    if (options.owner) fchownFd(fd, options.owner.uid, options.owner.gid, path);
    return { dev: st.dev, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

function bindInet(spec: Extract<ListenSpec, { kind: 'tcp' | 'tcp6' }>): number {
  // tcp:PORT takes every address: IPv6 and IPv4 on one socket (as Node's listen(PORT) does), IPv4 alone without IPv6.
  let family: typeof AF_INET | typeof AF_INET6 = spec.kind === 'tcp' && spec.host !== null ? AF_INET : AF_INET6;
  let fd: number;
  try {
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC);
  } catch (e) {
    if (!(spec.kind === 'tcp' && spec.host === null && codeOf(e) === 'EAFNOSUPPORT')) throw e;
    family = AF_INET;
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC);
  }
  try {
    // A restarted supervisor rebinds its port while the old connections sit in TIME_WAIT.
    setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (family === AF_INET6) setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, spec.kind === 'tcp6' ? 1 : 0);
    const host = spec.host ?? (family === AF_INET6 ? '::' : '0.0.0.0');
    const bytes = inetPton(family, host)!;
    bind(fd, family === AF_INET ? sockaddrIn(bytes, spec.port) : sockaddrIn6(bytes, spec.port));
    listen(fd, LISTEN_BACKLOG);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function describeInet(fd: number): { address: string; port: number } {
  const a = parseInetAddress(getsockname(fd));
  return { address: a.family === AF_INET6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`, port: a.port };
}

function bindOne(spec: ListenSpec, options: BindOptions, created: SocketFile[]): Listener {
  if (spec.kind !== 'unix') {
    let fd: number;
    try {
      fd = bindInet(spec);
    } catch (e) {
      throw new ListenError(spec, reasonOf(e), { cause: e });
    }
    return { name: spec.name, fd, spec, ...describeInet(fd), file: null };
  }
  const path = spec.path;
  const abstract = path.startsWith('@');
  const as = abstract ? null : binderOf(spec, path, options);
  return asUser(as, () => bindUnix(spec, path, abstract, options, created, as));
}

/**
 * Who makes a unix socket file: this process, or (as root, where users other than root can change its directory or one
 * above) the --user, so that nothing there can steer root's unlink, bind or chown; without one, refused.
 */
function binderOf(spec: ListenSpec, path: string, options: BindOptions): FsIdentity | null {
  const dir = dirname(path);
  // A directory still to be made is checked at the nearest one there: who may make it could make it a symlink.
  let unsafe: string | null = null;
  for (let at = dir; ; at = dirname(at)) {
    try {
      unsafe = sharedWithOthers(at);
      break;
    } catch {
      if (at === dirname(at)) break;
    }
  }
  if (!unsafe) return null;
  if (options.owner && options.owner.uid !== 0) return options.owner;
  const hint = options.userFlag ? `; pass ${options.userFlag}` : '';
  throw new ListenError(spec, `${whereUnsafe(unsafe, dir)} is writable by users other than root${hint}`);
}

function bindUnix(
  spec: ListenSpec,
  path: string,
  abstract: boolean,
  options: BindOptions,
  created: SocketFile[],
  as: FsIdentity | null,
): Listener {
  const problem = abstract ? null : clearStaleSocketFile(path, SOCK_STREAM);
  if (problem) throw new ListenError(spec, problem);
  let fd: number;
  try {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, path);
  } catch (e) {
    throw new ListenError(spec, reasonOf(e), { cause: e });
  }
  try {
    try {
      bind(fd, unixAddress(path, 'socket path'), path);
    } catch (e) {
      if (codeOf(e) === 'ENOENT') throw new ListenError(spec, `directory ${dirname(path)} does not exist`, { cause: e });
      throw new ListenError(spec, reasonOf(e), { cause: e });
    }
    let file: Listener['file'] = null;
    if (!abstract) {
      // Recorded before settling, so a failure from here on still removes the file.
      created.push({ path, dev: -1, ino: -1, as });
      file = { path, ...settleSocketFile(path, options), as };
      created[created.length - 1] = file;
    }
    // Mode and owner are set before listen(2): until then a connect is refused, so nobody slips in under the old mode.
    listen(fd, LISTEN_BACKLOG, path);
    return { name: spec.name, fd, spec, address: path, port: null, file };
  } catch (e) {
    closeSync(fd);
    throw e instanceof ListenError ? e : new ListenError(spec, reasonOf(e), { cause: e });
  }
}

/**
 * Binds and listens on every spec, in order, before any worker exists (and before privileges drop, so tcp:80 works).
 * All or nothing: on a failure every socket opened is closed, every socket file made is removed, and the one
 * ListenError thrown names the spec.
 */
export function bindListeners(specs: readonly ListenSpec[], options: BindOptions = {}): Listener[] {
  const out: Listener[] = [];
  const created: SocketFile[] = [];
  try {
    for (const spec of specs) out.push(bindOne(spec, options, created));
    return out;
  } catch (e) {
    for (const l of out) closeSync(l.fd);
    for (const f of created) removeSocketFile(f);
    throw e;
  }
}

/**
 * Removes a socket file this process made, if the path still names that very file (dev and inode; -1: not yet known),
 * as whoever made it.
 */
export function removeSocketFile(f: SocketFile): void {
  asUser(f.as ?? null, () => {
    try {
      const st = lstatSync(f.path);
      if (st.isSocket() && (f.ino === -1 || (st.dev === f.dev && st.ino === f.ino))) unlinkSync(f.path);
    } catch {
      // already gone
    }
  });
}

/** Closes the listeners and removes the socket files they made (a successor's file at the same path is left alone). */
export function closeListeners(listeners: readonly Listener[]): void {
  for (const l of listeners) {
    try {
      closeSync(l.fd);
    } catch {
      // closed already
    }
    if (l.file) removeSocketFile(l.file);
  }
}
