// What exited workers leave in the supervisor's session: counted, and signalled only through pidfds after a recheck.
import { planner } from '../core/wasm.js';
import { membersOf } from '../core/proc-scan.js';
import { signalLeftovers } from '../core/machine-effects.js';

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

/** signalLeftovers for our own session, said in the log when it found anyone. */
export function signalOurLeftovers(pgid: number, signal: number, step: number, log: (line: string) => void): number {
  const n = signalLeftovers(pgid, signal, step, process.pid);
  if (n > 0) log(`worker pid ${pgid} left ${n} process${n === 1 ? '' : 'es'} in its group: sent ${planner.signalName(signal)}`);
  return n;
}
