// Quick A/B of startup cost without the full bench: alternating spawnSync runs of `node -e ''` and each given
// script (node -e SCRIPT), NODE_EXTRA_CA_CERTS removed; prints the median of each and its ratio to the floor.
// Usage: node bench/entries/load-compare.mjs [--runs 30] "require('./dist/index.js')" [more scripts...]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { summarize } from '../lib/stats.mjs';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '30' } }, allowPositionals: true });
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const probes = ['', ...positionals];
const samples = probes.map(() => []);
for (let r = -1; r < Number(values.runs); r++) {
  probes.forEach((script, i) => {
    const t0 = process.hrtime.bigint();
    const res = spawnSync(process.execPath, ['-e', script], { env, stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status !== 0) throw new Error(`node -e ${JSON.stringify(script)} exited ${res.status}`);
    if (r >= 0) samples[i].push(ms);
  });
}
const floor = summarize(samples[0]).median;
for (const [i, script] of probes.entries()) {
  const s = summarize(samples[i]);
  process.stdout.write(
    `${(script ? `node -e ${JSON.stringify(script)}` : "node -e ''").padEnd(60)} median ${s.median} ms (min ${s.min}, max ${s.max}, n ${s.n}) = ${(s.median / floor).toFixed(2)}x\n`,
  );
}
