import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, lstatSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fchmodFd, fchownFd, openPath } from '../../../src/sys/path-fd.js';
import { listenUnix } from '../../../src/sys/socket.js';

const NOBODY = 65534;
const isRoot = process.getuid!() === 0;

function withDir(fn: (dir: string) => void) {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'dk-pathfd-'));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'openPath on a symlink holds the symlink itself, so a chmod through it never reaches the target',
  withDir((dir) => {
    const target = join(dir, 'target');
    writeFileSync(target, 'x', { mode: 0o644 });
    symlinkSync(target, join(dir, 'link'));
    const fd = openPath(join(dir, 'link'));
    try {
      assert.ok(fstatSync(fd).isSymbolicLink());
      assert.throws(() => fchmodFd(fd, 0o600, join(dir, 'link')));
      assert.equal(statSync(target).mode & 0o777, 0o644);
    } finally {
      closeSync(fd);
    }
  }),
);

test(
  'fchmodFd and fchownFd change the socket file an O_PATH fd holds',
  withDir((dir) => {
    const path = join(dir, 's.sock');
    const sock = listenUnix(path, 4);
    const fd = openPath(path);
    try {
      fchmodFd(fd, 0o600, path);
      assert.equal(lstatSync(path).mode & 0o777, 0o600);
      if (isRoot) {
        fchownFd(fd, NOBODY, NOBODY, path);
        assert.equal(lstatSync(path).uid, NOBODY);
        assert.equal(lstatSync(path).gid, NOBODY);
      }
    } finally {
      closeSync(fd);
      closeSync(sock);
    }
  }),
);

test('openPath errors carry the path', () => {
  assert.throws(
    () => openPath('/nonexistent/x'),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'open' && e.path === '/nonexistent/x',
  );
});
