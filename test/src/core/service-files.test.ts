// The state record is written whole, 0600, and never through a link or into a file left at its temporary name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { writeState, type StateRecord } from '../../../src/core/service-files.js';
import { tempDir } from '../../helpers/sandbox.js';

const dir = tempDir({ after }, 'daemonkit-state-');
const record = { version: 1, options: { name: 'web' }, status: null, exitCode: 0, exitedAt: 1 } as unknown as StateRecord;

test('a symlink planted at the temporary name is replaced, and its target is untouched', () => {
  const path = join(dir, 'web.json');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'secret\n', { mode: 0o600 });
  symlinkSync(victim, `${path}.${process.pid}.tmp`);
  writeState(path, record);
  assert.equal(readFileSync(victim, 'utf8'), 'secret\n');
  assert.ok(lstatSync(path).isFile(), 'the record is a file of its own, not the link');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), record);
  assert.deepEqual(readdirSync(dir).sort(), ['victim', 'web.json']);
});

test('a close(2) that fails (NFS reports a delayed write error there) is the error thrown, and the temporary file goes', () => {
  const path = join(dir, 'close.json');
  const realClose = fs.closeSync;
  let failed = false;
  // The bundle's `closeSync` is bound to node:fs's export: patch it there and resync the ES module view of it.
  fs.closeSync = (fd: number) => {
    if (!failed) {
      failed = true;
      realClose(fd); // the descriptor is gone, as close(2) leaves it even when it reports an error
      throw Object.assign(new Error('EIO: i/o error, close'), { code: 'EIO' });
    }
    realClose(fd);
  };
  syncBuiltinESMExports();
  try {
    assert.throws(() => writeState(path, record), { code: 'EIO' });
  } finally {
    fs.closeSync = realClose;
    syncBuiltinESMExports();
  }
  assert.ok(failed);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('close.json')),
    [],
  );
});
