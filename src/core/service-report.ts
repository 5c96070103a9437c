// What `status()` and `list()` return: one plain object per service, the same one `status --json` prints.
import { LSB, type StatusReport } from './service-control.js';

/** One worker of a supervised service, as its supervisor reports it. */
export interface WorkerReport {
  /** DAEMONKIT_TASK_ID, 0..N-1, kept across restarts. */
  task: number;
  /** 0 while it is not running (backing off, stopped). */
  pid: number;
  /** starting | running | backoff | stopping | exited ... */
  state: string;
  restarts: number;
  /** How its last process ended ("exited 3", "killed by SIGSEGV"), or null. */
  lastExit: string | null;
  /** Epoch ms when its current process started, or null. */
  startedAt: number | null;
  /** Ready by the service's --ready mode (alive, notify, a probe). */
  ready: boolean;
  /** Its last readiness or health probe (or READY=1): whether it passed, what it said, epoch ms; null if none. */
  probe: { ok: boolean; text: string; at: number } | null;
}

export interface ServiceReport {
  name: string;
  /** The LSB status code (`LSB`): 0 running, 1 dead with a PID file left, 3 not running, 4 unknown, 150 up but no worker is. */
  lsb: number;
  /** running | starting | reloading | stopping | restarting | stale | stopped | failed | unknown */
  state: string;
  running: boolean;
  /** True when a supervisor answered (its workers are then listed). */
  supervised: boolean;
  /** The supervisor's PID (or an unsupervised daemon's), or null. */
  pid: number | null;
  pidfile: string;
  /** Why it is not running, or not fully up, or why its state is unknown. */
  reason: string | null;
  /** Epoch ms when the supervisor started, or null. */
  startedAt: number | null;
  workers: WorkerReport[];
  /** Restarts of all its workers together. */
  restarts: number;
  /** Why the log cannot be written (a full disk), or null. */
  logError: string | null;
  /** Processes of its session left by exited workers. */
  leftovers: number;
  command: string[] | null;
  /** The supervisor's exit code when it last exited, or null. */
  exitCode: number | null;
  /** "damaged state record ...", when its record is unusable (the rest still answers). */
  stateError: string | null;
}

export function serviceReport(r: StatusReport): ServiceReport {
  const workers = (r.status?.workers ?? []).map(({ task, pid, state, restarts, lastExit, startedAt, ready, probe }) => ({
    task,
    pid,
    state,
    restarts,
    lastExit,
    startedAt,
    ready: ready ?? state === 'running',
    probe: probe ?? null,
  }));
  return {
    name: r.name,
    lsb: r.lsb,
    state: r.summary,
    running: r.lsb === LSB.running,
    supervised: r.status !== null && (r.lsb === LSB.running || r.lsb === LSB.noWorkerUp),
    pid: r.pid,
    pidfile: r.pidfile,
    reason: r.reason,
    startedAt: r.status?.startedAt ?? null,
    workers,
    restarts: workers.reduce((sum, w) => sum + w.restarts, 0),
    logError: r.status?.logError ?? null,
    leftovers: r.status?.leftovers ?? 0,
    command: r.status?.command ?? r.record?.options.command?.argv ?? null,
    exitCode: r.record?.exitCode ?? null,
    stateError: r.stateError,
  };
}
