// A crash loop with the default options ends in bounded time: the restart limit survives the doubling backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisorMachine, type Action } from '../../src/core/supervisor-machine.js';
import { normalize } from '../../src/options.js';

const EXIT_1 = 1 << 8;

/** Runs one worker that is ready after startMs and exits 1 `lifeMs` after each spawn; returns when it gives up. */
function crashLoop(o: ReturnType<typeof normalize>, lifeMs: number, limitMs: number): { gaveUpAt: number | null; restarts: number } {
  const m = new SupervisorMachine({ ...o, workers: 1, restart: 'on-failure', reload: 'rolling' });
  const timers = new Map<number, number>(); // id -> due
  let pid = 100;
  let alive: { pid: number; dies: number } | null = null;
  let t = 0;
  let gaveUpAt: number | null = null;
  const apply = (actions: Action[]) => {
    for (const act of actions) {
      if (act.kind === 'spawn') {
        const p = ++pid;
        alive = { pid: p, dies: t + lifeMs };
        apply(m.spawned(t, act.task, p));
      } else if (act.kind === 'arm-timer') timers.set(act.id, t + act.ms);
      else if (act.kind === 'give-up' && gaveUpAt === null) gaveUpAt = t;
    }
  };
  apply(m.start(t));
  while (gaveUpAt === null && t < limitMs) {
    const nextTimer = [...timers.entries()].sort((x, y) => x[1] - y[1])[0];
    const death = alive ? (alive as { dies: number }).dies : Infinity;
    if (nextTimer && nextTimer[1] <= death) {
      timers.delete(nextTimer[0]);
      t = nextTimer[1];
      apply(m.timer(t, nextTimer[0]));
    } else if (alive) {
      const dead = alive as { pid: number; dies: number };
      alive = null;
      t = dead.dies;
      apply(m.exited(t, dead.pid, EXIT_1));
    } else break;
  }
  const restarts = m.worker(0).restarts;
  m.destroy();
  return { gaveUpAt, restarts };
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
