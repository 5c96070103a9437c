// Readiness from workers (--ready notify or a probe: startMs -1, ready only on the ready event) and liveness (the
// unhealthy event), through the facade on a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWhenReady, type Action, type SupervisorMachine } from '../../src/core/supervisor-machine.js';
import {
  ARM,
  CANCEL,
  EXIT,
  GAVE_UP,
  READY,
  RELOAD_FAILED,
  RELOADED,
  SIG,
  SPAWN,
  TERM,
  exited,
  killed,
  make,
  pids,
  play,
  workerPids,
  workerStates,
} from './supervisor-scenario.js';

const READY_TIMEOUT = 5000;
const byEvent = (over = {}) => make({ workers: 2, startMs: startWhenReady(), readyTimeoutMs: READY_TIMEOUT, ...over });

/** Two workers (pids 100, 101) spawned at t=0, each with its ready timeout armed (timers 1, 2), none ready yet. */
function spawnTwo(h: SupervisorMachine): void {
  play(h, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, READY_TIMEOUT)]],
    [1, ['spawned', 1, 101], [ARM(2, READY_TIMEOUT)]],
  ]);
}

function unhealthy(h: SupervisorMachine, t: number, pid: number, want: Action[]): void {
  assert.deepEqual(h.unhealthy(t, pid), want, `unhealthy ${pid} at t=${t}`);
}

test('ready by event: a worker is running only once it is ready, and the start is ready when all N are', () => {
  const h = byEvent();
  spawnTwo(h);
  // Time alone makes nobody ready (no start timer in this mode).
  assert.deepEqual(workerStates(h), ['starting', 'starting']);
  play(h, [
    [300, ['ready', 101], [CANCEL(2)]],
    [301, ['ready', 101], []],
    [302, ['ready', 999], []],
  ]);
  assert.deepEqual(workerStates(h), ['starting', 'running']);
  assert.equal(h.state, 'starting');
  play(h, [[900, ['ready', 100], [CANCEL(1), READY]]]);
  assert.equal(h.state, 'running');
  assert.deepEqual(workerStates(h), ['running', 'running']);
  // A late timer of a ready worker is nothing.
  play(h, [[READY_TIMEOUT + 1, ['timer', 1], []]]);
  h.destroy();
});

test('ready by event: a worker never ready fails the start after the ready timeout, naming it', () => {
  const h = byEvent();
  spawnTwo(h);
  play(h, [
    [200, ['ready', 100], [CANCEL(1)]],
    [READY_TIMEOUT + 1, ['timer', 2], [GAVE_UP('ready-timeout'), SIG(100, TERM), SIG(101, TERM), ARM(3, 10000)]],
    [READY_TIMEOUT + 50, ['exited', 100, killed(TERM)], []],
    [READY_TIMEOUT + 60, ['exited', 101, killed(TERM)], [CANCEL(3), EXIT(1)]],
  ]);
  assert.equal(h.state, 'failed');
  assert.equal(h.failure, 'worker 1 was not ready within 5s');
  assert.equal(h.worker(1).state, 'failed');
  h.destroy();
});

test('ready by event: a worker that dies before it is ready fails the start with its own exit', () => {
  const h = byEvent();
  spawnTwo(h);
  play(h, [
    [
      100,
      ['exited', 101, exited(3)],
      [CANCEL(2), { kind: 'start-failed', task: 1, status: exited(3), pid: 101 }, CANCEL(1), SIG(100, TERM), ARM(3, 10000)],
    ],
  ]);
  assert.equal(h.failure, 'worker 1 exited 3 before it was ready');
  h.destroy();
});

test('rolling reload by event: the old worker keeps serving until its replacement is ready', () => {
  const h = byEvent();
  spawnTwo(h);
  play(h, [
    [10, ['ready', 100], [CANCEL(1)]],
    [10, ['ready', 101], [CANCEL(2), READY]],
    [1000, ['reload'], [SPAWN(0)]],
    [1001, ['spawned', 0, 200], [ARM(3, READY_TIMEOUT)]],
  ]);
  // However long the replacement takes within the timeout, nobody is signalled and task 0 is still pid 100.
  assert.deepEqual(pids(h), [100, 200, 101]);
  assert.equal(h.worker(0).pid, 100);
  play(h, [
    [4000, ['ready', 200], [CANCEL(3), SIG(100, TERM), ARM(4, 10000)]],
    [4010, ['exited', 100, killed(TERM)], [CANCEL(4), SPAWN(1)]],
    [4011, ['spawned', 1, 201], [ARM(5, READY_TIMEOUT)]],
    [4500, ['ready', 201], [CANCEL(5), SIG(101, TERM), ARM(6, 10000)]],
    [4510, ['exited', 101, exited(0)], [CANCEL(6), RELOADED]],
  ]);
  assert.deepEqual(workerPids(h), [200, 201]);
  assert.deepEqual(workerStates(h), ['running', 'running']);
  h.destroy();
});

test('rolling reload by event: a replacement never ready is retired, the old worker stays', () => {
  const h = byEvent({ workers: 1 });
  play(h, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], [ARM(1, READY_TIMEOUT)]],
    [2, ['ready', 100], [CANCEL(1), READY]],
    [1000, ['reload'], [SPAWN(0)]],
    [1001, ['spawned', 0, 200], [ARM(2, READY_TIMEOUT)]],
    [1001 + READY_TIMEOUT, ['timer', 2], [RELOAD_FAILED(0, null), SIG(200, TERM), ARM(3, 10000)]],
    [1001 + READY_TIMEOUT + 5, ['exited', 200, killed(TERM)], [CANCEL(3)]],
  ]);
  assert.deepEqual(workerPids(h), [100]);
  assert.deepEqual(workerStates(h), ['running']);
  assert.equal(h.state, 'running');
  h.destroy();
});

test('unhealthy: a ready worker is stopped with the schedule and restarted as a crash, even with restart on-failure', () => {
  const h = byEvent();
  spawnTwo(h);
  // Before the start is ready, liveness is not the machine's concern: the ready timeout is.
  play(h, [[10, ['ready', 100], [CANCEL(1)]]]);
  unhealthy(h, 11, 100, []);
  play(h, [[12, ['ready', 101], [CANCEL(2), READY]]]);
  unhealthy(h, 20, 999, []);
  unhealthy(h, 5000, 100, [SIG(100, TERM), ARM(3, 10000)]);
  assert.deepEqual(workerStates(h), ['stopping', 'running']);
  // A second report while it is being stopped changes nothing.
  unhealthy(h, 5001, 100, []);
  // It exits 0 on SIGTERM, as a server does: still a failure, since it was unhealthy.
  play(h, [
    [5100, ['exited', 100, exited(0)], [CANCEL(3), ARM(4, 100)]],
    [5200, ['timer', 4], [SPAWN(0)]],
    [5201, ['spawned', 0, 300], [ARM(5, READY_TIMEOUT)]],
    [5300, ['ready', 300], [CANCEL(5)]],
  ]);
  assert.deepEqual(workerPids(h), [300, 101]);
  assert.deepEqual(workerStates(h), ['running', 'running']);
  assert.equal(h.worker(0).restarts, 1);
  assert.equal(h.worker(0).lastExit, 'exited 0');
  h.destroy();
});

test('unhealthy: a worker not ready yet (restarting) or during a stop is left to the ready timeout and the stop', () => {
  const h = byEvent({ workers: 1 });
  play(h, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], [ARM(1, READY_TIMEOUT)]],
    [2, ['ready', 100], [CANCEL(1), READY]],
    [100, ['exited', 100, killed(9)], [ARM(2, 100)]],
    [200, ['timer', 2], [SPAWN(0)]],
    [201, ['spawned', 0, 101], [ARM(3, READY_TIMEOUT)]],
  ]);
  unhealthy(h, 300, 101, []);
  play(h, [
    [400, ['ready', 101], [CANCEL(3)]],
    [500, ['stop'], [SIG(101, TERM), ARM(4, 10000)]],
  ]);
  unhealthy(h, 600, 101, []);
  h.destroy();
});
