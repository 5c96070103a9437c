// What exited workers leave in the supervisor's session: counted, and signalled only through pidfds after a recheck.
import { planner } from '../core/wasm.js';
import { runStopSchedule } from '../core/supervisor-machine.js';
import { membersOf, signalMembers } from '../core/proc-scan.js';
import { SIGCONT, SIGKILL } from '../sys/signal.js';
import { signalLeftovers } from '../core/machine-effects.js';

/** How often a sweep looks whether the session's leftovers are gone within a stop step. */
const SWEEP_POLL_MS = 20;
/** The signal that only asks whether a process exists. */
const PROBE = 0;

/**
 * Processes in our session outside the groups `known` leads (live workers, the guard, probe commands: each spawned
 * leading its own group): what exited workers left behind. A live worker's children are in its group, so its own.
 */
export function countLeftovers(known: Set<number | null>): number {
  return membersOf((ids) => ids.session === process.pid && !known.has(ids.pgrp)).length;
}

/** Whether anything still lives in our session. */
export function sessionHasMembers(): boolean {
  return membersOf((ids) => ids.session === process.pid).length > 0;
}

/**
 * Signals every process still in `session`: children a worker left behind when it exited (or died on SIGTERM while
 * they ignored it). Found in /proc, signalled through a pidfd after checking the session again, so a recycled PID is
 * never hit. Returns how many were signalled.
 */
function sweepSession(signal: number, session: number): number {
  return signalMembers((ids) => ids.session === session, signal);
}

/** signalLeftovers for our own session, said in the log when it found anyone. */
export function signalOurLeftovers(pgid: number, signal: number, step: number, log: (line: string) => void): number {
  const n = signalLeftovers(pgid, signal, step, process.pid);
  if (n > 0) log(`worker pid ${pgid} left ${n} process${n === 1 ? '' : 'es'} in its group: sent ${planner.signalName(signal)}`);
  return n;
}

/** What is left of a session once its workers are gone gets the stop schedule (the one in force). */
export async function sweepLeftovers(schedule: number[], session: number, what: string, log: (line: string) => void): Promise<void> {
  // Each step after the first is said as what it answers: how long they outlived the step before.
  let last: { signal: number; ms: number } | null = null;
  await runStopSchedule(schedule, {
    send: (signal) => {
      const left = sweepSession(signal, session);
      if (left === 0) return false;
      if (signal !== SIGKILL && signal !== SIGCONT) sweepSession(SIGCONT, session);
      const name = planner.signalName(signal);
      log(
        last
          ? `${what}: ${left} still alive ${last.ms / 1000}s after ${planner.signalName(last.signal)}: sent ${name}`
          : `${what}: ${left} process${left === 1 ? '' : 'es'}: sent ${name}`,
      );
      last = { signal, ms: 0 };
      return true;
    },
    gone: async (ms) => {
      last!.ms = ms;
      for (let waited = 0; waited < ms; waited += SWEEP_POLL_MS) {
        if (sweepSession(PROBE, session) === 0) return true;
        await delay(SWEEP_POLL_MS);
      }
      return sweepSession(PROBE, session) === 0;
    },
  });
}

// Referenced: before the control server exists (a start's sweep of leftovers), nothing else keeps the loop alive.
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
