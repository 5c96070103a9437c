import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { umask } from '../../../src/sys/index.js';
import { tempDir } from './support.js';

test('umask returns the previous mask and the new one applies to created files', (t) => {
  const dir = tempDir(t);
  const original = umask(0o027);
  try {
    assert.equal(umask(0o077), 0o027);
    const file = join(dir, 'f');
    closeSync(openSync(file, 'w', 0o666));
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    assert.equal(umask(original), 0o077);
  }
});

test('umask refuses values outside 0..0o777', () => {
  for (const bad of [-1, 0o1000, 1.5]) assert.throws(() => umask(bad), RangeError);
});
