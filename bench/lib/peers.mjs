// How each peer is driven. Every peer lives in its own directory under the run's temp dir (a private PM2_HOME,
// FOREVER_ROOT, supervisord socket, DAEMONKIT_HOME), and every process it starts is stopped by PID afterwards.
import { mkdirSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, daemonizeBin, foreverBin, node, peersDir, pm2Bin, python, startStopDaemon, targetsDir } from './env.mjs';
import { alive, cmdline, gone, pids, pollAsync, readPidfile, run, runs, stat, stopPids, track } from './proc.mjs';
import { allByMarker, byMarker } from './timing.mjs';

export const SLEEP = '/bin/sleep';
export const INTERVAL = join(targetsDir, 'interval.mjs');
export const MINI = join(peersDir, 'mini-supervisor.mjs');

/** The program a peer runs, as argv, and what /proc must show once it has exec'd. */
export function target(kind, marker) {
  if (kind === 'sleep') return { argv: [SLEEP, marker], expect: { argv0: 'sleep', has: [marker] } };
  if (kind === 'node') return { argv: [node, INTERVAL, marker], expect: { argv0: 'node', argv1: INTERVAL, has: [marker] } };
  throw new Error(`unknown target ${kind}`);
}

// ---------------------------------------------------------------------------------------------------------------
// pm2

export const pm2Env = (home) => ({ ...process.env, PM2_HOME: home });

export function pm2Args(name, kind, marker, extra = []) {
  return kind === 'sleep'
    ? [pm2Bin, 'start', SLEEP, '--name', name, '--interpreter', 'none', ...extra, '--', marker]
    : [pm2Bin, 'start', INTERVAL, '--name', name, ...extra, '--', marker];
}

/** pm2's own record of an app's PID: $PM2_HOME/pids/NAME-ID.pid (the node target's argv is rewritten by pm2). */
export function pm2AppPid(home, name) {
  const dir = join(home, 'pids');
  let files;
  try {
    files = readdirSync(dir);
  } catch {
    return null;
  }
  const f = files.find((x) => x.startsWith(`${name}-`) && x.endsWith('.pid'));
  return f ? readPidfile(join(dir, f)) : null;
}

// pm2 rewrites its node apps' argv to 'node SCRIPT' (the marker is lost): the PID comes from pm2's own pid file.
export const pm2Expect = (kind, marker) => (kind === 'sleep' ? { argv0: 'sleep', has: [marker] } : { argv0: 'node', argv1: INTERVAL });

export async function pm2Kill(home) {
  const god = readPidfile(join(home, 'pm2.pid'));
  if (god && alive(god)) await run(node, [pm2Bin, 'kill'], { env: pm2Env(home), timeoutMs: 20_000 });
  if (god) await stopPids([god], { graceMs: 1000 });
}

// ---------------------------------------------------------------------------------------------------------------
// supervisord

export function supervisordConf(dir, programs) {
  const conf = join(dir, 'supervisord.conf');
  const lines = [
    '[unix_http_server]',
    `file=${join(dir, 'supervisor.sock')}`,
    '[supervisord]',
    `pidfile=${join(dir, 'supervisord.pid')}`,
    `logfile=${join(dir, 'supervisord.log')}`,
    `childlogdir=${dir}`,
    'loglevel=warn',
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '[supervisorctl]',
    `serverurl=unix://${join(dir, 'supervisor.sock')}`,
  ];
  for (const p of programs) {
    lines.push(
      `[program:${p.name}]`,
      `command=${p.argv.join(' ')}`,
      `autostart=${p.autostart ?? false}`,
      `autorestart=${p.autorestart ?? false}`,
      'startsecs=0',
      'startretries=1000000',
      'stopwaitsecs=10',
      ...(p.numprocs ? [`numprocs=${p.numprocs}`, 'process_name=%(program_name)s_%(process_num)d'] : []),
      ...(p.log
        ? [`stdout_logfile=${p.log}`, 'stdout_logfile_maxbytes=0', 'redirect_stderr=true']
        : ['stdout_logfile=NONE', 'stderr_logfile=NONE']),
    );
  }
  writeFileSync(conf, `${lines.join('\n')}\n`);
  return conf;
}

export const supervisordPid = (dir) => readPidfile(join(dir, 'supervisord.pid'));

export async function supervisordDown(dir, workerPids = []) {
  const pid = supervisordPid(dir);
  await stopPids([pid, ...workerPids].filter(Boolean), { graceMs: 5000 });
}

// ---------------------------------------------------------------------------------------------------------------
// forever

export const foreverEnv = (root) => ({ ...process.env, FOREVER_ROOT: root });

export function foreverArgs(kind, marker, extra = []) {
  return kind === 'sleep'
    ? [foreverBin, 'start', '--minUptime', '0', '--spinSleepTime', '0', ...extra, '-c', '/bin/sh', join(targetsDir, 'sleep.sh'), marker]
    : [foreverBin, 'start', '--minUptime', '0', '--spinSleepTime', '0', ...extra, INTERVAL, marker];
}

// ---------------------------------------------------------------------------------------------------------------
// daemonkit

export const dkEnv = (home) => ({ ...process.env, DAEMONKIT_HOME: home });

/** Supervisor PID and worker PIDs of a daemonkit service: the PID file names the supervisor, /proc its workers. */
export function dkPids(home, name, marker, expect) {
  const sup = readPidfile(join(home, `${name}.pid`));
  return { sup: sup && alive(sup) ? sup : null, workers: allByMarker(marker, expect) };
}

// ---------------------------------------------------------------------------------------------------------------
// Supervisors with one (or N) workers, for the idle, restart, stop, scale and logs measurements.
// up() starts the service (untimed) and resolves with { sup, workers: [pid...] } once every worker runs;
// down() stops everything by PID. stopCommand() is the peer's own stop, timed by the stop measurement.

function workerList(marker, expect) {
  return allByMarker(marker, expect);
}

async function waitWorkers(marker, expect, count, timeoutMs = 30_000) {
  return pollAsync(
    () => {
      const w = workerList(marker, expect);
      return w.length >= count ? w : null;
    },
    { stepMs: 10, timeoutMs },
  );
}

export const supervisors = {
  mini: {
    label: '10-line Node supervisor',
    needs: [],
    goneMeans: 'the supervisor and its worker',
    async up({ dir, argv, expect, marker, workers = 1 }) {
      mkdirSync(dir, { recursive: true });
      const { spawn } = await import('node:child_process');
      const child = spawn(node, [MINI, ...argv], { stdio: 'ignore', env: { ...process.env, WORKERS: String(workers) } });
      child.unref();
      track(child.pid);
      const w = await waitWorkers(marker, expect, workers);
      if (!w) throw new Error('10-line supervisor: workers did not start');
      w.forEach(track);
      return { sup: child.pid, workers: w, child };
    },
    // Its stop is a SIGTERM to the supervisor, as for any plain Node program.
    stopCommand(h) {
      return { signal: h.sup, gonePids: [h.sup, ...h.workers] };
    },
    async down(h) {
      await stopPids([h.sup], { graceMs: 2000 });
      await stopPids(h.workers, { graceMs: 500 });
    },
  },
  pm2: {
    label: 'pm2 (God daemon)',
    needs: ['pm2'],
    goneMeans: "the app's process (pm2's God daemon stays, by design)",
    async up({ dir, kind, marker, workers = 1, name = 'w', extra = [] }) {
      mkdirSync(dir, { recursive: true });
      const home = join(dir, 'pm2');
      const env = pm2Env(home);
      const all = [];
      for (let i = 0; i < workers; i++) {
        const r = await run(node, pm2Args(workers === 1 ? name : `${name}${i}`, kind, marker, extra), { env, timeoutMs: 30_000 });
        if (r.code !== 0) throw new Error(`pm2 start exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
      }
      const god = readPidfile(join(home, 'pm2.pid'));
      track(god);
      const expect = pm2Expect(kind, marker);
      const w = await pollAsync(
        () => {
          const list = [];
          for (let i = 0; i < workers; i++) {
            const p = pm2AppPid(home, workers === 1 ? name : `${name}${i}`);
            if (p && runs(p, expect)) list.push(p);
          }
          return list.length === workers ? list : null;
        },
        { stepMs: 10, timeoutMs: 20_000 },
      );
      if (!w) throw new Error('pm2: app did not start');
      w.forEach(track);
      return { sup: god, workers: w, home, env, name };
    },
    stopCommand(h) {
      return { cmd: node, args: [pm2Bin, 'stop', h.name], env: h.env, gonePids: [...h.workers] };
    },
    async down(h) {
      await pm2Kill(h.home);
      await stopPids([h.sup, ...h.workers], { graceMs: 500 });
    },
  },
  forever: {
    label: 'forever (monitor)',
    needs: ['forever'],
    goneMeans: 'the monitor and its child',
    async up({ dir, kind, marker, expect, extra = [] }) {
      mkdirSync(dir, { recursive: true });
      const env = foreverEnv(join(dir, 'forever'));
      const r = await run(node, foreverArgs(kind, marker, extra), { env, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`forever start exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
      const w = await waitWorkers(marker, expect, 1);
      if (!w) throw new Error('forever: child did not start');
      const monitor = stat(w[0])?.ppid;
      track(monitor);
      w.forEach(track);
      return { sup: monitor, workers: w, env };
    },
    stopCommand(h) {
      return { cmd: node, args: [foreverBin, 'stop', '0'], env: h.env, gonePids: [h.sup, ...h.workers] };
    },
    async down(h) {
      await stopPids([h.sup], { graceMs: 1000, signal: 'SIGKILL' });
      await stopPids(h.workers, { graceMs: 500 });
    },
  },
  supervisord: {
    label: 'supervisord',
    needs: ['supervisor'],
    goneMeans: "the program's process (supervisord stays, by design)",
    async up({ dir, argv, marker, expect, workers = 1, log = null, autorestart = true }) {
      mkdirSync(dir, { recursive: true });
      const conf = supervisordConf(dir, [{ name: 'w', argv, autostart: true, autorestart, numprocs: workers > 1 ? workers : 0, log }]);
      const r = await run('/usr/bin/supervisord', ['-c', conf], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`supervisord exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
      const sup = await pollAsync(() => supervisordPid(dir), { stepMs: 10, timeoutMs: 10_000 });
      track(sup);
      const w = await waitWorkers(marker, expect, workers);
      if (!w) throw new Error('supervisord: program did not start');
      w.forEach(track);
      return { sup, workers: w, conf, dir, argv, marker, expect };
    },
    stopCommand(h) {
      return { cmd: '/usr/bin/supervisorctl', args: ['-c', h.conf, 'stop', 'w'], gonePids: [...h.workers] };
    },
    async down(h) {
      await supervisordDown(h.dir, h.workers);
    },
  },
  daemonkit: {
    label: 'daemonkit supervisor',
    needs: ['supervised'],
    goneMeans: 'the supervisor and every worker',
    async up({ dir, argv, marker, expect, workers = 1, extra = [], name = 'w', timeoutMs = 60_000 }) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const home = join(dir, 'dk');
      const env = dkEnv(home);
      const r = await run(
        node,
        [
          cli,
          'start',
          '--name',
          name,
          '--start-secs',
          '0',
          ...(workers > 1 ? ['--workers', String(workers)] : []),
          ...extra,
          '--',
          ...argv,
        ],
        {
          env,
          timeoutMs,
        },
      );
      const sup = readPidfile(join(home, `${name}.pid`));
      track(sup);
      if (r.code !== 0) {
        for (const p of workerList(marker, expect)) track(p);
        throw new Error(`daemonkit start exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
      }
      const w = await waitWorkers(marker, expect, workers);
      if (!w) throw new Error('daemonkit: workers did not start');
      w.forEach(track);
      return { sup, workers: w, home, env, name };
    },
    stopCommand(h) {
      return { cmd: node, args: [cli, 'stop', h.name], env: h.env, gonePids: [h.sup, ...h.workers] };
    },
    async down(h) {
      if (h.sup && alive(h.sup)) await run(node, [cli, 'stop', h.name], { env: h.env, timeoutMs: 30_000 });
      await stopPids([h.sup, ...h.workers].filter(Boolean), { graceMs: 1000 });
    },
  },
};

/**
 * Brings up one supervisor per peer, each with its own `kind` worker, in `ctx.dir(`${dirPrefix}-${id}`)`. A peer
 * whose needs are unavailable, or whose start fails, goes into `skipped` with the reason (daemonkit's failure
 * prefixed "not measurable yet: "); the others into `handles` as { h, marker, expect }.
 */
export async function bringUp(ctx, peers, { kind = 'sleep', dirPrefix, extraFor = () => [] }) {
  const handles = new Map();
  const skipped = new Map();
  for (const id of peers) {
    const why = ctx.unavailable(supervisors[id].needs);
    if (why) {
      skipped.set(id, why);
      continue;
    }
    const marker = ctx.sleepMarker();
    const t = target(kind, marker);
    try {
      const h = await supervisors[id].up({
        dir: ctx.dir(`${dirPrefix}-${id}`),
        kind,
        argv: t.argv,
        expect: t.expect,
        marker,
        extra: extraFor(id),
      });
      handles.set(id, { h, marker, expect: t.expect });
    } catch (e) {
      skipped.set(id, `${id === 'daemonkit' ? 'not measurable yet: ' : ''}${e.message}`);
    }
  }
  return { handles, skipped };
}

export { alive, gone, cmdline, pids, existsSync, byMarker };
