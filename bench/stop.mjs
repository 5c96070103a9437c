// 4. Stop latency: from invoking the peer's stop command until it has returned and the service is gone. A zombie
// counts as gone (PID 1 reaps orphans slowly here; nobody should wait for another process's reaping).
// pm2 and supervisord keep their daemon across samples (stopping an app is what `pm2 stop` / `supervisorctl stop`
// do); forever, the 10-line supervisor and daemonkit start a fresh service for every sample (untimed).
import { join } from 'node:path';
import { cli, foreverBin, node, pm2Bin } from './lib/env.mjs';
import {
  SLEEP,
  dkEnv,
  foreverArgs,
  foreverEnv,
  pm2AppPid,
  pm2Args,
  pm2Env,
  pm2Expect,
  supervisordConf,
  supervisordPid,
  supervisors,
  target,
} from './lib/peers.mjs';
import {
  alive,
  gone,
  killPid,
  launch,
  now,
  pollAsync,
  pollSync,
  readPidfile,
  run as runCmd,
  sleep,
  stat,
  stopPids,
  track,
} from './lib/proc.mjs';
import { ratio, rotate, summarize } from './lib/stats.mjs';
import { allByMarker } from './lib/timing.mjs';

export const name = 'stop';
export const title = 'Stop latency: stop command until the service is gone';
export const defaults = { n: 10 };

const waitWorker = (marker, expect) => pollAsync(() => allByMarker(marker, expect)[0] ?? null, { stepMs: 5, timeoutMs: 20_000 });

const PEERS = {
  mini: {
    label: '10-line Node supervisor: kill -TERM (reference)',
    needs: [],
    gone: 'supervisor and worker',
    async prepare(ctx, s) {
      const marker = ctx.sleepMarker();
      const t = target('sleep', marker);
      const h = await supervisors.mini.up({ dir: ctx.dir('stop-mini'), argv: t.argv, expect: t.expect, marker });
      return { signal: h.sup, gonePids: [h.sup, ...h.workers], after: () => supervisors.mini.down(h) };
    },
  },
  pm2: {
    label: 'pm2 stop (God daemon stays)',
    needs: ['pm2'],
    gone: "the app's process",
    async setup(ctx) {
      const home = join(ctx.dir('stop-pm2'), 'pm2');
      const r = await runCmd(node, [pm2Bin, 'ping'], { env: pm2Env(home), timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`pm2 ping exited ${r.code}`);
      const god = readPidfile(join(home, 'pm2.pid'));
      track(god);
      return { home, god, seq: 0 };
    },
    async teardown(s) {
      await runCmd(node, [pm2Bin, 'kill'], { env: pm2Env(s.home), timeoutMs: 30_000 });
      await stopPids([s.god], { graceMs: 1000 });
    },
    async prepare(ctx, s) {
      const marker = ctx.sleepMarker();
      const name = `w${s.seq++}`;
      const env = pm2Env(s.home);
      const r = await runCmd(node, pm2Args(name, 'sleep', marker), { env, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`pm2 start exited ${r.code}`);
      const w = await pollAsync(() => pm2AppPid(s.home, name), { stepMs: 5, timeoutMs: 10_000 });
      track(w);
      return {
        cmd: node,
        args: [pm2Bin, 'stop', name],
        env,
        gonePids: [w],
        after: async () => {
          await runCmd(node, [pm2Bin, 'delete', name], { env, timeoutMs: 30_000 });
          await stopPids([w]);
        },
      };
    },
  },
  forever: {
    label: 'forever stop',
    needs: ['forever'],
    gone: 'monitor and child',
    async prepare(ctx) {
      const marker = ctx.sleepMarker();
      const t = target('sleep', marker);
      const env = foreverEnv(join(ctx.dir(`stop-forever-${marker}`), 'forever'));
      const r = await runCmd(node, foreverArgs('sleep', marker), { env, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`forever start exited ${r.code}`);
      const w = await waitWorker(marker, t.expect);
      const monitor = w ? stat(w)?.ppid : null;
      track(w);
      track(monitor);
      return {
        cmd: node,
        args: [foreverBin, 'stop', '0'],
        env,
        gonePids: [monitor, w],
        after: () => stopPids([monitor, w], { signal: 'SIGKILL' }),
      };
    },
  },
  supervisord: {
    label: 'supervisorctl stop (supervisord stays)',
    needs: ['supervisor'],
    gone: "the program's process",
    async setup(ctx, rounds) {
      const dir = ctx.dir('stop-supervisord');
      const markers = Array.from({ length: rounds }, () => ctx.sleepMarker());
      const conf = supervisordConf(
        dir,
        markers.map((m, i) => ({ name: `p${i}`, argv: [SLEEP, m] })),
      );
      const r = await runCmd('/usr/bin/supervisord', ['-c', conf], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`supervisord exited ${r.code}: ${r.stderr.trim()}`);
      const pid = await pollAsync(() => supervisordPid(dir), { stepMs: 10, timeoutMs: 10_000 });
      track(pid);
      return { dir, conf, pid, markers, next: 0 };
    },
    async teardown(s) {
      await stopPids([s.pid], { graceMs: 5000 });
    },
    async prepare(ctx, s) {
      const i = s.next++;
      const t = target('sleep', s.markers[i]);
      const r = await runCmd('/usr/bin/supervisorctl', ['-c', s.conf, 'start', `p${i}`], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`supervisorctl start exited ${r.code}: ${r.stdout.trim()}`);
      const w = await waitWorker(s.markers[i], t.expect);
      track(w);
      return { cmd: '/usr/bin/supervisorctl', args: ['-c', s.conf, 'stop', `p${i}`], gonePids: [w], after: () => stopPids([w]) };
    },
  },
  daemonkit: {
    label: 'daemonkit stop',
    needs: ['supervised'],
    gone: 'supervisor and every worker',
    async prepare(ctx) {
      const marker = ctx.sleepMarker();
      const t = target('sleep', marker);
      const h = await supervisors.daemonkit.up({ dir: ctx.dir(`stop-dk-${marker}`), argv: t.argv, expect: t.expect, marker, name: 'w' });
      return {
        cmd: node,
        args: [cli, 'stop', 'w'],
        env: h.env,
        gonePids: [h.sup, ...h.workers],
        after: () => stopPids([h.sup, ...h.workers]),
      };
    },
  },
};

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const ids = Object.keys(PEERS).filter((id) => ctx.wants(id));
  const samples = new Map(ids.map((id) => [id, []]));
  const errors = new Map(ids.map((id) => [id, []]));
  const skipped = new Map();
  const state = new Map();
  for (const id of ids) {
    const why = ctx.unavailable(PEERS[id].needs);
    if (why) skipped.set(id, why);
    else if (PEERS[id].setup) {
      try {
        state.set(id, await PEERS[id].setup(ctx, n + 1));
      } catch (e) {
        skipped.set(id, `setup failed: ${e.message}`);
      }
    }
  }
  let active = ids.filter((id) => !skipped.has(id));
  for (let r = -1; r < n; r++) {
    for (const id of rotate(active, r + 1)) {
      let p;
      try {
        p = await PEERS[id].prepare(ctx, state.get(id));
      } catch (e) {
        errors.get(id).push(e.message);
        if (r === -1) {
          skipped.set(id, `${id === 'daemonkit' ? 'not measurable yet: ' : ''}could not start the service: ${e.message}`);
          active = active.filter((x) => x !== id);
        }
        continue;
      }
      await sleep(200);
      const list = p.gonePids.filter(Boolean);
      const t0 = now();
      let launcher = null;
      let exited = null;
      if (p.signal) killPid(p.signal, 'SIGTERM');
      else ({ pid: launcher, exited } = launch(p.cmd, p.args, { env: p.env }));
      let returnedAt = launcher ? null : t0;
      const ok = pollSync(
        () => {
          if (returnedAt === null) {
            const s = stat(launcher);
            if (!s || s.state === 'Z') returnedAt = now();
          }
          return returnedAt !== null && list.every(gone);
        },
        { stepMs: 0.25, timeoutMs: 30_000 },
      );
      const t1 = now();
      const status = exited ? await exited : { code: 0 };
      await p.after().catch(() => {});
      if (!ok || status.code !== 0)
        errors.get(id).push(!ok ? `not gone within 30 s (returned: ${returnedAt !== null})` : `stop exited ${status.code}`);
      else if (r >= 0) samples.get(id).push(t1 - t0);
      await sleep(50);
    }
    ctx.progress(`round ${r + 2}/${n + 1}`);
  }
  for (const [id, s] of state) await PEERS[id].teardown?.(s).catch((e) => ctx.log(`  stop ${id} teardown: ${e.message}`));

  const mini = summarize(samples.get('mini') ?? []).median;
  const rows = ids.map((id) => {
    const s = summarize(samples.get(id));
    const err = errors.get(id);
    return {
      id: `stop/${id}`,
      label: PEERS[id].label,
      unit: 'ms',
      how: `returned and gone: ${PEERS[id].gone} (a zombie counts as gone)`,
      ...s,
      ratios: { '10-line': ratio(s.median, mini) },
      skipped: skipped.get(id) ?? (s.n === 0 ? `no sample: ${err[0] ?? 'unknown'}` : undefined),
      errors: err.length ? err.slice(0, 3) : undefined,
    };
  });
  const med = (id) => rows.find((r) => r.id === `stop/${id}` && !r.skipped)?.median ?? null;
  const dk = med('daemonkit');
  const others = ['supervisord', 'pm2', 'forever'].map((id) => [id, med(id)]);
  const text = 'ahead of supervisorctl stop, pm2 stop and forever stop';
  const targets =
    dk == null
      ? [
          {
            id: 'stop-vs-peers',
            text,
            status: 'not measurable yet',
            measured: rows.find((r) => r.id === 'stop/daemonkit')?.skipped ?? 'no sample',
          },
        ]
      : [
          {
            id: 'stop-vs-peers',
            text,
            status: others.some(([, v]) => v == null) ? 'not measurable yet' : others.every(([, v]) => dk < v) ? 'met' : 'not met',
            measured: `${dk} ms vs ${others.map(([id, v]) => `${id} ${v ?? '–'} ms`).join(', ')}`,
          },
        ];
  return {
    params: { n, warmup: 1, pollMs: 0.25, worker: '/bin/sleep 1000.x (forever: via /bin/sh)', order: 'round-robin, rotated each round' },
    rows,
    targets,
  };
}
