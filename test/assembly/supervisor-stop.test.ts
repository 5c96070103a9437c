// Stopping: the schedule over every worker, escalation, running out, forever, and an exited worker's leftovers. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';
import {
  ARM,
  CANCEL,
  ESCALATE,
  EXIT,
  GAVE_UP,
  INT,
  KILL,
  LEFTOVERS,
  REAPED,
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
  playRaw,
  startReady,
  workerStates,
} from './supervisor-scenario.js';

const schedule = (text: string) => Array.from(planner.parseStopSchedule(text));
/** pid outlived the default schedule's TERM/10 and gets its KILL. */
const ESCALATED_TO_KILL = (pid: number) => ESCALATE(pid, 1, KILL, { signal: TERM, ms: 10000 });

test('stop: TERM to every group, KILL for a worker that ignores TERM, exit 0 when the last one is gone', () => {
  const h = make({ workers: 2 });
  startReady(h, 2);
  play(h, [[10000, ['stop'], [SIG(100, TERM), SIG(101, TERM), ARM(3, 10000)]]]);
  assert.equal(h.state, 'stopping');
  assert.deepEqual(workerStates(h), ['stopping', 'stopping']);
  play(h, [
    [10000, ['stop'], []],
    [10050, ['exited', 100, killed(TERM)], []],
    [20000, ['timer', 3], [ESCALATED_TO_KILL(101), SIG(101, KILL), ARM(4, 5000)]],
    [20001, ['exited', 101, killed(KILL)], [CANCEL(4), EXIT(0)]],
    [25000, ['timer', 4], []],
    [25000, ['stop'], []],
  ]);
  assert.equal(h.state, 'exited');
  assert.deepEqual(workerStates(h), ['exited', 'exited']);
  assert.equal(h.worker(1).lastStatus, killed(KILL));
});

test('stop: a schedule that runs out gives up with reason 2 and exit 2; forever repeats its step', () => {
  const h = make({ workers: 1 });
  assert.equal(h.setStopSchedule([TERM, 1000]), true);
  assert.equal(h.setStopSchedule([TERM]), false);
  assert.equal(h.setStopSchedule([0, -1, TERM, 1000]), false);
  startReady(h, 1);
  play(h, [
    [5000, ['stop'], [SIG(100, TERM), ARM(2, 1000)]],
    [6000, ['timer', 2], [GAVE_UP('stop-schedule-ran-out'), EXIT(2)]],
    [7000, ['exited', 100, killed(KILL)], []],
  ]);
  assert.equal(h.setStopSchedule([TERM, 1000, KILL, 1000]), false, 'no new schedule after the exit');
  assert.equal(h.failure, 'stop schedule TERM/1 ran out with 1 process still alive');
  assert.equal(h.exitCode, 2);
  assert.equal(h.state, 'exited');
  assert.deepEqual(pids(h), []);

  const f = make({ workers: 1 });
  assert.equal(f.setStopSchedule(schedule('INT/1/TERM/2/forever')), true);
  startReady(f, 1);
  play(f, [
    [5000, ['stop'], [SIG(100, INT), ARM(2, 1000)]],
    [6000, ['timer', 2], [ESCALATE(100, 1, TERM, { signal: INT, ms: 1000 }), SIG(100, TERM), ARM(3, 2000)]],
    [8000, ['timer', 3], [ESCALATE(100, 2, TERM, { signal: TERM, ms: 2000 }), SIG(100, TERM), ARM(4, 2000)]],
    [10000, ['timer', 4], [ESCALATE(100, 2, TERM, { signal: TERM, ms: 2000 }), SIG(100, TERM), ARM(5, 2000)]],
  ]);
  playRaw(f, [[11000, ['exited', 100, exited(0)], [REAPED(100, 0, 'stopped'), CANCEL(5), EXIT(0)]]]);
  assert.equal(f.escalations, 1, 'one process needed the later steps');
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
  assert.deepEqual(workerStates(h), ['exited', 'failed']);

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
  assert.equal(never.state, 'exited');
});

test('each exit says why the process is gone: replaced by a reload, exited, or stopped', () => {
  const h = make({ workers: 1 });
  startReady(h, 1);
  play(h, [
    [5000, ['reload'], [SPAWN(0)]],
    [5001, ['spawned', 0, 200], [ARM(2, 1000)]],
    [6001, ['timer', 2], [SIG(100, TERM), ARM(3, 10000)]],
  ]);
  playRaw(h, [
    [6100, ['exited', 100, killed(TERM)], [REAPED(100, 0, 'replaced'), CANCEL(3), RELOADED, LEFTOVERS(100, TERM, 0)]],
    [7000, ['exited', 200, killed(SEGV)], [REAPED(200, 0, 'exited'), ARM(4, 100), LEFTOVERS(200, TERM, 0)]],
  ]);
  play(h, [
    [7100, ['timer', 4], [SPAWN(0)]],
    [7101, ['spawned', 0, 300], [ARM(5, 1000)]],
    [8101, ['timer', 5], []],
    [9000, ['stop'], [SIG(300, TERM), ARM(6, 10000)]],
  ]);
  // A stop sweeps the whole session at the exit: no leftovers of its own for the group.
  playRaw(h, [[9001, ['exited', 300, killed(TERM)], [REAPED(300, 0, 'stopped'), CANCEL(6), EXIT(0)]]]);
});

test("an exited worker's leftovers walk the stop schedule while someone is left in its group", () => {
  const h = make({ workers: 1, stopSchedule: schedule('INT/1/KILL/2') });
  startReady(h, 1);
  play(h, [[5000, ['exited', 100, exited(1)], [ARM(2, 100)]]]);
  // Two processes were left and got INT: the step's wait begins; they outlive it and get KILL; the schedule ends.
  assert.deepEqual(h.leftoversSignalled(5000, 100, 0, 2), [ARM(3, 1000)]);
  assert.deepEqual(h.timer(6000, 3), [LEFTOVERS(100, KILL, 1)]);
  assert.deepEqual(h.leftoversSignalled(6000, 100, 1, 1), [ARM(4, 2000)]);
  assert.deepEqual(h.timer(8000, 4), []);
  // Nobody left in the group (the usual case): nothing is kept, nothing armed.
  assert.deepEqual(h.leftoversSignalled(8000, 100, 0, 0), []);
  play(h, [
    [8000, ['timer', 2], [SPAWN(0)]],
    [8001, ['spawned', 0, 101], [ARM(5, 1000)]],
  ]);
});

test('leftovers under a forever schedule repeat its last pair until a stop takes over', () => {
  const h = make({ workers: 2, stopSchedule: schedule('INT/1/forever') });
  startReady(h, 2);
  play(h, [[5000, ['exited', 100, exited(1)], [ARM(3, 100)]]]);
  assert.deepEqual(h.leftoversSignalled(5000, 100, 0, 1), [ARM(4, 1000)]);
  assert.deepEqual(h.timer(6000, 4), [LEFTOVERS(100, INT, 1)]);
  assert.deepEqual(h.leftoversSignalled(6000, 100, 1, 1), [ARM(5, 1000)]);
  assert.deepEqual(h.timer(7000, 5), [LEFTOVERS(100, INT, 1)]);
  assert.deepEqual(h.leftoversSignalled(7000, 100, 1, 1), [ARM(6, 1000)]);
  // The stop cancels the restart and the group's own schedule (the exit's session sweep covers it).
  play(h, [[7500, ['stop'], [CANCEL(6), CANCEL(3), SIG(101, INT), ARM(7, 1000)]]]);
  assert.deepEqual(h.leftoversSignalled(7500, 100, 1, 1), [], 'nothing more once stopping');
});
