// sys/fsuid.h: the filesystem ids the kernel checks file access with; per thread, so set, act and restore synchronously.
import { constants } from 'node:os';
import { libc, cInt } from './libc.js';
import { sysError } from './errors.js';

const setfsuidNative = libc.func('int setfsuid(uint32_t fsuid)');
const setfsgidNative = libc.func('int setfsgid(uint32_t fsgid)');

/** An id no user has: setfsuid(2) with it changes nothing and returns the current value (the documented way to read it). */
const QUERY = 0xffffffff;
const { EPERM } = constants.errno;

/** setfsuid(2): has no error return (it returns the previous fsuid either way), so the change is read back and checked. */
export function setfsuid(uid: number): number {
  const previous = setfsuidNative(cInt(uid, 'uid'));
  if (setfsuidNative(QUERY) !== uid) throw sysError(EPERM, 'setfsuid');
  return previous;
}

/** setfsgid(2): as setfsuid, the change is read back and checked. */
export function setfsgid(gid: number): number {
  const previous = setfsgidNative(cInt(gid, 'gid'));
  if (setfsgidNative(QUERY) !== gid) throw sysError(EPERM, 'setfsgid');
  return previous;
}
