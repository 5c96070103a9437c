// What is left of a session whose workers are gone: found in /proc by session id and given the stop schedule, each
// signal through a pidfd after checking the session again. The supervisor sweeps its own; `stop` and a new supervisor
// sweep a dead one's, of what its workers left only.
import { planner } from './wasm.js';
import { runStopSchedule } from './supervisor-machine.js';
import { carriesTaskId, membersOf, sessionOf, signalMembers } from './proc-scan.js';
import { recordedSupervisor } from './service-files.js';
import { SIGCONT, SIGKILL } from '../sys/signal.js';

/** How often a sweep looks whether the session's leftovers are gone within a stop step. */
const SWEEP_POLL_MS = 20;
/** The signal that only asks whether a process exists. */
const PROBE = 0;

/**
 * Signals every process still in `session`: children a worker left behind when it exited (or died on SIGTERM while
 * they ignored it). Found in /proc, signalled through a pidfd after checking the session again, so a recycled PID is
 * never hit. Returns how many were signalled.
 */
function sweepSession(signal: number, session: number, proven?: (pid: number) => boolean): number {
  return signalMembers((ids) => ids.session === session, signal, proven);
}

/**
 * What a dead supervisor of this service left in its session: pid names no process, the service's record (trusted
 * only if ours) names pid as its last supervisor, and each member carries a worker's environment. A session id is only
 * a PID, which a stranger's setsid can have taken since. [] when any of that fails.
 */
export function leftByDeadSupervisor(statePath: string, pid: number): number[] {
  if (sessionOf(pid) !== -1 || recordedSupervisor(statePath) !== pid) return [];
  return membersOf((ids) => ids.session === pid).filter(carriesTaskId);
}

/**
 * What is left of a session once its workers are gone gets the stop schedule (the one in force); true: all gone. Our
 * own session is ours whole; another's (a dead supervisor's) only in what shows our workers' environment.
 */
export async function sweepLeftovers(schedule: number[], session: number, what: string, log: (line: string) => void): Promise<boolean> {
  const proven = session === process.pid ? undefined : carriesTaskId;
  // Each step after the first is said as what it answers: how long they outlived the step before.
  let last: { signal: number; ms: number } | null = null;
  const run = await runStopSchedule(schedule, {
    send: (signal) => {
      const left = sweepSession(signal, session, proven);
      if (left === 0) return false;
      if (signal !== SIGKILL && signal !== SIGCONT) sweepSession(SIGCONT, session, proven);
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
        if (sweepSession(PROBE, session, proven) === 0) return true;
        await delay(SWEEP_POLL_MS);
      }
      return sweepSession(PROBE, session, proven) === 0;
    },
  });
  return run.stopped || sweepSession(PROBE, session, proven) === 0;
}

// Referenced: before the control server exists (a start's sweep of leftovers), nothing else keeps the loop alive.
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
