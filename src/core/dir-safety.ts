// Whether users other than root could change a directory root keeps files in, or one above it: the one test behind
// every "writable by users other than root" refusal (log files, PID files, the state directory, a --chroot jail).
import { constants as fs, lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** The sticky bit (S_ISVTX, absent from Node's fs.constants): only an entry's owner may rename or remove it. */
const S_ISVTX = 0o1000;

/**
 * The first directory a user other than root could change among those a lookup of dir goes through: dir and each one
 * above it, on the path as given (a symlink there is followed) and on the resolved one. One above may be shared if it
 * is sticky and root's, with the entry below it root's (like /tmp/x): nobody else may rename that entry. Null: none.
 * Throws what realpath(3) throws for a directory that is not there.
 */
export function unsafeDirectory(dir: string): string | null {
  return firstUnsafe(dir) ?? firstUnsafe(realpathSync.native(dir));
}

/** unsafeDirectory on one spelling of the path. */
export function firstUnsafe(dir: string): string | null {
  if (othersCanWrite(statSync(dir))) return dir;
  for (let child = dir, parent = dirname(dir); child !== parent; child = parent, parent = dirname(parent)) {
    const p = statSync(parent);
    if (othersCanWrite(p) && !(p.uid === 0 && (p.mode & S_ISVTX) !== 0 && lstatSync(child).uid === 0)) return parent;
  }
  return null;
}

function othersCanWrite(st: Stats): boolean {
  return st.uid !== 0 || ((st.mode & fs.S_IWGRP) !== 0 && st.gid !== 0) || (st.mode & fs.S_IWOTH) !== 0;
}

/**
 * As root, the directory (dir or one above it) that users other than root can change, and so swap what root keeps in
 * dir under us; null when there is none, or when we are not root.
 */
export function sharedWithOthers(dir: string): string | null {
  return process.getuid?.() === 0 ? unsafeDirectory(dir) : null;
}
/** For a refusal of a file in dir: "its directory D" or "the directory D above it". */
export function whereUnsafe(unsafe: string, dir: string): string {
  return unsafe === dir ? `its directory ${unsafe}` : `the directory ${unsafe} above it`;
}

/** For a refusal of dir itself (a state directory, a jail): "it" or "the directory D above it". */
export function whereUnsafeDir(unsafe: string, dir: string): string {
  return unsafe === dir ? 'it' : `the directory ${unsafe} above it`;
}
