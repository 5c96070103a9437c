// sys/stat.h: umask(2), set by the process that spawns the daemon since posix_spawn has no attribute for it.
import { libc } from './libc.js';

const umaskNative = libc.func('uint32_t umask(uint32_t mask)');

/** umask(2): sets the mask and returns the previous one; never fails. */
export function umask(mask: number): number {
  if (!Number.isInteger(mask) || mask < 0 || mask > 0o777) throw new RangeError(`umask must be 0..0o777, got ${String(mask)}`);
  return umaskNative(mask);
}
