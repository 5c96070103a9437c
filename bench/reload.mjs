// Zero-downtime reload under load: the HTTP hello-world (200 ms before it listens) on 4 workers sharing one socket,
// a fixed number of connections sending requests back to back through one run of the load generator, in which quiet
// windows (no reload) and reload phases (rolling reloads one after another) alternate, 20 reloads in all. Once over
// kept-alive connections, once with a new connection per request. Counted: answers other than 200, connection errors
// (reset, refused, timed out), throughput in the reload phases against the quiet windows, each reload's duration.
// Alternating the two, each phase between two quiet windows, keeps the host's own drift (this machine is shared, its
// speed moves by tens of percent within minutes) out of the ratio. Side by side: pm2 cluster mode's `pm2 reload`.
import { errorCount, failedCount, freePort, rateOver, startLoad } from './lib/http.mjs';
import { servers } from './lib/servers.mjs';
import { sleep } from './lib/proc.mjs';
import { round, summarize } from './lib/stats.mjs';

export const name = 'reload';
export const title = 'Zero-downtime reload under load: 4 workers on a shared socket, 20 rolling reloads';
export const defaults = {
  workers: 4,
  delayMs: 200,
  connections: 50,
  warmupSeconds: 3,
  /** Reload phases, each of reloads / phases reloads; a quiet window before each and after the last. */
  phases: 5,
  quietMs: 4000,
  reloads: 20,
  gapMs: 500,
  /** After a phase, before the next quiet window: the last old worker's drain belongs to neither. */
  settleMs: 1000,
};
const QUICK = { connections: 4, warmupSeconds: 0.5, phases: 1, quietMs: 500, reloads: 2, gapMs: 100, settleMs: 200 };

const PEERS = ['daemonkit', 'churn', 'pm2'];
const MODES = [
  { id: 'keep-alive', label: 'kept-alive connections', keepAlive: true },
  { id: 'close', label: 'a new connection per request', keepAlive: false },
];
const clock = () => performance.timeOrigin + performance.now();
/** Target: throughput during reloads at least this share of the baseline. */
const THROUGHPUT_SHARE = 0.9;

async function measure(ctx, peer, mode, p) {
  const s = servers[peer];
  const port = await freePort();
  const h = await s.up({
    dir: ctx.dir(`reload-${peer}-${mode.id}`),
    workers: p.workers,
    port,
    delayMs: p.delayMs,
    marker: ctx.nodeMarker(),
  });
  try {
    await startLoad(h.url, { connections: p.connections, seconds: p.warmupSeconds, keepAlive: mode.keepAlive }).done;
    const load = startLoad(h.url, { connections: p.connections, seconds: 3600, keepAlive: mode.keepAlive });
    await sleep(p.settleMs);
    const durations = [];
    const reloadErrors = [];
    const quiet = [];
    const busy = [];
    const timed = async (into, work) => {
      const from = clock();
      await work();
      into.push([from, clock()]);
    };
    for (let phase = 0; phase < p.phases; phase++) {
      await timed(quiet, () => sleep(p.quietMs));
      await timed(busy, async () => {
        for (let i = 0; i < p.reloads / p.phases; i++) {
          const t0 = clock();
          try {
            await s.reload(h);
            durations.push(clock() - t0);
          } catch (e) {
            reloadErrors.push(e.message);
          }
          await sleep(p.gapMs);
        }
      });
      await sleep(p.settleMs);
    }
    await timed(quiet, () => sleep(p.quietMs));
    load.stop();
    const during = await load.done;
    const baseRate = rateOver(during, quiet);
    const rate = rateOver(during, busy);
    const seconds = (windows) => windows.reduce((t, [a, b]) => t + (b - a) / 1000, 0);
    return {
      baseRate,
      rate,
      share: rate == null || !baseRate ? null : rate / baseRate,
      failed: failedCount(during),
      errors: errorCount(during),
      errorsByCode: { ...during.errors },
      statuses: during.statuses,
      durations,
      reloadErrors,
      windowSeconds: seconds(busy),
      quietSeconds: seconds(quiet),
      p99: during.p99,
    };
  } finally {
    await s.down(h).catch((e) => ctx.log(`  reload ${peer} down: ${e.message}`));
  }
}

export async function run(ctx) {
  const p = { ...defaults, ...(ctx.quick ? QUICK : {}) };
  const peers = PEERS.filter((id) => ctx.wants(id));
  const res = new Map();
  const skipped = new Map();
  for (const peer of peers) {
    const why = ctx.unavailable(servers[peer].needs);
    if (why) skipped.set(peer, why);
  }
  // Modes outside, peers inside: each peer's keep-alive run, then each one's new-connection run.
  for (const mode of MODES)
    for (const peer of peers.filter((x) => !skipped.has(x))) {
      try {
        res.set(`${peer}/${mode.id}`, await measure(ctx, peer, mode, p));
      } catch (e) {
        res.set(`${peer}/${mode.id}`, { error: e.message });
        ctx.log(`  reload ${peer} ${mode.id}: ${e.message}`);
      }
      ctx.progress(`${peer} ${mode.id} done`);
    }

  const rows = [];
  const one = (id, label, group, unit, v, how) => rows.push({ id, label, group, unit, ...summarize(v == null ? [] : [v]), how });
  for (const mode of MODES)
    for (const peer of peers) {
      const r = res.get(`${peer}/${mode.id}`) ?? {};
      const why = skipped.get(peer) ?? r.error;
      const label = servers[peer].label;
      const g = (what) => `${mode.label}: ${what}`;
      const add = (k, what, unit, v, how) => {
        one(`${k}/${peer}/${mode.id}`, label, g(what), unit, v, how);
        if (why) rows[rows.length - 1].skipped = why;
      };
      add(
        'failed',
        `answers other than 200 (the whole run: quiet windows and ${p.reloads} reloads)`,
        '',
        r.failed,
        r.statuses ? `statuses ${JSON.stringify(r.statuses)}` : undefined,
      );
      add(
        'errors',
        'connection errors (reset, refused, timed out)',
        '',
        r.errors,
        r.errorsByCode ? `by code ${JSON.stringify(r.errorsByCode)}` : undefined,
      );
      add(
        'share',
        'throughput during reloads, % of without',
        '%',
        r.share == null ? null : round(r.share * 100, 3),
        r.rate != null
          ? `${round(r.rate)} req/s over the ${round(r.windowSeconds)} s of reload phases vs ${round(r.baseRate)} req/s over the ${round(r.quietSeconds)} s of quiet windows between them`
          : undefined,
      );
      add('base', 'throughput in the quiet windows, req/s', 'req/s', r.baseRate == null ? null : round(r.baseRate));
      const d = summarize(r.durations ?? []);
      rows.push({
        id: `duration/${peer}/${mode.id}`,
        label,
        group: g('one reload, command to done, ms'),
        unit: 'ms',
        ...d,
        skipped: why ?? (d.n === 0 ? `no reload completed: ${r.reloadErrors?.[0] ?? 'unknown'}` : undefined),
        how: r.reloadErrors?.length ? `${r.reloadErrors.length} reload(s) refused or failed: ${r.reloadErrors[0]}` : undefined,
      });
    }

  const targets = [];
  for (const mode of MODES) {
    const r = res.get(`daemonkit/${mode.id}`);
    const why = skipped.get('daemonkit') ?? r?.error;
    const pm2 = res.get(`pm2/${mode.id}`);
    const churn = res.get(`churn/${mode.id}`);
    const pm2Text =
      (pm2 && !pm2.error
        ? `; pm2: ${pm2.failed} failed, ${pm2.errors} errors, ${pm2.share == null ? '–' : `${(pm2.share * 100).toFixed(0)}%`}`
        : '') +
      (churn && !churn.error && churn.share != null
        ? `; floor (the same Node start-ups, no reload): ${(churn.share * 100).toFixed(0)}%`
        : '');
    if (!r || why) {
      targets.push({
        id: `reload-zero-${mode.id}`,
        text: `${mode.label}: 0 failed requests and 0 connection errors over ${p.reloads} reloads`,
        status: 'not measurable yet',
        measured: why ?? 'no sample',
      });
      targets.push({
        id: `reload-throughput-${mode.id}`,
        text: `${mode.label}: throughput during reloads at least 90% of without`,
        status: 'not measurable yet',
        measured: why ?? 'no sample',
      });
      continue;
    }
    const done = r.durations.length === p.reloads;
    targets.push({
      id: `reload-zero-${mode.id}`,
      text: `${mode.label}: 0 failed requests and 0 connection errors over ${p.reloads} reloads`,
      status: r.failed === 0 && r.errors === 0 && done ? 'met' : 'not met',
      measured: `${r.failed} failed, ${r.errors} errors${Object.keys(r.errorsByCode).length ? ` ${JSON.stringify(r.errorsByCode)}` : ''}, ${r.durations.length} of ${p.reloads} reloads done${pm2Text}`,
    });
    targets.push({
      id: `reload-throughput-${mode.id}`,
      text: `${mode.label}: throughput during reloads at least 90% of without`,
      status: r.share != null && r.share >= THROUGHPUT_SHARE ? 'met' : 'not met',
      measured: `${r.share == null ? '–' : (r.share * 100).toFixed(1)}% (${round(r.rate)} vs ${round(r.baseRate)} req/s)${pm2Text}`,
      ratio: r.share == null ? null : round(r.share, 3),
    });
  }
  return {
    params: {
      workers: p.workers,
      appDelayMs: p.delayMs,
      connections: p.connections,
      warmupSeconds: p.warmupSeconds,
      phases: p.phases,
      quietMs: p.quietMs,
      settleMs: p.settleMs,
      reloads: p.reloads,
      gapBetweenReloadsMs: p.gapMs,
      loadGenerator:
        'bench/entries/http-load.mjs (Node http, back-to-back requests per connection; keep-alive Agent, or agent: false with connection: close)',
    },
    rows,
    targets,
  };
}
