// Shared by the supervisor machine's scenario tests: the facade driven on a virtual clock (events in, exact action
// lists out), with builders for the actions a scenario expects.
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { SupervisorMachine, type Action, type GiveUpReason, type MachineConfig } from '../../src/core/supervisor-machine.js';

// ---- actions ----------------------------------------------------------------------------------------------------
export const SPAWN = (task: number): Action => ({ kind: 'spawn', task });
export const SIG = (pid: number, signal: number, group = true): Action => ({ kind: 'signal', pid, signal, group });
export const ESCALATE = (pid: number, step: number, signal: number, after: { signal: number; ms: number }): Action => ({
  kind: 'escalate',
  pid,
  step,
  signal,
  after,
});
export const ARM = (id: number, ms: number): Action => ({ kind: 'arm-timer', id, ms });
export const CANCEL = (id: number): Action => ({ kind: 'cancel-timer', id });
export const READY: Action = { kind: 'ready' };
export const START_FAILED = (task: number, status: number, pid: number | null): Action => ({ kind: 'start-failed', task, status, pid });
export const GAVE_UP = (reason: GiveUpReason): Action => ({ kind: 'give-up', reason });
export const EXIT = (code: number): Action => ({ kind: 'exit', code });
export const RELOADED: Action = { kind: 'reloaded' };
export const RELOAD_FAILED = (task: number, status: number | null): Action => ({ kind: 'reload-failed', task, status });
export const REAPED = (pid: number, task: number, cause: 'exited' | 'replaced' | 'stopped'): Action => ({
  kind: 'reaped',
  pid,
  task,
  cause,
});
export const LEFTOVERS = (pgid: number, signal: number, step: number): Action => ({ kind: 'signal-leftovers', pgid, signal, step });

// Raw wait statuses.
export const exited = (code: number) => code << 8;
export const killed = (signal: number, core = false) => signal | (core ? 0x80 : 0);
export const { SIGTERM: TERM, SIGKILL: KILL, SIGHUP: HUP, SIGSEGV: SEGV, SIGINT: INT } = constants.signals;

// ---- events -------------------------------------------------------------------------------------------------------
export type Ev =
  | ['start']
  | ['stop']
  | ['reload']
  | ['spawned', number, number]
  | ['spawnFailed', number, number]
  | ['ready', number]
  | ['exited', number, number]
  | ['timer', number];

export function fire(m: SupervisorMachine, t: number, ev: Ev): Action[] {
  switch (ev[0]) {
    case 'start':
      return m.start(t);
    case 'stop':
      return m.stop(t);
    case 'reload':
      return m.reload(t);
    case 'spawned':
      return m.spawned(t, ev[1], ev[2]);
    case 'spawnFailed':
      return m.spawnFailed(t, ev[1], ev[2]);
    case 'ready':
      return m.ready(t, ev[1]);
    case 'exited':
      return m.exited(t, ev[1], ev[2]);
    case 'timer':
      return m.timer(t, ev[1]);
  }
}

export type Step = [t: number, ev: Ev, want: Action[]];

/**
 * Plays the steps, checking each answer. An exit's answer always begins with its 'reaped' record and, outside a stop,
 * ends with 'signal-leftovers' for its group: play checks both are there for that pid and compares the rest with
 * `want` (the scenarios in supervisor-stop.test.ts check them whole with playRaw).
 */
export function play(m: SupervisorMachine, steps: Step[]): void {
  steps.forEach(([t, ev, want], i) => {
    const where = `step ${i}: ${JSON.stringify(ev)} at t=${t}`;
    let got = fire(m, t, ev);
    if (ev[0] === 'exited' && got.length) {
      const pid = ev[1];
      const first = got[0]!;
      assert.ok(first.kind === 'reaped' && first.pid === pid, `${where}: begins with reaped ${pid}: ${JSON.stringify(got)}`);
      got = got.slice(1);
      const last = got[got.length - 1];
      if (last?.kind === 'signal-leftovers') {
        assert.equal(last.pgid, pid, where);
        assert.equal(last.step, 0, where);
        got = got.slice(0, -1);
      }
    }
    assert.deepEqual(got, want, where);
  });
}

/** Plays the steps comparing whole answers. */
export function playRaw(m: SupervisorMachine, steps: Step[]): void {
  steps.forEach(([t, ev, want], i) => assert.deepEqual(fire(m, t, ev), want, `step ${i}: ${JSON.stringify(ev)} at t=${t}`));
}

export const DEFAULTS: MachineConfig = {
  workers: 3,
  restart: 'on-failure',
  backoffMinMs: 100,
  backoffMaxMs: 30000,
  minUptimeMs: 10000,
  maxRestarts: 10,
  restartWindowMs: 60000,
  startMs: 1000,
  readyTimeoutMs: 0,
  reload: 'rolling',
};

export function make(over: Partial<MachineConfig> = {}): SupervisorMachine {
  return new SupervisorMachine({ ...DEFAULTS, ...over });
}

// Starts n workers with pids 100.. and lets the 1000 ms start timers (ids 1..n) make them ready at t=1000.
export function startReady(m: SupervisorMachine, n: number): void {
  const steps: Step[] = [[0, ['start'], Array.from({ length: n }, (_, i) => SPAWN(i))]];
  for (let i = 0; i < n; i++) steps.push([0, ['spawned', i, 100 + i], [ARM(i + 1, 1000)]]);
  for (let i = 0; i < n; i++) steps.push([1000, ['timer', i + 1], i === n - 1 ? [READY] : []]);
  play(m, steps);
}

export const pids = (m: SupervisorMachine) => Array.from(m.pids);
export const workerPids = (m: SupervisorMachine) => m.workers().map((w) => w.pid);
export const workerStates = (m: SupervisorMachine) => m.workers().map((w) => w.state);
