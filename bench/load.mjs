// What daemonkit's entries load before they do anything, beside the node floor: each row is a fresh process,
// from spawn until it has exited, interleaved round-robin. The in-process split (bootstrap vs our modules) comes
// from a preload that reports performance.nodeTiming at exit.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, cli, node, root } from './lib/env.mjs';
import { run, sleep } from './lib/proc.mjs';
import { ratio, ratioText, rotate, summarize } from './lib/stats.mjs';
import { timedStart } from './lib/timing.mjs';

export const name = 'load';
export const title = 'Startup cost: what the CLI, the library and their parts load';
export const defaults = { n: 12 };

const koffiUrl = `${root}/node_modules/koffi/index.js`;
const wasmJs = `
  const { readFileSync } = await import('node:fs');
  const { instantiate } = await import(${JSON.stringify(`${root}/build/planner.js`)});
  await instantiate(await WebAssembly.compile(readFileSync(${JSON.stringify(`${root}/build/planner.wasm`)})), {});`;

const PROBES = [
  { id: 'node', label: "node -e ''", args: ['-e', ''] },
  { id: 'koffi', label: 'node: import koffi', args: ['--input-type=module', '-e', `await import(${JSON.stringify(koffiUrl)})`] },
  {
    id: 'koffi-native',
    label: "node: require koffi's native module alone (how dist/ loads it)",
    args: [
      '-e',
      `require(${JSON.stringify(`${root}/node_modules/@koromix/koffi-${process.platform}-${process.arch}/${process.platform}_${process.arch}/koffi.node`)})`,
    ],
  },
  { id: 'wasm', label: 'node: compile + instantiate build/planner.wasm', args: ['--input-type=module', '-e', wasmJs] },
  { id: 'cli-version', label: 'node dist/cli.js --version', args: [cli, '--version'] },
  { id: 'cli-plan', label: 'node dist/cli.js plan -- /bin/sleep 1', args: [cli, 'plan', '--', '/bin/sleep', '1'] },
  {
    id: 'node-node',
    label: "two bare Node startups in series: node -e that spawnSyncs node -e '' (the floor of any start whose second process is Node)",
    args: ['-e', "require('child_process').spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' })"],
  },
  { id: 'true', label: '/bin/true', cmd: '/bin/true', args: [] },
  // What `import 'daemonkit'` resolves to (package.json exports: import → dist/index.mjs, the ES entry over the bundle).
  {
    id: 'index',
    label: "node: import 'daemonkit' (dist/index.mjs, the library's ES entry)",
    args: ['--input-type=module', '-e', `await import(${JSON.stringify(`${root}/dist/index.mjs`)})`],
  },
  {
    id: 'index-cjs-import',
    label: 'node: import dist/index.js itself (the CommonJS entry; cjs-module-lexer reads its export-names line)',
    args: ['--input-type=module', '-e', `await import(${JSON.stringify(`${root}/dist/index.js`)})`],
  },
  {
    id: 'node-esm',
    label: "node --input-type=module -e '' (the floor of an ES module that imports)",
    args: ['--input-type=module', '-e', ''],
  },
  {
    id: 'index-require',
    label: 'node: require dist/index.js (the library, from CommonJS)',
    args: ['-e', `require(${JSON.stringify(`${root}/dist/index.js`)})`],
  },
];

/** Library load against the floor of the same module system: at most 1.3x (issue 16). */
const LIBRARY_LIMIT = 1.3;

function libraryTargets(rows) {
  const med = (id) => rows.find((r) => r.id === `load/${id}`)?.median ?? null;
  const one = (id, text, value, floor, floorName) => {
    if (value == null || floor == null) return { id, text, status: 'not measurable yet', measured: 'a row was left out (--peers)' };
    const x = value / floor;
    return {
      id,
      text,
      status: x <= LIBRARY_LIMIT ? 'met' : 'not met',
      measured: `${value} ms / ${floor} ms (${floorName}) = ${ratioText(x, LIBRARY_LIMIT)}x (limit ${LIBRARY_LIMIT}x)`,
      ratio: +x.toFixed(3),
    };
  };
  return [
    one('library-require', "require('daemonkit') at most 1.3x node -e ''", med('index-require'), med('node'), "node -e ''"),
    one(
      'library-import',
      "import 'daemonkit' at most 1.3x an ES module's node -e ''",
      med('index'),
      med('node-esm'),
      "node --input-type=module -e ''",
    ),
  ];
}

/**
 * The floors of an ES module import, their files in the run's own directory: an empty .mjs file, and an .mjs that
 * requires an empty .cjs with createRequire, which is how dist/index.mjs reaches the CommonJS bundle (one instance of
 * the library for require and import).
 */
function esmFloors(dir) {
  writeFileSync(join(dir, 'empty.mjs'), '\n');
  writeFileSync(join(dir, 'empty.cjs'), 'module.exports = {};\n');
  writeFileSync(
    join(dir, 'over-cjs.mjs'),
    "import { createRequire } from 'node:module';\nexport default createRequire(import.meta.url)('./empty.cjs');\n",
  );
  const importing = (file) => ['--input-type=module', '-e', `await import(${JSON.stringify(join(dir, file))})`];
  return [
    { id: 'esm-file', label: 'node: import an empty .mjs file (the floor of an ES module file)', args: importing('empty.mjs') },
    {
      id: 'esm-over-cjs',
      label: 'node: import an .mjs that requires an empty .cjs (the floor of an ES entry over a CommonJS bundle)',
      args: importing('over-cjs.mjs'),
    },
  ];
}

export async function run_(ctx) {
  const n = ctx.n ?? defaults.n;
  const all = [...PROBES, ...esmFloors(ctx.dir('load-floors'))];
  if (ctx.extraCaCerts)
    all.splice(1, 0, {
      id: 'node-extra-ca',
      label: "node -e '' with NODE_EXTRA_CA_CERTS (this machine's login environment)",
      args: ['-e', ''],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ctx.extraCaCerts },
    });
  const probes = all.filter((p) => ctx.wants(`load/${p.id}`) && (!p.cmd || existsSync(p.cmd)));
  const samples = new Map(probes.map((p) => [p.id, []]));
  for (let r = -1; r < n; r++) {
    for (const p of rotate(probes, r + 1)) {
      const res = await timedStart({ cmd: p.cmd ?? node, args: p.args, env: p.env, cwd: root, returns: true });
      if (res.error) throw new Error(`${p.label}: ${res.error}`);
      if (r >= 0) samples.get(p.id).push(res.ms);
      await sleep(10);
    }
  }
  const floor = summarize(samples.get('node') ?? []).median;
  const rows = probes.map((p) => {
    const s = summarize(samples.get(p.id));
    return {
      id: `load/${p.id}`,
      label: p.label,
      group: 'spawn to exit, ms',
      unit: 'ms',
      ...s,
      ratios: { "node -e ''": ratio(s.median, floor) },
      overFloorMs: floor == null ? null : +(s.median - floor).toFixed(2),
    };
  });

  // In-process split for the CLI: bootstrap done vs exit, both since process start (preload reports them).
  const split = { bootstrap: [], exit: [] };
  for (let i = 0; i < Math.min(n, 8); i++) {
    const r = await run(node, ['-r', join(benchDir, 'entries', 'exit-timing.cjs'), cli, '--version'], { cwd: root });
    const m = /DKBENCH_TIMING (.+)/.exec(r.stderr);
    if (m) {
      const t = JSON.parse(m[1]);
      split.bootstrap.push(t.bootstrapComplete);
      split.exit.push(t.exit);
    }
  }
  const b = summarize(split.bootstrap);
  const e = summarize(split.exit);
  rows.push(
    {
      id: 'split/bootstrap',
      label: 'dist/cli.js --version: Node bootstrap complete',
      group: 'in process, ms since process start (performance.nodeTiming)',
      unit: 'ms',
      ...b,
    },
    {
      id: 'split/exit',
      label: 'dist/cli.js --version: its output written (the bundle loaded and run)',
      group: 'in process, ms since process start (performance.nodeTiming)',
      unit: 'ms',
      ...e,
    },
  );
  // Each role's body and the V8 code cache its generated entry compiles it with, and the plain small bundles.
  const files = ['cli', 'library', 'intermediate', 'supervisor'].flatMap((r) => [`${r}.body.js`, `${r}.code-cache`]);
  for (const f of [...files, 'index.js', 'errors.js', 'early.js']) {
    let size = null;
    try {
      size = statSync(join(root, 'dist', f)).size;
    } catch {
      continue;
    }
    rows.push({ id: `size/${f}`, label: `dist/${f}`, group: 'bundle size, bytes', unit: 'B', n: 1, median: size, min: size, max: size });
  }
  return {
    params: {
      n,
      warmup: 1,
      environment: ctx.extraCaCerts ? 'NODE_EXTRA_CA_CERTS removed, except in the row that says so' : 'as inherited',
    },
    rows,
    targets: libraryTargets(rows),
  };
}
export { run_ as run };
