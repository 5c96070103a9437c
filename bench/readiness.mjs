// Readiness overhead: `start` of a Node worker that says READY=1 on the notify socket (--ready notify) against the
// same worker under --ready alive:0 (ready once spawned). Both samples end when start has returned and the worker has
// reached the line before notify() (it writes the time and its PID there). The target compares how long after that
// line each start ended (its lag): the worker's own start-up, which spreads over tens of ms on this machine, drops out
// of it, and what is left is the notify round trip: the datagram, the supervisor's handling, the verdict, the exit.
// The whole starts' medians are shown as well, and a floor: a Node process that has loaded koffi writing the time
// and leaving through _exit(2), as the CLI does, timed the same way (its lag is the kernel tearing a Node down).
import { join } from 'node:path';
import { benchDir, cli, node, targetsDir } from './lib/env.mjs';
import { dkEnv } from './lib/peers.mjs';
import { readFileSync } from 'node:fs';
import { readPidfile, sleep, stopPids, findByMarker } from './lib/proc.mjs';
import { rotate, summarize } from './lib/stats.mjs';
import { timedStart } from './lib/timing.mjs';

export const name = 'readiness';
export const title = 'Readiness overhead: --ready notify vs --ready alive:0';
export const defaults = { n: 15 };
const WORKER = join(targetsDir, 'notify-worker.mjs');
const EXIT_FLOOR = join(benchDir, 'entries', 'exit-floor.cjs');
/** Target: the two median lags under this far apart. */
const LIMIT_MS = 2;

const PEERS = {
  notify: { label: "daemonkit start --ready notify (worker calls notify('READY=1'))", ready: 'notify' },
  alive: { label: 'daemonkit start --ready alive:0 (same worker)', ready: 'alive:0' },
  exit: { label: 'floor: a Node that loaded koffi, from its last line through _exit(2) until its parent sees it gone', floor: true },
};

export async function run(ctx) {
  const n = ctx.n ?? defaults.n;
  const ids = Object.keys(PEERS).filter((id) => ctx.wants(id));
  const data = new Map(ids.map((id) => [id, { samples: [], returned: [], lags: [], errors: [] }]));
  const why = ctx.unavailable(['supervised']);
  if (!why) {
    for (let r = -1; r < n; r++) {
      for (const id of rotate(ids, r + 1)) {
        const dir = ctx.dir(`readiness-${id}-${r + 1}`);
        const home = join(dir, 'dk');
        const file = join(dir, 'worker.pid');
        const marker = ctx.nodeMarker();
        const res = PEERS[id].floor
          ? await timedStart({ cmd: node, args: [EXIT_FLOOR, `${file}.at`], env: dkEnv(home) })
          : await timedStart({
              cmd: node,
              args: [cli, 'start', '--name', 'rd', '--ready', PEERS[id].ready, '--', node, WORKER, file, marker],
              env: dkEnv(home),
              locate: () => readPidfile(file),
              expect: { argv0: 'node', argv1: WORKER, has: [marker] },
            });
        if (res.error) data.get(id).errors.push(res.error);
        else if (r >= 0) {
          data.get(id).samples.push(res.ms);
          data.get(id).returned.push(res.returnedMs);
          data.get(id).lags.push(res.endAt - Number(readFileSync(`${file}.at`, 'utf8')) / 1e6);
        }
        await stopPids([readPidfile(join(home, 'rd.pid')), ...findByMarker(marker)].filter(Boolean), { graceMs: 2000 });
        await sleep(20);
      }
      ctx.progress(`round ${r + 2}/${n + 1}`);
    }
  }
  const lagRows = ids.map((id) => ({
    id: `readiness-lag/${id}`,
    label: PEERS[id].label,
    group: "after the worker's line before notify(), until start had returned",
    unit: 'ms',
    ...summarize(data.get(id).lags),
    how: PEERS[id].floor
      ? 'it wrote CLOCK_MONOTONIC, then _exit(2); the end is when /proc shows it a zombie'
      : 'the worker wrote CLOCK_MONOTONIC there; the end is when the sample above ended',
    skipped: why ?? (data.get(id).lags.length === 0 ? 'no sample' : undefined),
  }));
  const rows = ids
    .filter((id) => !PEERS[id].floor)
    .map((id) => {
      const s = summarize(data.get(id).samples);
      return {
        id: `readiness/${id}`,
        label: PEERS[id].label,
        unit: 'ms',
        ...s,
        returnedMedian: summarize(data.get(id).returned).median,
        how: `start returned (exit 0; median ${summarize(data.get(id).returned).median} ms) and the worker has written its PID, the line before notify()`,
        errors: data.get(id).errors.length ? data.get(id).errors.slice(0, 3) : undefined,
        skipped: why ?? (s.n === 0 ? `no sample: ${data.get(id).errors[0] ?? 'unknown'}` : undefined),
      };
    });
  const med = (id) => rows.find((x) => x.id === `readiness/${id}` && !x.skipped)?.median ?? null;
  const lag = (id) => lagRows.find((x) => x.id === `readiness-lag/${id}` && !x.skipped)?.median ?? null;
  const [a, b] = [lag('notify'), lag('alive')];
  const text = `--ready notify under ${LIMIT_MS} ms apart from --ready alive:0`;
  const target =
    a == null || b == null
      ? { id: 'readiness-notify', text, status: 'not measurable yet', measured: why ?? rows.find((x) => x.skipped)?.skipped ?? 'no sample' }
      : {
          id: 'readiness-notify',
          text,
          status: Math.abs(a - b) < LIMIT_MS ? 'met' : 'not met',
          measured: `start ended ${a} ms vs ${b} ms after the worker's line before notify(): ${(a - b).toFixed(2)} ms apart (limit ${LIMIT_MS} ms); whole starts ${med('notify')} vs ${med('alive')} ms; floor: a Node's _exit(2) ${lag('exit') ?? 'not measured'} ms`,
        };
  return {
    params: {
      n,
      warmup: 1,
      pollMs: 0.25,
      worker: "node bench/targets/notify-worker.mjs (import 'daemonkit': dist/index.mjs)",
      order: 'round-robin, start rotated each round',
    },
    rows: [...rows, ...lagRows],
    targets: [target],
  };
}
