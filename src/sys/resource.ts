// sys/resource.h: resource limits (struct rlimit is two 64-bit rlim_t, soft then hard).
import { libc, checkMinusOne, cInt } from './libc.js';

export const RLIMIT_CORE = 4;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
/** rlim_t all ones: no limit. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

export interface Rlimit {
  soft: bigint;
  hard: bigint;
}

// A BigUint64Array(2) is passed as the struct: its memory is the rlimit, read and written in place.
const getrlimitNative = libc.func('int getrlimit(int resource, _Out_ uint64_t *rlim)');
const setrlimitNative = libc.func('int setrlimit(int resource, const uint64_t *rlim)');

/** getrlimit(2): -1/errno convention. */
export function getrlimit(resource: number): Rlimit {
  const rlim = new BigUint64Array(2);
  checkMinusOne(getrlimitNative(cInt(resource, 'resource'), rlim), 'getrlimit');
  return { soft: rlim[0], hard: rlim[1] };
}

/** setrlimit(2): -1/errno convention (EPERM raising the hard limit, EINVAL soft > hard). */
export function setrlimit(resource: number, limit: Rlimit): void {
  const rlim = BigUint64Array.of(limit.soft, limit.hard);
  checkMinusOne(setrlimitNative(cInt(resource, 'resource'), rlim), 'setrlimit');
}
