// Smoke test for the benchmark scripts: one tiny run (floors and the planner, n = 1, nothing installed, no peer
// needed) into a temp dir, then the JSON and the Markdown regenerated from it. Timings are never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

interface Row {
  id: string;
  n: number;
  median: number | null;
  skipped?: string;
}
interface Entry {
  rows: Row[];
  targets: Array<{ id: string; status: string }>;
}

test('npm run bench -- planner start (floors only, n=1) writes results.json and RESULTS.md', () => {
  const out = mkdtempSync(join(tmpdir(), 'dkbench-smoke-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(repoRoot, 'scripts', 'bench.mjs'),
        'planner',
        'start',
        '--peers',
        'floor/true,floor/node',
        '--n',
        '1',
        '--no-install',
        '--out',
        out,
      ],
      { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      machine: { nproc: number; cpuModel: string; kernel: string };
      versions: Record<string, string>;
      measurements: Record<string, Entry>;
    };
    assert.ok(results.machine.nproc >= 1);
    assert.ok(results.machine.cpuModel.length > 0);
    assert.equal(results.versions.node, process.version);

    const start = results.measurements.start!;
    const floors = start.rows.filter((row) => row.id.startsWith('floor/'));
    assert.deepEqual(floors.map((row) => row.id).sort(), ['floor/node', 'floor/true']);
    for (const row of floors) {
      assert.equal(row.n, 1, `${row.id}: ${row.skipped ?? ''}`);
      assert.ok(row.median! > 0);
    }
    // Peers left out by --peers are not in the table; targets needing them say they could not be measured.
    assert.ok(start.targets.every((t) => ['met', 'not met', 'not measurable yet'].includes(t.status)));

    const planner = results.measurements.planner!;
    assert.ok(planner.rows.some((row) => row.id === 'size/wasm' && row.median! > 0));
    assert.deepEqual(planner.targets.map((t) => t.id).sort(), ['plan-time', 'wasm-size']);

    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    for (const heading of ['## Machine', '## Versions', '## Targets', '## planner:', '## start:']) assert.ok(md.includes(heading), heading);

    // The Markdown is a pure function of the JSON: rendering it again gives the same text.
    writeFileSync(join(out, 'again.md'), '');
    const again = spawnSync(
      process.execPath,
      [join(repoRoot, 'bench', 'lib', 'report.mjs'), join(out, 'results.json'), join(out, 'again.md')],
      { encoding: 'utf8' },
    );
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(join(out, 'again.md'), 'utf8'), md);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('npm run bench -- --list loads every measurement, the serving and PID 1 ones included', () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'bench.mjs'), '--list'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const listed = r.stdout
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/)[0]);
  for (const m of [
    'planner',
    'load',
    'start',
    'idle',
    'restart',
    'stop',
    'scale',
    'logs',
    'reload',
    'serve',
    'fork-restart',
    'pid1',
    'readiness',
  ])
    assert.ok(listed.includes(m), m);
});

test('npm run bench rejects an unknown measurement with exit 2', () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'bench.mjs'), 'no-such-thing'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown measurement 'no-such-thing'/);
});
