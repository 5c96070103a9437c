// The one place that loads koffi and libc.so.6; every other sys file declares its functions on `libc`.
import type { LibraryHandle } from 'koffi';
import { bundleRequire } from '../bundle-require.js';
import { setStrerror, sysError } from './errors.js';

const MIN_MAJOR = 2;
const MIN_MINOR = 34; // posix_spawn_file_actions_addclosefrom_np first shipped in glibc 2.34

function unsupported(what: string): Error {
  return new Error(`daemonkit needs Linux with glibc >= ${MIN_MAJOR}.${MIN_MINOR}; this is ${what}`);
}

if (process.platform !== 'linux') throw unsupported(`${process.platform} ${process.arch}`);

/** The koffi version package.json pins: its native module is used directly only when it reports this version. */
export const KOFFI_VERSION = '3.3.4';

type Koffi = typeof import('koffi');

/**
 * Load the prebuilt native module directly when it is the pinned version, else koffi's entry: the entry's JS module
 * loading costs a start more than the native module itself, twice (figures: RELIABILITY.md, "Figures behind rules").
 * Required after the platform check, so off Linux the error is ours, not koffi's.
 */
function loadKoffi(): Koffi {
  const require = bundleRequire();
  const triplet = `${process.platform}_${process.arch}`;
  try {
    const native = require(`@koromix/koffi-${process.platform}-${process.arch}/${triplet}/koffi.node`) as Koffi & { version?: string };
    if (native.version === KOFFI_VERSION) return native;
  } catch {
    // no prebuilt package of that name here (another layout or a build from source): koffi knows where to look
  }
  return require('koffi') as Koffi;
}

function loadLibc(k: Koffi): LibraryHandle {
  let lib: LibraryHandle;
  try {
    lib = k.load('libc.so.6');
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

// koffi and libc.so.6 load on the first native call, not at import: a service that imports daemonkit and never
// detaches (or has not yet) pays nothing for them.
let loadedKoffi: Koffi | null = null;
let loadedLibc: LibraryHandle | null = null;
const getKoffi = (): Koffi => (loadedKoffi ??= loadKoffi());
const getLibc = (): LibraryHandle => (loadedLibc ??= loadLibc(getKoffi()));

type NativeFunction = ReturnType<LibraryHandle['func']>;

/** A libc function declared now and resolved on its first call (or first `.async`), with koffi's own types. */
export function declare(make: (lib: LibraryHandle, k: Koffi) => NativeFunction): NativeFunction {
  let fn: NativeFunction | null = null;
  const resolve = (): NativeFunction => (fn ??= make(getLibc(), getKoffi()));
  const call = (...args: unknown[]): unknown => resolve()(...args);
  Object.defineProperty(call, 'async', { get: () => resolve().async });
  Object.defineProperty(call, 'info', { get: () => resolve().info });
  return call as NativeFunction;
}

/** once(make): make() on the first call, its value after (koffi types shared by several declared functions). */
export function once<T>(make: () => T): () => T {
  let value: { v: T } | null = null;
  return () => (value ??= { v: make() }).v;
}

/** libc.so.6: only `func` is offered, and it declares lazily; importing a sys module still throws off Linux. */
export const libc = {
  func: ((...decl: Parameters<LibraryHandle['func']>) =>
    declare((lib) => (lib.func as (...a: unknown[]) => NativeFunction)(...decl))) as LibraryHandle['func'],
};

/** koffi itself, loaded on first property access (errno, alloc, struct, ...). */
export const koffi: Koffi = new Proxy({} as Koffi, { get: (_, key) => Reflect.get(getKoffi(), key) });

// errno.h (asm-generic, the values of every Linux ABI daemonkit runs on): literals, so that the library's entry, which
// carries this file, loads no node:os. test/src/sys/libc.test.ts holds them to Node's table.
export const EINTR = 4;
export const EAGAIN = 11;
export const ESRCH = 3;
export const EBADF = 9;

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
