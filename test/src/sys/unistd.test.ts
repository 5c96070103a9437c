import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chroot, SysError } from '../../../src/sys/index.js';

test('chroot errors carry the path', () => {
  assert.throws(
    () => chroot('/nonexistent/daemonkit-root'),
    (err: unknown) =>
      err instanceof SysError &&
      err.code === 'ENOENT' &&
      err.path === '/nonexistent/daemonkit-root' &&
      err.message === "ENOENT: no such file or directory, chroot '/nonexistent/daemonkit-root'",
  );
  assert.throws(() => chroot('/tmp\0/x'), TypeError);
});
