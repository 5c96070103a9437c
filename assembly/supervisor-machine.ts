// The supervisor machine's data: one Machine per supervisor, its workers (tasks) and their processes, and the small
// helpers every concern uses (emitting actions, timers, finding processes, describing how a worker ended).
import {
  A_ARM_TIMER,
  A_CANCEL_TIMER,
  CONFIG_BACKOFF_MAX_MS,
  CONFIG_BACKOFF_MIN_MS,
  CONFIG_MAX_RESTARTS,
  CONFIG_MIN_UPTIME_MS,
  CONFIG_READY_TIMEOUT_MS,
  CONFIG_RELOAD,
  CONFIG_RESTART,
  CONFIG_RESTART_WINDOW_MS,
  CONFIG_START_MS,
  CONFIG_WORKERS,
  WORKER_STARTING,
} from './supervisor-abi';
import { defaultStopSchedule } from './stop-schedule';
import { describeWaitStatus } from './wait-status';

// A process's role: the task's worker, a reload replacement not ready yet, or one being retired.
export const P_MAIN: i32 = 0;
export const P_NEW: i32 = 1;
export const P_OLD: i32 = 2;

// What a process's timer is for.
export const T_START: i32 = 1;
export const T_READY_TIMEOUT: i32 = 2;
export const T_STOP: i32 = 3;

// Pending spawn of a worker: none, its main process, a reload replacement.
export const PEND_NONE: i32 = 0;
export const PEND_MAIN: i32 = 1;
export const PEND_NEW: i32 = 2;

export class Proc {
  ready: bool = false;
  timer: i32 = 0;
  timerKind: i32 = 0;
  /** Its own stop schedule's step (retired alone); -1 if none. */
  step: i32 = -1;
  /** Retired by a rolling reload once its replacement was ready: its exit is a replacement, not a crash. */
  replaced: bool = false;
  /** It outlived a stop step and got a later one. */
  escalated: bool = false;
  constructor(
    public pid: i32,
    public task: i32,
    public role: i32,
    public spawnedAt: f64,
    public gen: i32,
  ) {}
}

export class Worker {
  state: i32 = WORKER_STARTING;
  pending: i32 = PEND_NONE;
  pendingGen: i32 = 0;
  restarts: i32 = 0;
  consecutive: i32 = 0;
  lastStatus: i32 = -1;
  lastErrno: i32 = 0;
  /** The host's words for the last failed spawn ("EMFILE: too many open files, pipe"), quoted by failure texts. */
  spawnError: string = '';
  startedAt: f64 = -1;
  backoffTimer: i32 = 0;
  everReady: bool = false;
  readyTimedOut: bool = false;
  constructor(public task: i32) {}
}

/** What an exited worker left in its process group, being walked through the stop schedule. */
export class Leftovers {
  timer: i32 = 0;
  constructor(
    public pgid: i32,
    public step: i32,
  ) {}
}

export class Machine {
  n: i32;
  restart: i32;
  backoffMin: i32;
  backoffMax: i32;
  minUptime: i32;
  maxRestarts: i32;
  window: i32;
  startMs: i32;
  readyTimeout: i32;
  reloadMode: i32;
  schedule: Int32Array = defaultStopSchedule();
  workers: Worker[] = [];
  procs: Proc[] = [];
  leftovers: Leftovers[] = [];
  out: i32[] = [];
  started: bool = false;
  firstReady: bool = false;
  stopping: bool = false;
  failing: bool = false;
  done: bool = false;
  exitCode: i32 = -1;
  nextTimer: i32 = 1;
  stopTimer: i32 = 0;
  stopStep: i32 = 0;
  /** How many processes needed a stop schedule's later steps. */
  escalations: i32 = 0;
  reason: string = '';
  notRestarted: string = '';
  restartTimes: f64[] = [];
  restartTasks: i32[] = [];
  reloading: bool = false;
  reloadDeferred: bool = false;
  reloadAgain: bool = false;
  reloadGen: i32 = 0;
  reloadTask: i32 = -1;
  reloadReplaced: bool = false; // phase: false = replacement starting, true = old one retiring
  reloadNewPid: i32 = 0;
  reloadOldPid: i32 = 0;
  reloadOldGone: bool = false;
  constructor(c: Int32Array) {
    this.n = c[CONFIG_WORKERS];
    this.restart = c[CONFIG_RESTART];
    this.backoffMin = c[CONFIG_BACKOFF_MIN_MS];
    this.backoffMax = c[CONFIG_BACKOFF_MAX_MS];
    this.minUptime = c[CONFIG_MIN_UPTIME_MS];
    this.maxRestarts = c[CONFIG_MAX_RESTARTS];
    this.window = c[CONFIG_RESTART_WINDOW_MS];
    this.startMs = c[CONFIG_START_MS];
    this.readyTimeout = c[CONFIG_READY_TIMEOUT_MS];
    this.reloadMode = c[CONFIG_RELOAD];
    for (let i = 0; i < this.n; i++) this.workers.push(new Worker(i));
  }
}

export function emit(m: Machine, kind: i32, a: i32, b: i32, c: i32): void {
  m.out.push(kind);
  m.out.push(a);
  m.out.push(b);
  m.out.push(c);
}

export function flush(m: Machine): Int32Array {
  const r = new Int32Array(m.out.length);
  for (let i = 0; i < m.out.length; i++) r[i] = m.out[i];
  m.out.length = 0;
  return r;
}

export function arm(m: Machine, delay: i32): i32 {
  const id = m.nextTimer++;
  emit(m, A_ARM_TIMER, id, delay, 0);
  return id;
}

export function cancel(m: Machine, id: i32): void {
  if (id != 0) emit(m, A_CANCEL_TIMER, id, 0, 0);
}

/** How a worker's process ended: its wait status, or the spawn's failure in the host's words. */
export function describeEnd(status: i32, errno: i32, why: string = ''): string {
  if (errno != 0) return why.length ? 'could not be spawned: ' + why : 'could not be spawned (errno ' + errno.toString() + ')';
  return describeWaitStatus(status);
}

export function duration(ms: i32): string {
  return ms % 1000 == 0 ? (ms / 1000).toString() + 's' : ms.toString() + 'ms';
}

export function findProc(m: Machine, pid: i32): Proc | null {
  for (let i = 0; i < m.procs.length; i++) if (m.procs[i].pid == pid) return m.procs[i];
  return null;
}

export function mainProc(m: Machine, task: i32): Proc | null {
  for (let i = 0; i < m.procs.length; i++) {
    const p = m.procs[i];
    if (p.task == task && p.role == P_MAIN) return p;
  }
  return null;
}

// Keeps procs ordered by task, then spawn order, so "signal everybody" goes in task order.
export function addProc(m: Machine, p: Proc): void {
  m.procs.push(p);
  let at = m.procs.length - 1;
  while (at > 0 && m.procs[at - 1].task > p.task) {
    m.procs[at] = m.procs[at - 1];
    at--;
  }
  m.procs[at] = p;
}

export function removeProc(m: Machine, p: Proc): void {
  for (let i = 0; i < m.procs.length; i++)
    if (m.procs[i] === p) {
      m.procs.splice(i, 1);
      return;
    }
}

export function anyPending(m: Machine): bool {
  for (let i = 0; i < m.n; i++) if (m.workers[i].pending != PEND_NONE) return true;
  return false;
}
