// 7. Planner: µs per plan (normalize + buildPlan from src/, the wasm read from build/ as dist/ reads it from beside its
// bundles) and the wasm's size.
import { readFileSync, statSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchDir, root } from './lib/env.mjs';
import { summarize } from './lib/stats.mjs';

export const name = 'planner';
export const title = 'Planner: time per plan and wasm size';
export const defaults = { n: 15 };

const PER_BATCH = 2000;

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const esbuild = await import('esbuild');
  // Under build/, like dist/: the normalizer looks users up through koffi (external), resolved from the repo's node_modules.
  const outDir = join(root, 'build', 'bench-planner');
  mkdirSync(outDir, { recursive: true });
  // The settings scripts/build.mjs shares with dist/: node20, koffi external (ESM here, to import it); the wasm from build/.
  const { esbuildCommon } = await import('../scripts/build.mjs');
  await esbuild.build({
    ...esbuildCommon,
    entryPoints: [join(benchDir, 'entries', 'planner.ts')],
    minifySyntax: true,
    define: { __BUNDLE_DIR__: JSON.stringify(join(root, 'build')) },
    outfile: join(outDir, 'planner-bench.mjs'),
  });
  const mod = await import(pathToFileURL(join(outDir, 'planner-bench.mjs')).href);
  const stateDir = ctx.dir('planner-state');
  mkdirSync(stateDir, { recursive: true });
  const { perOp, memoryBytes } = mod.measure(stateDir, n, PER_BATCH);

  const rows = Object.entries(perOp).map(([op, samples]) => ({
    id: `plan/${op}`,
    label: op,
    group: 'µs per plan (each sample: the mean of one batch)',
    unit: 'µs',
    ...summarize(samples),
  }));
  const wasmPath = join(root, 'build', 'planner.wasm');
  const bytes = statSync(wasmPath).size;
  const gz = gzipSync(readFileSync(wasmPath), { level: 9 }).length;
  rows.push(
    { id: 'size/wasm', label: 'build/planner.wasm', group: 'size (bytes)', unit: 'B', n: 1, median: bytes, min: bytes, max: bytes },
    { id: 'size/wasm-gz', label: 'build/planner.wasm, gzip -9', group: 'size (bytes)', unit: 'B', n: 1, median: gz, min: gz, max: gz },
  );
  if (memoryBytes != null)
    rows.push({
      id: 'size/memory',
      label: `wasm linear memory after ${(n + 1) * PER_BATCH * 3} plans`,
      group: 'size (bytes)',
      unit: 'B',
      n: 1,
      median: memoryBytes,
      min: memoryBytes,
      max: memoryBytes,
    });

  const full = rows.find((r) => r.id === 'plan/normalize + buildPlan');
  const targets = [
    {
      id: 'plan-time',
      text: 'under 50 µs a plan (normalize + buildPlan, the whole of it)',
      status: full.median < 50 ? 'met' : 'not met',
      measured: `${full.median} µs (min ${full.min}, max ${full.max}, n ${full.n} batches of ${PER_BATCH})`,
      ratio: +(full.median / 50).toFixed(3),
    },
    {
      id: 'wasm-size',
      text: 'wasm under 64 KiB (65,536 bytes)',
      status: bytes < 65536 ? 'met' : 'not met',
      measured: `${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB; ${gz} gzipped)`,
      ratio: +(bytes / 65536).toFixed(3),
    },
  ];
  return {
    params: {
      n,
      perBatch: PER_BATCH,
      inputs: 'a supervised service (4 workers, --log) and a --no-supervise daemon (--pidfile, symbolic --umask, --cwd), alternating',
    },
    rows,
    targets,
  };
}
