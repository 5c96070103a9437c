// What scripts/build.mjs leaves in dist/ beyond the bundles' code: their encoding, and the wasm they read beside them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const dist = join(repoRoot, 'dist');

test('every bundle in dist/ is ASCII: one character above U+00FF makes V8 keep the whole source at two bytes each', () => {
  const bundles = readdirSync(dist).filter((f) => f.endsWith('.js') || f.endsWith('.mjs'));
  assert.ok(bundles.includes('supervisor.body.js'));
  for (const f of bundles) {
    const at = readFileSync(join(dist, f)).findIndex((byte) => byte > 0x7f);
    assert.equal(at, -1, `${f}: a non-ASCII byte at offset ${at}`);
  }
});

test('the planner is read from dist/planner.wasm: without it a plan fails naming the file', () => {
  const copy = mkdtempSync(join(tmpdir(), 'daemonkit-build-'));
  try {
    cpSync(dist, join(copy, 'dist'), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
    const plan = () =>
      spawnSync(process.execPath, [join(copy, 'dist', 'cli.js'), 'plan', '--name', 'p', '--', 'true'], { encoding: 'utf8' });
    assert.equal(plan().status, 0);
    rmSync(join(copy, 'dist', 'planner.wasm'));
    const r = plan();
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`cannot read its planner ${join(copy, 'dist', 'planner.wasm')}: ENOENT`));
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
