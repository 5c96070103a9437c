// Random event sequences against a fake runtime, and memory over a long run. On a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';
import { actionKinds, type Action, type MachineConfig } from '../../src/core/supervisor-machine.js';
import { HUP, KILL, SEGV, exited, fire, killed, make, pids, startReady, type Ev } from './supervisor-scenario.js';

const schedule = (text: string) => Array.from(planner.parseStopSchedule(text));

// ---- randomized invariants ------------------------------------------------------------------------------------------

function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

// A fake runtime: runs the machine's actions against a model of processes and checks every action as it comes.
function randomRun(seed: number, seen: Set<string>): void {
  const rand = prng(seed);
  const workers = 1 + rand(4);
  const readyByEvent = rand(3) === 0;
  const cfg: MachineConfig = {
    workers,
    restart: (['on-failure', 'always', 'never'] as const)[rand(3)]!,
    backoffMinMs: rand(3) * 50,
    backoffMaxMs: 400,
    minUptimeMs: 2000,
    maxRestarts: rand(4) === 0 ? -1 : 3 + rand(8),
    restartWindowMs: rand(5) === 0 ? 0 : 5000,
    startMs: readyByEvent ? -1 : rand(3) * 300,
    readyTimeoutMs: readyByEvent ? rand(2) * 3000 : 0,
    reload: rand(4) === 0 ? 'signal' : 'rolling',
  };
  const h = make(cfg);
  if (rand(3) === 0) h.setStopSchedule(schedule(['TERM/1/KILL/1', 'INT/0.5/TERM/1/KILL/2', 'TERM/2'][rand(3)]!));
  let t = 0;
  let nextPid = 1000;
  const live = new Map<number, { task: number; stopping: boolean; diesOnTerm: boolean }>();
  const pending: number[] = [];
  const timers = new Map<number, number>();
  const dying: [number, number][] = []; // pid, status: deaths the kernel will report
  let exits = 0,
    readies = 0;
  let stopped = false;
  const where = () => `seed ${seed} t=${t} cfg=${JSON.stringify(cfg)}`;

  const stoppingOrAfter = new Set(['stopping', 'failed', 'exited']);
  const apply = (acts: Action[], stateBefore: string) => {
    const reloading = stateBefore === 'reloading' || h.state === 'reloading';
    for (const act of acts) {
      seen.add(act.kind === 'give-up' ? `gave up ${act.reason}` : act.kind === 'exit' ? `exit ${act.code}` : act.kind);
      if (act.kind !== 'reaped') assert.equal(exits, 0, `nothing but reaped processes after the exit (${where()})`);
      switch (act.kind) {
        case 'spawn': {
          const busy = [...live.values()].some((p) => p.task === act.task && !p.stopping) || pending.includes(act.task);
          if (!reloading) assert.ok(!busy, `spawn of task ${act.task} which has a live worker outside reload (${where()})`);
          assert.ok(!stoppingOrAfter.has(stateBefore), `spawn while stopping (${where()})`);
          assert.ok(act.task >= 0 && act.task < workers);
          pending.push(act.task);
          break;
        }
        case 'signal': {
          const p = live.get(act.pid);
          assert.ok(p, `signal ${act.signal} to pid ${act.pid} which is not live (${where()})`);
          if (act.group) {
            p.stopping = true;
            if (act.signal === KILL || (p.diesOnTerm && act.signal !== HUP)) dying.push([act.pid, act.signal]);
          } else {
            assert.equal(act.signal, HUP);
          }
          break;
        }
        case 'escalate':
          assert.ok(live.has(act.pid), `escalation for pid ${act.pid} which is not live (${where()})`);
          assert.ok(act.step > 0, where());
          break;
        case 'arm-timer':
          assert.ok(!timers.has(act.id), `timer ${act.id} armed twice (${where()})`);
          assert.ok(act.ms >= 0);
          timers.set(act.id, t + act.ms);
          break;
        case 'cancel-timer':
          assert.ok(timers.has(act.id), `cancel of unknown timer ${act.id} (${where()})`);
          timers.delete(act.id);
          break;
        case 'ready':
          readies++;
          assert.equal(readies, 1, `ready once (${where()})`);
          break;
        case 'signal-leftovers':
          // Some groups have leftovers (a timer walks them through the schedule), most have none.
          assert.ok(!live.has(act.pgid), `leftovers of pid ${act.pgid} which is still live (${where()})`);
          apply(h.leftoversSignalled(t, act.pgid, act.step, rand(3) === 0 ? 1 : 0), h.state);
          break;
        case 'exit':
          exits++;
          break;
      }
    }
  };
  const step = (ev: Ev) => {
    const before = h.state;
    apply(fire(h, t, ev), before);
  };
  const fireEarliestTimer = () => {
    let id = -1,
      due = Infinity;
    for (const [k, v] of timers)
      if (v < due) {
        id = k;
        due = v;
      }
    if (id < 0) return false;
    timers.delete(id);
    t = Math.max(t, due);
    step(['timer', id]);
    return true;
  };
  const resolveSpawn = () => {
    const task = pending.shift()!;
    if (rand(12) === 0) {
      step(['spawnFailed', task, rand(2) ? 2 : 13]);
      return;
    }
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
    else if (dying.length && r < 45) {
      const [pid, sig] = dying.shift()!;
      reap(pid, sig);
    } else if (r < 60) fireEarliestTimer();
    else if (r < 72 && live.size) {
      const all = [...live.keys()];
      const pid = all[rand(all.length)]!;
      reap(pid, [exited(0), exited(1), exited(3), killed(KILL), killed(SEGV, true)][rand(5)]!);
    } else if (r < 82 && live.size) {
      const all = [...live.keys()];
      step(['ready', all[rand(all.length)]!]);
    } else if (r < 88) step(['reload']);
    else if (r < 92) {
      const id = rand(50);
      if (!timers.has(id)) step(['timer', id]);
    } // stale or never armed
    else if (r < 94) step(['exited', 1 + rand(999), 0]);
    else if (r < 95) {
      step(['stop']);
      stopped = true;
    }
  }
  if (!stopped) step(['stop']);
  for (let guard = 0; exits === 0; guard++) {
    assert.ok(guard < 10000, `the stop never finished (${where()})`);
    if (pending.length) resolveSpawn();
    else if (dying.length) {
      const [pid, sig] = dying.shift()!;
      reap(pid, sig);
    } else if (!fireEarliestTimer()) assert.fail(`stuck: no timer, no pending spawn, nothing dying, no A_EXIT (${where()})`);
  }
  // Whatever is still alive dies now; nothing may follow A_EXIT.
  for (const pid of [...live.keys()]) reap(pid, killed(KILL));
  step(['stop']);
  step(['reload']);
  assert.equal(exits, 1, `exactly one A_EXIT (${where()})`);
  assert.deepEqual([...timers.keys()], [], `every timer fired or cancelled by A_EXIT (${where()})`);
  assert.ok(['exited', 'failed'].includes(h.state), where());
  assert.ok([0, 1, 2].includes(h.exitCode!), where());
  assert.deepEqual(pids(h), [], where());
  h.destroy();
}

test('random event sequences keep the invariants (2000 seeds)', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 2000; seed++) randomRun(seed, seen);
  // The runs reach every action and every ending.
  const want = [
    ...actionKinds().filter((k) => k !== 'give-up' && k !== 'exit'),
    'gave up crash-loop',
    'gave up stop-schedule-ran-out',
    'gave up ready-timeout',
    'exit 0',
    'exit 1',
    'exit 2',
  ];
  assert.deepEqual(
    want.filter((k) => !seen.has(k)),
    [],
  );
});

test('memory stays flat over a long run (incremental runtime collects per-event allocations)', () => {
  const h = make({ workers: 4, maxRestarts: -1 });
  startReady(h, 4);
  const memory = () => (planner as unknown as { memory: WebAssembly.Memory }).memory.buffer.byteLength;
  let t = 2000,
    pid = 1000,
    timer = 5;
  let baseline = 0;
  for (let i = 0; i < 50000; i++) {
    if (i === 5000) baseline = memory();
    const task = i % 4;
    const old = h.worker(task).pid!;
    h.exited(t, old, killed(KILL));
    h.timer(t, timer);
    h.spawned(t, task, pid);
    h.timer(t, timer + 1);
    void h.failure;
    timer += 2;
    pid++;
    t += 20000;
  }
  assert.equal(h.state, 'running');
  assert.ok(memory() <= baseline + 65536, `memory grew from ${baseline} to ${memory()}`);
  h.destroy();
});
