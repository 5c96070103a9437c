// 3. Restart latency: SIGKILL the worker, time until a new PID has exec'd the target (polled every 0.5 ms).
// Every supervisor runs at once, each with its own worker; kills go round-robin, one supervisor at a time.
import { bringUp, supervisors } from './lib/peers.mjs';
import { killPid, now, pids, pollSync, sleep } from './lib/proc.mjs';
import { ratio, rotate, summarize } from './lib/stats.mjs';
import { byMarker } from './lib/timing.mjs';

export const name = 'restart';
export const title = 'Restart latency after kill -9 of a worker';
export const defaults = { n: 12 };

const PEERS = ['mini', 'pm2', 'forever', 'supervisord', 'daemonkit'];

// Restart delays and crash-loop limits off, so what is measured is the reaction, not a policy.
const EXTRA = {
  pm2: ['--max-restarts', '1000000', '--restart-delay', '0'],
  daemonkit: ['--backoff-min', '0', '--max-restarts', '1000000'],
};

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const peers = PEERS.filter((id) => ctx.wants(id));
  const samples = new Map(peers.map((id) => [id, []]));
  const errors = new Map(peers.map((id) => [id, []]));
  const { handles, skipped } = await bringUp(ctx, peers, { dirPrefix: 'restart', extraFor: (id) => EXTRA[id] ?? [] });
  try {
    await sleep(1500); // past pm2's min_uptime, so the first kill is not an "unstable restart"
    for (let r = -1; r < n; r++) {
      for (const id of rotate([...handles.keys()], r + 1)) {
        const s = handles.get(id);
        const old = s.h.workers[0];
        const before = new Set(pids());
        const find = byMarker(s.marker, s.expect, { exclude: new Set([old]) });
        const t0 = now();
        killPid(old, 'SIGKILL');
        const pid = pollSync(() => find(before), { stepMs: 0.5, timeoutMs: 15_000 });
        const t1 = now();
        if (!pid) {
          errors.get(id).push(`no new worker within 15 s (round ${r + 1})`);
          handles.delete(id);
          await supervisors[id].down(s.h).catch(() => {});
          continue;
        }
        s.h.workers = [pid];
        if (r >= 0) samples.get(id).push(t1 - t0);
        await sleep(250);
      }
      ctx.progress(`round ${r + 2}/${n + 1}`);
    }
  } finally {
    for (const [id, s] of handles) await supervisors[id].down(s.h).catch((e) => ctx.log(`  restart ${id} down: ${e.message}`));
  }

  const mini = summarize(samples.get('mini') ?? []).median;
  const rows = peers.map((id) => {
    const s = summarize(samples.get(id));
    const err = errors.get(id)[0];
    return {
      id: `restart/${id}`,
      label: supervisors[id].label,
      unit: 'ms',
      ...s,
      ratios: { '10-line': ratio(s.median, mini) },
      options: (EXTRA[id] ?? []).join(' ') || undefined,
      skipped: skipped.get(id) ?? (s.n === 0 ? `no sample: ${err ?? 'unknown'}` : undefined),
      errors: err ? errors.get(id) : undefined,
    };
  });
  const med = (id) => rows.find((r) => r.id === `restart/${id}` && !r.skipped)?.median ?? null;
  const dk = med('daemonkit');
  const targets = [];
  if (dk == null) {
    const why = rows.find((r) => r.id === 'restart/daemonkit')?.skipped ?? 'no sample';
    targets.push({ id: 'restart-vs-mini', text: 'at most 1.1x the 10-line Node supervisor', status: 'not measurable yet', measured: why });
    targets.push({ id: 'restart-vs-peers', text: 'ahead of pm2, forever and supervisord', status: 'not measurable yet', measured: why });
  } else {
    const x = ratio(dk, mini);
    targets.push({
      id: 'restart-vs-mini',
      text: 'at most 1.1x the 10-line Node supervisor',
      status: x != null && x <= 1.1 ? 'met' : 'not met',
      measured: `${dk} ms vs ${mini} ms = ${x}x`,
      ratio: x,
    });
    const others = ['pm2', 'forever', 'supervisord'].map((id) => [id, med(id)]);
    const ok = others.every(([, v]) => v != null && dk < v);
    targets.push({
      id: 'restart-vs-peers',
      text: 'ahead of pm2, forever and supervisord',
      status: others.some(([, v]) => v == null) ? 'not measurable yet' : ok ? 'met' : 'not met',
      measured: `${dk} ms vs ${others.map(([id, v]) => `${id} ${v ?? '–'} ms`).join(', ')}`,
    });
  }
  return {
    params: {
      n,
      warmup: 1,
      pollMs: 0.5,
      worker: '/bin/sleep 1000.x (forever: via /bin/sh)',
      options: EXTRA,
      order: 'all supervisors up at once; kills round-robin, 250 ms apart',
    },
    rows,
    targets,
  };
}
