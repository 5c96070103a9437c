// The service's NOTIFY_SOCKET (sd_notify(3)'s protocol), the receiving side: workers send READY=1, STATUS=...,
// WATCHDOG=1 datagrams, each carrying the sender's PID from the kernel (SCM_CREDENTIALS). The sender is in notify.ts.
import { closeSync, fstatSync } from 'node:fs';
import { clearStaleSocketFile, removeSocketFile, settleSocketFile } from './listen-sockets.js';
import { notifyFdEntry } from './notify.js';
import { signalOnInput } from '../sys/signal-io.js';
import {
  AF_UNIX,
  SO_PASSCRED,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  bind,
  connect,
  recvDatagram,
  setsockoptInt,
  socket,
  unixAddress,
} from '../sys/socket.js';

/** A notify datagram longer than this is dropped whole (systemd reads at most its page-sized buffer too). */
export const NOTIFY_MAX_BYTES = 4096;
/** Mode of the socket file: the workers reach it as its owner (--user), nobody else. */
export const NOTIFY_SOCKET_MODE = 0o600;
/** The umask a socket file is bound under: mode 0600 from the start. */
const OWNER_ONLY_UMASK = 0o177;
/** Datagrams read per turn of the event loop, so a flooding sender cannot starve the rest of the supervisor. */
const DRAIN_BATCH = 64;

export interface NotifyMessage {
  /** The sender's PID, uid and gid as the kernel vouches for them (in our PID namespace). */
  pid: number;
  uid: number;
  gid: number;
  /** KEY=VALUE lines: READY, STATUS, STOPPING, RELOADING, WATCHDOG, MAINPID, ERRNO... (later lines win). */
  fields: Record<string, string>;
}

export interface NotifySocketOptions {
  onMessage(message: NotifyMessage): void;
  /** A datagram that was not a message: over NOTIFY_MAX_BYTES, or without the sender's credentials. */
  onDropped?(reason: string, pid: number | null): void;
  /** The workers' identity (--user): the file is chowned to it so they can send. */
  owner?: { uid: number; gid: number };
  mode?: number;
}

/** sd_notify's text: newline-separated KEY=VALUE; a line without '=' (or an empty key) means nothing and is skipped. */
export function parseNotifyFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

// Every open receiver, woken by SIGIO. The listener stays once added: without it a late SIGIO would kill the process
// (its default action), and Node's signal watcher is unref'd, so it never keeps the process alive.
const receivers = new Set<NotifySocket>();
let listening = false;

function onSigio(): void {
  for (const r of receivers) r.drain();
}

/**
 * A per-service datagram socket at `path` ('@name': abstract, no file) with SO_PASSCRED. Idle, it costs no wake-up:
 * libuv cannot watch a unix datagram socket, so the kernel signals its input (O_ASYNC, SIGIO) to Node's signal
 * watcher, which already sleeps in the event loop; each signal drains every queued datagram.
 */
export class NotifySocket {
  #fd: number;
  #file: { path: string; dev: number; ino: number } | null = null;
  #options: NotifySocketOptions;
  #pending = false;

  private constructor(
    readonly path: string,
    fd: number,
    options: NotifySocketOptions,
  ) {
    this.#fd = fd;
    this.#options = options;
  }

  /** Binds the socket; a stale socket file is replaced, anything else at the path (or a live socket) refused. */
  static open(path: string, options: NotifySocketOptions): NotifySocket {
    const abstract = path.startsWith('@');
    if (!abstract) {
      const problem = clearStaleSocketFile(path, SOCK_DGRAM);
      if (problem) throw new Error(`notify socket ${path}: ${problem}`);
    }
    const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, path);
    const self = new NotifySocket(path, fd, options);
    try {
      // Before bind: the kernel attaches credentials to what is sent once the receiver asks for them.
      setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1);
      // Created 0600 at once: a wider mode until the chmod below would let others connect and keep sending after it.
      const umask = process.umask(OWNER_ONLY_UMASK);
      try {
        bind(fd, unixAddress(path, 'notify socket path'), path);
      } finally {
        process.umask(umask);
      }
      if (!abstract) {
        self.#file = { path, dev: -1, ino: -1 };
        self.#file = { path, ...settleSocketFile(path, { mode: options.mode ?? NOTIFY_SOCKET_MODE, owner: options.owner }) };
      }
      if (!listening) {
        process.on('SIGIO', onSigio);
        listening = true;
      }
      receivers.add(self);
      signalOnInput(fd, process.pid);
    } catch (e) {
      self.close();
      throw e;
    }
    // Anything sent between bind and O_ASYNC raised no signal.
    self.drain();
    return self;
  }

  /** Reads every queued datagram (DRAIN_BATCH per turn) and reports each message; safe to call at any time. */
  drain(): void {
    if (this.#fd < 0) return;
    for (let i = 0; i < DRAIN_BATCH; i++) {
      const d = recvDatagram(this.#fd, NOTIFY_MAX_BYTES);
      if (!d) return;
      if (d.truncated) this.#options.onDropped?.(`datagram over ${NOTIFY_MAX_BYTES} bytes`, d.pid);
      else if (d.pid === null || d.uid === null || d.gid === null) this.#options.onDropped?.('no sender credentials', null);
      else this.#options.onMessage({ pid: d.pid, uid: d.uid, gid: d.gid, fields: parseNotifyFields(d.data.toString('utf8')) });
      if (this.#fd < 0) return; // closed by the callback
    }
    // More may be queued, and no new signal comes for datagrams already there.
    if (this.#pending) return;
    this.#pending = true;
    setImmediate(() => {
      this.#pending = false;
      this.drain();
    });
  }

  /**
   * A new socket connected to this one, for one child to inherit (DAEMONKIT_NOTIFY_FD): a write(2) on it arrives here
   * with the writer's credentials like any datagram. Close-on-exec; the caller closes it once the child has it. One
   * per child, so no worker can shut down another's. Blocking: past net.unix.max_dgram_qlen queued datagrams (10 by
   * default) a write waits for our next drain instead of failing with EAGAIN, so many workers may say READY=1 at once.
   */
  sender(): { fd: number; ino: number } {
    const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, this.path);
    try {
      connect(fd, unixAddress(this.path, 'notify socket path'), this.path);
      return { fd, ino: fstatSync(fd).ino };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Closes the socket and removes its file (if the path still names it). */
  close(): void {
    receivers.delete(this);
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    if (this.#file) removeSocketFile(this.#file);
    this.#file = null;
  }
}

/**
 * One child's notify sender from `socket`, with the variable naming it at the child's fd `childFd`; null without a
 * socket. The caller passes `fd` to the child at `childFd`, then closes it.
 */
export function notifyPassing(socket: NotifySocket | null, childFd: number): { fd: number; env: string } | null {
  if (!socket) return null;
  const { fd, ino } = socket.sender();
  return { fd, env: notifyFdEntry(childFd, ino) };
}
