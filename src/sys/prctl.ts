// sys/prctl.h: the child-subreaper flag, so orphaned descendants are reparented to a supervisor, not init.
import { libc, checkMinusOne } from './libc.js';

const PR_SET_CHILD_SUBREAPER = 36;

// prctl is variadic: extra arguments go as (type, value) pairs.
const prctlNative = libc.func('int prctl(int option, ...)');

/** prctl(2) PR_SET_CHILD_SUBREAPER: -1/errno convention. */
export function setChildSubreaper(on: boolean): void {
  checkMinusOne(prctlNative(PR_SET_CHILD_SUBREAPER, 'unsigned long', on ? 1 : 0), 'prctl');
}
