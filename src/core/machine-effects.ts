// What the supervisor machine's actions do to processes and the clock: shared by the CLI's supervisor and forkProcesses().
import type { Action, SupervisorMachine } from './supervisor-machine.js';
import { SysError } from '../sys/errors.js';
import { signalMembers } from './proc-scan.js';
import { planner } from './wasm.js';
import { kill, killGroup, SIGCONT, SIGKILL } from '../sys/signal.js';

/** The signal that only asks whether a process exists. */
const PROBE = 0;

/**
 * A `spawn` action: spawns task `task` and tells the machine its PID, or why it could not be spawned (`onFailure` says
 * so where the caller says things). Returns the machine's answer.
 */
export function spawnTask(
  m: SupervisorMachine,
  now: () => number,
  task: number,
  spawn: (task: number) => number,
  onFailure: (why: string) => void,
): Action[] {
  try {
    return m.spawned(now(), task, spawn(task));
  } catch (e) {
    const why = (e as Error).message;
    onFailure(why);
    return m.spawnFailed(now(), task, e instanceof SysError ? -e.errno : null, why);
  }
}

/** A `signal` action: to one process, or its whole group. */
export function sendSignal(act: Extract<Action, { kind: 'signal' }>): void {
  if (!act.group) return void kill(act.pid, act.signal);
  killGroup(act.pid, act.signal);
  // Like systemd: a stopped (SIGSTOP) process only acts on SIGTERM once continued.
  if (act.signal !== SIGKILL && act.signal !== SIGCONT) killGroup(act.pid, SIGCONT);
}

/** How an `escalate` action is said in the log. */
export function escalationText(act: Extract<Action, { kind: 'escalate' }>): string {
  const after = planner.signalName(act.after.signal);
  return `stop: pid ${act.pid} still alive ${act.after.ms / 1000}s after ${after}: sending ${planner.signalName(act.signal)}`;
}

/**
 * One step of the machine's schedule for what an exited worker left in its process group (children it forked). Only
 * processes still in that group and in `session` are signalled, through pidfds: once the group is empty its id may be
 * any new process's. Returns how many were signalled (0: the group is empty, the usual case).
 */
export function signalLeftovers(pgid: number, signal: number, step: number, session: number): number {
  if (step === 0 && !killGroup(pgid, PROBE)) return 0; // no member left: the usual case, one syscall
  const ours = (ids: { pgrp: number; session: number }) => ids.pgrp === pgid && ids.session === session;
  const n = signalMembers(ours, signal);
  if (n > 0 && signal !== SIGKILL && signal !== SIGCONT) signalMembers(ours, SIGCONT);
  return n;
}

/** The machine's armed timers by id; arming an id again replaces it. */
export class MachineTimers {
  readonly #cancels = new Map<number, () => void>();

  arm(id: number, ms: number, fire: () => void): void {
    this.cancel(id);
    const run = () => {
      this.#cancels.delete(id);
      fire();
    };
    // setTimeout(0) waits a whole millisecond; a 0 ms restart runs right after this turn's I/O instead.
    if (ms <= 0) {
      const immediate = setImmediate(run);
      this.#cancels.set(id, () => clearImmediate(immediate));
    } else {
      const timeout = setTimeout(run, ms);
      this.#cancels.set(id, () => clearTimeout(timeout));
    }
  }

  cancel(id: number): void {
    this.#cancels.get(id)?.();
    this.#cancels.delete(id);
  }

  cancelAll(): void {
    for (const cancel of this.#cancels.values()) cancel();
    this.#cancels.clear();
  }
}
