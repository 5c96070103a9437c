// sys/prctl.h: the child-subreaper flag, so orphaned descendants are reparented to a supervisor, not init.
import { libc, checkMinusOne } from './libc.js';

const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;

// prctl is variadic: extra arguments go as (type, value) pairs, and a typed array passes as a pointer.
const prctlNative = libc.func('int prctl(int option, ...)');

/** prctl(2) PR_SET_CHILD_SUBREAPER: -1/errno convention. */
export function setChildSubreaper(on: boolean): void {
  checkMinusOne(prctlNative(PR_SET_CHILD_SUBREAPER, 'unsigned long', on ? 1 : 0), 'prctl');
}

/** prctl(2) PR_GET_CHILD_SUBREAPER (the flag comes back through an int pointer): -1/errno convention. */
export function isChildSubreaper(): boolean {
  const flag = new Int32Array(1);
  checkMinusOne(prctlNative(PR_GET_CHILD_SUBREAPER, 'int *', flag), 'prctl');
  return flag[0] !== 0;
}
