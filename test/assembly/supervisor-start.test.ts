// Starting: workers spawned and ready (after startMs or when they say so), or the start failing. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARM,
  CANCEL,
  EXIT,
  GAVE_UP,
  READY,
  SIG,
  SPAWN,
  START_FAILED,
  TERM,
  exited,
  killed,
  make,
  pids,
  play,
  workerPids,
  workerStates,
} from './supervisor-scenario.js';

test('start: 3 workers spawned, each ready after startMs, A_READY once', () => {
  const h = make();
  assert.equal(h.state, 'starting');
  play(h, [
    [0, ['start'], [SPAWN(0), SPAWN(1), SPAWN(2)]],
    [0, ['start'], []],
    [2, ['spawned', 0, 100], [ARM(1, 1000)]],
    [3, ['spawned', 1, 101], [ARM(2, 1000)]],
    [4, ['spawned', 2, 102], [ARM(3, 1000)]],
  ]);
  assert.deepEqual(workerStates(h), ['starting', 'starting', 'starting']);
  play(h, [
    [1002, ['timer', 1], []],
    [1003, ['timer', 2], []],
    [1004, ['timer', 3], [READY]],
    [1005, ['timer', 3], []],
  ]);
  assert.equal(h.state, 'running');
  assert.deepEqual(workerPids(h), [100, 101, 102]);
  assert.deepEqual(pids(h), [100, 101, 102]);
  assert.deepEqual(workerStates(h), ['running', 'running', 'running']);
  assert.equal(h.worker(1).startedAt, 3);
  assert.equal(h.worker(1).lastStatus, null);
  assert.equal(h.worker(1).restarts, 0);
  h.destroy();
});

test('start failure: a worker dying before the first A_READY fails the start and stops the others', () => {
  const h = make();
  play(h, [
    [0, ['start'], [SPAWN(0), SPAWN(1), SPAWN(2)]],
    [1, ['spawned', 0, 100], [ARM(1, 1000)]],
    [1, ['spawned', 1, 101], [ARM(2, 1000)]],
    [1, ['spawned', 2, 102], [ARM(3, 1000)]],
    [
      500,
      ['exited', 101, exited(1)],
      [CANCEL(2), START_FAILED(1, exited(1), 101), CANCEL(1), CANCEL(3), SIG(100, TERM), SIG(102, TERM), ARM(4, 10000)],
    ],
    [1001, ['timer', 1], []],
    [1002, ['exited', 100, killed(TERM)], []],
    [1003, ['exited', 102, killed(TERM)], [CANCEL(4), EXIT(1)]],
  ]);
  assert.equal(h.state, 'failed');
  assert.equal(h.failure, 'worker 1 exited 1 before it was ready');
  assert.deepEqual(workerStates(h), ['exited', 'failed', 'exited']);

  const g = make({ workers: 2 });
  play(g, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    // worker 1's spawn is still pending: the stop timer runs, the worker gets the signal once it exists
    [1, ['spawnFailed', 0, 2], [START_FAILED(0, exited(127), null), ARM(1, 10000)]],
    [1, ['spawned', 1, 101], [SIG(101, TERM)]],
    [2, ['exited', 101, killed(TERM)], [CANCEL(1), EXIT(1)]],
  ]);
  assert.equal(g.failure, 'worker 0 could not be spawned (errno 2)');

  // A clean exit before readiness fails the start too, even for a worker that was already ready.
  const c = make({ workers: 2 });
  play(c, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, 1000)]],
    [1, ['spawned', 1, 101], [ARM(2, 1000)]],
    [1001, ['timer', 1], []],
    [1002, ['exited', 100, exited(0)], [START_FAILED(0, 0, 100), CANCEL(2), SIG(101, TERM), ARM(3, 10000)]],
    [1003, ['exited', 101, exited(0)], [CANCEL(3), EXIT(1)]],
  ]);
});

test('ready-event mode: supReady makes a worker ready; readyTimeout gives up with reason 3', () => {
  const ok = make({ workers: 2, startMs: -1, readyTimeoutMs: 30000 });
  play(ok, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, 30000)]],
    [1, ['spawned', 1, 101], [ARM(2, 30000)]],
    [50, ['ready', 100], [CANCEL(1)]],
    [60, ['ready', 100], []],
    [70, ['ready', 101], [CANCEL(2), READY]],
    [30001, ['timer', 1], []],
  ]);
  assert.equal(ok.state, 'running');

  const late = make({ workers: 2, startMs: -1, readyTimeoutMs: 30000 });
  play(late, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, 30000)]],
    [1, ['spawned', 1, 101], [ARM(2, 30000)]],
    [50, ['ready', 100], [CANCEL(1)]],
    [30001, ['timer', 2], [GAVE_UP('ready-timeout'), SIG(100, TERM), SIG(101, TERM), ARM(3, 10000)]],
    [30002, ['ready', 101], []],
    [30003, ['exited', 100, exited(0)], []],
    [30004, ['exited', 101, killed(TERM)], [CANCEL(3), EXIT(1)]],
  ]);
  assert.equal(late.state, 'failed');
  assert.equal(late.failure, 'worker 1 was not ready within 30s');

  // Without a readyTimeout a worker may take forever.
  const forever = make({ workers: 1, startMs: -1, readyTimeoutMs: 0 });
  play(forever, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], []],
    [99999999, ['ready', 100], [READY]],
  ]);
});

test('a reload asked before the first A_READY runs right after it', () => {
  const h = make({ workers: 2 });
  play(h, [
    [0, ['reload'], []],
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, 1000)]],
    [2, ['reload'], []],
    [3, ['spawned', 1, 101], [ARM(2, 1000)]],
    [1001, ['timer', 1], []],
    [1003, ['timer', 2], [READY, SPAWN(0)]],
  ]);
  assert.equal(h.state, 'reloading');
});
