// Operations on a named service: find it, ask it, signal it only when its PID file lock proves who it is.
import { closeSync, lstatSync, readdirSync } from 'node:fs';
import { askControl, type ControlAnswer, type ControlRequest } from './control.js';
import { inspectPidfile, PidfileError, removeStalePidfile, type PidfileState } from './pidfile.js';
import { DamagedStateError } from './state-record.js';
import { filesForName, readState, type ServiceFiles, type ServiceStatus, type StateRecord } from './service-files.js';
import { pidfdOpen, pidfdSendSignal, pollReadable, waitReadable } from '../sys/pidfd.js';
import { describeHolder } from './pid-identity.js';
import { runStopSchedule, stopScheduleBudgetMs, SUPERVISOR_EXIT } from './supervisor-machine.js';
import { LSB } from './lsb-status.js';
import { leftByDeadSupervisor, sweepLeftovers } from './leftover-sweep.js';
import { SysError } from '../sys/errors.js';

export { LSB };

/** A stale PID file's reason when there is nothing more to say (status prints no reason line for it). */
export const STALE_REASON = 'not running (stale PID file)';

/** How long a question to the control socket waits for its answer. */
const ASK_TIMEOUT_MS = 2000;
/** What a supervisor that answered a stop may still take to exit (its last output, its answers), beyond the schedule. */
const EXIT_GRACE_MS = 5000;

export interface Service {
  name: string;
  files: ServiceFiles;
}

export interface StatusReport {
  name: string;
  lsb: number;
  /** running | stale | stopped | failed | unknown */
  summary: string;
  /** The PID file, absolute. */
  pidfile: string;
  pid: number | null;
  status: ServiceStatus | null;
  /** Why it is not running, from the last record the supervisor left. */
  reason: string | null;
  record: StateRecord | null;
  /** "damaged state record STATE/NAME.json: ..." when the record is there but unusable; status still answers. */
  stateError: string | null;
}

/**
 * A pidfd for the service's process, or null if the PID in its file is not provably the service (pid-identity.ts).
 * The pidfd is opened first and the proof made after; the process is then still alive, so the proof was about the
 * very process the pidfd signals, never a PID recycled in between.
 */
export function pinService(pidfile: string): { pid: number; pidfd: number } | null {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = inspectPidfile(pidfile);
    if (before.state !== 'running') return null;
    const pidfd = pidfdOpen(before.pid);
    if (pidfd === null) continue;
    const after = inspectPidfile(pidfile);
    if (after.state === 'running' && after.pid === before.pid && !pollReadable(pidfd, 0)) return { pid: before.pid, pidfd };
    closeSync(pidfd);
  }
  return null;
}

export async function ask(service: Service, req: ControlRequest, timeoutMs: number): Promise<ControlAnswer | null | { denied: true }> {
  return askControl(service.files.socket, req, timeoutMs);
}

export async function statusOf(service: Service): Promise<StatusReport> {
  let record: StateRecord | null = null;
  let stateError: string | null = null;
  try {
    record = readState(service.files.state);
  } catch (e) {
    // Reported beside what the PID file says: a damaged record must not cost the answer to "is it running?".
    if (!(e instanceof DamagedStateError)) throw e;
    stateError = e.message;
  }
  const base = { name: service.name, pidfile: service.files.pidfile, record, stateError, status: null as ServiceStatus | null };
  let state: PidfileState;
  try {
    state = inspectPidfile(service.files.pidfile);
  } catch (e) {
    // A PID file we refuse (a symlink) or may not read (EACCES): LSB "unknown", with the reason, not a failed list.
    if (e instanceof PidfileError || e instanceof SysError)
      return { ...base, lsb: LSB.unknown, summary: 'unknown', pid: null, reason: e.message };
    throw e;
  }
  if (state.state === 'absent') {
    const failed = record?.exitCode ? (record.status?.failure ?? `exited ${record.exitCode}`) : null;
    return {
      ...base,
      lsb: LSB.notRunning,
      summary: failed ? 'failed' : 'stopped',
      pid: null,
      reason: failed,
      status: record?.status ?? null,
    };
  }
  if (state.state === 'stale') {
    const held = state.holder ? `; its lock is held by ${describeHolder(state.holder)}, which is not the service` : '';
    // A dead supervisor's session id is its PID, which the kernel keeps from reuse while any member lives.
    const left = state.pid ? leftByDeadSupervisor(service.files.state, state.pid) : [];
    const alive = left.length
      ? `; ${left.length} process${left.length === 1 ? '' : 'es'} of its session still alive (pid ${left.join(', ')}): a stop or the next start stops them`
      : '';
    return {
      ...base,
      lsb: LSB.deadWithPidfile,
      summary: 'stale',
      pid: state.pid,
      reason: held || alive ? `not running (stale PID file${held}${alive})` : STALE_REASON,
      status: record?.status ?? null,
    };
  }
  const pid = state.state === 'starting' ? null : state.pid;
  const answer = await ask(service, { cmd: 'status' }, ASK_TIMEOUT_MS);
  if (answer && 'denied' in answer)
    return { ...base, lsb: LSB.unknown, summary: 'unknown', pid, reason: 'permission denied on the control socket' };
  // Another user's supervisor we may not look into (/proc/PID/fd): its own answer on its socket, naming the PID in the
  // file, is the proof instead; without one we cannot tell.
  const unproven = state.state === 'unverified' && !(answer?.ok && answer.status?.pid === pid);
  if (unproven)
    return {
      ...base,
      lsb: LSB.unknown,
      summary: 'unknown',
      pid,
      reason: `cannot verify that pid ${pid} is the service (permission denied on /proc/${pid}/fd)`,
    };
  if (answer?.ok && answer.status) {
    const st = answer.status;
    // A supervisor whose every worker is crashed, backing off or still starting is not "running" with exit 0.
    const serving = st.state === 'starting' || st.state === 'running' || st.state === 'reloading';
    if (st.workers.length > 0 && !st.workers.some((w) => w.state === 'running') && serving) {
      const summary = st.workers.some((w) => w.state === 'backoff') ? 'restarting' : 'starting';
      return { ...base, lsb: LSB.noWorkerUp, summary, pid, reason: `no worker is up (${describeWorkers(st)})`, status: st };
    }
    return { ...base, lsb: LSB.running, summary: st.state, pid, reason: st.failure, status: st };
  }
  // A supervisor has a socket to answer on: one alive that does not (stopped, wedged) is not "running" with 0.
  if (record?.options.supervise && state.state !== 'starting') {
    const reason = `the supervisor holds its PID file but did not answer on ${service.files.socket} within ${ASK_TIMEOUT_MS / 1000}s`;
    return { ...base, lsb: LSB.unknown, summary: 'not answering', pid, reason };
  }
  // Holding its own PID file open is proof of life; an unsupervised daemon simply has no socket to answer on.
  return { ...base, lsb: LSB.running, summary: state.state === 'starting' ? 'starting' : 'running', pid, reason: null };
}

function describeWorkers(st: ServiceStatus): string {
  return st.workers.map((w) => `worker ${w.task} ${w.state}${w.lastExit ? `, last ${w.lastExit}` : ''}`).join('; ');
}

export type StopOutcome =
  | { kind: 'stopped'; pid: number; note?: string }
  | { kind: 'not-running'; stale: boolean }
  | { kind: 'timeout'; pid: number; message: string }
  /** Not ours to stop: the control socket refused us (another user's service), or its PID file is refused. */
  | { kind: 'denied'; pid: number | null; message: string };

/** How long a stop waits for what a stopped daemon forked to let go of the PID file lock it inherited. */
const LOCK_RELEASE_WAIT_MS = 1000;
const LOCK_POLL_MS = 20;

/** Stops the service and waits until its supervisor (or daemon) is gone; only the lock holder is ever signalled. */
export async function stopService(service: Service, schedule: number[]): Promise<StopOutcome> {
  const outcome = await stopHolder(service, schedule);
  // A stopped daemon that could not remove its own PID file would otherwise read as "stale" (LSB 1) after a clean stop.
  if (outcome.kind === 'stopped') await removeOnceUnlocked(service.files.pidfile, outcome.pid);
  return outcome;
}

/** removeStalePidfile, waiting a little while a child the daemon left (`sleep` in a shell loop) still holds the lock. */
async function removeOnceUnlocked(path: string, pid: number): Promise<void> {
  for (let waited = 0; !removeStalePidfile(path, pid) && waited < LOCK_RELEASE_WAIT_MS; waited += LOCK_POLL_MS) {
    let now;
    try {
      now = inspectPidfile(path);
    } catch {
      return; // refused or unreadable: not ours to remove
    }
    if (now.state === 'absent' || !('pid' in now) || now.pid !== pid) return;
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

async function stopHolder(service: Service, schedule: number[]): Promise<StopOutcome> {
  let held;
  try {
    held = pinService(service.files.pidfile);
  } catch (e) {
    if (e instanceof PidfileError) return { kind: 'denied', pid: null, message: e.message };
    throw e;
  }
  if (!held) {
    const now = inspectPidfile(service.files.pidfile);
    if (now.state === 'unverified') {
      // Another user's service: its socket tells us whether we may talk to it at all, before we say we cannot verify.
      const probe = await ask(service, { cmd: 'status' }, ASK_TIMEOUT_MS);
      if (probe && 'denied' in probe) return { kind: 'denied', pid: now.pid, message: `permission denied on ${service.files.socket}` };
      return { kind: 'denied', pid: now.pid, message: `cannot verify that pid ${now.pid} is the service; nobody was signalled` };
    }
    if (now.state === 'stale' && now.pid)
      return (await stopLeftoversOf(service, now.pid, schedule)) ?? { kind: 'not-running', stale: true };
    return { kind: 'not-running', stale: false };
  }
  // The supervisor may walk the schedule twice: over its workers, then over what they left in its session.
  const budget = 2 * stopScheduleBudgetMs(schedule);
  try {
    const answer = await ask(service, { cmd: 'stop', schedule }, budget + EXIT_GRACE_MS);
    // Another user's supervisor: signalling it would fail the same way (EPERM), so say so instead of trying.
    if (answer && 'denied' in answer) return { kind: 'denied', pid: held.pid, message: `permission denied on ${service.files.socket}` };
    if (answer && !('denied' in answer) && answer.exitCode === SUPERVISOR_EXIT.stopScheduleRanOut) {
      return { kind: 'timeout', pid: held.pid, message: answer.error ?? 'the stop schedule ran out' };
    }
    if (!answer) {
      // No supervisor to ask (an unsupervised daemon, or a hung one): run the schedule on the lock holder itself.
      let denied = false;
      const run = await runStopSchedule(schedule, {
        send: (signal) => {
          try {
            // false: gone already (ESRCH); its pidfd is readable then, and the wait below says so at once.
            pidfdSendSignal(held.pidfd, signal);
            return true;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
            denied = true;
            return false;
          }
        },
        gone: (ms) => waitReadable(held.pidfd, ms),
      });
      if (denied) return { kind: 'denied', pid: held.pid, message: `permission denied: cannot signal pid ${held.pid}` };
      if (run.stopped) return { kind: 'stopped', pid: held.pid };
      return { kind: 'timeout', pid: held.pid, message: `pid ${held.pid} is still alive after the stop schedule` };
    }
    if (await waitReadable(held.pidfd, EXIT_GRACE_MS)) return { kind: 'stopped', pid: held.pid, note: answer.message };
    return { kind: 'timeout', pid: held.pid, message: `supervisor ${held.pid} answered but did not exit` };
  } finally {
    closeSync(held.pidfd);
  }
}

/**
 * A dead supervisor's session that still has members (its stop schedule ran out): they get this stop's schedule, when
 * the service's record names that PID as its supervisor (the PID file alone could have been written by anyone holding
 * it). Null: nothing of the kind to stop.
 */
async function stopLeftoversOf(service: Service, pid: number, schedule: number[]): Promise<StopOutcome | null> {
  if (leftByDeadSupervisor(service.files.state, pid).length === 0) return null;
  const said: string[] = [];
  const gone = await sweepLeftovers(schedule, pid, 'left in its session', (line) => said.push(line));
  if (!gone) return { kind: 'timeout', pid, message: `${said.at(-1) ?? 'left in its session'}; the stop schedule ran out` };
  return { kind: 'stopped', pid, note: said.join('; ') };
}

/** Signals the service's own process only (pinService), when there is no supervisor to ask. */
export function signalService(service: Service, signal: number): number | null {
  const held = pinService(service.files.pidfile);
  if (!held) return null;
  try {
    return pidfdSendSignal(held.pidfd, signal) ? held.pid : null;
  } finally {
    closeSync(held.pidfd);
  }
}

/** The named service whose record names this PID file (started with --pidfile), if any. */
export function findByPidfile(stateDir: string, pidfile: string): Service | null {
  const matches = listServices(stateDir).filter((s) => s.files.pidfile === pidfile);
  // The PID file's own stem names no service when a record names that file (start --pidfile P -- app: "app").
  return matches.find((s) => lstatSync(s.files.state, { throwIfNoEntry: false }) !== undefined) ?? matches[0] ?? null;
}

/** Every service with a PID file or a state record in the directory. */
export function listServices(stateDir: string): Service[] {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return [];
  }
  const stems = new Set(
    names.filter((n) => n.endsWith('.pid') || (n.endsWith('.json') && !n.endsWith('.tmp'))).map((n) => n.replace(/\.(pid|json)$/, '')),
  );
  return [...stems].sort().map((name) => ({ name, files: filesForName(stateDir, name) }));
}
