// forkProcesses() restart: kill -9 of the one worker, until its replacement answers an HTTP request on the shared
// socket. Requests go out from the kill on, one a millisecond: under forkProcesses() the parent keeps the listening
// socket, so the first waits in the backlog until the replacement accepts; under Node's cluster module the primary
// closes the port when its last worker is gone (refused) or hands a connection to the dead one (lost), and a later
// request gets through. Side by side: cluster.fork() on 'exit'. Both workers are Node running the same server with no
// startup delay; kills alternate between the two.
import { join } from 'node:path';
import { node, targetsDir } from './lib/env.mjs';
import { freePort, get, waitServing } from './lib/http.mjs';
import { NODE_CLUSTER } from './lib/servers.mjs';
import { alive, killPid, launch, now, pids, sleep, stat, stopPids, track, findByMarker, cmdline } from './lib/proc.mjs';
import { ratio, ratioText, rotate, summarize } from './lib/stats.mjs';

export const name = 'fork-restart';
export const title = 'forkProcesses() restart: kill -9 of a worker until the replacement accepts';
export const defaults = { n: 15, gapMs: 300 };
const LIMIT = 1.1;

const PEERS = {
  daemonkit: { label: 'forkProcesses(1, { listen }) (daemonkit library)', needs: ['cli'], script: join(targetsDir, 'fork-app.mjs') },
  cluster: { label: "cluster.fork() on 'exit' (Node's cluster module)", needs: [], script: NODE_CLUSTER },
};

/** The parent's one live Node child (the worker). */
function workerOf(parent) {
  for (const pid of pids()) {
    const s = stat(pid);
    if (s && s.ppid === parent && s.state !== 'Z' && (cmdline(pid) ?? [])[0]?.endsWith('node')) return pid;
  }
  return null;
}

async function up(id, ctx) {
  const port = await freePort();
  const marker = ctx.nodeMarker();
  const env = { ...process.env, WORKERS: '1', DELAY_MS: '0', APP_LISTEN: String(port) };
  const args = id === 'daemonkit' ? [PEERS[id].script, String(port), marker] : [PEERS[id].script, marker];
  const l = launch(node, args, { env });
  track(l.pid);
  const h = { parent: l.pid, marker, url: `http://127.0.0.1:${port}/` };
  if (!(await waitServing(h.url, 1, 30_000))) {
    await down(h);
    throw new Error('the worker never answered');
  }
  return h;
}

async function down(h) {
  await stopPids([h.parent], { graceMs: 3000 });
  await stopPids(findByMarker(h.marker), { graceMs: 1000 });
}

/** A new probe request this often while none has been answered: a request the primary took in the gap may be lost. */
const PROBE_EVERY_MS = 1;

/**
 * Kills the worker; ms until the first answer from another PID (or an error text). Requests go out every
 * PROBE_EVERY_MS from the kill on, so a request lost in the gap (cluster's primary accepts and hands it to the dead
 * worker) or refused (the port closed) does not hold the clock: the first answer ends the sample.
 */
function sample(h) {
  const old = workerOf(h.parent);
  if (!old) return Promise.resolve({ error: 'no worker found' });
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    const answered = (r) => {
      if (done || r.status !== 200 || r.pid === old) return;
      done = true;
      clearInterval(timer);
      resolve({ ms: now() - t0, pid: r.pid });
    };
    const timer = setInterval(() => {
      if (now() - t0 > 15_000) {
        done = true;
        clearInterval(timer);
        resolve({ error: 'no replacement answered within 15 s' });
        return;
      }
      get(h.url, { timeoutMs: 2000 }).then(answered);
    }, PROBE_EVERY_MS);
    killPid(old, 'SIGKILL');
    get(h.url, { timeoutMs: 2000 }).then(answered);
  });
}

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const ids = Object.keys(PEERS).filter((id) => ctx.wants(id));
  const data = new Map(ids.map((id) => [id, { samples: [], errors: [] }]));
  const handles = new Map();
  const skipped = new Map();
  for (const id of ids) {
    const why = ctx.unavailable(PEERS[id].needs);
    if (why) {
      skipped.set(id, why);
      continue;
    }
    try {
      handles.set(id, await up(id, ctx));
    } catch (e) {
      skipped.set(id, `${id === 'daemonkit' ? 'not measurable yet: ' : ''}${e.message}`);
    }
  }
  try {
    for (let r = -1; r < n; r++) {
      for (const id of rotate([...handles.keys()], r + 1)) {
        const res = await sample(handles.get(id));
        if (res.error) data.get(id).errors.push(res.error);
        else if (r >= 0) data.get(id).samples.push(res.ms);
        await sleep(defaults.gapMs + 2000 * (r < 0)); // the warm-up's stragglers time out first
      }
      ctx.progress(`round ${r + 2}/${n + 1}`);
    }
  } finally {
    for (const h of handles.values()) await down(h);
  }
  const ref = summarize(data.get('cluster')?.samples ?? []).median;
  const rows = ids.map((id) => {
    const s = summarize(data.get(id).samples);
    return {
      id: `fork-restart/${id}`,
      label: PEERS[id].label,
      unit: 'ms',
      ...s,
      ratios: { cluster: ratio(s.median, ref) },
      errors: data.get(id).errors.length ? data.get(id).errors.slice(0, 3) : undefined,
      skipped: skipped.get(id) ?? (s.n === 0 ? `no sample: ${data.get(id).errors[0] ?? 'unknown'}` : undefined),
    };
  });
  const dk = rows.find((x) => x.id === 'fork-restart/daemonkit' && !x.skipped)?.median ?? null;
  const text = `at most ${LIMIT}x cluster.fork() on 'exit'`;
  const target =
    dk == null || ref == null
      ? {
          id: 'fork-restart',
          text,
          status: 'not measurable yet',
          measured: skipped.get('daemonkit') ?? skipped.get('cluster') ?? data.get('daemonkit')?.errors[0] ?? 'no sample',
        }
      : {
          id: 'fork-restart',
          text,
          status: dk / ref <= LIMIT ? 'met' : 'not met',
          measured: `${dk} ms vs ${ref} ms = ${ratioText(dk / ref, LIMIT)}x (limit ${LIMIT}x)`,
          ratio: +(dk / ref).toFixed(3),
        };
  return {
    params: { n, warmup: 1, gapMs: defaults.gapMs, workers: 1, order: 'both up at once; kills alternate, first rotated each round' },
    rows,
    targets: [target],
  };
}
