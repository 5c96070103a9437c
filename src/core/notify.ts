// The worker's side of sd_notify(3): what a Node program under the supervisor (or systemd) calls to say it is ready
// or alive, and the sender daemonkit uses to tell systemd. A program in another language uses its own sd_notify, or
// `systemd-notify --ready`. Its own file, with nothing of the receiving side: the library's entry carries it.
import { notifySocket } from '../sys/socket.js';

/**
 * Sends `state` ("READY=1", "WATCHDOG=1", "STATUS=serving", several joined by newlines) to $NOTIFY_SOCKET. Returns
 * false when there is no NOTIFY_SOCKET (not started with `--ready notify`, `--watchdog` or by systemd); throws the
 * system error of a send that failed.
 */
export function notify(state: string): boolean {
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
