// The supervisor state machine in the compiled planner: whole scenarios on a simulated clock (events in, exact
// action lists out), then random event sequences checked against invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';

// ---- actions ----------------------------------------------------------------------------------------------------
type Rec = number[];
const SPAWN = (task: number): Rec => [1, task, 0, 0];
const SIG = (pid: number, signal: number, group = 1): Rec => [2, pid, signal, group];
const ARM = (id: number, ms: number): Rec => [3, id, ms, 0];
const CANCEL = (id: number): Rec => [4, id, 0, 0];
const READY: Rec = [5, 0, 0, 0];
const START_FAILED = (task: number, status: number, pid: number): Rec => [6, task, status, pid];
const GAVE_UP = (reason: number): Rec => [7, reason, 0, 0];
const EXIT = (code: number): Rec => [8, code, 0, 0];
const RELOADED: Rec = [9, 0, 0, 0];
const RELOAD_FAILED = (task: number, status: number): Rec => [10, task, status, 0];

// Raw wait statuses.
const exited = (code: number) => code << 8;
const killed = (signal: number, core = false) => signal | (core ? 0x80 : 0);
const TERM = 15, KILL = 9, HUP = 1, SEGV = 11;

// ---- events -------------------------------------------------------------------------------------------------------
type Ev =
  | ['start'] | ['stop'] | ['reload']
  | ['spawned', number, number] | ['spawnFailed', number, number]
  | ['ready', number] | ['exited', number, number] | ['timer', number];

function fire(h: number, t: number, ev: Ev): Int32Array {
  switch (ev[0]) {
    case 'start': return planner.supStart(h, t);
    case 'stop': return planner.supStop(h, t);
    case 'reload': return planner.supReload(h, t);
    case 'spawned': return planner.supSpawned(h, t, ev[1], ev[2]);
    case 'spawnFailed': return planner.supSpawnFailed(h, t, ev[1], ev[2]);
    case 'ready': return planner.supReady(h, t, ev[1]);
    case 'exited': return planner.supExited(h, t, ev[1], ev[2]);
    case 'timer': return planner.supTimer(h, t, ev[1]);
  }
}

function records(a: Int32Array): Rec[] {
  const out: Rec[] = [];
  for (let i = 0; i < a.length; i += 4) out.push(Array.from(a.subarray(i, i + 4)));
  return out;
}

type Step = [t: number, ev: Ev, want: Rec[]];

function play(h: number, steps: Step[]): void {
  steps.forEach(([t, ev, want], i) => {
    assert.deepEqual(records(fire(h, t, ev)), want, `step ${i}: ${JSON.stringify(ev)} at t=${t}`);
  });
}

interface Config {
  workers: number; restart: number; backoffMin: number; backoffMax: number; minUptime: number;
  maxRestarts: number; window: number; startMs: number; readyTimeout: number; reloadMode: number;
}
const DEFAULTS: Config = {
  workers: 3, restart: 0, backoffMin: 100, backoffMax: 30000, minUptime: 10000,
  maxRestarts: 10, window: 60000, startMs: 1000, readyTimeout: 0, reloadMode: 0,
};

function make(over: Partial<Config> = {}): number {
  const c = { ...DEFAULTS, ...over };
  const h = planner.supCreate(c.workers, c.restart, c.backoffMin, c.backoffMax, c.minUptime, c.maxRestarts, c.window,
    c.startMs, c.readyTimeout, c.reloadMode);
  assert.ok(h > 0, 'supCreate accepted the config');
  return h;
}

// Starts n workers with pids 100.. and lets the 1000 ms start timers (ids 1..n) make them ready at t=1000.
function startReady(h: number, n: number): void {
  const steps: Step[] = [[0, ['start'], Array.from({ length: n }, (_, i) => SPAWN(i))]];
  for (let i = 0; i < n; i++) steps.push([0, ['spawned', i, 100 + i], [ARM(i + 1, 1000)]]);
  for (let i = 0; i < n; i++) steps.push([1000, ['timer', i + 1], i === n - 1 ? [READY] : []]);
  play(h, steps);
}

const pids = (h: number) => Array.from(planner.supPids(h));
const workerPids = (h: number) => Array.from({ length: planner.supWorkers(h) }, (_, i) => planner.supWorkerPid(h, i));
const workerStates = (h: number) => Array.from({ length: planner.supWorkers(h) }, (_, i) => planner.supWorkerState(h, i));

const S = { STARTING: 0, RUNNING: 1, RELOADING: 2, STOPPING: 3, FAILED: 4, EXITED: 5 };
const W = { STARTING: 0, RUNNING: 1, BACKOFF: 2, STOPPING: 3, EXITED: 4, FAILED: 5 };

// ---- scenarios ----------------------------------------------------------------------------------------------------

test('action constants match the compiled planner', () => {
  assert.deepEqual(
    [planner.A_SPAWN.value, planner.A_SIGNAL.value, planner.A_ARM_TIMER.value, planner.A_CANCEL_TIMER.value,
      planner.A_READY.value, planner.A_START_FAILED.value, planner.A_GAVE_UP.value, planner.A_EXIT.value,
      planner.A_RELOADED.value, planner.A_RELOAD_FAILED.value],
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('supCreate rejects out-of-range configs', () => {
  const bad: Partial<Config>[] = [
    { workers: 0 }, { workers: 1025 }, { restart: 3 }, { restart: -1 }, { backoffMin: -1 }, { backoffMin: 10, backoffMax: 5 },
    { minUptime: -1 }, { maxRestarts: -2 }, { window: -1 }, { startMs: -2 }, { readyTimeout: -1 }, { reloadMode: 2 },
  ];
  for (const over of bad) {
    const c = { ...DEFAULTS, ...over };
    assert.equal(planner.supCreate(c.workers, c.restart, c.backoffMin, c.backoffMax, c.minUptime, c.maxRestarts, c.window,
      c.startMs, c.readyTimeout, c.reloadMode), 0, JSON.stringify(over));
  }
});

test('start: 3 workers spawned, each ready after startMs, A_READY once', () => {
  const h = make();
  assert.equal(planner.supState(h), S.STARTING);
  play(h, [
    [0, ['start'], [SPAWN(0), SPAWN(1), SPAWN(2)]],
    [0, ['start'], []],
    [2, ['spawned', 0, 100], [ARM(1, 1000)]],
    [3, ['spawned', 1, 101], [ARM(2, 1000)]],
    [4, ['spawned', 2, 102], [ARM(3, 1000)]],
  ]);
  assert.deepEqual(workerStates(h), [W.STARTING, W.STARTING, W.STARTING]);
  play(h, [
    [1002, ['timer', 1], []],
    [1003, ['timer', 2], []],
    [1004, ['timer', 3], [READY]],
    [1005, ['timer', 3], []],
  ]);
  assert.equal(planner.supState(h), S.RUNNING);
  assert.deepEqual(workerPids(h), [100, 101, 102]);
  assert.deepEqual(pids(h), [100, 101, 102]);
  assert.deepEqual(workerStates(h), [W.RUNNING, W.RUNNING, W.RUNNING]);
  assert.equal(planner.supWorkerStartedAt(h, 1), 3);
  assert.equal(planner.supWorkerLastStatus(h, 1), -1);
  assert.equal(planner.supWorkerRestarts(h, 1), 0);
  planner.supDestroy(h);
});

test('kill -9 of a worker: restarted with the same task id after backoffMin', () => {
  const h = make();
  startReady(h, 3);
  play(h, [[5000, ['exited', 101, killed(KILL)], [ARM(4, 100)]]]);
  assert.equal(planner.supWorkerState(h, 1), W.BACKOFF);
  assert.equal(planner.supWorkerPid(h, 1), 0);
  assert.equal(planner.supWorkerLastStatus(h, 1), killed(KILL));
  assert.equal(planner.supWorkerRestarts(h, 1), 1);
  assert.deepEqual(pids(h), [100, 102]);
  play(h, [
    [5100, ['timer', 4], [SPAWN(1)]],
    [5101, ['spawned', 1, 201], [ARM(5, 1000)]],
    [6101, ['timer', 5], []],
  ]);
  assert.deepEqual(workerPids(h), [100, 201, 102]);
  assert.equal(planner.supWorkerState(h, 1), W.RUNNING);
  assert.equal(planner.supWorkerStartedAt(h, 1), 5101);
  assert.equal(planner.supState(h), S.RUNNING);
});

test('backoff doubles to backoffMax and resets after minUptime', () => {
  const h = make({ workers: 1, backoffMin: 100, backoffMax: 500, minUptime: 10000, maxRestarts: -1 });
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
  assert.equal(planner.supWorkerRestarts(h, 0), 7);
});

test('backoffMin 0: the restart still goes through a 0 ms timer', () => {
  const h = make({ workers: 1, backoffMin: 0, backoffMax: 0 });
  startReady(h, 1);
  play(h, [
    [2000, ['exited', 100, exited(1)], [ARM(2, 0)]],
    [2000, ['timer', 2], [SPAWN(0)]],
  ]);
});

test('a worker that could not be spawned waits at least 100 ms, even with backoffMin 0', () => {
  const h = make({ workers: 1, backoffMin: 0, backoffMax: 0, maxRestarts: -1 });
  startReady(h, 1);
  const EMFILE = 24;
  play(h, [
    [2000, ['exited', 100, killed(KILL)], [ARM(2, 0)]],
    [2000, ['timer', 2], [SPAWN(0)]],
    [2000, ['spawnFailed', 0, EMFILE], [ARM(3, 100)]],
    [2100, ['timer', 3], [SPAWN(0)]],
    [2100, ['spawned', 0, 11], [ARM(4, 1000)]],
  ]);
  assert.equal(planner.supWorkerLastStatus(h, 0), exited(126));
});

test('crash loop: the 11th restart within 60s gives up, stops the others, exits 1 with the reason', () => {
  const h = make({ backoffMin: 100, backoffMax: 800 });
  startReady(h, 3);
  let t = 2000, timer = 4, pid = 102;
  for (let i = 0; i < 10; i++) {
    const delay = Math.min(100 * 2 ** i, 800);
    const readiness = timer - 1;
    play(h, [
      [t, ['exited', pid, exited(3)], i === 0 ? [ARM(timer, delay)] : [CANCEL(readiness), ARM(timer, delay)]],
      [t + delay, ['timer', timer], [SPAWN(2)]],
      [t + delay, ['spawned', 2, pid + 1], [ARM(timer + 1, 1000)]],
    ]);
    assert.equal(planner.supWorkerRestarts(h, 2), i + 1);
    t += delay + 100; timer += 2; pid += 1;
  }
  play(h, [
    [t, ['exited', pid, exited(3)], [CANCEL(timer - 1), GAVE_UP(1), SIG(100, TERM), SIG(101, TERM), ARM(timer, 10000)]],
  ]);
  assert.ok(t < 60000);
  assert.equal(planner.supState(h), S.FAILED);
  assert.equal(planner.supFailureReason(h), 'worker 2 restarted 11 times in 60s; last: exited 3');
  assert.deepEqual(workerStates(h), [W.STOPPING, W.STOPPING, W.FAILED]);
  play(h, [
    [t + 10, ['stop'], []],
    [t + 10, ['reload'], []],
    [t + 20, ['exited', 100, killed(TERM)], []],
    [t + 30, ['exited', 101, exited(0)], [CANCEL(timer), EXIT(1)]],
    [t + 40, ['timer', timer], []],
  ]);
  assert.equal(planner.supState(h), S.FAILED);
  assert.equal(planner.supExitCode(h), 1);
  assert.deepEqual(workerStates(h), [W.EXITED, W.EXITED, W.FAILED]);
  assert.deepEqual(pids(h), []);
});

test('crash loop: the window slides, restarts are counted service-wide, the reason says so', () => {
  const a = make({ workers: 1, maxRestarts: 1, window: 10000 });
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
    [13000, ['exited', 102, killed(SEGV, true)], [CANCEL(5), GAVE_UP(1), EXIT(1)]],
  ]);
  assert.equal(planner.supFailureReason(a), 'worker 0 restarted 2 times in 10s; last: killed by SIGSEGV (core dumped)');
  assert.equal(planner.supState(a), S.FAILED);

  const b = make({ workers: 2, maxRestarts: 2, window: 1500 });
  startReady(b, 2);
  play(b, [
    [2000, ['exited', 100, exited(1)], [ARM(3, 100)]],
    [2100, ['exited', 101, killed(KILL)], [ARM(4, 100)]],
    [2100, ['timer', 3], [SPAWN(0)]],
    [2100, ['spawned', 0, 200], [ARM(5, 1000)]],
    [2200, ['exited', 200, exited(1)], [CANCEL(5), GAVE_UP(1), CANCEL(4), EXIT(1)]],
  ]);
  assert.equal(planner.supFailureReason(b), 'workers restarted 3 times in 1500ms; last: worker 0 exited 1');
  assert.deepEqual(workerStates(b), [W.FAILED, W.FAILED]);
});

test('clean exits: not restarted on-failure, restarted with always, nothing restarted with never', () => {
  const onFailure = make({ workers: 2 });
  startReady(onFailure, 2);
  play(onFailure, [[5000, ['exited', 100, exited(0)], []]]);
  assert.deepEqual(workerStates(onFailure), [W.EXITED, W.RUNNING]);
  assert.equal(planner.supState(onFailure), S.RUNNING);
  play(onFailure, [[6000, ['exited', 101, exited(0)], [EXIT(0)]]]);
  assert.equal(planner.supState(onFailure), S.EXITED);
  assert.equal(planner.supExitCode(onFailure), 0);
  assert.equal(planner.supFailureReason(onFailure), '');

  const always = make({ workers: 2, restart: 1 });
  startReady(always, 2);
  play(always, [
    [5000, ['exited', 100, exited(0)], [ARM(3, 100)]],
    [5100, ['timer', 3], [SPAWN(0)]],
  ]);
  assert.equal(planner.supWorkerRestarts(always, 0), 1);

  const never = make({ workers: 2, restart: 2 });
  startReady(never, 2);
  play(never, [
    [5000, ['exited', 100, killed(KILL)], []],
    [6000, ['exited', 101, exited(0)], [EXIT(1)]],
  ]);
  assert.deepEqual(workerStates(never), [W.FAILED, W.EXITED]);
  assert.equal(planner.supState(never), S.EXITED);
  assert.equal(planner.supFailureReason(never), 'worker 0 killed by SIGKILL and was not restarted');
});

test('stop: TERM to every group, KILL for a worker that ignores TERM, exit 0 when the last one is gone', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [[10000, ['stop'], [SIG(100, TERM), SIG(101, TERM), ARM(3, 10000)]]]);
  assert.equal(planner.supState(h), S.STOPPING);
  assert.deepEqual(workerStates(h), [W.STOPPING, W.STOPPING]);
  play(h, [
    [10000, ['stop'], []],
    [10050, ['exited', 100, killed(TERM)], []],
    [20000, ['timer', 3], [SIG(101, KILL), ARM(4, 5000)]],
    [20001, ['exited', 101, killed(KILL)], [CANCEL(4), EXIT(0)]],
    [25000, ['timer', 4], []],
    [25000, ['stop'], []],
  ]);
  assert.equal(planner.supState(h), S.EXITED);
  assert.deepEqual(workerStates(h), [W.EXITED, W.EXITED]);
  assert.equal(planner.supWorkerLastStatus(h, 1), killed(KILL));
});

test('stop: a schedule that runs out gives up with reason 2 and exit 2; forever repeats its step', () => {
  const h = make({ workers: 1 });
  assert.equal(planner.supSetStopSchedule(h, Int32Array.from([15, 1000])), 1);
  assert.equal(planner.supSetStopSchedule(h, Int32Array.from([15])), 0);
  assert.equal(planner.supSetStopSchedule(h, Int32Array.from([0, -1, 15, 1000])), 0);
  startReady(h, 1);
  play(h, [
    [5000, ['stop'], [SIG(100, TERM), ARM(2, 1000)]],
    [6000, ['timer', 2], [GAVE_UP(2), EXIT(2)]],
    [7000, ['exited', 100, killed(KILL)], []],
  ]);
  assert.equal(planner.supSetStopSchedule(h, Int32Array.from([15, 1000, 9, 1000])), 0, 'no new schedule after the exit');
  assert.equal(planner.supFailureReason(h), 'stop schedule TERM/1 ran out with 1 process still alive');
  assert.equal(planner.supExitCode(h), 2);
  assert.equal(planner.supState(h), S.EXITED);
  assert.deepEqual(pids(h), []);

  const f = make({ workers: 1 });
  assert.equal(planner.supSetStopSchedule(f, planner.parseStopSchedule('INT/1/TERM/2/forever')), 1);
  startReady(f, 1);
  play(f, [
    [5000, ['stop'], [SIG(100, 2), ARM(2, 1000)]],
    [6000, ['timer', 2], [SIG(100, TERM), ARM(3, 2000)]],
    [8000, ['timer', 3], [SIG(100, TERM), ARM(4, 2000)]],
    [10000, ['timer', 4], [SIG(100, TERM), ARM(5, 2000)]],
    [11000, ['exited', 100, exited(0)], [CANCEL(5), EXIT(0)]],
  ]);
});

test('stop during backoff: the restart timer is cancelled, nothing respawns', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['exited', 101, killed(KILL)], [ARM(3, 100)]],
    [5050, ['stop'], [CANCEL(3), SIG(100, TERM), ARM(4, 10000)]],
    [5100, ['timer', 3], []],
    [5200, ['exited', 100, killed(TERM)], [CANCEL(4), EXIT(0)]],
  ]);
  assert.deepEqual(workerStates(h), [W.EXITED, W.FAILED]);

  const only = make({ workers: 1 });
  startReady(only, 1);
  play(only, [
    [5000, ['exited', 100, exited(4)], [ARM(2, 100)]],
    [5050, ['stop'], [CANCEL(2), EXIT(0)]],
    [5100, ['timer', 2], []],
  ]);
});

test('stop while spawns are pending and before start', () => {
  const h = make({ workers: 2 });
  play(h, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['stop'], [ARM(1, 10000)]],
    [2, ['spawned', 0, 100], [SIG(100, TERM)]],
    [3, ['spawnFailed', 1, 11], []],
    [4, ['ready', 100], []],
    [5, ['exited', 100, killed(TERM)], [CANCEL(1), EXIT(0)]],
  ]);
  const never = make({ workers: 2 });
  play(never, [
    [0, ['stop'], [EXIT(0)]],
    [1, ['start'], []],
  ]);
  assert.equal(planner.supState(never), S.EXITED);
});

test('rolling reload replaces every pid one at a time, waiting for readiness before stopping the old one', () => {
  const h = make();
  startReady(h, 3);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(4, 1000)]],
  ]);
  assert.equal(planner.supState(h), S.RELOADING);
  assert.deepEqual(pids(h), [100, 200, 101, 102]);
  assert.equal(planner.supWorkerPid(h, 0), 100);
  play(h, [[6001, ['timer', 4], [SIG(100, TERM), ARM(5, 10000)]]]);
  assert.equal(planner.supWorkerPid(h, 0), 200);
  assert.equal(planner.supWorkerStartedAt(h, 0), 5001);
  play(h, [
    [6100, ['exited', 100, killed(TERM)], [CANCEL(5), SPAWN(1)]],
    [6101, ['spawned', 1, 201], [ARM(6, 1000)]],
    [7101, ['timer', 6], [SIG(101, TERM), ARM(7, 10000)]],
    // the old worker ignores TERM: the schedule escalates before the reload moves on
    [17101, ['timer', 7], [SIG(101, KILL), ARM(8, 5000)]],
    [17102, ['exited', 101, killed(KILL)], [CANCEL(8), SPAWN(2)]],
    [17103, ['spawned', 2, 202], [ARM(9, 1000)]],
    [18103, ['timer', 9], [SIG(102, TERM), ARM(10, 10000)]],
    [18200, ['exited', 102, exited(0)], [CANCEL(10), RELOADED]],
  ]);
  assert.equal(planner.supState(h), S.RUNNING);
  assert.deepEqual(workerPids(h), [200, 201, 202]);
  assert.deepEqual(pids(h), [200, 201, 202]);
  assert.deepEqual(workerStates(h), [W.RUNNING, W.RUNNING, W.RUNNING]);
  assert.deepEqual([0, 1, 2].map((i) => planner.supWorkerRestarts(h, i)), [0, 0, 0]);
});

test('reload during a crash: the worker in backoff is respawned by its own timer, not replaced twice', () => {
  const h = make();
  startReady(h, 3);
  play(h, [
    [5000, ['exited', 101, killed(SEGV)], [ARM(4, 100)]],
    [5010, ['reload'], [SPAWN(0)]],
    [5020, ['spawned', 0, 200], [ARM(5, 1000)]],
    [5100, ['timer', 4], [SPAWN(1)]],
    [5101, ['spawned', 1, 201], [ARM(6, 1000)]],
    [6020, ['timer', 5], [SIG(100, TERM), ARM(7, 10000)]],
    [6030, ['exited', 100, killed(TERM)], [CANCEL(7), SPAWN(2)]], // task 1 is already new: skipped
    [6040, ['spawned', 2, 202], [ARM(8, 1000)]],
    [6101, ['timer', 6], []],
    [7040, ['timer', 8], [SIG(102, TERM), ARM(9, 10000)]],
    [7050, ['exited', 102, killed(TERM)], [CANCEL(9), RELOADED]],
  ]);
  assert.deepEqual(workerPids(h), [200, 201, 202]);
  assert.equal(planner.supWorkerRestarts(h, 1), 1);
});

test('reload: the old worker dying while its replacement starts hands the task over (no restart)', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(3, 1000)]],
    [5500, ['exited', 100, killed(KILL)], []],
  ]);
  assert.equal(planner.supWorkerPid(h, 0), 200);
  assert.equal(planner.supWorkerState(h, 0), W.STARTING);
  assert.equal(planner.supWorkerRestarts(h, 0), 0);
  play(h, [
    [6001, ['timer', 3], [SPAWN(1)]],
    [6002, ['spawned', 1, 201], [ARM(4, 1000)]],
    // a worker of another task crashing during the reload is restarted as usual
    [6500, ['exited', 200, exited(1)], [ARM(5, 100)]],
    [6600, ['timer', 5], [SPAWN(0)]],
    [6600, ['spawned', 0, 300], [ARM(6, 1000)]],
    [7002, ['timer', 4], [SIG(101, TERM), ARM(7, 10000)]],
    [7003, ['exited', 101, killed(TERM)], [CANCEL(7), RELOADED]],
  ]);
  assert.deepEqual(workerPids(h), [300, 201]);
});

test('a shorter schedule set while an old worker is being retired: it simply runs out, the reload moves on', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(3, 1000)]],
    [6001, ['timer', 3], [SIG(100, TERM), ARM(4, 10000)]],
    [16001, ['timer', 4], [SIG(100, KILL), ARM(5, 5000)]],
  ]);
  assert.equal(planner.supSetStopSchedule(h, Int32Array.from([15, 1000])), 1);
  play(h, [
    [21001, ['timer', 5], [SPAWN(1)]],
    [21002, ['spawned', 1, 201], [ARM(6, 1000)]],
    [22002, ['timer', 6], [SIG(101, TERM), ARM(7, 1000)]],
    [22003, ['exited', 101, killed(TERM)], [CANCEL(7), RELOADED]],
  ]);
  // the stuck old worker is still tracked, and a stop includes it
  assert.deepEqual(pids(h), [100, 200, 201]);
  play(h, [
    [23000, ['stop'], [SIG(100, TERM), SIG(200, TERM), SIG(201, TERM), ARM(8, 1000)]],
    [23001, ['exited', 100, killed(KILL)], []],
    [23002, ['exited', 200, killed(TERM)], []],
    [23003, ['exited', 201, killed(TERM)], [CANCEL(8), EXIT(0)]],
  ]);
});

test('two reloads at once: coalesced into one more full pass, A_RELOADED once at the end', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['reload'], []],
    [5002, ['spawned', 0, 200], [ARM(3, 1000)]],
    [5003, ['reload'], []],
    [6002, ['timer', 3], [SIG(100, TERM), ARM(4, 10000)]],
    [6003, ['exited', 100, killed(TERM)], [CANCEL(4), SPAWN(1)]],
    [6004, ['spawned', 1, 201], [ARM(5, 1000)]],
    [7004, ['timer', 5], [SIG(101, TERM), ARM(6, 10000)]],
    // first pass over: the second pass starts without A_RELOADED
    [7005, ['exited', 101, killed(TERM)], [CANCEL(6), SPAWN(0)]],
    [7006, ['spawned', 0, 300], [ARM(7, 1000)]],
    [8006, ['timer', 7], [SIG(200, TERM), ARM(8, 10000)]],
    [8007, ['exited', 200, killed(TERM)], [CANCEL(8), SPAWN(1)]],
    [8008, ['spawned', 1, 301], [ARM(9, 1000)]],
    [9008, ['timer', 9], [SIG(201, TERM), ARM(10, 10000)]],
    [9009, ['exited', 201, killed(TERM)], [CANCEL(10), RELOADED]],
    [9010, ['timer', 10], []],
  ]);
  assert.deepEqual(workerPids(h), [300, 301]);
  assert.equal(planner.supState(h), S.RUNNING);
});

test('a replacement failing during reload aborts it: A_RELOAD_FAILED, old workers stay, the coalesced pass is dropped', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(3, 1000)]],
    [6002, ['timer', 3], [SIG(100, TERM), ARM(4, 10000)]],
    [6003, ['exited', 100, killed(TERM)], [CANCEL(4), SPAWN(1)]],
    [6004, ['reload'], []],
    [6005, ['spawned', 1, 201], [ARM(5, 1000)]],
    [6500, ['exited', 201, exited(2)], [CANCEL(5), RELOAD_FAILED(1, exited(2))]],
  ]);
  assert.equal(planner.supState(h), S.RUNNING);
  assert.deepEqual(workerPids(h), [200, 101]);
  assert.equal(planner.supWorkerRestarts(h, 1), 0);
  assert.equal(planner.supWorkerLastStatus(h, 1), -1);
  play(h, [
    [7000, ['reload'], [SPAWN(0)]],
    [7001, ['spawnFailed', 0, 2], [RELOAD_FAILED(0, exited(127))]],
    [7002, ['reload'], [SPAWN(0)]],
    [7003, ['spawnFailed', 0, 13], [RELOAD_FAILED(0, exited(126))]],
  ]);
  assert.deepEqual(workerPids(h), [200, 101]);
  assert.equal(planner.supState(h), S.RUNNING);
});

test('stop during reload: replacement and old workers all get the schedule', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(3, 1000)]],
    [5002, ['stop'], [CANCEL(3), SIG(100, TERM), SIG(200, TERM), SIG(101, TERM), ARM(4, 10000)]],
    [5003, ['timer', 3], []],
    [5004, ['reload'], []],
    [5005, ['exited', 200, killed(TERM)], []],
    [5006, ['exited', 100, killed(TERM)], []],
    [5007, ['exited', 101, killed(TERM)], [CANCEL(4), EXIT(0)]],
  ]);
  const p = make({ workers: 2 });
  startReady(p, 2);
  play(p, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['stop'], [SIG(100, TERM), SIG(101, TERM), ARM(3, 10000)]],
    [5002, ['exited', 100, killed(TERM)], []],
    [5003, ['exited', 101, killed(TERM)], []],
    [5004, ['spawned', 0, 200], [SIG(200, TERM)]],
    [5005, ['exited', 200, killed(TERM)], [CANCEL(3), EXIT(0)]],
  ]);
});

test('reload in signal mode: SIGHUP to every ready worker (not to its group), then A_RELOADED', () => {
  const h = make({ workers: 3, reloadMode: 1 });
  startReady(h, 3);
  play(h, [
    [5000, ['exited', 101, killed(KILL)], [ARM(4, 100)]],
    [5100, ['timer', 4], [SPAWN(1)]],
    [5100, ['spawned', 1, 201], [ARM(5, 1000)]],
    [5200, ['reload'], [SIG(100, HUP, 0), SIG(102, HUP, 0), RELOADED]],
    [6100, ['timer', 5], []],
    [6200, ['reload'], [SIG(100, HUP, 0), SIG(201, HUP, 0), SIG(102, HUP, 0), RELOADED]],
  ]);
  assert.equal(planner.supState(h), S.RUNNING);
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
  assert.equal(planner.supState(h), S.RELOADING);
});

test('start failure: a worker dying before the first A_READY fails the start and stops the others', () => {
  const h = make();
  play(h, [
    [0, ['start'], [SPAWN(0), SPAWN(1), SPAWN(2)]],
    [1, ['spawned', 0, 100], [ARM(1, 1000)]],
    [1, ['spawned', 1, 101], [ARM(2, 1000)]],
    [1, ['spawned', 2, 102], [ARM(3, 1000)]],
    [500, ['exited', 101, exited(1)],
      [CANCEL(2), START_FAILED(1, exited(1), 101), CANCEL(1), CANCEL(3), SIG(100, TERM), SIG(102, TERM), ARM(4, 10000)]],
    [1001, ['timer', 1], []],
    [1002, ['exited', 100, killed(TERM)], []],
    [1003, ['exited', 102, killed(TERM)], [CANCEL(4), EXIT(1)]],
  ]);
  assert.equal(planner.supState(h), S.FAILED);
  assert.equal(planner.supFailureReason(h), 'worker 1 exited 1 before it was ready');
  assert.deepEqual(workerStates(h), [W.EXITED, W.FAILED, W.EXITED]);

  const g = make({ workers: 2 });
  play(g, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    // worker 1's spawn is still pending: the stop timer runs, the worker gets the signal once it exists
    [1, ['spawnFailed', 0, 2], [START_FAILED(0, exited(127), 0), ARM(1, 10000)]],
    [1, ['spawned', 1, 101], [SIG(101, TERM)]],
    [2, ['exited', 101, killed(TERM)], [CANCEL(1), EXIT(1)]],
  ]);
  assert.equal(planner.supFailureReason(g), 'worker 0 could not be spawned (errno 2)');

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
  const ok = make({ workers: 2, startMs: -1, readyTimeout: 30000 });
  play(ok, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, 30000)]],
    [1, ['spawned', 1, 101], [ARM(2, 30000)]],
    [50, ['ready', 100], [CANCEL(1)]],
    [60, ['ready', 100], []],
    [70, ['ready', 101], [CANCEL(2), READY]],
    [30001, ['timer', 1], []],
  ]);
  assert.equal(planner.supState(ok), S.RUNNING);

  const late = make({ workers: 2, startMs: -1, readyTimeout: 30000 });
  play(late, [
    [0, ['start'], [SPAWN(0), SPAWN(1)]],
    [1, ['spawned', 0, 100], [ARM(1, 30000)]],
    [1, ['spawned', 1, 101], [ARM(2, 30000)]],
    [50, ['ready', 100], [CANCEL(1)]],
    [30001, ['timer', 2], [GAVE_UP(3), SIG(100, TERM), SIG(101, TERM), ARM(3, 10000)]],
    [30002, ['ready', 101], []],
    [30003, ['exited', 100, exited(0)], []],
    [30004, ['exited', 101, killed(TERM)], [CANCEL(3), EXIT(1)]],
  ]);
  assert.equal(planner.supState(late), S.FAILED);
  assert.equal(planner.supFailureReason(late), 'worker 1 was not ready within 30s');

  // Without a readyTimeout a worker may take forever.
  const forever = make({ workers: 1, startMs: -1, readyTimeout: 0 });
  play(forever, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], []],
    [99999999, ['ready', 100], [READY]],
  ]);
});

test('ready-event mode after A_READY: a restarted worker not ready in time is stopped and counted as a crash', () => {
  const h = make({ workers: 1, startMs: -1, readyTimeout: 5000 });
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
  assert.equal(planner.supWorkerRestarts(h, 0), 2);
  assert.equal(planner.supWorkerState(h, 0), W.BACKOFF);

  // A reload replacement that is not ready in time: A_RELOAD_FAILED(-1) and it is stopped; the old one stays.
  const r = make({ workers: 1, startMs: -1, readyTimeout: 5000 });
  play(r, [
    [0, ['start'], [SPAWN(0)]],
    [1, ['spawned', 0, 100], [ARM(1, 5000)]],
    [2, ['ready', 100], [CANCEL(1), READY]],
    [10, ['reload'], [SPAWN(0)]],
    [11, ['spawned', 0, 200], [ARM(2, 5000)]],
    [5011, ['timer', 2], [RELOAD_FAILED(0, -1), SIG(200, TERM), ARM(3, 10000)]],
    [5012, ['ready', 200], []],
    [5100, ['exited', 200, killed(TERM)], [CANCEL(3)]],
  ]);
  assert.equal(planner.supState(r), S.RUNNING);
  assert.deepEqual(workerPids(r), [100]);
  assert.deepEqual(pids(r), [100]);
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
  for (const bad of [0, -1, 99999]) {
    assert.deepEqual(Array.from(planner.supStart(bad, 0)), []);
    assert.deepEqual(Array.from(planner.supExited(bad, 0, 1, 0)), []);
    assert.deepEqual(Array.from(planner.supTimer(bad, 0, 1)), []);
    assert.deepEqual(Array.from(planner.supPids(bad)), []);
    assert.equal(planner.supState(bad), -1);
    assert.equal(planner.supWorkerPid(bad, 0), 0);
    assert.equal(planner.supFailureReason(bad), '');
  }
  planner.supDestroy(h);
  assert.deepEqual(Array.from(planner.supStop(h, 0)), []);
  assert.equal(planner.supState(h), -1);
});

test('machines are independent', () => {
  const a = make({ workers: 1 });
  const b = make({ workers: 1 });
  play(a, [[0, ['start'], [SPAWN(0)]], [0, ['spawned', 0, 100], [ARM(1, 1000)]]]);
  play(b, [[0, ['start'], [SPAWN(0)]], [0, ['spawned', 0, 100], [ARM(1, 1000)]]]);
  play(a, [[1000, ['timer', 1], [READY]]]);
  assert.equal(planner.supState(a), S.RUNNING);
  assert.equal(planner.supState(b), S.STARTING);
  planner.supDestroy(a);
  play(b, [[1000, ['timer', 1], [READY]]]);
  planner.supDestroy(b);
});

// ---- randomized invariants ------------------------------------------------------------------------------------------

function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

// A fake runtime: runs the machine's actions against a model of processes and checks every action as it comes.
function randomRun(seed: number, seen: Set<string>): void {
  const rand = prng(seed);
  const workers = 1 + rand(4);
  const readyByEvent = rand(3) === 0;
  const cfg: Config = {
    workers, restart: rand(3), backoffMin: rand(3) * 50, backoffMax: 400, minUptime: 2000,
    maxRestarts: rand(4) === 0 ? -1 : 3 + rand(8), window: rand(5) === 0 ? 0 : 5000,
    startMs: readyByEvent ? -1 : rand(3) * 300, readyTimeout: readyByEvent ? rand(2) * 3000 : 0, reloadMode: rand(4) === 0 ? 1 : 0,
  };
  const h = make(cfg);
  if (rand(3) === 0) planner.supSetStopSchedule(h, planner.parseStopSchedule(['TERM/1/KILL/1', 'INT/0.5/TERM/1/KILL/2', 'TERM/2'][rand(3)]!));
  let t = 0;
  let nextPid = 1000;
  const live = new Map<number, { task: number; stopping: boolean; diesOnTerm: boolean }>();
  const pending: number[] = [];
  const timers = new Map<number, number>();
  const dying: [number, number][] = []; // pid, status: deaths the kernel will report
  let exits = 0, readies = 0;
  let stopped = false;
  const where = () => `seed ${seed} t=${t} cfg=${JSON.stringify(cfg)}`;

  const apply = (acts: Int32Array, stateBefore: number) => {
    const reloading = stateBefore === S.RELOADING || planner.supState(h) === S.RELOADING;
    for (const [kind, a, b, c] of records(acts)) {
      seen.add(kind === 7 ? `gave up ${a}` : kind === 8 ? `exit ${a}` : `action ${kind}`);
      assert.equal(exits, 0, `no action after A_EXIT (${where()})`);
      switch (kind) {
        case 1: {
          const busy = [...live.values()].some((p) => p.task === a && !p.stopping) || pending.includes(a);
          if (!reloading) assert.ok(!busy, `spawn of task ${a} which has a live worker outside reload (${where()})`);
          assert.ok(stateBefore < S.STOPPING, `spawn while stopping (${where()})`);
          assert.ok(a >= 0 && a < workers);
          pending.push(a);
          break;
        }
        case 2: {
          const p = live.get(a);
          assert.ok(p, `signal ${b} to pid ${a} which is not live (${where()})`);
          if (c === 1) {
            p.stopping = true;
            if (b === KILL || (p.diesOnTerm && b !== HUP)) dying.push([a, b]);
          } else {
            assert.equal(b, HUP);
          }
          break;
        }
        case 3:
          assert.ok(!timers.has(a), `timer ${a} armed twice (${where()})`);
          assert.ok(b >= 0);
          timers.set(a, t + b);
          break;
        case 4:
          assert.ok(timers.has(a), `cancel of unknown timer ${a} (${where()})`);
          timers.delete(a);
          break;
        case 5:
          readies++;
          assert.equal(readies, 1, `A_READY once (${where()})`);
          break;
        case 8:
          exits++;
          break;
      }
    }
  };
  const step = (ev: Ev) => {
    const before = planner.supState(h);
    apply(fire(h, t, ev), before);
  };
  const fireEarliestTimer = () => {
    let id = -1, due = Infinity;
    for (const [k, v] of timers) if (v < due) { id = k; due = v; }
    if (id < 0) return false;
    timers.delete(id);
    t = Math.max(t, due);
    step(['timer', id]);
    return true;
  };
  const resolveSpawn = () => {
    const task = pending.shift()!;
    if (rand(12) === 0) { step(['spawnFailed', task, rand(2) ? 2 : 13]); return; }
    const pid = nextPid++;
    live.set(pid, { task, stopping: false, diesOnTerm: rand(3) !== 0 });
    step(['spawned', task, pid]);
  };
  const reap = (pid: number, status: number) => {
    if (!live.delete(pid)) return;
    step(['exited', pid, status]);
  };

  step(['start']);
  const events = 20 + rand(150);
  for (let i = 0; i < events && exits === 0; i++) {
    const r = rand(100);
    t += rand(400);
    if (pending.length && r < 30) resolveSpawn();
    else if (dying.length && r < 45) { const [pid, sig] = dying.shift()!; reap(pid, sig); }
    else if (r < 60) fireEarliestTimer();
    else if (r < 72 && live.size) {
      const all = [...live.keys()];
      const pid = all[rand(all.length)]!;
      reap(pid, [exited(0), exited(1), exited(3), killed(KILL), killed(SEGV, true)][rand(5)]!);
    } else if (r < 82 && live.size) {
      const all = [...live.keys()];
      step(['ready', all[rand(all.length)]!]);
    } else if (r < 88) step(['reload']);
    else if (r < 92) { const id = rand(50); if (!timers.has(id)) step(['timer', id]); } // stale or never armed
    else if (r < 94) step(['exited', 1 + rand(999), 0]);
    else if (r < 95) { step(['stop']); stopped = true; }
  }
  if (!stopped) step(['stop']);
  for (let guard = 0; exits === 0; guard++) {
    assert.ok(guard < 10000, `the stop never finished (${where()})`);
    if (pending.length) resolveSpawn();
    else if (dying.length) { const [pid, sig] = dying.shift()!; reap(pid, sig); }
    else if (!fireEarliestTimer()) assert.fail(`stuck: no timer, no pending spawn, nothing dying, no A_EXIT (${where()})`);
  }
  // Whatever is still alive dies now; nothing may follow A_EXIT.
  for (const pid of [...live.keys()]) reap(pid, killed(KILL));
  step(['stop']); step(['reload']);
  assert.equal(exits, 1, `exactly one A_EXIT (${where()})`);
  assert.deepEqual([...timers.keys()], [], `every timer fired or cancelled by A_EXIT (${where()})`);
  assert.ok([S.EXITED, S.FAILED].includes(planner.supState(h)), where());
  assert.ok([0, 1, 2].includes(planner.supExitCode(h)), where());
  assert.deepEqual(pids(h), [], where());
  planner.supDestroy(h);
}

test('random event sequences keep the invariants (2000 seeds)', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 2000; seed++) randomRun(seed, seen);
  // The runs reach every action and every ending.
  const want = [...Array.from({ length: 10 }, (_, i) => `action ${i + 1}`).filter((k) => k !== 'action 7' && k !== 'action 8'),
    'gave up 1', 'gave up 2', 'gave up 3', 'exit 0', 'exit 1', 'exit 2'];
  assert.deepEqual(want.filter((k) => !seen.has(k)), []);
});

test('memory stays flat over a long run (incremental runtime collects per-event allocations)', () => {
  const h = make({ workers: 4, maxRestarts: -1 });
  startReady(h, 4);
  const memory = () => (planner as unknown as { memory: WebAssembly.Memory }).memory.buffer.byteLength;
  let t = 2000, pid = 1000, timer = 5;
  let baseline = 0;
  for (let i = 0; i < 50000; i++) {
    if (i === 5000) baseline = memory();
    const task = i % 4;
    const old = planner.supWorkerPid(h, task);
    planner.supExited(h, t, old, killed(KILL));
    planner.supTimer(h, t, timer);
    planner.supSpawned(h, t, task, pid);
    planner.supTimer(h, t, timer + 1);
    planner.supFailureReason(h);
    timer += 2; pid++; t += 20000;
  }
  assert.equal(planner.supState(h), S.RUNNING);
  assert.ok(memory() <= baseline + 65536, `memory grew from ${baseline} to ${memory()}`);
  planner.supDestroy(h);
});
