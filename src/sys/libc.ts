// The one place that loads koffi and libc.so.6; every other sys file declares its functions on `libc`.
import type { LibraryHandle } from 'koffi';
import { constants } from 'node:os';
import { setStrerror, sysError } from './errors.js';

const MIN_MAJOR = 2;
const MIN_MINOR = 34; // posix_spawn_file_actions_addclosefrom_np first shipped in glibc 2.34

function unsupported(what: string): Error {
  return new Error(`daemonkit needs Linux with glibc >= ${MIN_MAJOR}.${MIN_MINOR}; this is ${what}`);
}

if (process.platform !== 'linux') throw unsupported(`${process.platform} ${process.arch}`);
// Imported only after that check: a static import is hoisted above it (esbuild too) and koffi would fail first, in its own words.
const { default: koffi } = await import('koffi');

function loadLibc(): LibraryHandle {
  let lib: LibraryHandle;
  try {
    lib = koffi.load('libc.so.6');
  } catch (err) {
    // musl and other libcs have no libc.so.6; say so instead of koffi's dlopen text alone.
    throw unsupported(`Linux without glibc (${(err as Error).message})`);
  }
  // gnu_get_libc_version(3) returns a static string like "2.36"; it cannot fail.
  const version = String(lib.func('const char *gnu_get_libc_version(void)')());
  const [major, minor] = version.split('.').map((n) => parseInt(n, 10));
  if (!(major > MIN_MAJOR || (major === MIN_MAJOR && minor >= MIN_MINOR))) {
    throw unsupported(`Linux with glibc ${version}`);
  }
  return lib;
}

/** libc.so.6, loaded once; importing any sys module throws a clear Error off Linux/glibc >= 2.34. */
export const libc = loadLibc();
export { koffi };

export const EINTR = constants.errno.EINTR;
export const EAGAIN = constants.errno.EAGAIN;
export const ESRCH = constants.errno.ESRCH;
export const EBADF = constants.errno.EBADF;

const strerrorNative = libc.func('const char *strerror(int errnum)');

/** strerror(3): glibc's text for an errno ("Unknown error N" when it has none); thread-safe since glibc 2.32. */
export function strerror(errnoPositive: number): string {
  return String(strerrorNative(errnoPositive));
}
setStrerror(strerror);

/** For calls that return -1 and set errno: throws a SysError from koffi.errno(); call it right after the call. */
export function checkMinusOne(ret: number, syscall: string, path?: string): number {
  if (ret === -1) throw sysError(koffi.errno(), syscall, path);
  return ret;
}

/** For the posix_spawn family, which returns the error number itself (0 on success) and leaves errno alone. */
export function checkErrorNumber(ret: number, syscall: string, path?: string): void {
  if (ret !== 0) throw sysError(ret, syscall, path);
}

/** koffi would cut a string at its first NUL byte silently, so a path like "/a\0b" would act on "/a". */
export function cString(value: string, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${typeof value}`);
  if (value.includes('\0')) throw new TypeError(`${what} must not contain NUL bytes: ${JSON.stringify(value)}`);
  return value;
}

/** Native ints must be whole numbers: koffi would otherwise truncate 1.5 or NaN to something unintended. */
export function cInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new RangeError(`${what} must be a 32-bit integer, got ${String(value)}`);
  }
  return value;
}
