// Reload: rolling replacement one task at a time, coalescing, failures, and signal mode. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action } from '../../src/core/supervisor-machine.js';
import {
  ARM,
  ESCALATE,
  CANCEL,
  EXIT,
  HUP,
  KILL,
  RELOAD_FAILED,
  RELOADED,
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

/** pid outlived the default schedule's TERM/10 and gets its KILL. */
const ESCALATED_TO_KILL = (pid: number) => ESCALATE(pid, 1, KILL, { signal: TERM, ms: 10000 });

test('rolling reload replaces every pid one at a time, waiting for readiness before stopping the old one', () => {
  const h = make();
  startReady(h, 3);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(4, 1000)]],
  ]);
  assert.equal(h.state, 'reloading');
  assert.deepEqual(pids(h), [100, 200, 101, 102]);
  assert.equal(h.worker(0).pid, 100);
  play(h, [[6001, ['timer', 4], [SIG(100, TERM), ARM(5, 10000)]]]);
  assert.equal(h.worker(0).pid, 200);
  assert.equal(h.worker(0).startedAt, 5001);
  play(h, [
    [6100, ['exited', 100, killed(TERM)], [CANCEL(5), SPAWN(1)]],
    [6101, ['spawned', 1, 201], [ARM(6, 1000)]],
    [7101, ['timer', 6], [SIG(101, TERM), ARM(7, 10000)]],
    // the old worker ignores TERM: the schedule escalates before the reload moves on
    [17101, ['timer', 7], [ESCALATED_TO_KILL(101), SIG(101, KILL), ARM(8, 5000)]],
    [17102, ['exited', 101, killed(KILL)], [CANCEL(8), SPAWN(2)]],
    [17103, ['spawned', 2, 202], [ARM(9, 1000)]],
    [18103, ['timer', 9], [SIG(102, TERM), ARM(10, 10000)]],
    [18200, ['exited', 102, exited(0)], [CANCEL(10), RELOADED]],
  ]);
  assert.equal(h.state, 'running');
  assert.deepEqual(workerPids(h), [200, 201, 202]);
  assert.deepEqual(pids(h), [200, 201, 202]);
  assert.deepEqual(workerStates(h), ['running', 'running', 'running']);
  assert.deepEqual(
    [0, 1, 2].map((i) => h.worker(i).restarts),
    [0, 0, 0],
  );
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
  assert.equal(h.worker(1).restarts, 1);
});

test('reload: the old worker dying while its replacement starts hands the task over (no restart)', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(3, 1000)]],
    [5500, ['exited', 100, killed(KILL)], []],
  ]);
  assert.equal(h.worker(0).pid, 200);
  assert.equal(h.worker(0).state, 'starting');
  assert.equal(h.worker(0).restarts, 0);
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
    [16001, ['timer', 4], [ESCALATED_TO_KILL(100), SIG(100, KILL), ARM(5, 5000)]],
  ]);
  assert.equal(h.setStopSchedule([15, 1000]), true);
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
  assert.equal(h.state, 'running');
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
  assert.equal(h.state, 'running');
  assert.deepEqual(workerPids(h), [200, 101]);
  assert.equal(h.worker(1).restarts, 0);
  assert.equal(h.worker(1).lastStatus, null);
  play(h, [
    [7000, ['reload'], [SPAWN(0)]],
    [7001, ['spawnFailed', 0, 2], [RELOAD_FAILED(0, exited(127))]],
    [7002, ['reload'], [SPAWN(0)]],
    [7003, ['spawnFailed', 0, 13], [RELOAD_FAILED(0, exited(126))]],
  ]);
  assert.deepEqual(workerPids(h), [200, 101]);
  assert.equal(h.state, 'running');
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
  const h = make({ workers: 3, reload: 'signal' });
  startReady(h, 3);
  play(h, [
    [5000, ['exited', 101, killed(KILL)], [ARM(4, 100)]],
    [5100, ['timer', 4], [SPAWN(1)]],
    [5100, ['spawned', 1, 201], [ARM(5, 1000)]],
    [5200, ['reload'], [SIG(100, HUP, false), SIG(102, HUP, false), RELOADED]],
    [6100, ['timer', 5], []],
    [6200, ['reload'], [SIG(100, HUP, false), SIG(201, HUP, false), SIG(102, HUP, false), RELOADED]],
  ]);
  assert.equal(h.state, 'running');
});

test('rolling reload keeps N workers serving at every moment: an old one is signalled only once its replacement is ready', () => {
  // A small kernel on a virtual clock: spawns get pids, armed timers fire in time order, a TERMed process exits 50 ms
  // later. "Serving" = past its readiness timer and not yet signalled (a server closes its listener on TERM).
  const N = 4;
  const h = make({ workers: N, startMs: 300 });
  let t = 0;
  let nextPid = 100;
  const timers = new Map<number, number>();
  const readiness = new Map<number, number>(); // timer id → the pid it makes ready
  const exits = new Map<number, number>(); // pid → when it exits
  const serving = new Set<number>();
  let reloaded = 0;
  let least = Infinity;
  let ready = false;
  const apply = (actions: Action[]): void => {
    for (const a of actions) {
      if (a.kind === 'spawn') {
        const pid = nextPid++;
        const answer = h.spawned(t, a.task, pid);
        for (const b of answer) if (b.kind === 'arm-timer') readiness.set(b.id, pid);
        apply(answer);
      } else if (a.kind === 'arm-timer') timers.set(a.id, t + a.ms);
      else if (a.kind === 'cancel-timer') timers.delete(a.id);
      else if (a.kind === 'signal' && a.signal === TERM) {
        serving.delete(a.pid);
        if (!exits.has(a.pid)) exits.set(a.pid, t + 50);
      } else if (a.kind === 'ready') ready = true;
      else if (a.kind === 'reloaded') reloaded++;
    }
  };
  const runUntil = (done: () => boolean): void => {
    for (let guard = 0; guard < 10_000 && !done(); guard++) {
      const next = Math.min(...timers.values(), ...exits.values());
      assert.ok(Number.isFinite(next), 'something is pending');
      t = next;
      for (const [pid, at] of [...exits])
        if (at <= t) {
          exits.delete(pid);
          apply(h.exited(t, pid, killed(TERM)));
        }
      for (const [id, at] of [...timers])
        if (at <= t && timers.has(id)) {
          timers.delete(id);
          const pid = readiness.get(id);
          if (pid !== undefined && h.pids.includes(pid)) serving.add(pid);
          apply(h.timer(t, id));
        }
      if (ready) least = Math.min(least, serving.size);
    }
  };
  apply(h.start(t));
  runUntil(() => ready);
  const first = [...serving];
  assert.equal(first.length, N);
  for (let round = 1; round <= 3; round++) {
    apply(h.reload(t));
    runUntil(() => reloaded === round && exits.size === 0);
  }
  assert.equal(least, N, 'never fewer than N serving');
  assert.equal(serving.size, N);
  assert.ok(
    first.every((pid) => !serving.has(pid)),
    'every first worker was replaced',
  );
  assert.equal(nextPid, 100 + N * 4, 'one replacement per worker and reload, nothing restarted');
});
