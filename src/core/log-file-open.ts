// The one way daemonkit opens a log file: never through a symlink, never a FIFO or a device, and as root never where
// another user could have planted something, unless it opens as the service user (whose rights are then all it has).
import { closeSync, fstatSync, lstatSync, openSync, realpathSync, type Stats } from 'node:fs';
import { firstUnsafe } from './dir-safety.js';
import { basename, dirname, join } from 'node:path';
import { O_APPEND, O_CLOEXEC, O_CREAT, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY } from '../sys/fcntl.js';
import { asUser, type FsIdentity } from './as-user.js';
import type { Normalized } from '../options.js';
import { LogFileError } from '../errors.js';

/** O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking; O_NOCTTY: a tty never becomes ours. */
const FLAGS = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
const MODE = 0o644;

/** Who a root process opens the service's logs as where others can write: the --user (and its --group), if any. */
export function serviceUserOf(o: Pick<Normalized, 'user' | 'group'>): FsIdentity | null {
  return o.user ? { name: o.user.name, uid: o.user.uid, gid: o.group?.gid ?? o.user.gid } : null;
}

/**
 * Opens path for appending (or truncating), creating it 0644 under the umask, and returns the fd (close-on-exec,
 * O_NONBLOCK). As root, in a directory a user other than root can change (or below one), it opens as serviceUser, or
 * refuses when there is none. Throws LogFileError: refused, or "cannot open log file P: CODE".
 */
export function openLogFile(path: string, serviceUser: FsIdentity | null, truncate = false): number {
  let target = path;
  let as: FsIdentity | null = null;
  if (process.geteuid?.() === 0) {
    // A directory given as the file is named as one first: "writable by others" about /tmp would not say what is wrong.
    if (kindAt(path) === 'a directory') throw refusal(path, 'EINVAL', 'is a directory');
    const place = inspect(path);
    target = place.target;
    if (place.unsafe) {
      if (!serviceUser) {
        const where =
          place.unsafe === dirname(target) || place.unsafe === dirname(path)
            ? `its directory ${place.unsafe}`
            : `the directory ${place.unsafe} above it`;
        const clause = `${where} is writable by users other than root; pass --user`;
        throw new LogFileError(`refusing log file ${path}: ${clause}`, path, 'EUNSAFE', true, `${path}: ${clause}`);
      }
      as = serviceUser;
    }
  }
  let fd: number;
  try {
    fd = asUser(as, () => openSync(target, FLAGS | (truncate ? O_TRUNC : O_APPEND), MODE));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ELOOP') throw refusal(path, 'ELOOP', 'is a symbolic link');
    // ENXIO: a FIFO (or socket) nobody reads; EISDIR: a directory. Say which.
    const kind = code === 'ENXIO' || code === 'EISDIR' ? kindAt(target) : null;
    if (kind) throw refusal(path, 'EINVAL', `is ${kind}`);
    throw new LogFileError(`cannot open log file ${path}${as ? ` as ${as.name ?? `uid ${as.uid}`}` : ''}: ${code}`, path, code);
  }
  return regularFileOnly(fd, path);
}

/**
 * Opens a log for reading (`logs`), fd close-on-exec: never through a symlink, and only a regular file, so a path the
 * service user swapped for a link to a secret or for a FIFO (which would block the open) is refused, not read.
 * Throws LogFileError (refused), or the open's own error (ENOENT for a log not written yet).
 */
export function openLogForReading(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw refusal(path, 'ELOOP', 'is a symbolic link');
    throw e;
  }
  return regularFileOnly(fd, path);
}

/** fd when it is a regular file; else closes it and throws the refusal that says what it is. */
function regularFileOnly(fd: number, path: string): number {
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refusal(path, 'EINVAL', `is ${kindOf(st)}`);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

function refusal(path: string, code: string, predicate: string): LogFileError {
  return new LogFileError(`refusing log file ${path}: it ${predicate}`, path, code, true, `${path} ${predicate}`);
}

/**
 * The path to open (its directory resolved, so what was checked is what is opened) and the first directory a user other
 * than root could change among those the lookup goes through (dir-safety.ts), on the path as given and the resolved one.
 */
function inspect(path: string): { target: string; unsafe: string | null } {
  let dir: string;
  try {
    // realpath(3), as the kernel resolves: Node's JS realpath folds "a/.." by text where the kernel follows a first.
    dir = realpathSync.native(dirname(path));
  } catch (e) {
    // Nothing is opened through a directory that could not be resolved, even one that appears meanwhile.
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new LogFileError(`cannot open log file ${path}: ${code}`, path, code);
  }
  return { target: join(dir, basename(path)), unsafe: firstUnsafe(dirname(path)) ?? firstUnsafe(dir) };
}

function kindAt(path: string): string | null {
  try {
    const st = lstatSync(path);
    return st.isFile() ? null : kindOf(st);
  } catch {
    return null;
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}
