import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';
import { libc, koffi, KOFFI_VERSION, checkMinusOne, checkErrorNumber, cString, cInt, strerror, SysError } from '../../../src/sys/index.js';
import { EAGAIN, EBADF, EINTR, ESRCH } from '../../../src/sys/libc.js';
import { runScenario } from './support.js';

const bundle = fileURLToPath(import.meta.url);

// Run in a child node whose process.platform is faked before this bundle loads: the import itself must fail.
const fake = (platform: string) => `data:text/javascript,Object.defineProperty(process,"platform",{value:"${platform}"})`;

if (process.env.DK_SYS_CHILD === 'loaded') {
  process.stdout.write('loaded'); // reached only if importing sys did not throw
} else {
  test('importing sys off Linux throws a clear Error instead of crashing', () => {
    const r = runScenario(bundle, 'loaded', { nodeArgs: ['--import', fake('darwin')] });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`Error: daemonkit needs Linux with glibc >= 2\\.34; this is darwin ${process.arch}`));
  });

  test('libc is loaded once and is glibc >= 2.34', () => {
    const version = String(libc.func('const char *gnu_get_libc_version(void)')());
    const [major, minor] = version.split('.').map(Number);
    assert.ok(major > 2 || (major === 2 && minor >= 34), version);
    assert.equal(runScenario(bundle, 'loaded').stdout, 'loaded');
  });

  test('checkMinusOne reads errno right after the call', () => {
    const close = libc.func('int close(int fd)');
    assert.equal(checkMinusOne(0, 'close'), 0);
    assert.throws(
      () => checkMinusOne(close(987654), 'close'),
      (err: unknown) => err instanceof SysError && err.code === 'EBADF' && err.errno === -9,
    );
    assert.equal(koffi.errno(), 9);
  });

  test('checkErrorNumber takes the returned number, not errno', () => {
    koffi.errno(0);
    checkErrorNumber(0, 'posix_spawn');
    assert.throws(() => checkErrorNumber(2, 'posix_spawn', '/x'), { code: 'ENOENT', path: '/x', syscall: 'posix_spawn' });
  });

  test('cString refuses NUL bytes; cInt refuses non-integers', () => {
    assert.equal(cString('/a/b', 'path'), '/a/b');
    assert.throws(() => cString('/a\0b', 'path'), /path must not contain NUL bytes/);
    assert.throws(() => cInt(1.5, 'fd'), RangeError);
    assert.throws(() => cInt(2 ** 31, 'fd'), RangeError);
    assert.equal(cInt(-1, 'fd'), -1);
  });

  test('strerror gives glibc’s text', () => {
    assert.equal(strerror(2), 'No such file or directory');
  });

  test("koffi is its pinned version's native module, loaded without koffi's JS entry", () => {
    const pkg = JSON.parse(readFileSync(`${process.cwd()}/package.json`, 'utf8')); // the test runner's cwd is the package
    assert.equal(pkg.dependencies.koffi, KOFFI_VERSION, 'package.json pins the version src/sys/libc.ts expects');
    assert.equal((koffi as unknown as { version: string }).version, KOFFI_VERSION);
    // The native module itself: koffi's JS entry (which wraps it) was never required, even once libc is in use.
    assert.equal(strerror(2), 'No such file or directory');
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    assert.ok(
      loaded.some((f) => f.endsWith('koffi.node')),
      'the native module is loaded',
    );
    assert.ok(!loaded.some((f) => /[\\/]koffi[\\/]index\.js$/.test(f)), "koffi's JS entry is not loaded");
  });

  test('the errno values libc.ts writes as literals are the ones Node reports for this system', () => {
    assert.deepEqual(
      { EINTR, EAGAIN, ESRCH, EBADF },
      {
        EINTR: constants.errno.EINTR,
        EAGAIN: constants.errno.EAGAIN,
        ESRCH: constants.errno.ESRCH,
        EBADF: constants.errno.EBADF,
      },
    );
  });
}
