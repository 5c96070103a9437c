// 2. Supervisor idle footprint: one sleep worker each; RSS and PSS of the supervisor process, and its CPU time and
// context switches (every thread) over 10 s windows in which the harness itself only sleeps. daemonkit's figures
// are its supervisor's plus its session guard's (a sh that outlives a SIGKILLed supervisor): both are the service's.
import { readFileSync } from 'node:fs';
import { bringUp, supervisors } from './lib/peers.mjs';
import { cmdline, CLK_TCK, ctxSwitches, memory, pssByMapping, sleep, stat } from './lib/proc.mjs';
import { ratio, summarize } from './lib/stats.mjs';

export const name = 'idle';
export const title = 'Supervisor idle footprint (one sleep worker)';
export const defaults = { n: 2, windowMs: 10_000, settleMs: 20_000 };

const PEERS = ['mini', 'pm2', 'forever', 'supervisord', 'daemonkit'];

/** The processes a peer's supervision costs: daemonkit's supervisor and its session guard; one process for the rest. */
function supervisionPids(id, sup) {
  if (id !== 'daemonkit') return [sup];
  let kids = [];
  try {
    kids = readFileSync(`/proc/${sup}/task/${sup}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // gone
  }
  return [sup, ...kids.filter((k) => cmdline(k)?.[3] === 'daemonkit-guard')];
}

/** Sums of stat, context switches and memory over pids; null if the first (the supervisor) is gone. */
function readAll(pids) {
  const parts = pids.map((pid) => ({ st: stat(pid), cs: ctxSwitches(pid), mem: memory(pid) }));
  if (!parts[0].st || !parts[0].cs) return { st: null, cs: null, mem: null };
  const sum = (f) => parts.reduce((acc, p) => acc + (f(p) ?? 0), 0);
  return {
    st: { utime: sum((p) => p.st?.utime), stime: sum((p) => p.st?.stime) },
    cs: {
      total: sum((p) => p.cs?.total),
      voluntary: sum((p) => p.cs?.voluntary),
      main: parts[0].cs.main,
      threads: sum((p) => p.cs?.threads),
    },
    mem: parts[0].mem ? { rssKiB: sum((p) => p.mem?.rssKiB), pssKiB: sum((p) => p.mem?.pssKiB) } : null,
  };
}

function extraFor(id) {
  if (id === 'daemonkit') return ['--backoff-min', '0'];
  return [];
}

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const windowMs = ctx.windowMs ?? defaults.windowMs;
  const settleMs = ctx.settleMs ?? defaults.settleMs;
  const peers = PEERS.filter((id) => ctx.wants(id));
  const data = new Map(peers.map((id) => [id, { rss: [], pss: [], cpu: [], cs: [], vol: [], main: [], threads: [], errors: [] }]));
  const pssMaps = {};
  // Every supervisor up at once, each with its own sleep worker; then they settle past V8's memory reducer
  // (delayed GC tasks some 8 to 20 s after startup) before the windows start. Idle processes do not disturb
  // each other.
  const { handles: started, skipped } = await bringUp(ctx, peers, { dirPrefix: 'idle', extraFor });
  const handles = new Map([...started].map(([id, s]) => [id, s.h]));
  try {
    await sleep(settleMs);
    const read = () => new Map([...handles].map(([id, h]) => [id, readAll(supervisionPids(id, h.sup))]));
    for (let w = 0; w < n; w++) {
      const a = read();
      await sleep(windowMs / 2);
      const mid = read();
      await sleep(windowMs / 2);
      const b = read();
      for (const id of handles.keys()) {
        const d = data.get(id);
        const [s0, s1] = [a.get(id), b.get(id)];
        if (!s0.st || !s1.st || !s0.cs || !s1.cs) {
          d.errors.push('the supervisor went away during the window');
          continue;
        }
        for (const m of [s0.mem, mid.get(id).mem, s1.mem].filter(Boolean)) {
          d.rss.push(m.rssKiB / 1024);
          d.pss.push(m.pssKiB / 1024);
        }
        d.cpu.push(((s1.st.utime + s1.st.stime - s0.st.utime - s0.st.stime) * 1000) / CLK_TCK);
        d.cs.push(s1.cs.total - s0.cs.total);
        d.vol.push(s1.cs.voluntary - s0.cs.voluntary);
        d.main.push(s1.cs.main - s0.cs.main);
        d.threads.push(s1.cs.threads);
      }
      ctx.progress(`window ${w + 1}/${n}`);
    }
    // Where the PSS is, for the Node-based supervisors: per mapping, the largest first.
    for (const [id, h] of handles) {
      const by = pssByMapping(h.sup);
      if (!by) continue;
      const top = Object.entries(by)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, v]) => [k.replace(/^.*\/node_modules\//, 'node_modules/'), +(v / 1024).toFixed(2)]);
      for (const guard of supervisionPids(id, h.sup).slice(1))
        top.push(['(session guard: sh, all mappings)', +((memory(guard)?.pssKiB ?? 0) / 1024).toFixed(2)]);
      pssMaps[id] = Object.fromEntries(top);
    }
  } finally {
    for (const [id, h] of handles) await supervisors[id].down(h).catch((e) => ctx.log(`  idle ${id} down: ${e.message}`));
  }

  const rows = [];
  const groups = [
    [
      'pss',
      'PSS of the supervisor process (daemonkit: plus its session guard), MiB (smaps_rollup; samples at 0, 5 and 10 s of each window)',
      'MiB',
    ],
    ['rss', 'RSS of the supervisor process (daemonkit: plus its session guard), MiB (VmRSS; same samples)', 'MiB'],
    ['cpu', `CPU time (user + system) over ${windowMs / 1000} s idle, ms (clock ticks of 10 ms)`, 'ms'],
    ['cs', `context switches over ${windowMs / 1000} s idle, all threads (wake-ups)`, ''],
    ['main', `of which the main thread (the event loop)`, ''],
  ];
  const med = (id, k) => summarize(data.get(id)?.[k] ?? []).median;
  for (const [k, group, unit] of groups) {
    for (const id of peers) {
      const s = summarize(data.get(id)[k]);
      const why = skipped.get(id) ?? (s.n === 0 ? `no sample: ${data.get(id).errors[0] ?? 'unknown'}` : undefined);
      rows.push({
        id: `${k}/${id}`,
        label: supervisors[id].label,
        group,
        unit,
        ...s,
        ratios: k === 'pss' || k === 'rss' ? { '10-line': ratio(s.median, med('mini', k)) } : undefined,
        threads: summarize(data.get(id).threads).median ?? undefined,
        skipped: why ? (id === 'daemonkit' && !why.startsWith('not measurable') ? `not measurable yet: ${why}` : why) : undefined,
      });
    }
  }

  const dk = (k) => med('daemonkit', k);
  const dkSkip = rows.find((r) => r.id === 'pss/daemonkit')?.skipped;
  const nm = (id, text) => ({ id, text, status: 'not measurable yet', measured: dkSkip ?? 'no sample' });
  const targets = [];
  if (dk('pss') == null) {
    targets.push(
      nm('idle-pss', "PSS at most 1.25x the 10-line Node supervisor's"),
      nm('idle-pss-pm2', "PSS at most half of pm2's God daemon"),
      nm('idle-rss', "RSS below pm2's God daemon and forever's monitor"),
      nm('idle-zero', 'zero CPU and zero wake-ups while idle'),
    );
  } else {
    const x = ratio(dk('pss'), med('mini', 'pss'));
    targets.push({
      id: 'idle-pss',
      text: "PSS at most 1.25x the 10-line Node supervisor's",
      status: x != null && x <= 1.25 ? 'met' : 'not met',
      measured: `${dk('pss')} MiB vs ${med('mini', 'pss')} MiB = ${x}x`,
      ratio: x,
    });
    const xp = ratio(dk('pss'), med('pm2', 'pss'));
    targets.push(
      xp == null
        ? {
            id: 'idle-pss-pm2',
            text: "PSS at most half of pm2's God daemon",
            status: 'not measurable yet',
            measured: rows.find((r) => r.id === 'pss/pm2')?.skipped ?? 'no pm2 sample',
          }
        : {
            id: 'idle-pss-pm2',
            text: "PSS at most half of pm2's God daemon",
            status: xp <= 0.5 ? 'met' : 'not met',
            measured: `${dk('pss')} MiB vs ${med('pm2', 'pss')} MiB = ${xp}x (limit 0.5x)`,
            ratio: xp,
          },
    );
    const pm2 = med('pm2', 'rss');
    const fv = med('forever', 'rss');
    const ok = pm2 != null && fv != null && dk('rss') < pm2 && dk('rss') < fv;
    targets.push({
      id: 'idle-rss',
      text: "RSS below pm2's God daemon and forever's monitor",
      status: pm2 == null || fv == null ? 'not measurable yet' : ok ? 'met' : 'not met',
      measured: `${dk('rss')} MiB vs pm2 ${pm2 ?? '–'} MiB, forever ${fv ?? '–'} MiB`,
    });
    const cpuMax = summarize(data.get('daemonkit').cpu).max;
    const csMax = summarize(data.get('daemonkit').cs).max;
    targets.push({
      id: 'idle-zero',
      text: 'zero CPU and zero wake-ups while idle',
      status: cpuMax === 0 && csMax === 0 ? 'met' : 'not met',
      measured: `at most ${cpuMax} ms CPU and ${csMax} context switches per ${windowMs / 1000} s window (n ${data.get('daemonkit').cs.length})`,
    });
  }
  return {
    params: {
      n,
      windowMs,
      settleMs,
      worker: '/bin/sleep 1000.x (forever: via /bin/sh)',
      order: 'all supervisors up at once, measured in the same windows',
    },
    rows,
    targets,
    pssByMapping: pssMaps,
    notes: [
      ...Object.entries(pssMaps)
        .filter(([id]) => id === 'daemonkit' || id === 'mini')
        .map(
          ([id, m]) =>
            `PSS by mapping, ${supervisors[id].label} (MiB, largest 8): ${Object.entries(m)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`,
        ),
      "PSS splits shared pages between the processes that map them: the Node-based supervisors here share Node's binary with each other and with the harness, the same for each of them, so their PSS ratios compare like with like.",
    ],
  };
}
