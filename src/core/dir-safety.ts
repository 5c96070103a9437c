// Whether users other than root could change a directory root keeps files in, or one above it: the one test behind
// every "writable by users other than root" refusal (log files, PID files, the state directory, a --chroot jail, unix
// sockets), by owner, mode bits and access ACL.
import { constants as fs, lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { lgetxattr } from '../sys/xattr.js';

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
  if (othersCanWrite(dir, statSync(dir))) return dir;
  for (let child = dir, parent = dirname(dir); child !== parent; child = parent, parent = dirname(parent)) {
    const p = statSync(parent);
    if (othersCanWrite(parent, p) && !(p.uid === 0 && (p.mode & S_ISVTX) !== 0 && lstatSync(child).uid === 0)) return parent;
  }
  return null;
}

function othersCanWrite(path: string, st: Stats): boolean {
  if (st.uid !== 0 || (st.mode & fs.S_IWOTH) !== 0) return true;
  // With an ACL the group bits are its mask, which bounds every named entry (acl(5)): no write there, none anywhere.
  if ((st.mode & fs.S_IWGRP) === 0) return false;
  return st.gid !== 0 || aclGrantsWrite(path);
}

/** An access ACL as the kernel stores it (system.posix_acl_access): a 4-byte header, then 8-byte entries. */
const ACL_XATTR = 'system.posix_acl_access';
const ACL_HEADER_BYTES = 4;
const ACL_ENTRY_BYTES = 8;
/** acl(5)'s tags of a named user and a named group, and the write permission. */
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
const ACL_WRITE = 0x02;

/** Whether path's access ACL lets a named user or group other than root write it. */
function aclGrantsWrite(path: string): boolean {
  const acl = lgetxattr(path, ACL_XATTR);
  if (!acl) return false;
  for (let at = ACL_HEADER_BYTES; at + ACL_ENTRY_BYTES <= acl.length; at += ACL_ENTRY_BYTES) {
    const tag = acl.readUInt16LE(at);
    const named = tag === ACL_USER || tag === ACL_GROUP;
    if (named && (acl.readUInt16LE(at + 2) & ACL_WRITE) !== 0 && acl.readUInt32LE(at + 4) !== 0) return true;
  }
  return false;
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
