// Giving up: crash loops counted in a window and in a row. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARM,
  CANCEL,
  EXIT,
  GAVE_UP,
  KILL,
  SEGV,
  SIG,
  SPAWN,
  TERM,
  exited,
  killed,
  make,
  pids,
  play,
  startReady,
  workerStates,
} from './supervisor-scenario.js';

test('crash loop: the 11th restart within 60s gives up, stops the others, exits 1 with the reason', () => {
  const h = make({ backoffMinMs: 100, backoffMaxMs: 800 });
  startReady(h, 3);
  let t = 2000,
    timer = 4,
    pid = 102;
  for (let i = 0; i < 10; i++) {
    const delay = Math.min(100 * 2 ** i, 800);
    const readiness = timer - 1;
    play(h, [
      [t, ['exited', pid, exited(3)], i === 0 ? [ARM(timer, delay)] : [CANCEL(readiness), ARM(timer, delay)]],
      [t + delay, ['timer', timer], [SPAWN(2)]],
      [t + delay, ['spawned', 2, pid + 1], [ARM(timer + 1, 1000)]],
    ]);
    assert.equal(h.worker(2).restarts, i + 1);
    t += delay + 100;
    timer += 2;
    pid += 1;
  }
  play(h, [[t, ['exited', pid, exited(3)], [CANCEL(timer - 1), GAVE_UP('crash-loop'), SIG(100, TERM), SIG(101, TERM), ARM(timer, 10000)]]]);
  assert.ok(t < 60000);
  assert.equal(h.state, 'failed');
  assert.equal(h.failure, 'worker 2 ended 11 times in 60s (10 restarts allowed); last: exited 3');
  assert.deepEqual(workerStates(h), ['stopping', 'stopping', 'failed']);
  play(h, [
    [t + 10, ['stop'], []],
    [t + 10, ['reload'], []],
    [t + 20, ['exited', 100, killed(TERM)], []],
    [t + 30, ['exited', 101, exited(0)], [CANCEL(timer), EXIT(1)]],
    [t + 40, ['timer', timer], []],
  ]);
  assert.equal(h.state, 'failed');
  assert.equal(h.exitCode, 1);
  assert.deepEqual(workerStates(h), ['exited', 'exited', 'failed']);
  assert.deepEqual(pids(h), []);
});

test('crash loop: the window slides, restarts are counted service-wide, the reason says so', () => {
  const a = make({ workers: 1, maxRestarts: 1, restartWindowMs: 10000 });
  startReady(a, 1);
  play(a, [
    [2000, ['exited', 100, exited(1)], [ARM(2, 100)]],
    [2100, ['timer', 2], [SPAWN(0)]],
    [2100, ['spawned', 0, 101], [ARM(3, 1000)]],
    [3100, ['timer', 3], []],
    // 10 s later the first restart has left the window
    [12100, ['exited', 101, exited(1)], [ARM(4, 100)]], // and it was up 10 s: backoff back to backoffMin
    [12200, ['timer', 4], [SPAWN(0)]],
    [12200, ['spawned', 0, 102], [ARM(5, 1000)]],
    [13000, ['exited', 102, killed(SEGV, true)], [CANCEL(5), GAVE_UP('crash-loop'), EXIT(1)]],
  ]);
  assert.equal(a.failure, 'worker 0 ended 2 times in 10s (1 restart allowed); last: killed by SIGSEGV (core dumped)');
  assert.equal(a.state, 'failed');

  const b = make({ workers: 2, maxRestarts: 2, restartWindowMs: 1500 });
  startReady(b, 2);
  play(b, [
    [2000, ['exited', 100, exited(1)], [ARM(3, 100)]],
    [2100, ['exited', 101, killed(KILL)], [ARM(4, 100)]],
    [2100, ['timer', 3], [SPAWN(0)]],
    [2100, ['spawned', 0, 200], [ARM(5, 1000)]],
    [2200, ['exited', 200, exited(1)], [CANCEL(5), GAVE_UP('crash-loop'), CANCEL(4), EXIT(1)]],
  ]);
  assert.equal(b.failure, 'workers ended 3 times in 1500ms (2 restarts allowed); last: worker 0 exited 1');
  assert.deepEqual(workerStates(b), ['failed', 'failed']);
});
