// Restarts: backoff, its floor for failed spawns, and the restart policy on clean exits. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARM,
  CANCEL,
  EXIT,
  KILL,
  READY,
  RELOAD_FAILED,
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
  workerPids,
  workerStates,
} from './supervisor-scenario.js';

test('kill -9 of a worker: restarted with the same task id after backoffMin', () => {
  const h = make();
  startReady(h, 3);
  play(h, [[5000, ['exited', 101, killed(KILL)], [ARM(4, 100)]]]);
  assert.equal(h.worker(1).state, 'backoff');
  assert.equal(h.worker(1).pid, null);
  assert.equal(h.worker(1).lastStatus, killed(KILL));
  assert.equal(h.worker(1).restarts, 1);
  assert.deepEqual(pids(h), [100, 102]);
  play(h, [
    [5100, ['timer', 4], [SPAWN(1)]],
    [5101, ['spawned', 1, 201], [ARM(5, 1000)]],
    [6101, ['timer', 5], []],
  ]);
  assert.deepEqual(workerPids(h), [100, 201, 102]);
  assert.equal(h.worker(1).state, 'running');
  assert.equal(h.worker(1).startedAt, 5101);
  assert.equal(h.state, 'running');
});

test('backoff doubles to backoffMax and resets after minUptime', () => {
  const h = make({ workers: 1, backoffMinMs: 100, backoffMaxMs: 500, minUptimeMs: 10000, maxRestarts: -1 });
  startReady(h, 1);
  play(h, [
    [2000, ['exited', 100, exited(1)], [ARM(2, 100)]],
    [2100, ['timer', 2], [SPAWN(0)]],
    [2100, ['spawned', 0, 11], [ARM(3, 1000)]],
    [2200, ['exited', 11, exited(1)], [CANCEL(3), ARM(4, 200)]],
    [2400, ['timer', 4], [SPAWN(0)]],
    [2400, ['spawned', 0, 12], [ARM(5, 1000)]],
    [2500, ['exited', 12, killed(SEGV)], [CANCEL(5), ARM(6, 400)]],
    [2900, ['timer', 6], [SPAWN(0)]],
    [2900, ['spawned', 0, 13], [ARM(7, 1000)]],
    [3900, ['timer', 7], []],
    [4000, ['exited', 13, exited(2)], [ARM(8, 500)]],
    [4500, ['timer', 8], [SPAWN(0)]],
    [4500, ['spawned', 0, 14], [ARM(9, 1000)]],
    [4600, ['exited', 14, exited(2)], [CANCEL(9), ARM(10, 500)]],
    [5100, ['timer', 10], [SPAWN(0)]],
    [5100, ['spawned', 0, 15], [ARM(11, 1000)]],
    [6100, ['timer', 11], []],
    // up 10 s (>= minUptime): the next crash starts again at backoffMin
    [15100, ['exited', 15, killed(KILL)], [ARM(12, 100)]],
    [15200, ['timer', 12], [SPAWN(0)]],
    [15200, ['spawned', 0, 16], [ARM(13, 1000)]],
    [15300, ['exited', 16, killed(KILL)], [CANCEL(13), ARM(14, 200)]],
  ]);
  assert.equal(h.worker(0).restarts, 7);
});

test('backoffMin 0: the restart still goes through a 0 ms timer', () => {
  const h = make({ workers: 1, backoffMinMs: 0, backoffMaxMs: 0 });
  startReady(h, 1);
  play(h, [
    [2000, ['exited', 100, exited(1)], [ARM(2, 0)]],
    [2000, ['timer', 2], [SPAWN(0)]],
  ]);
});

test('a worker that could not be spawned waits at least 100 ms, even with backoffMin 0', () => {
  const h = make({ workers: 1, backoffMinMs: 0, backoffMaxMs: 0, maxRestarts: -1 });
  startReady(h, 1);
  const EMFILE = 24;
  play(h, [
    [2000, ['exited', 100, killed(KILL)], [ARM(2, 0)]],
    [2000, ['timer', 2], [SPAWN(0)]],
    [2000, ['spawnFailed', 0, EMFILE], [ARM(3, 100)]],
    [2100, ['timer', 3], [SPAWN(0)]],
    [2100, ['spawned', 0, 11], [ARM(4, 1000)]],
  ]);
  assert.equal(h.worker(0).lastStatus, exited(126));
});

test('clean exits: not restarted on-failure, restarted with always, nothing restarted with never', () => {
  const onFailure = make({ workers: 2 });
  startReady(onFailure, 2);
  play(onFailure, [[5000, ['exited', 100, exited(0)], []]]);
  assert.deepEqual(workerStates(onFailure), ['exited', 'running']);
  assert.equal(onFailure.state, 'running');
  play(onFailure, [[6000, ['exited', 101, exited(0)], [EXIT(0)]]]);
  assert.equal(onFailure.state, 'exited');
  assert.equal(onFailure.exitCode, 0);
  assert.equal(onFailure.failure, null);

  const always = make({ workers: 2, restart: 'always' });
  startReady(always, 2);
  play(always, [
    [5000, ['exited', 100, exited(0)], [ARM(3, 100)]],
    [5100, ['timer', 3], [SPAWN(0)]],
  ]);
  assert.equal(always.worker(0).restarts, 1);

  const never = make({ workers: 2, restart: 'never' });
  startReady(never, 2);
  play(never, [
    [5000, ['exited', 100, killed(KILL)], []],
    [6000, ['exited', 101, exited(0)], [EXIT(1)]],
  ]);
  assert.deepEqual(workerStates(never), ['failed', 'exited']);
  assert.equal(never.state, 'exited');
  assert.equal(never.failure, 'worker 0 killed by SIGKILL and was not restarted');
});

test('ready-event mode after A_READY: a restarted worker not ready in time is stopped and counted as a crash', () => {
  const h = make({ workers: 1, startMs: -1, readyTimeoutMs: 5000 });
  play(h, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], [ARM(1, 5000)]],
    [2, ['ready', 100], [CANCEL(1), READY]],
    [1000, ['exited', 100, exited(1)], [ARM(2, 100)]],
    [1100, ['timer', 2], [SPAWN(0)]],
    [1100, ['spawned', 0, 101], [ARM(3, 5000)]],
    [6100, ['timer', 3], [SIG(101, TERM), ARM(4, 10000)]],
    [6101, ['ready', 101], []],
    // it handles TERM and exits 0, still a failure: restarted
    [6200, ['exited', 101, exited(0)], [CANCEL(4), ARM(5, 200)]],
  ]);
  assert.equal(h.worker(0).restarts, 2);
  assert.equal(h.worker(0).state, 'backoff');

  // A reload replacement that is not ready in time: A_RELOAD_FAILED(-1) and it is stopped; the old one stays.
  const r = make({ workers: 1, startMs: -1, readyTimeoutMs: 5000 });
  play(r, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], [ARM(1, 5000)]],
    [2, ['ready', 100], [CANCEL(1), READY]],
    [10, ['reload'], [SPAWN(0)]],
    [11, ['spawned', 0, 200], [ARM(2, 5000)]],
    [5011, ['timer', 2], [RELOAD_FAILED(0, null), SIG(200, TERM), ARM(3, 10000)]],
    [5012, ['ready', 200], []],
    [5100, ['exited', 200, killed(TERM)], [CANCEL(3)]],
  ]);
  assert.equal(r.state, 'running');
  assert.deepEqual(workerPids(r), [100]);
  assert.deepEqual(pids(r), [100]);
});
