// The supervisor's last act: its control socket goes; its PID file goes only if nothing of the session is left.
import { closeSync, unlinkSync } from 'node:fs';
import { releasePidfile } from '../core/pidfile.js';
import { sessionHasMembers } from './session-sweep.js';

/**
 * A schedule that ran out leaves processes of our session alive: the service is not stopped, so its PID file stays
 * (unlocked once we are gone): status says so, and `stop` or the next start sweeps this session.
 */
export function releaseServiceFiles(socket: string | null, pidfile: string | null, pidfd: number | null): void {
  if (socket) {
    try {
      unlinkSync(socket);
    } catch {
      // gone already
    }
  }
  if (pidfd === null) return;
  if (sessionHasMembers()) closeSync(pidfd);
  else releasePidfile(pidfile!, pidfd);
}
