// sys/random.h: getrandom(2), the kernel's random bytes with no device file to open (a chroot may have no /dev).
import { libc, koffi, checkMinusOne, EINTR } from './libc.js';

const getrandomNative = libc.func('long getrandom(void *buf, unsigned long len, unsigned int flags)');

/** getrandom(2), -1/errno, retrying EINTR: `length` random bytes (it blocks only before the pool is first seeded). */
export function randomBytes(length: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let got = 0; got < length;) {
    const n = Number(getrandomNative(buf.subarray(got), length - got, 0));
    if (n === -1 && koffi.errno() === EINTR) continue;
    got += checkMinusOne(n, 'getrandom');
  }
  return buf;
}
