// The HTTP hello-world (bench/targets/http-app.mjs) on W workers under each peer that can share one socket:
// daemonkit (--listen, readiness by notify), pm2 cluster mode, Node's cluster module. up() resolves once every
// worker answers; reload() is the peer's own rolling reload, awaited; down() stops everything by PID.
import { join } from 'node:path';
import { cli, node, pm2Bin, targetsDir } from './env.mjs';
import { dkEnv, pm2Env, pm2Kill } from './peers.mjs';
import { findByEnviron, findByMarker, launch, readPidfile, run, stopPids, track } from './proc.mjs';
import { freePort, waitServing } from './http.mjs';

export const HTTP_APP = join(targetsDir, 'http-app.mjs');
export const NODE_CLUSTER = join(targetsDir, 'node-cluster.mjs');

export const servers = {
  daemonkit: {
    label: 'daemonkit start --listen (shared socket, --ready notify)',
    needs: ['supervised'],
    async up({ dir, workers, port, delayMs, marker, name = 'web' }) {
      const home = join(dir, 'dk');
      const env = { ...dkEnv(home), DELAY_MS: String(delayMs), APP_LISTEN: 'fds' };
      const r = await run(
        node,
        [
          cli,
          'start',
          '--name',
          name,
          '--workers',
          String(workers),
          '--listen',
          `tcp:127.0.0.1:${port}`,
          '--ready',
          'notify',
          '--',
          node,
          HTTP_APP,
          marker,
        ],
        { env, timeoutMs: 60_000 },
      );
      const sup = track(readPidfile(join(home, `${name}.pid`)));
      const h = { home, env, name, sup, marker, url: `http://127.0.0.1:${port}/` };
      if (r.code !== 0) {
        await this.down(h);
        throw new Error(`daemonkit start exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
      }
      if (!(await waitServing(h.url, workers))) throw new Error('daemonkit: not every worker answered');
      return h;
    },
    async reload(h) {
      const r = await run(node, [cli, 'reload', h.name], { env: h.env, timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`daemonkit reload exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    },
    async down(h) {
      if (h.sup) await run(node, [cli, 'stop', h.name], { env: h.env, timeoutMs: 60_000 });
      await stopPids([h.sup, ...findByMarker(h.marker)].filter(Boolean), { graceMs: 2000 });
    },
  },
  // A floor, not a peer: daemonkit serving as above, and instead of a reload the same app started W times, one after
  // another, each until it answers on a port of its own, then stopped: the CPU of a rolling reload's Node start-ups,
  // with nothing changed in who serves. What a reload costs beyond it is the swap itself (connections moved to new,
  // cold workers).
  churn: {
    label: 'floor: the same Node start-ups, no reload (daemonkit serving; W extra app processes, one at a time)',
    needs: ['supervised'],
    async up(args) {
      const h = await servers.daemonkit.up(args);
      return { ...h, workers: args.workers, delayMs: args.delayMs };
    },
    async reload(h) {
      for (let i = 0; i < h.workers; i++) {
        const port = await freePort();
        const env = { ...h.env, DELAY_MS: String(h.delayMs), APP_LISTEN: String(port) };
        const { pid, child, exited } = launch(node, [HTTP_APP, h.marker], { env });
        track(pid);
        const up = await waitServing(`http://127.0.0.1:${port}/`, 1);
        child.kill('SIGTERM');
        await exited;
        if (!up) throw new Error('churn: the extra app never answered');
      }
    },
    down(h) {
      return servers.daemonkit.down(h);
    },
  },
  pm2: {
    label: 'pm2 cluster mode (-i N)',
    needs: ['pm2'],
    async up({ dir, workers, port, delayMs, marker, name = 'web' }) {
      const home = join(dir, 'pm2');
      const env = { ...pm2Env(home), DELAY_MS: String(delayMs), APP_LISTEN: String(port) };
      const r = await run(node, [pm2Bin, 'start', HTTP_APP, '-i', String(workers), '--name', name, '--', marker], {
        env,
        timeoutMs: 60_000,
      });
      const god = track(readPidfile(join(home, 'pm2.pid')));
      const h = { home, env, name, sup: god, url: `http://127.0.0.1:${port}/` };
      if (r.code !== 0) {
        await this.down(h);
        throw new Error(`pm2 start exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
      }
      if (!(await waitServing(h.url, workers))) throw new Error('pm2: not every worker answered');
      return h;
    },
    async reload(h) {
      const r = await run(node, [pm2Bin, 'reload', h.name], { env: h.env, timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`pm2 reload exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    },
    async down(h) {
      await pm2Kill(h.home);
      await stopPids([h.sup, ...findByEnviron(h.home)].filter(Boolean), { graceMs: 2000 });
    },
  },
  cluster: {
    label: "Node's cluster module (round-robin)",
    needs: [],
    async up({ workers, port, delayMs, marker }) {
      const env = { ...process.env, WORKERS: String(workers), DELAY_MS: String(delayMs), APP_LISTEN: String(port) };
      const l = launch(node, [NODE_CLUSTER, marker], { env });
      const h = { sup: track(l.pid), marker, url: `http://127.0.0.1:${port}/` };
      if (!(await waitServing(h.url, workers))) {
        await this.down(h);
        throw new Error('cluster: not every worker answered');
      }
      return h;
    },
    async down(h) {
      await stopPids([h.sup], { graceMs: 3000 });
      await stopPids(findByMarker(h.marker), { graceMs: 1000 });
    },
  },
};
