// PID files that cannot lie: liveness is the flock held by the daemon, never the number in the file alone.
import {
  closeSync,
  constants as fs,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../sys/file.js';
import { asSysError } from '../sys/errors.js';
import { describeHolder, holdsFile, lockHolder, type FileId, type LockHolder } from './pid-identity.js';
import { PidfileError } from '../errors.js';
import { sharedWithOthers, whereUnsafe } from './dir-safety.js';

/** fd holds the lock; writeFd (with readOnlyLock) is the one to write the PID through, kept apart from it. */
export type Acquired = { ok: true; fd: number; writeFd?: number } | { ok: false; pid: number | null };

/** How long a start waits for another start's take-over of a stale-but-locked PID file (milliseconds). */
const TAKEOVER_WAIT_MS = 1000;
const POLL_MS = 5;

// Declared with every error a caller may catch (src/errors.ts); re-exported for the modules that throw it.
export { PidfileError };

const notRegular = (path: string) => new PidfileError(`refusing PID file ${path}: not a regular file`, path, 'EINVAL');

/** Refuses, as root, a PID file in a directory others can change (they could swap the file under us). */
function checkDirectory(path: string): void {
  const dir = dirname(path);
  const unsafe = sharedWithOthers(dir);
  if (unsafe)
    throw new PidfileError(`refusing PID file ${path}: ${whereUnsafe(unsafe, dir)} is writable by users other than root`, path, 'EUNSAFE');
}

/** The PID written in the file behind fd, or null if it holds no valid PID. */
export function readPidFromFd(fd: number): number | null {
  const buf = Buffer.alloc(32);
  const n = readSync(fd, buf, 0, buf.length, 0);
  const m = /^(\d{1,10})\n?$/.exec(buf.subarray(0, n).toString('latin1'));
  const pid = m ? Number(m[1]) : NaN;
  return pid > 0 && pid < 2 ** 22 + 1 ? pid : null;
}

/**
 * Opens (creating, mode 0644, never following a symlink) and locks the PID file.
 * A held lock is an expected outcome: { ok: false, pid } names the holder as written in the file.
 * readOnlyLock: the lock is taken on a read-only descriptor of the file, for a daemon that keeps it (and may run as
 * another user) without being able to write root's file; the PID goes in through writeFd.
 */
export function acquirePidfile(path: string, { readOnlyLock = false } = {}): Acquired {
  try {
    checkDirectory(path);
  } catch (e) {
    // A missing directory would otherwise surface as a bare "ENOENT ... stat '/dir'" without saying what it was for.
    if (e instanceof PidfileError) throw e;
    throw new PidfileError(
      `cannot create PID file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      path,
      (e as NodeJS.ErrnoException).code ?? 'EIO',
    );
  }
  // A daemon exiting unlinks the file while holding its lock: whoever locked that unlinked inode must try the new file.
  for (;;) {
    const got = lockOnce(path, readOnlyLock);
    if (got.ok) {
      if (sameFile(got.fd, path)) return got;
      closeSync(got.fd);
      if (got.writeFd !== undefined) closeSync(got.writeFd);
      continue;
    }
    // Locked by the service itself (or by a start still writing its PID): busy. Locked by anyone else: not a reason
    // to stay down; the file is replaced, and the stranger keeps a lock on an inode nobody reads any more.
    if (got.pid === null || holdsFile(got.pid, got.file) !== false) return { ok: false, pid: got.pid };
    takeOver(path, got.file);
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Unlinks a PID file whose lock is held by something that is not the service (a stranger's `flock`, a child that
 * inherited the daemon's fd). Two starts doing this at once would unlink each other's new file, so it happens under
 * a lock on the directory, and only if the path still names the inode that was judged.
 */
function takeOver(path: string, judged: FileId): void {
  const dir = openSync(dirname(path), fs.O_RDONLY | fs.O_DIRECTORY | fs.O_NOFOLLOW);
  try {
    let locked = flock(dir, LOCK_EX | LOCK_NB);
    for (let waited = 0; !locked && waited < TAKEOVER_WAIT_MS; waited += POLL_MS) {
      pause(POLL_MS);
      locked = flock(dir, LOCK_EX | LOCK_NB);
    }
    if (!locked) {
      const h = lockHolder(judged);
      throw new PidfileError(
        `PID file ${path} is locked by ${h ? describeHolder(h) : 'another process'}, which is not the service, and its directory is locked too`,
        path,
        'EBUSY',
      );
    }
    let now;
    try {
      now = lstatSync(path);
    } catch {
      return; // gone already: the next try creates it
    }
    if (now.ino === judged.ino && now.dev === judged.dev) unlinkSync(path);
  } finally {
    closeSync(dir);
  }
}

function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = lstatSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

type LockTry = { ok: true; fd: number; writeFd?: number } | { ok: false; pid: number | null; file: FileId };

function lockOnce(path: string, readOnlyLock: boolean): LockTry {
  const opened = openForLock(path);
  if (!readOnlyLock) return lockOn(opened, path);
  try {
    // The same file, again, read-only: through /proc/self/fd, so the path cannot have been swapped in between.
    const got = lockOn(openSync(`/proc/self/fd/${opened}`, fs.O_RDONLY | fs.O_NOCTTY | fs.O_NONBLOCK), path);
    if (got.ok) return { ...got, writeFd: opened };
    closeSync(opened);
    return got;
  } catch (e) {
    closeSync(opened);
    throw e;
  }
}

function openForLock(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW | fs.O_NOCTTY, 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ELOOP') throw new PidfileError(`refusing PID file ${path}: it is a symbolic link`, path, 'ELOOP');
    throw new PidfileError(`cannot create PID file ${path}: ${err.code ?? err.message}`, path, err.code ?? 'EIO');
  }
  return fd;
}

/** flock(2) LOCK_EX|LOCK_NB on fd, a regular file; busy names the holder. Closes fd unless it holds the lock. */
function lockOn(fd: number, path: string): LockTry {
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(path);
    if (!flock(fd, LOCK_EX | LOCK_NB)) {
      // The holder may not have written its PID yet (simultaneous starts delay it; RELIABILITY.md): wait up to 1 s.
      let pid = readPidFromFd(fd);
      for (let i = 0; pid === null && i < 200; i++) {
        pause(POLL_MS);
        pid = readPidFromFd(fd);
      }
      closeSync(fd);
      return { ok: false, pid, file: { dev: st.dev, ino: st.ino } };
    }
    fchmodSync(fd, 0o644);
    return { ok: true, fd };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Replaces the contents with exactly "PID\n" (what start-stop-daemon and systemd read). */
export function writePid(fd: number, pid: number): void {
  ftruncateSync(fd, 0);
  writeSync(fd, `${pid}\n`, 0);
}

export type PidfileState =
  /** Locked, and the PID in it holds the file open: the service. */
  | { state: 'running'; pid: number }
  /** Locked with no PID in it yet: a start is writing it. */
  | { state: 'starting' }
  /** Locked, but /proc does not let us see whether the PID holds it (another user's process). */
  | { state: 'unverified'; pid: number }
  /** Not the service: unlocked, or locked by a process (holder) the PID in it is not. */
  | { state: 'stale'; pid: number | null; holder: LockHolder | null }
  | { state: 'absent' };

/** Reads a PID file without creating it: running only if it is locked and the PID in it holds it open. */
export function inspectPidfile(path: string): PidfileState {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang the command that only looks.
    fd = openSync(path, fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NOCTTY | fs.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    // A planted symlink is refused by every command, with words rather than a stack trace.
    if ((e as NodeJS.ErrnoException).code === 'ELOOP')
      throw new PidfileError(`refusing PID file ${path}: it is a symbolic link`, path, 'ELOOP');
    throw asSysError(e);
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(path);
    const pid = readPidFromFd(fd);
    if (flock(fd, LOCK_EX | LOCK_NB)) {
      flock(fd, LOCK_UN);
      return { state: 'stale', pid, holder: null };
    }
    if (pid === null) return { state: 'starting' };
    const st = fstatSync(fd);
    const file = { dev: st.dev, ino: st.ino };
    const holds = holdsFile(pid, file);
    if (holds === null) return { state: 'unverified', pid };
    return holds ? { state: 'running', pid } : { state: 'stale', pid, holder: lockHolder(file) };
  } finally {
    closeSync(fd);
  }
}

/**
 * After `pid` has exited: removes its PID file if nobody holds the lock and it still names pid. The daemon could not
 * (a foreign program never does; a supervisor that dropped to --user cannot unlink in root's directory). Locked
 * while unlinking, as a daemon does on exit, so a start racing us retries on the new path.
 */
export function removeStalePidfile(path: string, pid: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NOCTTY | fs.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    // Read before locking: a new daemon's file (empty, or its own PID) is never locked by us, not even for a moment.
    if (!fstatSync(fd).isFile() || readPidFromFd(fd) !== pid || !flock(fd, LOCK_EX | LOCK_NB)) return false;
    if (readPidFromFd(fd) !== pid || !sameFile(fd, path)) return false;
    unlinkSync(path);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Removes the PID file if the path still names the file behind fd (a newer daemon may have replaced it), then closes fd. */
export function releasePidfile(path: string, fd: number): void {
  try {
    if (sameFile(fd, path)) unlinkSync(path);
  } catch {
    // already gone, or not ours to remove: either way nothing to undo
  }
  try {
    closeSync(fd);
  } catch {
    // closed by the caller already
  }
}
