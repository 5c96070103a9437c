// Who a PID file's PID really is: a process is the service only if it holds an open file description of that very
// PID file (same device and inode, seen in /proc/PID/fd). Anyone who can read a 0644 file can flock it; nobody but
// the daemon (and what it hands the fd to) can make the PID in the file hold it.
import { readdirSync, readFileSync, statSync } from 'node:fs';

export interface FileId {
  dev: number;
  ino: number;
}

/** Whether pid holds an fd of the file; null when /proc does not let us look (another user's process, no /proc). */
export function holdsFile(pid: number, file: FileId): boolean | null {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? null : false;
  }
  for (const name of names) {
    try {
      const st = statSync(`/proc/${pid}/fd/${name}`);
      if (st.ino === file.ino && st.dev === file.dev) return true;
    } catch {
      // closed while we looked, or a pipe or socket we cannot stat
    }
  }
  return false;
}

/** The kernel's major:minor of a st_dev, as /proc/locks prints them (glibc's gnu_dev_major/minor). */
function majorMinor(dev: number): [number, number] {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return [major, minor];
}

export interface LockHolder {
  pid: number;
  /** Its command name, or null if that process is gone (its lock lives on in an fd it passed on). */
  comm: string | null;
}

/** Who took the flock on the file, from /proc/locks; null if nobody holds one (or /proc/locks is unreadable). */
export function lockHolder(file: FileId): LockHolder | null {
  let text: string;
  try {
    text = readFileSync('/proc/locks', 'latin1');
  } catch {
    return null;
  }
  const [major, minor] = majorMinor(file.dev);
  const id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${file.ino}`;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 2919 00:2f:1234 0 EOF"; a blocked waiter's line starts with "->".
    if (f[1] !== 'FLOCK' || f[5] !== id) continue;
    const pid = Number(f[4]);
    return { pid, comm: commOf(pid) };
  }
  return null;
}

export function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** "pid 812 (sleep)" or "pid 812 (gone)". */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} (${h.comm ?? 'gone'})`;
}
