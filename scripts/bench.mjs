#!/usr/bin/env node
// `npm run bench` runs every benchmark in bench/ side by side with the peers; `npm run bench -- start` runs one.
// Results go to bench/results.json (one entry per measurement, replaced when it runs again) and bench/RESULTS.md is
// regenerated from it. Options:
//   --n N            samples per peer (rounds) instead of each measurement's default
//   --peers a,b      only these peers (ids as in results.json, or their last part: pm2-warm, floor/node, ...)
//   --no-install     do not install missing peers (they are skipped with the reason)
//   --out DIR        write results.json and RESULTS.md to DIR instead of bench/
//   --quick          short durations and small counts (a smoke run of the code, not figures); also DKBENCH_QUICK=1
//   --list           print the measurements and exit
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, daemonkitCaps, distIsStale, ensurePeers, machine, node, root, versions } from '../bench/lib/env.mjs';
import { run, sweep } from '../bench/lib/proc.mjs';
import { renderMarkdown } from '../bench/lib/report.mjs';
import { annotate } from '../bench/lib/analysis.mjs';

const ORDER = [
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
];

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    n: { type: 'string' },
    peers: { type: 'string' },
    'no-install': { type: 'boolean' },
    out: { type: 'string' },
    list: { type: 'boolean' },
    quick: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});

if (values.help) {
  process.stdout.write(
    readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 11)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n') + '\n',
  );
  process.exit(0);
}
if (values.list) {
  for (const name of ORDER) {
    const m = await import(`../bench/${name}.mjs`);
    process.stdout.write(`${name.padEnd(12)}  ${m.title}\n`);
  }
  process.exit(0);
}
const unknown = positionals.filter((p) => !ORDER.includes(p));
if (unknown.length) {
  process.stderr.write(`bench: unknown measurement ${unknown.map((u) => `'${u}'`).join(', ')} (measurements: ${ORDER.join(', ')})\n`);
  process.exit(2);
}
const n = values.n === undefined ? null : Number(values.n);
if (n !== null && !(Number.isInteger(n) && n >= 1)) {
  process.stderr.write(`bench: --n must be a whole number >= 1, not '${values.n}'\n`);
  process.exit(2);
}
const selected = positionals.length ? ORDER.filter((x) => positionals.includes(x)) : ORDER;
const outDir = values.out ?? benchDir;
const peerFilter = values.peers
  ? values.peers
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  : null;

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

// This machine's environment sets NODE_EXTRA_CA_CERTS, which makes every Node process parse a CA bundle at
// startup. Users rarely have it; it inflates the `node -e ''` reference. Every process the bench
// starts runs without it; the load measurement shows what it costs (its row with the variable set).
const extraCaCerts = process.env.NODE_EXTRA_CA_CERTS;
delete process.env.NODE_EXTRA_CA_CERTS;
const runId = String(10000 + Math.floor(Math.random() * 90000));
const tmp = mkdtempSync(join(tmpdir(), `dkbench-${runId}-`));
let markerSeq = 0;

let interrupted = false;
async function cleanupAll() {
  const left = await sweep(`1000.${runId}`);
  const left2 = await sweep(`dkbench-${runId}`);
  return [...left, ...left2];
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping what this run started`);
    await cleanupAll();
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}

// Build dist/ when a source is newer (the numbers must be those of the current code).
if (distIsStale()) {
  log('dist/ is stale: building (node scripts/build.mjs wasm dist)');
  const r = await run(node, [join(root, 'scripts', 'build.mjs'), 'wasm', 'dist'], { cwd: root, timeoutMs: 300_000 });
  if (r.code !== 0) {
    log(`build failed:\n${r.stderr}`);
    process.exit(1);
  }
}

const missing = await ensurePeers({ install: !values['no-install'], log });
const caps = await daemonkitCaps();
const info = { machine: machine(), versions: await versions() };

// Quick: every measurement's code runs, with durations and counts too small for figures (smoke runs while the
// machine is busy); results written this way say so in their parameters.
const quick = Boolean(values.quick || process.env.DKBENCH_QUICK === '1');
const ctx = {
  n,
  quick,
  ...(quick ? { windowMs: 1000, settleMs: 1000, restMs: 500, workers: 50, bigWorkers: 200 } : {}),
  extraCaCerts,
  runId,
  tmp,
  log,
  progress: (msg) => process.stderr.write(`bench:   ${msg}\n`),
  missing,
  caps,
  wants: (id) => !peerFilter || peerFilter.some((f) => f === id || id.endsWith(`/${f}`) || id.split('/')[0] === f),
  unavailable(needs = []) {
    for (const need of needs) {
      if (need === 'supervised' && caps.supervised) return `not measurable yet: ${caps.supervised}`;
      if (need === 'cli' && caps.cli) return `not measurable yet: ${caps.cli}`;
      if (need === 'run' && caps.run) return `not measurable yet: ${caps.run}`;
      if (missing[need]) return `peer missing: ${missing[need]}`;
    }
    return null;
  },
  dir(name) {
    const d = join(tmp, name);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  },
  sleepMarker: () => `1000.${runId}${String(++markerSeq).padStart(5, '0')}`,
  nodeMarker: () => `dkbench-${runId}-${++markerSeq}`,
};

const resultsPath = join(outDir, 'results.json');
let results = { schema: 1, measurements: {} };
if (existsSync(resultsPath)) {
  try {
    results = JSON.parse(readFileSync(resultsPath, 'utf8'));
  } catch {
    log(`${resultsPath} is not valid JSON: starting afresh`);
  }
}
results.schema = 1;
results.measurements ??= {};

let failed = false;
for (const name of selected) {
  if (interrupted) break;
  const m = await import(`../bench/${name}.mjs`);
  log(`${name}: ${m.title}`);
  const started = Date.now();
  const loadBefore = loadavg()[0];
  let entry;
  try {
    entry = await m.run(ctx);
  } catch (e) {
    failed = true;
    log(`${name} failed: ${e?.stack ?? e}`);
    entry = { error: String(e?.message ?? e), rows: [], targets: [] };
  }
  const left = await cleanupAll();
  if (left.length) {
    log(`${name}: ${left.length} process(es) were left behind and have been killed: ${left.join(' ')}`);
    entry.notes = [...(entry.notes ?? []), `the harness had to kill ${left.length} leftover process(es) after this measurement`];
  }
  // The 1-minute load average around the measurement: anything else running on the machine shows here.
  const loadAverage = { before: +loadBefore.toFixed(2), after: +loadavg()[0].toFixed(2) };
  results.measurements[name] = {
    title: m.title,
    date: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    loadAverage,
    ...(quick ? { quick: true } : {}),
    ...info,
    ...entry,
  };
  results.date = new Date().toISOString();
  results.machine = info.machine;
  results.versions = info.versions;
  results.environment = extraCaCerts
    ? 'NODE_EXTRA_CA_CERTS was set in the environment and is removed for every process the bench starts (see the load measurement for its cost)'
    : 'as inherited';
  results.order = ORDER;
  annotate(results);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'RESULTS.md'), renderMarkdown(results));
  log(`${name}: done in ${results.measurements[name].seconds} s`);
}

rmSync(tmp, { recursive: true, force: true });
log(`results: ${resultsPath} and ${join(outDir, 'RESULTS.md')}`);
process.exit(failed ? 1 : 0);
