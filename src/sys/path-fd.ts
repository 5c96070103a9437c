// fcntl.h's O_PATH descriptors: change the inode a path names right now, never what a symlink put there points at.
import { libc, checkMinusOne, cInt, cString } from './libc.js';

const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;

const openNative = libc.func('int open(const char *path, int flags, ...)');
const fchownatNative = libc.func('int fchownat(int dirfd, const char *path, uint32_t owner, uint32_t group, int flags)');
const chmodNative = libc.func('int chmod(const char *path, uint32_t mode)');

/** open(2) O_PATH|O_NOFOLLOW|O_CLOEXEC, -1/errno: a handle on the inode itself (a symlink stays a symlink); errors carry path. */
export function openPath(path: string): number {
  return checkMinusOne(openNative(cString(path, 'path'), O_PATH | O_NOFOLLOW | O_CLOEXEC), 'open', path);
}

/** fchownat(2) with AT_EMPTY_PATH, -1/errno: chown the inode fd holds (an O_PATH fd works); errors carry `path`. */
export function fchownFd(fd: number, uid: number, gid: number, path?: string): void {
  checkMinusOne(fchownatNative(cInt(fd, 'fd'), '', cInt(uid, 'uid'), cInt(gid, 'gid'), AT_EMPTY_PATH), 'fchownat', path);
}

/**
 * chmod(2) of /proc/self/fd/N (proc(5)), -1/errno: fchmod(2) refuses O_PATH fds, but the magic link names the inode fd
 * holds, whatever has happened to its path since. Errors carry `path`.
 */
export function fchmodFd(fd: number, mode: number, path?: string): void {
  checkMinusOne(chmodNative(`/proc/self/fd/${cInt(fd, 'fd')}`, cInt(mode, 'mode')), 'chmod', path);
}
