// collectYoungGeneration makes V8 collect its young generation there and then, with no V8 flag: this file runs itself
// under --trace-gc (which prints each collection as it happens) and finds a scavenge between the lines around the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { collectYoungGeneration } from '../../../src/core/young-collect.js';

const CHILD = 'YOUNG_COLLECT_CHILD';

if (process.env[CHILD]) {
  console.log('before');
  const collected = collectYoungGeneration();
  console.log(`after ${collected}`);
} else {
  test('a scavenge happens within the call, and the call says so', () => {
    const r = spawnSync(process.execPath, ['--trace-gc', process.argv[1]!], {
      env: { ...process.env, [CHILD]: '1', NODE_OPTIONS: '', NODE_TEST_CONTEXT: '' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const [before, after] = [lines.indexOf('before'), lines.indexOf('after true')];
    assert.ok(before >= 0 && after > before, r.stdout);
    assert.ok(
      lines.slice(before + 1, after).some((l) => l.includes('Scavenge')),
      `no scavenge between the markers:\n${r.stdout}`,
    );
  });
}
