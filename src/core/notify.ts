// The worker's side of sd_notify(3): what a Node program under the supervisor (or systemd) calls to say it is ready
// or alive. A program in another language uses its own sd_notify, or `systemd-notify --ready`.
import { sdNotify } from './notify-socket.js';

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
