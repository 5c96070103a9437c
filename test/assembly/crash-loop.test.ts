// A crash loop with the default options ends in bounded time: the restart limit survives the doubling backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';
import { normalize } from '../../src/options.js';

const A_SPAWN = planner.A_SPAWN.value;
const A_ARM_TIMER = planner.A_ARM_TIMER.value;
const A_GAVE_UP = planner.A_GAVE_UP.value;
const A_READY = planner.A_READY.value;
const EXIT_1 = 1 << 8;

/** Runs one worker that is ready after startMs and exits 1 `lifeMs` after each spawn; returns when it gives up. */
function crashLoop(o: ReturnType<typeof normalize>, lifeMs: number, limitMs: number): { gaveUpAt: number | null; restarts: number } {
  const h = planner.supCreate(o.workers, 0, o.backoffMinMs, o.backoffMaxMs, o.minUptimeMs, o.maxRestarts, o.restartWindowMs, o.startMs, o.readyTimeoutMs, 0);
  assert.ok(h > 0);
  const timers = new Map<number, number>(); // id -> due
  let pid = 100;
  let alive: { pid: number; dies: number } | null = null;
  let t = 0;
  let gaveUpAt: number | null = null;
  const apply = (actions: Int32Array) => {
    for (let i = 0; i < actions.length; i += 4) {
      const [kind, a, b] = [actions[i]!, actions[i + 1]!, actions[i + 2]!];
      if (kind === A_SPAWN) {
        const p = ++pid;
        alive = { pid: p, dies: t + lifeMs };
        apply(planner.supSpawned(h, t, a, p));
      } else if (kind === A_ARM_TIMER) timers.set(a, t + b);
      else if (kind === A_GAVE_UP && gaveUpAt === null) gaveUpAt = t;
      else if (kind === A_READY) void 0;
    }
  };
  apply(planner.supStart(h, t));
  while (gaveUpAt === null && t < limitMs) {
    const nextTimer = [...timers.entries()].sort((x, y) => x[1] - y[1])[0];
    const death = alive ? (alive as { dies: number }).dies : Infinity;
    if (nextTimer && nextTimer[1] <= death) {
      timers.delete(nextTimer[0]);
      t = nextTimer[1];
      apply(planner.supTimer(h, t, nextTimer[0]));
    } else if (alive) {
      const dead = alive as { pid: number; dies: number };
      alive = null;
      t = dead.dies;
      apply(planner.supExited(h, t, dead.pid, EXIT_1));
    } else break;
  }
  return { gaveUpAt, restarts: planner.supWorkerRestarts(h, 0) };
}

test('with the default options, a worker that exits 1 after 0.3 s is given up on within a minute, after 10 restarts', () => {
  const o = normalize({ command: ['/bin/true'] }, 'cli');
  const { gaveUpAt, restarts } = crashLoop(o, 300, 10 * 60_000);
  assert.notEqual(gaveUpAt, null, 'it gave up');
  assert.ok(gaveUpAt! < 60_000, `gave up at ${gaveUpAt} ms`);
  assert.equal(restarts, 10);
});

test('a long backoff cannot spread a crash loop out of the restart window', () => {
  const o = normalize({ command: ['/bin/true'], backoffMax: '5m', maxRestarts: 4, restartWindow: '1s' }, 'cli');
  const { gaveUpAt, restarts } = crashLoop(o, 300, 60 * 60_000);
  assert.notEqual(gaveUpAt, null, 'it gave up');
  assert.equal(restarts, 4);
});
