// 1. Start to ready: from invoking the start command until it has returned and the target process is alive and
// has exec'd the program (checked in /proc/PID/cmdline). Peers run round-robin, one sample of each per round.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, cli, daemonizeBin, node, pm2Bin, python, startStopDaemon, targetsDir } from './lib/env.mjs';
import {
  MINI,
  dkEnv,
  foreverArgs,
  foreverEnv,
  pm2AppPid,
  pm2Args,
  pm2Env,
  pm2Expect,
  supervisordConf,
  supervisordPid,
  target,
} from './lib/peers.mjs';
import { findByMarker, pollAsync, readPidfile, run, sleep, stat, stopPids } from './lib/proc.mjs';
import { ratio, ratioText, rotate, summarize } from './lib/stats.mjs';
import { byMarker, timedStart } from './lib/timing.mjs';

export const name = 'start';
export const title = 'Start to ready';
export const defaults = { n: 10 };

const pidfileLocate = (path) => () => readPidfile(path);

/** Kills whatever carries the sample's marker, plus the given PIDs. */
async function cleanupPids(marker, extra = []) {
  const marked = marker ? findByMarker(marker, { partial: true }) : [];
  await stopPids(
    [...new Set([...extra.filter(Boolean), ...marked])].filter((p) => p !== process.pid),
    { graceMs: 2000 },
  );
}

function peerList() {
  const list = [];
  const floor = (id, label, cmd, args, how) =>
    list.push({
      id: `floor/${id}`,
      label,
      kind: 'floor',
      needs: [],
      how,
      sample: () => ({ spec: { cmd, args, returns: true }, cleanup: async () => {} }),
    });
  floor('true', '/bin/true', '/bin/true', [], 'spawn until it has exited');
  floor('node', "node -e ''", node, ['-e', ''], 'spawn until it has exited');
  floor(
    'node-node',
    "two-Node floor: node -e that spawnSyncs node -e ''",
    node,
    ['-e', "require('child_process').spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' })"],
    'spawn until it has exited (two bare Node startups in series: the floor of any start whose second process is Node)',
  );
  floor(
    'shape',
    "start's shape alone: node + koffi posix_spawns node + koffi + the wasm, which posix_spawns /bin/true",
    node,
    [join(benchDir, 'entries', 'shape-floor.cjs')],
    'spawn until it has exited (bench/entries/shape-floor.cjs: no options, plan or files; the cost of the processes and native calls a start is made of)',
  );

  for (const kind of ['sleep', 'node']) {
    const t = (m) => target(kind, m);
    const add = (p) => list.push({ ...p, id: `${kind}/${p.id}`, kind });

    add({
      id: 'start-stop-daemon',
      label: 'start-stop-daemon --background --make-pidfile',
      needs: ['dpkg'],
      how: "returned; PID from its --pidfile; that PID alive and exec'd the target",
      sample: (s, marker, dir) => {
        const pf = join(dir, 'p.pid');
        const [prog, ...rest] = t(marker).argv;
        return {
          spec: {
            cmd: startStopDaemon,
            args: ['--start', '--background', '--make-pidfile', '--pidfile', pf, '--exec', prog, '--', ...rest],
            locate: pidfileLocate(pf),
            expect: t(marker).expect,
          },
          cleanup: (r) => cleanupPids(marker, [r.pid]),
        };
      },
    });
    add({
      id: 'daemonize',
      label: 'daemonize -p',
      needs: ['daemonize'],
      how: "returned; PID from its -p file; alive and exec'd the target",
      sample: (s, marker, dir) => {
        const pf = join(dir, 'p.pid');
        return {
          spec: { cmd: daemonizeBin, args: ['-p', pf, ...t(marker).argv], locate: pidfileLocate(pf), expect: t(marker).expect },
          cleanup: (r) => cleanupPids(marker, [r.pid]),
        };
      },
    });
    if (kind === 'sleep') {
      add({
        id: 'python3-daemon',
        label: 'python3-daemon (DaemonContext + exec)',
        needs: ['python3-daemon'],
        how: "returned; PID written by the daemon before exec; alive and exec'd the target",
        sample: (s, marker, dir) => {
          const pf = join(dir, 'p.pid');
          return {
            spec: {
              cmd: python,
              args: [join(targetsDir, 'pydaemon.py'), pf, ...t(marker).argv],
              locate: pidfileLocate(pf),
              expect: t(marker).expect,
            },
            cleanup: (r) => cleanupPids(marker, [r.pid]),
          };
        },
      });
      add({
        id: 'pm2-cold',
        label: 'pm2 start (cold: no God daemon yet)',
        needs: ['pm2'],
        how: "returned; PID from pm2's $PM2_HOME/pids file; alive and exec'd the target",
        sample: (s, marker, dir) => {
          const home = join(dir, 'pm2');
          return {
            spec: {
              cmd: node,
              args: pm2Args('s', kind, marker),
              env: pm2Env(home),
              locate: () => pm2AppPid(home, 's'),
              expect: pm2Expect(kind, marker),
            },
            cleanup: async (r) => cleanupPids(marker, [readPidfile(join(home, 'pm2.pid')), r.pid]),
          };
        },
      });
    }
    add({
      id: 'pm2-warm',
      label: 'pm2 start (warm: God daemon running)',
      needs: ['pm2'],
      how: "returned; PID from pm2's $PM2_HOME/pids file; alive and exec'd the target",
      async setup(dir) {
        const home = join(dir, 'pm2');
        const r = await run(node, [pm2Bin, 'ping'], { env: pm2Env(home), timeoutMs: 30_000 });
        if (r.code !== 0) throw new Error(`pm2 ping exited ${r.code}`);
        return { home, god: readPidfile(join(home, 'pm2.pid')), seq: 0 };
      },
      async teardown(s) {
        await run(node, [pm2Bin, 'kill'], { env: pm2Env(s.home), timeoutMs: 30_000 });
        await stopPids([s.god], { graceMs: 1000 });
      },
      sample: (s, marker) => {
        const name = `s${s.seq++}`;
        return {
          spec: {
            cmd: node,
            args: pm2Args(name, kind, marker),
            env: pm2Env(s.home),
            locate: () => pm2AppPid(s.home, name),
            expect: pm2Expect(kind, marker),
          },
          cleanup: async (r) => {
            await run(node, [pm2Bin, 'delete', name], { env: pm2Env(s.home), timeoutMs: 30_000 });
            await cleanupPids(marker, [r.pid]);
          },
        };
      },
    });
    add({
      id: 'forever',
      label: 'forever start',
      needs: ['forever'],
      how: `returned; the target found in /proc by its unique argv; alive and exec'd${kind === 'sleep' ? ' (via /bin/sh: forever runs script files only)' : ''}`,
      sample: (s, marker, dir) => ({
        spec: {
          cmd: node,
          args: foreverArgs(kind, marker),
          env: foreverEnv(join(dir, 'forever')),
          locate: byMarker(marker, t(marker).expect),
          expect: t(marker).expect,
        },
        // The monitor first, or it restarts the child.
        cleanup: async (r) => {
          if (r.pid)
            await stopPids(
              [stat(r.pid)?.ppid].filter((p) => p && p > 1),
              { signal: 'SIGKILL' },
            );
          await cleanupPids(marker, [r.pid]);
        },
      }),
    });
    if (kind === 'sleep')
      add({
        id: 'supervisord-cold',
        label: 'supervisord (cold, autostart program)',
        needs: ['supervisor'],
        how: 'supervisord returned (it daemonizes); the program found in /proc by its unique argv; alive',
        sample: (s, marker, dir) => {
          const conf = supervisordConf(dir, [{ name: 'p', argv: t(marker).argv, autostart: true }]);
          return {
            spec: { cmd: '/usr/bin/supervisord', args: ['-c', conf], locate: byMarker(marker, t(marker).expect), expect: t(marker).expect },
            cleanup: async (r) => cleanupPids(marker, [supervisordPid(dir), r.pid]),
          };
        },
      });
    add({
      id: 'supervisorctl-warm',
      label: 'supervisorctl start (warm: supervisord running)',
      needs: ['supervisor'],
      how: 'returned; the program found in /proc by its unique argv; alive',
      async setup(dir, ctx, rounds) {
        // One program per round, each with its own marker, known before supervisord reads its config.
        const markers = Array.from({ length: rounds }, () => (kind === 'sleep' ? ctx.sleepMarker() : ctx.nodeMarker()));
        const conf = supervisordConf(
          dir,
          markers.map((m, i) => ({ name: `p${i}`, argv: t(m).argv })),
        );
        const r = await run('/usr/bin/supervisord', ['-c', conf], { timeoutMs: 30_000 });
        if (r.code !== 0) throw new Error(`supervisord exited ${r.code}: ${r.stderr.trim()}`);
        const pid = await pollAsync(() => supervisordPid(dir), { stepMs: 10, timeoutMs: 10_000 });
        // Wait until it answers.
        for (let i = 0; i < 50; i++) {
          const st = await run('/usr/bin/supervisorctl', ['-c', conf, 'pid'], { timeoutMs: 10_000 });
          if (st.code === 0) break;
          await sleep(50);
        }
        return { conf, dir, pid, markers, next: 0 };
      },
      async teardown(s) {
        await stopPids([s.pid], { graceMs: 5000 });
      },
      ownMarker: (s) => s.markers[s.next],
      sample: (s, marker) => {
        const i = s.next++;
        return {
          spec: {
            cmd: '/usr/bin/supervisorctl',
            args: ['-c', s.conf, 'start', `p${i}`],
            locate: byMarker(marker, t(marker).expect),
            expect: t(marker).expect,
          },
          cleanup: async (r) => cleanupPids(marker, [r.pid]),
        };
      },
    });
    add({
      id: '10-line',
      label: '10-line Node supervisor (floor for Node)',
      needs: [],
      how: "spawned (it stays in the foreground, so no return); its worker found in /proc; alive and exec'd",
      sample: (s, marker) => ({
        spec: {
          cmd: node,
          args: [MINI, ...t(marker).argv],
          returns: false,
          locate: byMarker(marker, t(marker).expect),
          expect: t(marker).expect,
        },
        cleanup: async (r) => {
          await stopPids([r.launcher], { graceMs: 2000 });
          await cleanupPids(marker, [r.pid]);
        },
      }),
    });
    add({
      id: 'daemonkit-no-supervise',
      label: 'daemonkit start --no-supervise --start-secs 0',
      needs: ['cli'],
      how: "returned (exit 0 after the readiness handshake); PID from its --pidfile; alive and exec'd",
      sample: (s, marker, dir) => {
        const pf = join(dir, 'p.pid');
        return {
          spec: {
            cmd: node,
            args: [cli, 'start', '--no-supervise', '--start-secs', '0', '--pidfile', pf, '--name', 's', '--', ...t(marker).argv],
            env: dkEnv(join(dir, 'dk')),
            locate: pidfileLocate(pf),
            expect: t(marker).expect,
          },
          cleanup: (r) => cleanupPids(marker, [r.pid]),
        };
      },
    });
    add({
      id: 'daemonkit',
      label: 'daemonkit start (supervised) --start-secs 0',
      needs: ['supervised'],
      how: "returned (exit 0 once the worker is ready); the worker found in /proc by its unique argv; alive and exec'd",
      sample: (s, marker, dir) => {
        const home = join(dir, 'dk');
        return {
          spec: {
            cmd: node,
            args: [cli, 'start', '--start-secs', '0', '--name', 's', '--', ...t(marker).argv],
            env: dkEnv(home),
            locate: byMarker(marker, t(marker).expect),
            expect: t(marker).expect,
          },
          cleanup: async (r) => {
            const sup = readPidfile(join(home, 's.pid'));
            await stopPids([sup].filter(Boolean), { graceMs: 3000 });
            await cleanupPids(marker, [r.pid]);
          },
        };
      },
    });
    if (kind === 'node') {
      add({
        id: 'npm-daemon',
        label: "npm daemon (require('daemon')())",
        needs: ['daemon'],
        how: 'original returned; PID file written by the daemon once past daemon(); alive',
        sample: (s, marker, dir) => {
          const pf = join(dir, 'p.pid');
          return {
            spec: {
              cmd: node,
              args: [join(targetsDir, 'npm-daemon.cjs'), pf, marker],
              locate: pidfileLocate(pf),
              expect: { argv0: 'node', argv1: join(targetsDir, 'npm-daemon.cjs'), has: [marker] },
            },
            cleanup: (r) => cleanupPids(marker, [r.pid]),
          };
        },
      });
      add({
        id: 'daemonkit-library',
        label: 'daemonkit daemonize() + ready() at once',
        needs: ['cli'],
        how: "original returned (it exits 0 only after ready()); PID from the daemon's PID file; alive",
        sample: (s, marker, dir) => {
          const pf = join(dir, 'p.pid');
          return {
            spec: {
              cmd: node,
              args: [join(targetsDir, 'dk-library.mjs'), pf, marker],
              locate: pidfileLocate(pf),
              expect: { argv0: 'node', argv1: join(targetsDir, 'dk-library.mjs'), has: [marker] },
            },
            cleanup: (r) => cleanupPids(marker, [r.pid]),
          };
        },
      });
    }
  }
  return list;
}

export async function run_(ctx) {
  const n = ctx.n ?? defaults.n;
  const peers = peerList().filter((p) => ctx.wants(p.id));
  const rows = new Map(
    peers.map((p) => [p.id, { id: p.id, label: p.label, kind: p.kind, how: p.how, samples: [], returned: [], errors: [] }]),
  );
  const active = [];
  for (const p of peers) {
    const why = ctx.unavailable(p.needs);
    if (why) rows.get(p.id).skipped = why;
    else active.push(p);
  }
  const state = new Map();
  for (const p of [...active]) {
    if (!p.setup) continue;
    const dir = ctx.dir(`start-${p.id.replace('/', '-')}-setup`);
    try {
      state.set(p.id, await p.setup(dir, ctx, n + 1));
    } catch (e) {
      rows.get(p.id).skipped = `setup failed: ${e.message}`;
      active.splice(active.indexOf(p), 1);
    }
  }
  // Round -1 is a warm-up (page cache, first-run files); its samples are not kept. A peer that fails it is dropped.
  for (let r = -1; r < n; r++) {
    for (const p of rotate([...active], r + 1)) {
      const row = rows.get(p.id);
      const s = state.get(p.id);
      const marker = p.ownMarker ? p.ownMarker(s) : p.kind === 'node' ? ctx.nodeMarker() : ctx.sleepMarker();
      const dir = ctx.dir(`start-${p.id.replace('/', '-')}-${r + 1}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      let res;
      const wall0 = Date.now();
      const { spec, cleanup } = p.sample(s, marker, dir);
      try {
        res = await timedStart(spec);
      } catch (e) {
        res = { error: String(e?.stack ?? e) };
      }
      try {
        await cleanup(res);
      } catch (e) {
        ctx.log(`  cleanup of ${p.id} failed: ${e.message}`);
      }
      row.wall = (row.wall ?? 0) + (Date.now() - wall0);
      if (res.error) {
        row.errors.push(res.error);
        if (r === -1) {
          row.skipped = `${p.needs.includes('supervised') ? 'not measurable yet: ' : ''}failed in the warm-up round: ${res.error}`;
          active.splice(active.indexOf(p), 1);
        }
      } else if (r >= 0) {
        row.samples.push(res.ms);
        row.returned.push(res.returnedMs);
      }
      await sleep(20);
    }
    ctx.progress(`round ${r + 2}/${n + 1}`);
  }
  for (const p of peers)
    if (state.has(p.id) && p.teardown) await p.teardown(state.get(p.id)).catch((e) => ctx.log(`teardown ${p.id}: ${e.message}`));

  const out = [];
  const floorNode = summarize(rows.get('floor/node')?.samples ?? []).median;
  const floorTwo = summarize(rows.get('floor/node-node')?.samples ?? []).median;
  for (const row of rows.values()) {
    const s = summarize(row.samples);
    out.push({
      id: row.id,
      label: row.label,
      group: row.kind === 'floor' ? 'floors' : `target: ${row.kind === 'sleep' ? '/bin/sleep 1000.x' : 'node interval.mjs (setInterval)'}`,
      how: row.how,
      unit: 'ms',
      ...s,
      returnedMedian: summarize(row.returned).median,
      benchSeconds: row.wall ? Math.round(row.wall / 100) / 10 : undefined,
      ratios: { "node -e ''": ratio(s.median, floorNode), 'two-Node floor': ratio(s.median, floorTwo) },
      errors: row.errors.length ? row.errors.slice(0, 3) : undefined,
      skipped: row.skipped ?? (s.n === 0 ? `no successful sample${row.errors[0] ? `: ${row.errors[0]}` : ''}` : undefined),
    });
  }
  return { params: { n, warmup: 1, pollMs: 0.25, order: 'round-robin, start rotated each round' }, rows: out, targets: targets(out) };
}
export { run_ as run };

function targets(rows) {
  const med = (id) => rows.find((r) => r.id === id && !r.skipped)?.median ?? null;
  const skip = (id) => rows.find((r) => r.id === id)?.skipped;
  const two = med('floor/node-node');
  const twoSkip = skip('floor/node-node') ?? (two == null ? 'the two-Node floor was not measured (--peers left it out)' : undefined);
  const out = [];
  for (const kind of ['sleep', 'node']) {
    const tname = kind === 'sleep' ? 'sleep' : 'Node setInterval';
    const sup = med(`${kind}/daemonkit`);
    const nosup = med(`${kind}/daemonkit-no-supervise`);
    const pm2 = med(`${kind}/pm2-warm`);
    out.push(
      limitTarget(
        `supervised-vs-floor-${kind}`,
        `supervised start (${tname} target) at most 1.25x the two-Node floor`,
        sup,
        two,
        1.25,
        skip(`${kind}/daemonkit`) ?? twoSkip,
      ),
      sup != null && pm2 != null
        ? {
            id: `supervised-vs-pm2-${kind}`,
            text: `supervised start (${tname} target) faster than warm pm2 start`,
            status: sup < pm2 ? 'met' : 'not met',
            measured: `${sup} ms vs ${pm2} ms (${(sup / pm2).toFixed(2)}x)`,
            ratio: +(sup / pm2).toFixed(3),
          }
        : {
            id: `supervised-vs-pm2-${kind}`,
            text: `supervised start (${tname} target) faster than warm pm2 start`,
            status: 'not measurable yet',
            measured: skip(`${kind}/daemonkit`) ?? skip(`${kind}/pm2-warm`) ?? 'missing sample',
          },
      limitTarget(
        `no-supervise-vs-floor-${kind}`,
        `start --no-supervise (${tname} target) at most 1.25x the two-Node floor`,
        nosup,
        two,
        1.25,
        skip(`${kind}/daemonkit-no-supervise`) ?? twoSkip,
      ),
    );
  }
  return out;
}

function limitTarget(id, text, value, ref, limit, skipped) {
  if (value == null || ref == null) return { id, text, status: 'not measurable yet', measured: skipped ?? 'missing sample' };
  const x = value / ref;
  return {
    id,
    text,
    status: x <= limit ? 'met' : 'not met',
    measured: `${value} ms / ${ref} ms = ${ratioText(x, limit)}x (limit ${limit}x)`,
    ratio: +x.toFixed(3),
  };
}
