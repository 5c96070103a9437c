// The worker's side of sd_notify(3): what a Node program under the supervisor (or systemd) calls to say it is ready
// or alive, and the sender daemonkit uses to tell systemd. A program in another language uses its own sd_notify, or
// `systemd-notify --ready`. Its own file, with nothing of the receiving side: the library's entry carries it.
import { fstatSync, writeSync } from 'node:fs';
import { notifySocket } from '../sys/socket.js';

/**
 * FD:INODE of a datagram socket already connected to the notify socket, which daemonkit's supervisor passes to each
 * worker beside NOTIFY_SOCKET (as s6 passes a notification fd): a write(2) on it is a notification, so a worker (Node
 * or `printf READY=1 >&FD`) needs no socket code. The inode guards against a child that inherited the variable but
 * not the descriptor, whose FD is now something else.
 */
export const NOTIFY_FD_VAR = 'DAEMONKIT_NOTIFY_FD';

/** The variable that names the socket `ino` at the child's fd `fd`. */
export function notifyFdEntry(fd: number, ino: number): string {
  return `${NOTIFY_FD_VAR}=${fd}:${ino}`;
}

/** The fd DAEMONKIT_NOTIFY_FD names, when this process has that very socket there; else null. */
function inheritedNotifyFd(): number | null {
  const m = /^(\d{1,7}):(\d{1,20})$/.exec(process.env[NOTIFY_FD_VAR] ?? '');
  if (!m) return null;
  const fd = Number(m[1]);
  try {
    const st = fstatSync(fd);
    return st.isSocket() && st.ino === Number(m[2]) ? fd : null;
  } catch {
    return null; // closed: not ours any more
  }
}

/**
 * Writes `state` on the descriptor the supervisor passed (DAEMONKIT_NOTIFY_FD), waiting while the supervisor's queue
 * is full (it drains it each time it wakes). False when this process has no such descriptor.
 */
export function notifyInherited(state: string): boolean {
  const fd = inheritedNotifyFd();
  if (fd === null) return false;
  writeSync(fd, state);
  return true;
}

/**
 * Sends `state` ("READY=1", "WATCHDOG=1", "STATUS=serving", several joined by newlines): on the descriptor the
 * supervisor passed (DAEMONKIT_NOTIFY_FD; it waits while the supervisor's queue is full), else to $NOTIFY_SOCKET.
 * Returns false when there is neither (not started with `--ready notify`, `--watchdog` or by systemd); throws the
 * system error of a send that failed.
 */
export function notify(state: string): boolean {
  if (notifyInherited(state)) return true;
  const path = process.env.NOTIFY_SOCKET;
  if (!path) return false;
  sdNotify(path, state);
  return true;
}

/**
 * sd_notify(3) to the manager at socketPath (NOTIFY_SOCKET: an absolute path, or '@' for the abstract namespace):
 * one datagram, never waiting: a manager whose queue is full gets EAGAIN rather than stalling us. Throws the system
 * error; whether a failure matters is the caller's to decide.
 */
export function sdNotify(socketPath: string, text: string): void {
  if (!socketPath.startsWith('/') && !socketPath.startsWith('@'))
    throw new Error(`NOTIFY_SOCKET '${socketPath}' is neither an absolute path nor '@'-abstract`);
  notifySocket(socketPath, text, true);
}
