// The supervisor machine's ABI through the facade: names from the wasm, configs refused, bad input ignored. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';
import { actionKinds, type MachineConfig } from '../../src/core/supervisor-machine.js';
import { ARM, CANCEL, EXIT, KILL, READY, SIG, SPAWN, TERM, exited, killed, make, pids, play, startReady } from './supervisor-scenario.js';

test('every action kind the wasm emits is one the facade decodes, named by the wasm', () => {
  assert.deepEqual(
    [...actionKinds()].sort(),
    [
      'arm-timer',
      'cancel-timer',
      'escalate',
      'exit',
      'give-up',
      'ready',
      'reaped',
      'reload-failed',
      'reloaded',
      'signal',
      'signal-leftovers',
      'spawn',
      'start-failed',
    ].sort(),
  );
  assert.equal(planner.actionName(planner.A_SPAWN.value), 'spawn');
  assert.equal(planner.supStateName(planner.SUP_STOPPING.value), 'stopping');
  assert.equal(planner.workerStateName(planner.WORKER_BACKOFF.value), 'backoff');
  assert.equal(planner.giveUpReasonName(planner.GIVE_UP_CRASH_LOOP.value), 'crash-loop');
  assert.equal(planner.restartCode('never'), planner.RESTART_NEVER.value);
  assert.equal(planner.restartCode('sometimes'), -1);
  assert.equal(planner.reloadModeCode('signal'), planner.RELOAD_SIGNAL.value);
});

test('the machine refuses out-of-range configs and unknown names', () => {
  const bad: Partial<MachineConfig>[] = [
    { workers: 0 },
    { workers: 65537 },
    { restart: 'sometimes' as 'never' },
    { backoffMinMs: -1 },
    { backoffMinMs: 10, backoffMaxMs: 5 },
    { minUptimeMs: -1 },
    { maxRestarts: -2 },
    { restartWindowMs: -1 },
    { startMs: -2 },
    { readyTimeoutMs: -1 },
    { reload: 'sometimes' as 'signal' },
    { stopSchedule: [15] },
    { stopSchedule: [0, -1, 15, 1000] },
  ];
  for (const over of bad) assert.throws(() => make(over), RangeError, JSON.stringify(over));
});

test('stale timers, unknown pids, events after the exit and bad handles are ignored', () => {
  const h = make({ workers: 2 });
  play(h, [
    [0, ['exited', 100, 0], []],
    [0, ['timer', 1], []],
    [0, ['spawned', 0, 100], []],
    [0, ['reload'], []],
  ]);
  startReady(h, 2);
  play(h, [
    [2000, ['exited', 999, exited(1)], []],
    [2000, ['ready', 999], []],
    [2000, ['timer', 999], []],
    [2000, ['timer', 0], []],
    [2000, ['timer', -5], []],
    [2000, ['timer', 1], []],
    [2000, ['spawned', 0, 555], []],
    [2000, ['spawned', 7, 555], []],
    [2000, ['spawnFailed', 1, 2], []],
    [2000, ['spawnFailed', -1, 2], []],
    [2000, ['ready', 100], []],
    [3000, ['exited', 100, killed(KILL)], [ARM(3, 100)]],
    [3001, ['exited', 100, killed(KILL)], []],
    [3100, ['timer', 3], [SPAWN(0)]],
    [3100, ['timer', 3], []],
    [3101, ['spawned', 0, 101], []], // 101 is task 1's pid: a duplicate, ignored
    [3102, ['spawned', 0, 200], [ARM(4, 1000)]],
    [3103, ['spawned', 0, 201], []],
  ]);
  assert.deepEqual(pids(h), [200, 101]);
  play(h, [
    [4000, ['stop'], [CANCEL(4), SIG(200, TERM), SIG(101, TERM), ARM(5, 10000)]],
    [4001, ['exited', 200, 9], []],
    [4002, ['exited', 101, 9], [CANCEL(5), EXIT(0)]],
    [4003, ['start'], []],
    [4004, ['reload'], []],
    [4005, ['stop'], []],
    [4006, ['timer', 5], []],
    [4007, ['exited', 101, 9], []],
  ]);
  h.destroy();
  assert.deepEqual(h.stop(0), []);
  assert.deepEqual(h.start(0), []);
  assert.deepEqual(h.exited(0, 101, 0), []);
  assert.deepEqual(h.timer(0, 1), []);
  assert.deepEqual(pids(h), []);
  assert.equal(h.failure, null);
});

test('machines are independent', () => {
  const a = make({ workers: 1 });
  const b = make({ workers: 1 });
  play(a, [
    [0, ['start'], [SPAWN(0)]],
    [0, ['spawned', 0, 100], [ARM(1, 1000)]],
  ]);
  play(b, [
    [0, ['start'], [SPAWN(0)]],
    [0, ['spawned', 0, 100], [ARM(1, 1000)]],
  ]);
  play(a, [[1000, ['timer', 1], [READY]]]);
  assert.equal(a.state, 'running');
  assert.equal(b.state, 'starting');
  a.destroy();
  play(b, [[1000, ['timer', 1], [READY]]]);
  b.destroy();
});
