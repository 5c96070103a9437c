// 5. Scale: one supervisor with 1,000 sleep workers. Time to spawn them all and be ready; SIGKILL them all at
// once and time until 1,000 new PIDs run the target; zombies left; supervisor RSS and CPU at rest.
// The 10-line Node supervisor does the same as the reference. Then one daemonkit supervisor with 10,000 idle workers
// (limits raised first: RLIMIT_NOFILE through prlimit, RLIMIT_NPROC and pid_max checked): spawned, and its RSS at rest.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, node } from './lib/env.mjs';
import { MINI, dkEnv, target } from './lib/peers.mjs';
import {
  CLK_TCK,
  alive,
  cmdline,
  ctxSwitches,
  killPid,
  launch,
  memory,
  now,
  pids,
  pollAsync,
  readPidfile,
  run as runCmd,
  runs,
  sleep,
  stat,
  stopPids,
  track,
} from './lib/proc.mjs';
import { summarize } from './lib/stats.mjs';

export const name = 'scale';
export const title = 'Scale: one supervisor, 1,000 workers';
export const defaults = { n: 1, workers: 1000, restMs: 3000, windowMs: 5000, bigWorkers: 10_000 };
/** Limits for the big run: spawn time and RSS (issue 16). */
const SPAWN_LIMIT_MS = 1000;
const RECOVER_LIMIT_MS = 1000;
const BIG_RSS_LIMIT_MB = 150;
/** Per worker the supervisor holds its stdout and stderr pipes and a pidfd at most: room for that and its own fds. */
const FDS_PER_WORKER = 4;
const FD_HEADROOM = 1024;

/** Why the machine cannot run `workers` more processes, or null. RLIMIT_NOFILE is raised for the run by prlimit. */
function bigRunRefusal(workers) {
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
  const threadsMax = Number(readFileSync('/proc/sys/kernel/threads-max', 'latin1'));
  const running = pids().length;
  if (pidMax - running < workers + FD_HEADROOM)
    return `pid_max is ${pidMax} with ${running} processes running: no room for ${workers} more`;
  if (threadsMax - running < workers + FD_HEADROOM) return `threads-max is ${threadsMax}: no room for ${workers} more tasks`;
  const nproc = /^Max processes\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1];
  if (process.getuid?.() !== 0 && nproc !== 'unlimited' && Number(nproc) < workers + running)
    return `RLIMIT_NPROC is ${nproc} (not root): too low for ${workers} workers`;
  const nofileHard = Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1]);
  if (process.getuid?.() !== 0 && nofileHard < workers * FDS_PER_WORKER + FD_HEADROOM)
    return `RLIMIT_NOFILE hard limit ${nofileHard} (not root, so it cannot be raised): too low for ${workers} workers`;
  return null;
}

/** One daemonkit supervisor with `workers` idle sleep workers: time until all run, then RSS and PSS at rest. */
async function bigRun(ctx, workers) {
  const refusal = bigRunRefusal(workers);
  if (refusal) return { skipped: refusal };
  const marker = ctx.sleepMarker();
  const t = target('sleep', marker);
  const home = join(ctx.dir('scale-big'), 'dk');
  const hard = Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1]) || 0;
  // Root without CAP_SYS_RESOURCE (a container) cannot go above the hard limit: then the hard limit is what there is.
  const wanted = Math.max(workers * FDS_PER_WORKER + FD_HEADROOM, hard);
  const nofile = spawnSync('/usr/bin/prlimit', [`--nofile=${wanted}:${wanted}`, '--', 'true']).status === 0 ? wanted : hard;
  const cache = new Map();
  let sup = null;
  const t0 = now();
  const l = launch(
    '/usr/bin/prlimit',
    [
      `--nofile=${nofile}:${nofile}`,
      '--',
      node,
      cli,
      'start',
      '--name',
      'big',
      '--start-secs',
      '0',
      '--workers',
      String(workers),
      '--ready-timeout',
      '300',
      '--',
      ...t.argv,
    ],
    { env: dkEnv(home) },
  );
  track(l.pid);
  // A start that failed ends the wait at once instead of after the whole timeout.
  let exit = null;
  void l.exited.then((st) => (exit = st));
  try {
    let seen = [];
    const t1 = await until(
      () => {
        if (exit && exit.code !== 0) return true;
        if (alive(l.pid)) return false;
        seen = scan(marker, t.expect, cache);
        return seen.length >= workers;
      },
      { stepMs: 20, timeoutMs: 300_000 },
    );
    const st = await l.exited;
    sup = track(readPidfile(join(home, 'big.pid')));
    if (st.code !== 0) throw new Error(`daemonkit start --workers ${workers} exited ${st.code}`);
    if (t1 == null) throw new Error(`only ${seen.length} of ${workers} workers running after 300 s`);
    seen.forEach(track);
    await sleep(ctx.restMs ?? defaults.restMs);
    const m = memory(sup);
    const st2 = await runCmd(node, [cli, 'stop', 'big'], { env: dkEnv(home), timeoutMs: 300_000 });
    await stopPids([sup, ...scan(marker, t.expect, new Map())], { graceMs: 5000 });
    return { spawnMs: t1 - t0, rssMiB: m.rssKiB / 1024, pssMiB: m.pssKiB / 1024, stopped: st2.code === 0 };
  } catch (e) {
    if (!sup) sup = readPidfile(join(home, 'big.pid'));
    await stopPids([l.pid, sup, ...scan(marker, t.expect, new Map())].filter(Boolean), { graceMs: 5000 });
    return { error: e.message };
  }
}

/**
 * Live PIDs running the target. `known` remembers each PID's verdict while that PID stays listed in /proc (a PID
 * number cannot be reused between two polls a few ms apart), so a poll costs a readdir plus the new PIDs' reads.
 * A fresh child that has not exec'd the target yet shows its parent's argv, or a launcher's: it is left undecided.
 */
function scan(marker, expect, known) {
  const list = pids();
  const listed = new Set(list);
  for (const pid of known.keys()) if (!listed.has(pid)) known.delete(pid);
  const out = [];
  for (const pid of list) {
    let v = known.get(pid);
    if (v === undefined) {
      const argv = cmdline(pid);
      if (!argv || argv.length === 0) continue;
      if (argv.includes(marker)) {
        if (!runs(pid, expect)) continue; // not exec'd the target yet
        v = true;
      } else if (argv.some((a) => a.includes('mini-supervisor') || a.includes('supervisor.js') || a.includes('cli.js'))) continue;
      else v = false;
      known.set(pid, v);
    }
    if (v) out.push(pid);
  }
  return out;
}

/** When fn() came true (ms, on now()'s clock), or null at the timeout: the shared poll, timed. */
async function until(fn, { stepMs = 2, timeoutMs = 60_000 } = {}) {
  return (await pollAsync(fn, { stepMs, timeoutMs })) ? now() : null;
}

const zombiesOf = (sup) =>
  pids().filter((p) => {
    const s = stat(p);
    return s && s.ppid === sup && s.state === 'Z';
  }).length;

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const W = ctx.workers ?? defaults.workers;
  const windowMs = ctx.windowMs ?? defaults.windowMs;
  const peers = [
    { id: 'daemonkit', label: 'daemonkit supervisor', needs: ['supervised'] },
    { id: 'mini', label: '10-line Node supervisor', needs: [] },
  ].filter((p) => ctx.wants(p.id));
  const data = new Map(
    peers.map((p) => [p.id, { spawn: [], recover: [], zombies: [], rss: [], pss: [], cpu: [], cs: [], stop: [], errors: [] }]),
  );
  const skipped = new Map();
  for (const p of peers) {
    const why = ctx.unavailable(p.needs);
    if (why) skipped.set(p.id, why);
  }
  for (let r = 0; r < n; r++) {
    for (const p of peers.filter((x) => !skipped.has(x.id))) {
      const d = data.get(p.id);
      const marker = ctx.sleepMarker();
      const t = target('sleep', marker);
      const home = join(ctx.dir(`scale-${p.id}-${r}`), 'dk');
      const cache = new Map();
      let sup = null;
      let launcher = null;
      try {
        const t0 = now();
        if (p.id === 'daemonkit') {
          const l = launch(
            node,
            [
              cli,
              'start',
              '--name',
              'scale',
              '--start-secs',
              '0',
              '--workers',
              String(W),
              '--backoff-min',
              '0',
              '--max-restarts',
              '1000000',
              '--',
              ...t.argv,
            ],
            { env: dkEnv(home) },
          );
          launcher = l;
          track(l.pid);
        } else {
          const l = launch(node, [MINI, ...t.argv], { env: { ...process.env, WORKERS: String(W) } });
          sup = track(l.pid);
        }
        let seen = [];
        const t1 = await until(
          () => {
            if (launcher && alive(launcher.pid)) return false;
            seen = scan(marker, t.expect, cache);
            return seen.length >= W;
          },
          { stepMs: 5 },
        );
        if (launcher) {
          const st = await launcher.exited;
          if (st.code !== 0) throw new Error(`daemonkit start --workers ${W} exited ${st.code}`);
          sup = track(readPidfile(join(home, 'scale.pid')));
        }
        if (t1 == null) throw new Error(`only ${seen.length} of ${W} workers running after 60 s`);
        d.spawn.push(t1 - t0);
        seen.forEach(track);

        await sleep(ctx.restMs ?? defaults.restMs);
        const m = memory(sup);
        const s0 = stat(sup);
        const c0 = ctxSwitches(sup);
        await sleep(windowMs);
        const s1 = stat(sup);
        const c1 = ctxSwitches(sup);
        d.rss.push(m.rssKiB / 1024);
        d.pss.push(m.pssKiB / 1024);
        d.cpu.push(((s1.utime + s1.stime - s0.utime - s0.stime) * 1000) / CLK_TCK);
        d.cs.push(c1.total - c0.total);

        // Kill every worker at once; recovered when W PIDs, none of them an old one, run the target.
        const old = new Set(scan(marker, t.expect, cache));
        const k0 = now();
        for (const pid of old) killPid(pid, 'SIGKILL');
        let fresh = [];
        const k1 = await until(
          () => {
            fresh = scan(marker, t.expect, cache).filter((x) => !old.has(x));
            if (fresh.length >= W) fresh = fresh.filter(alive);
            return fresh.length >= W;
          },
          { stepMs: 5 },
        );
        if (k1 == null) {
          let detail = '';
          if (p.id === 'daemonkit') {
            // What the supervisor itself says about its workers, and what /proc shows.
            const st = await runCmd(node, [cli, 'status', 'scale', '--json'], { env: dkEnv(home), timeoutMs: 30_000 });
            try {
              const j = JSON.parse(st.stdout);
              const states = {};
              for (const w of j.workers ?? []) states[w.state] = (states[w.state] ?? 0) + 1;
              detail = `; status says ${JSON.stringify(states)}${j.failure ? `, failure: ${j.failure}` : ''}`;
              const fresh2 = new Set(fresh);
              const missing = (j.workers ?? []).filter((w) => !fresh2.has(w.pid)).slice(0, 3);
              detail += `; e.g. ${missing.map((w) => `task ${w.task ?? w.id} pid ${w.pid} ${w.state} argv ${JSON.stringify(cmdline(w.pid))} old ${old.has(w.pid)}`).join(', ')}`;
            } catch {
              detail = `; status exited ${st.code}: ${st.stdout.slice(0, 200)}`;
            }
          }
          throw new Error(`only ${fresh.length} of ${W} workers back after 60 s${detail}`);
        }
        d.recover.push(k1 - k0);
        fresh.forEach(track);
        await sleep(1000);
        d.zombies.push(zombiesOf(sup));

        const all = scan(marker, t.expect, cache);
        const s0t = now();
        if (p.id === 'daemonkit') {
          const st = await runCmd(node, [cli, 'stop', 'scale'], { env: dkEnv(home), timeoutMs: 60_000 });
          if (st.code === 0) d.stop.push(now() - s0t);
        } else {
          killPid(sup, 'SIGTERM');
          if (await until(() => !alive(sup) && all.every((x) => !alive(x)), { stepMs: 5, timeoutMs: 30_000 })) d.stop.push(now() - s0t);
        }
        await stopPids([sup, ...all], { graceMs: 5000 });
      } catch (e) {
        d.errors.push(e.message);
        ctx.log(`  scale ${p.id}: ${e.message}`);
        if (launcher?.pid) await stopPids([launcher.pid]);
        if (!sup && p.id === 'daemonkit') sup = readPidfile(join(home, 'scale.pid'));
        await stopPids([sup, ...scan(marker, t.expect, new Map())].filter(Boolean), { graceMs: 5000 });
      }
      ctx.progress(`${p.id} done`);
    }
  }

  const metrics = [
    ['spawn', `spawn ${W} workers until all run (start returned, for daemonkit), ms`, 'ms'],
    ['recover', `SIGKILL all ${W} at once until ${W} new PIDs run the target, ms`, 'ms'],
    ['zombies', 'zombie children of the supervisor 1 s after recovery', ''],
    ['rss', `supervisor RSS at rest with ${W} workers, MiB`, 'MiB'],
    ['pss', `supervisor PSS at rest with ${W} workers, MiB`, 'MiB'],
    ['cpu', `supervisor CPU over ${windowMs / 1000} s at rest, ms`, 'ms'],
    ['cs', `supervisor context switches over ${windowMs / 1000} s at rest`, ''],
    ['stop', `stop with ${W} workers until all are gone, ms`, 'ms'],
  ];
  const rows = [];
  for (const [k, group, unit] of metrics)
    for (const p of peers) {
      const s = summarize(data.get(p.id)[k]);
      rows.push({
        id: `${k}/${p.id}`,
        label: p.label,
        group,
        unit,
        ...s,
        skipped: skipped.get(p.id) ?? (s.n === 0 ? `no sample: ${data.get(p.id).errors[0] ?? 'unknown'}` : undefined),
      });
    }
  const med = (k) => summarize(data.get('daemonkit')?.[k] ?? []).median;
  const maxOf = (k) => summarize(data.get('daemonkit')?.[k] ?? []).max;
  const why = skipped.get('daemonkit') ?? data.get('daemonkit')?.errors[0];
  const lim = (id, text, v, limit, unit, fmt = (x) => x) =>
    v == null
      ? { id, text, status: 'not measurable yet', measured: why ?? 'no sample' }
      : { id, text, status: v < limit ? 'met' : 'not met', measured: `${fmt(v)} ${unit} (limit ${limit} ${unit})` };
  const targets = [
    lim('scale-spawn', `spawn all ${W} in under 1 s`, med('spawn'), SPAWN_LIMIT_MS, 'ms'),
    lim('scale-recover', `recover all ${W} in under 1 s`, med('recover'), RECOVER_LIMIT_MS, 'ms'),
    maxOf('zombies') == null
      ? { id: 'scale-zombies', text: 'no zombie left', status: 'not measurable yet', measured: why ?? 'no sample' }
      : {
          id: 'scale-zombies',
          text: 'no zombie left',
          status: maxOf('zombies') === 0 ? 'met' : 'not met',
          measured: `${maxOf('zombies')} zombie(s) at most`,
        },
    lim(
      'scale-rss',
      `supervisor RSS under 80 MB with ${W} workers`,
      med('rss') == null ? null : (med('rss') * 1048576) / 1e6,
      80,
      'MB',
      (x) => x.toFixed(1),
    ),
  ];
  // The big run: daemonkit only (the 10-line supervisor's figure at 1,000 is the reference above).
  const B = ctx.bigWorkers ?? defaults.bigWorkers;
  const big = !ctx.wants('daemonkit')
    ? { skipped: 'left out by --peers' }
    : skipped.get('daemonkit')
      ? { skipped: skipped.get('daemonkit') }
      : await bigRun(ctx, B);
  const bigWhy = big.skipped ?? big.error;
  const bigRow = (k, label, unit, v) => ({
    id: `big-${k}/daemonkit`,
    label: 'daemonkit supervisor',
    group: `${B} idle workers: ${label}`,
    unit,
    ...summarize(v == null ? [] : [v]),
    skipped: v == null ? (bigWhy ?? 'no sample') : undefined,
  });
  rows.push(
    bigRow('spawn', 'start until all run, ms', 'ms', big.spawnMs),
    bigRow('rss', 'supervisor RSS at rest, MiB', 'MiB', big.rssMiB),
    bigRow('pss', 'supervisor PSS at rest, MiB', 'MiB', big.pssMiB),
  );
  const bigMB = big.rssMiB == null ? null : (big.rssMiB * 1048576) / 1e6;
  targets.push(
    bigMB == null
      ? {
          id: 'scale-big-rss',
          text: `${B} idle workers supervised with RSS under ${BIG_RSS_LIMIT_MB} MB`,
          status: big.skipped ? 'not measurable yet' : 'not met',
          measured: bigWhy ?? 'no sample',
        }
      : {
          id: 'scale-big-rss',
          text: `${B} idle workers supervised with RSS under ${BIG_RSS_LIMIT_MB} MB`,
          status: bigMB < BIG_RSS_LIMIT_MB ? 'met' : 'not met',
          measured: `${bigMB.toFixed(1)} MB (limit ${BIG_RSS_LIMIT_MB} MB)`,
        },
  );
  return {
    params: {
      n,
      workers: W,
      bigWorkers: B,
      restMs: ctx.restMs ?? defaults.restMs,
      windowMs,
      daemonkitOptions: '--start-secs 0 --backoff-min 0 --max-restarts 1000000',
      bigLimits: `prlimit --nofile=at least ${B * FDS_PER_WORKER + FD_HEADROOM}`,
    },
    rows,
    targets,
  };
}
