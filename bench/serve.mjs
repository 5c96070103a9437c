// Shared-socket throughput: the HTTP hello-world on 2 workers (one a core here) under daemonkit's --listen (every
// worker accepts on the one socket), Node's cluster module (round-robin: the primary accepts and hands connections
// over) and pm2 cluster mode (Node's cluster underneath), loaded over kept-alive connections. Requests per second and
// p99 latency; peers interleaved round by round, each brought up afresh and warmed before it is measured.
import { errorCount, failedCount, freePort, startLoad } from './lib/http.mjs';
import { servers } from './lib/servers.mjs';
import { sleep } from './lib/proc.mjs';
import { ratio, rotate, round, summarize } from './lib/stats.mjs';

export const name = 'serve';
export const title = 'Shared-socket throughput: 2 workers, daemonkit --listen vs cluster vs pm2';
export const defaults = { n: 3, workers: 2, connections: 50, warmupSeconds: 2, seconds: 10 };
const QUICK = { connections: 4, warmupSeconds: 0.3, seconds: 1 };

const PEERS = ['daemonkit', 'cluster', 'pm2'];

export async function run(ctx) {
  const p = { ...defaults, ...(ctx.quick ? QUICK : {}), n: ctx.n ?? defaults.n };
  const peers = PEERS.filter((id) => ctx.wants(id));
  const data = new Map(peers.map((id) => [id, { rps: [], p99: [], p50: [], errors: [], problems: 0 }]));
  const skipped = new Map();
  for (const id of peers) {
    const why = ctx.unavailable(servers[id].needs);
    if (why) skipped.set(id, why);
  }
  for (let r = 0; r < p.n; r++) {
    for (const id of rotate(
      peers.filter((x) => !skipped.has(x)),
      r,
    )) {
      const d = data.get(id);
      let h = null;
      try {
        const port = await freePort();
        h = await servers[id].up({ dir: ctx.dir(`serve-${id}-${r}`), workers: p.workers, port, delayMs: 0, marker: ctx.nodeMarker() });
        await startLoad(h.url, { connections: p.connections, seconds: p.warmupSeconds, keepAlive: true }).done;
        const res = await startLoad(h.url, { connections: p.connections, seconds: p.seconds, keepAlive: true }).done;
        d.rps.push(res.ok / ((res.end - res.start) / 1000));
        d.p99.push(res.p99);
        d.p50.push(res.p50);
        d.problems += errorCount(res) + failedCount(res);
      } catch (e) {
        d.errors.push(e.message);
        ctx.log(`  serve ${id}: ${e.message}`);
      } finally {
        if (h) await servers[id].down(h).catch((e) => ctx.log(`  serve ${id} down: ${e.message}`));
      }
      await sleep(200);
    }
    ctx.progress(`round ${r + 1}/${p.n}`);
  }
  const rows = [];
  const dkRps = summarize(data.get('daemonkit')?.rps ?? []).median;
  const dkP99 = summarize(data.get('daemonkit')?.p99 ?? []).median;
  for (const [k, group, unit, ref] of [
    ['rps', 'requests per second (kept-alive)', 'req/s', dkRps],
    ['p99', 'p99 latency, ms', 'ms', dkP99],
    ['p50', 'median latency, ms', 'ms', null],
  ])
    for (const id of peers) {
      const d = data.get(id);
      const s = summarize(d[k]);
      rows.push({
        id: `${k}/${id}`,
        label: servers[id].label,
        group,
        unit,
        ...s,
        ...(ref != null ? { ratios: { daemonkit: ratio(s.median, ref) } } : {}),
        how: k === 'rps' ? `${d.problems} errors or non-200 answers in all` : undefined,
        skipped: skipped.get(id) ?? (s.n === 0 ? `no sample: ${d.errors[0] ?? 'unknown'}` : undefined),
      });
    }
  const med = (id, k) => summarize(data.get(id)?.[k] ?? []).median;
  const why = skipped.get('daemonkit') ?? data.get('daemonkit')?.errors[0];
  const ahead = (k, text, better) => {
    const dk = med('daemonkit', k);
    const others = ['cluster', 'pm2'].map((id) => [id, med(id, k)]);
    if (dk == null || others.some(([, v]) => v == null))
      return {
        id: `serve-${k}`,
        text,
        status: 'not measurable yet',
        measured:
          why ??
          `missing: ${others
            .filter(([, v]) => v == null)
            .map(([id]) => skipped.get(id) ?? id)
            .join(', ')}`,
      };
    const ok = others.every(([, v]) => better(dk, v));
    return {
      id: `serve-${k}`,
      text,
      status: ok ? 'met' : 'not met',
      measured: `daemonkit ${round(dk)} vs ${others.map(([id, v]) => `${id} ${round(v)}`).join(', ')} ${k === 'rps' ? 'req/s' : 'ms'}`,
    };
  };
  return {
    params: {
      n: p.n,
      workers: p.workers,
      connections: p.connections,
      warmupSeconds: p.warmupSeconds,
      seconds: p.seconds,
      loadGenerator: 'bench/entries/http-load.mjs (kept-alive)',
      order: 'round-robin, each peer brought up afresh per round',
    },
    rows,
    targets: [
      ahead('rps', 'requests per second ahead of Node cluster and pm2 cluster mode', (a, b) => a > b),
      ahead('p99', 'p99 latency below Node cluster and pm2 cluster mode', (a, b) => a < b),
    ],
  };
}
