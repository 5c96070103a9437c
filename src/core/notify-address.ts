// Where a supervised service's NOTIFY_SOCKET lives: a socket file only root and the workers' user can send to (mode
// 0600, owned by that user). Beside the control socket in the state directory, unless the workers run as another
// user, who may not be able to enter it (root's is under /root): then in /run/daemonkit, root's own 0711 directory
// that anyone may pass through but nobody else may list or write.
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Normalized } from '../options.js';
import { filesOf } from './service-files.js';

/** Root's directory for the notify sockets of services whose workers are another user. */
export const NOTIFY_RUN_DIR = '/run/daemonkit';
const NOTIFY_RUN_DIR_MODE = 0o711;
const ROOT_UID = 0;
/** Group and others may not write it (they could replace what root binds there). */
const WRITABLE_BY_OTHERS = 0o022;

/** Whether the workers run as a user other than this (root) process: their socket goes to NOTIFY_RUN_DIR. */
function inRunDir(o: Normalized): boolean {
  const ours = process.getuid!();
  return ours === ROOT_UID && o.user !== null && o.user.uid !== ours;
}

/** FNV-1a, 64 bits, as hex: a short stable name, not a secret (only root can create entries in the directory). */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/**
 * Where the socket is: `daemonkit plan` says it, the supervisor binds it (null without a place for it). In
 * NOTIFY_RUN_DIR it is named by a hash of the service's state file: the same service always binds the same name, so
 * one left by a supervisor that was killed is found stale and replaced rather than piling up.
 */
export function notifySocketPlace(o: Normalized): string | null {
  const files = filesOf(o);
  if (!files) return null;
  return inRunDir(o) ? join(NOTIFY_RUN_DIR, `notify-${fnv1a64(files.state)}`) : `${files.socket.slice(0, -'.sock'.length)}.notify`;
}

/** The workers' NOTIFY_SOCKET path, its directory made (and checked) as needed. */
export function notifySocketAddress(o: Normalized): string | null {
  if (inRunDir(o)) runDir();
  return notifySocketPlace(o);
}

/**
 * /run/daemonkit: made if missing and set to 0711 whatever the umask (0700 would shut the workers out); refused unless
 * a real directory of root's that nobody else can write. Only root can create or replace it under /run.
 */
function runDir(): void {
  mkdirSync(NOTIFY_RUN_DIR, { recursive: true, mode: NOTIFY_RUN_DIR_MODE });
  const st = lstatSync(NOTIFY_RUN_DIR);
  if (!st.isDirectory() || st.uid !== ROOT_UID || (st.mode & WRITABLE_BY_OTHERS) !== 0)
    throw new Error(`refusing ${NOTIFY_RUN_DIR} for the notify socket: not a directory of root's that only root can write`);
  if ((st.mode & 0o777) !== NOTIFY_RUN_DIR_MODE) chmodSync(NOTIFY_RUN_DIR, NOTIFY_RUN_DIR_MODE);
}
