// The state record is written whole, 0600, and never through a link or into a file left at its temporary name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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
