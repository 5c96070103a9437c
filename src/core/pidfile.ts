// PID files that cannot lie: liveness is the flock held by the daemon, never the number in the file alone.
import { closeSync, constants as fs, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../sys/file.js';

export type Acquired = { ok: true; fd: number } | { ok: false; pid: number | null };

export class PidfileError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PidfileError';
  }
}

/** Refuses, as root, a PID file in a directory others can write to (they could swap the file under us). */
function checkDirectory(path: string): void {
  if (process.getuid?.() !== 0) return;
  const dir = dirname(path);
  const st = statSync(dir);
  const othersWrite = (st.mode & 0o002) !== 0 || (st.uid !== 0 && (st.mode & 0o022) !== 0) || (st.uid !== 0 && st.uid !== process.getuid());
  if (othersWrite) throw new PidfileError(`refusing PID file ${path}: its directory ${dir} is writable by users other than root`, path, 'EUNSAFE');
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
 */
export function acquirePidfile(path: string): Acquired {
  try {
    checkDirectory(path);
  } catch (e) {
    // A missing directory would otherwise surface as a bare "ENOENT ... stat '/dir'" without saying what it was for.
    if (e instanceof PidfileError) throw e;
    throw new PidfileError(`cannot create PID file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path, (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
  // A daemon exiting unlinks the file while holding its lock: whoever locked that unlinked inode must try the new file.
  for (;;) {
    const got = lockOnce(path);
    if (!got.ok) return got;
    if (sameFile(got.fd, path)) return got;
    closeSync(got.fd);
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

function lockOnce(path: string): Acquired {
  let fd: number;
  try {
    fd = openSync(path, fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW | fs.O_NOCTTY, 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ELOOP') throw new PidfileError(`refusing PID file ${path}: it is a symbolic link`, path, 'ELOOP');
    throw new PidfileError(`cannot create PID file ${path}: ${err.code ?? err.message}`, path, err.code ?? 'EIO');
  }
  try {
    if (!fstatSync(fd).isFile()) throw new PidfileError(`refusing PID file ${path}: not a regular file`, path, 'EINVAL');
    if (!flock(fd, LOCK_EX | LOCK_NB)) {
      // The holder may not have written its PID yet (50 starts on 2 cores can delay it past 100 ms): wait up to 1 s.
      let pid = readPidFromFd(fd);
      for (let i = 0; pid === null && i < 200; i++) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        pid = readPidFromFd(fd);
      }
      closeSync(fd);
      return { ok: false, pid };
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
  | { state: 'running'; pid: number | null }
  | { state: 'stale'; pid: number | null }
  | { state: 'absent' };

/** Reads a PID file without creating it: running only if someone holds its lock. */
export function inspectPidfile(path: string): PidfileState {
  let fd: number;
  try {
    fd = openSync(path, fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NOCTTY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    // A planted symlink is refused by every command, with words rather than a stack trace.
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new PidfileError(`refusing PID file ${path}: it is a symbolic link`, path, 'ELOOP');
    throw e;
  }
  try {
    const pid = readPidFromFd(fd);
    if (flock(fd, LOCK_EX | LOCK_NB)) {
      flock(fd, LOCK_UN);
      return { state: 'stale', pid };
    }
    return { state: 'running', pid };
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
    fd = openSync(path, fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NOCTTY);
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
