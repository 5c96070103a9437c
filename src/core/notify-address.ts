// Where a supervised service's NOTIFY_SOCKET lives: a socket file only root and the workers' user can send to (mode
// 0600, owned by that user). Beside the control socket in the state directory, unless the workers run as another
// user, who may not be able to enter it (root's is under /root): then in /run/daemonkit, root's own 0711 directory
// that anyone may pass through but nobody else may list or write.
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Normalized } from '../options.js';
import { filesOf } from './service-files.js';
import { randomBytes } from '../sys/random.js';

/** Root's directory for the notify sockets of services whose workers are another user. */
export const NOTIFY_RUN_DIR = '/run/daemonkit';
const NOTIFY_RUN_DIR_MODE = 0o711;
const ROOT_UID = 0;
const NAME_RANDOM_BYTES = 8;
/** Group and others may not write it (they could replace what root binds there). */
const WRITABLE_BY_OTHERS = 0o022;

/** Whether the workers run as a user other than this (root) process: their socket goes to NOTIFY_RUN_DIR. */
function inRunDir(o: Normalized): boolean {
  const ours = process.getuid!();
  return ours === ROOT_UID && o.user !== null && o.user.uid !== ours;
}

/** Where the socket will be, as `daemonkit plan` says it (the random part is made when it is bound). */
export function notifySocketPlace(o: Normalized): string | null {
  if (inRunDir(o)) return join(NOTIFY_RUN_DIR, 'notify-PID-RANDOM');
  const files = filesOf(o);
  return files ? `${files.socket.slice(0, -'.sock'.length)}.notify` : null;
}

/** The workers' NOTIFY_SOCKET path, its directory made (and checked) as needed; null without a place for it. */
export function notifySocketAddress(o: Normalized): string | null {
  if (!inRunDir(o)) return notifySocketPlace(o);
  runDir();
  return join(NOTIFY_RUN_DIR, `notify-${process.pid}-${randomBytes(NAME_RANDOM_BYTES).toString('hex')}`);
}

/** /run/daemonkit: made 0711 if missing; refused unless a real directory of root's that nobody else can write. */
function runDir(): void {
  mkdirSync(NOTIFY_RUN_DIR, { recursive: true, mode: NOTIFY_RUN_DIR_MODE });
  const st = lstatSync(NOTIFY_RUN_DIR);
  if (!st.isDirectory() || st.uid !== ROOT_UID || (st.mode & WRITABLE_BY_OTHERS) !== 0)
    throw new Error(`refusing ${NOTIFY_RUN_DIR} for the notify socket: not a directory of root's that only root can write`);
}
