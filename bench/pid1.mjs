// PID 1 in a PID namespace (`unshare --pid --fork --mount-proc`): `daemonkit run` vs tini. Two figures, each from the
// host's /proc, polled synchronously every 0.05 ms:
//  - orphan reaped: SIGKILL an orphan (a sleep whose parent exited, so PID 1 adopted it) until its /proc entry is gone
//    (a zombie is not reaped yet): the kill and the exit cost the same under both, the rest is PID 1 noticing and reaping;
//  - stop fan-out: SIGTERM to PID 1 until every one of 4 sleep workers is dead (a zombie counts: it has taken the
//    signal). daemonkit: `run --workers 4 -- sleep`; tini: `tini -g` over a shell that starts 4 sleeps in its process
//    group (tini's way to signal more than its one child).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, node, targetsDir, tiniBin } from './lib/env.mjs';
import { dkEnv } from './lib/peers.mjs';
import { alive, cmdline, killPid, launch, now, pids, pollAsync, pollSync, sleep, stat, stopPids, track } from './lib/proc.mjs';
import { ratio, rotate, summarize } from './lib/stats.mjs';

export const name = 'pid1';
export const title = 'PID 1 in a PID namespace: daemonkit run vs tini';
export const defaults = { n: 10, orphans: 10, workers: 4 };
const PID1_APP = join(targetsDir, 'pid1-app.sh');
/** Target: at most tini's figure plus this. */
const SLACK_MS = 1;
const POLL_MS = 0.05;

const UNSHARE = ['/usr/bin/unshare', '--pid', '--fork', '--mount-proc'];

const PEERS = {
  daemonkit: {
    label: 'daemonkit run (PID 1)',
    needs: ['run'],
    orphanArgs: (home, worker, orphans) => [
      node,
      cli,
      'run',
      '--start-secs',
      '0',
      '--name',
      'pid1',
      '--',
      '/bin/sh',
      PID1_APP,
      worker,
      ...orphans,
    ],
    stopArgs: (home, worker, workers) => [
      node,
      cli,
      'run',
      '--start-secs',
      '0',
      '--name',
      'pid1',
      '--workers',
      String(workers),
      '--',
      '/bin/sleep',
      worker,
    ],
  },
  tini: {
    label: 'tini (PID 1)',
    needs: ['tini'],
    orphanArgs: (home, worker, orphans) => [tiniBin, '--', '/bin/sh', PID1_APP, worker, ...orphans],
    stopArgs: (home, worker, workers) => [
      tiniBin,
      '-g',
      '--',
      '/bin/sh',
      '-c',
      `${Array.from({ length: workers }, () => `/bin/sleep ${worker} &`).join(' ')} wait`,
    ],
  },
};

/** Why PID namespaces cannot be used here, or null. */
function unshareRefusal() {
  const r = spawnSync(UNSHARE[0], [...UNSHARE.slice(1), '/bin/true'], { encoding: 'utf8' });
  return r.status === 0
    ? null
    : `unshare --pid --fork --mount-proc fails here (exit ${r.status}: ${(r.stderr || String(r.error ?? '')).trim().split('\n')[0]})`;
}

const childOf = (parent) => pids().find((p) => stat(p)?.ppid === parent) ?? null;
const sleepsWith = (marker) =>
  pids().filter((p) => {
    const a = cmdline(p);
    return a && a[0] === '/bin/sleep' && a[1] === marker && alive(p);
  });

/** Launches `argv` as PID 1 of a new namespace; resolves with { launcher, init } once `ready()` holds. */
async function launchInit(argv, env, ready) {
  const l = launch(UNSHARE[0], [...UNSHARE.slice(1), ...argv], { env });
  track(l.pid);
  const init = await pollAsync(() => childOf(l.pid), { stepMs: 2, timeoutMs: 10_000 });
  if (init) track(init);
  const ok = init && (await pollAsync(ready, { stepMs: 5, timeoutMs: 20_000 }));
  return { l, init, ok };
}

async function finish(h, extra = []) {
  await stopPids([h.init, ...extra].filter(Boolean), { graceMs: 3000 });
  await stopPids([h.l.pid], { graceMs: 1000 });
}

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const ids = Object.keys(PEERS).filter((id) => ctx.wants(id));
  const data = new Map(ids.map((id) => [id, { orphan: [], stop: [], errors: { orphan: [], stop: [] } }]));
  const skipped = new Map();
  const refusal = unshareRefusal();
  for (const id of ids) {
    const why = refusal ?? ctx.unavailable(PEERS[id].needs);
    if (why) skipped.set(id, why);
  }
  const active = ids.filter((id) => !skipped.has(id));

  // Orphans: one namespace per peer, n + 1 orphans in it (the first kill is a warm-up), killed in turn.
  const orphanRuns = new Map();
  for (const id of active) {
    const home = ctx.dir(`pid1-${id}-orphans`);
    const worker = ctx.sleepMarker();
    const orphans = Array.from({ length: n + 1 }, () => ctx.sleepMarker());
    const h = await launchInit(
      PEERS[id].orphanArgs(home, worker, orphans),
      dkEnv(join(home, 'dk')),
      () => sleepsWith(worker).length === 1 && orphans.every((m) => sleepsWith(m).length === 1),
    );
    if (!h.ok) {
      data.get(id).errors.orphan.push('the orphans did not all appear');
      await finish(h, [...sleepsWith(worker), ...orphans.flatMap(sleepsWith)]);
      continue;
    }
    const list = orphans.map((m) => sleepsWith(m)[0]);
    const adopted = list.filter((p) => stat(p)?.ppid === h.init).length;
    if (adopted !== list.length) data.get(id).errors.orphan.push(`only ${adopted} of ${list.length} orphans were adopted by PID 1`);
    orphanRuns.set(id, { h, list, worker });
  }
  for (let r = 0; r <= n; r++) {
    for (const id of rotate([...orphanRuns.keys()], r)) {
      const { list } = orphanRuns.get(id);
      const pid = list[r];
      const t0 = now();
      killPid(pid, 'SIGKILL');
      const ok = pollSync(() => stat(pid) === null, { stepMs: POLL_MS, timeoutMs: 5000 });
      const t1 = now();
      if (!ok) data.get(id).errors.orphan.push(`orphan ${pid} not reaped within 5 s`);
      else if (r > 0) data.get(id).orphan.push(t1 - t0);
      await sleep(50);
    }
  }
  for (const { h, worker } of orphanRuns.values()) await finish(h, sleepsWith(worker));
  ctx.progress('orphans done');

  // Stop fan-out: a fresh namespace per sample.
  const W = defaults.workers;
  for (let r = -1; r < n; r++) {
    for (const id of rotate(active, r + 1)) {
      const home = ctx.dir(`pid1-${id}-stop-${r + 1}`);
      mkdirSync(home, { recursive: true });
      const worker = ctx.sleepMarker();
      const h = await launchInit(PEERS[id].stopArgs(home, worker, W), dkEnv(join(home, 'dk')), () => sleepsWith(worker).length === W);
      const workers = sleepsWith(worker);
      if (!h.ok) {
        data.get(id).errors.stop.push(`only ${workers.length} of ${W} workers started`);
        await finish(h, workers);
        continue;
      }
      await sleep(100); // past startup: PID 1 is waiting, not still setting up
      const t0 = now();
      killPid(h.init, 'SIGTERM');
      const ok = pollSync(() => workers.every((p) => !alive(p)), { stepMs: POLL_MS, timeoutMs: 10_000 });
      const t1 = now();
      if (!ok) data.get(id).errors.stop.push('not every worker ended within 10 s of SIGTERM');
      else if (r >= 0) data.get(id).stop.push(t1 - t0);
      await pollAsync(() => !alive(h.l.pid), { stepMs: 5, timeoutMs: 10_000 });
      await finish(h, workers);
    }
    ctx.progress(`stop round ${r + 2}/${n + 1}`);
  }

  const rows = [];
  for (const [k, group] of [
    ['orphan', 'SIGKILL of an orphan until PID 1 has reaped it (its /proc entry gone), ms'],
    ['stop', `SIGTERM to PID 1 until all ${W} workers are dead (a zombie counts), ms`],
  ]) {
    const ref = summarize(data.get('tini')?.[k] ?? []).median;
    for (const id of ids) {
      const s = summarize(data.get(id)[k]);
      rows.push({
        id: `${k}/${id}`,
        label: PEERS[id].label,
        group,
        unit: 'ms',
        ...s,
        ratios: { tini: ratio(s.median, ref) },
        errors: data.get(id).errors[k].length ? data.get(id).errors[k].slice(0, 3) : undefined,
        skipped: skipped.get(id) ?? (s.n === 0 ? `no sample: ${data.get(id).errors[k][0] ?? 'unknown'}` : undefined),
      });
    }
  }
  const targets = ['orphan', 'stop'].map((k) => {
    const text =
      k === 'orphan' ? "orphan reaped at most tini's time plus 1 ms" : "SIGTERM to all workers signalled at most tini's time plus 1 ms";
    const dk = rows.find((x) => x.id === `${k}/daemonkit` && !x.skipped)?.median ?? null;
    const ti = rows.find((x) => x.id === `${k}/tini` && !x.skipped)?.median ?? null;
    // daemonkit ran but failed (an orphan never reaped, a worker never signalled): not met, with what happened.
    const failed = !skipped.has('daemonkit') && data.get('daemonkit')?.errors[k].length ? data.get('daemonkit').errors[k][0] : null;
    if (failed && dk == null) return { id: `pid1-${k}`, text, status: 'not met', measured: failed };
    if (dk == null || ti == null)
      return {
        id: `pid1-${k}`,
        text,
        status: 'not measurable yet',
        measured: skipped.get('daemonkit') ?? rows.find((x) => x.id === `${k}/daemonkit`)?.skipped ?? skipped.get('tini') ?? 'no sample',
      };
    if (failed) return { id: `pid1-${k}`, text, status: 'not met', measured: `${dk} ms vs tini ${ti} ms, but: ${failed}` };
    return {
      id: `pid1-${k}`,
      text,
      status: dk <= ti + SLACK_MS ? 'met' : 'not met',
      measured: `${dk} ms vs tini ${ti} ms (limit ${(ti + SLACK_MS).toFixed(3)} ms)`,
    };
  });
  return { params: { n, warmup: 1, pollMs: POLL_MS, workers: W, namespace: UNSHARE.join(' ') }, rows, targets };
}
