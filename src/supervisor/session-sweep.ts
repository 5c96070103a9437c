// What exited workers leave in the supervisor's session: counted, and signalled only through pidfds after a recheck.
import { planner } from '../core/wasm.js';
import { idsOf, membersOf } from '../core/proc-scan.js';
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

/**
 * The session our workers are in: our own PID for start's supervisor (it called setsid), the caller's for a run that is
 * not a session leader (from a shell, under unshare, behind tini).
 */
let session: number | null = null;
const ourSession = (): number => (session ??= idsOf(process.pid)?.session ?? process.pid);

/** signalLeftovers for our workers' session, said in the log when it found anyone. */
export function signalOurLeftovers(pgid: number, signal: number, step: number, log: (line: string) => void): number {
  const n = signalLeftovers(pgid, signal, step, ourSession());
  if (n > 0) log(`worker pid ${pgid} left ${n} process${n === 1 ? '' : 'es'} in its group: sent ${planner.signalName(signal)}`);
  return n;
}
