// sys/xattr.h: a file's extended attributes. daemonkit reads one: the POSIX access ACL (acl(5)), which can let users
// write a directory whose mode bits say they cannot.
import { constants } from 'node:os';
import { libc, koffi } from './libc.js';
import { sysError } from './errors.js';

const lgetxattrNative = libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)');

const { ENODATA, ENOTSUP } = constants.errno;
/** The kernel's limit on one attribute's value (XATTR_SIZE_MAX). */
const XATTR_SIZE_MAX = 64 * 1024;

/**
 * lgetxattr(2): the value of attribute `name` of path itself (a symlink is not followed), or null when it has none
 * (ENODATA) or its filesystem keeps none (ENOTSUP). Throws SysError otherwise.
 */
export function lgetxattr(path: string, name: string): Buffer | null {
  const value = Buffer.alloc(XATTR_SIZE_MAX);
  const n = Number(lgetxattrNative(path, name, value, value.length));
  if (n >= 0) return value.subarray(0, n);
  const errno = koffi.errno();
  if (errno === ENODATA || errno === ENOTSUP) return null;
  throw sysError(errno, 'lgetxattr', path);
}
