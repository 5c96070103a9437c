// The supervisor's state machine (tornado fork_processes + pm2/supervisord restarts): events in, 4-int action records
// out (supervisor-abi.ts names them). Time is the caller's clock in ms. Decisions the brief left open are marked
// "Decision:" in supervisor-workers.ts, supervisor-reload.ts and supervisor-stop.ts; this file is the host's API.
import {
  A_REAPED,
  CONFIG_LENGTH,
  EXIT_CAUSE_EXITED,
  EXIT_CAUSE_REPLACED,
  EXIT_CAUSE_STOPPED,
  RELOAD_SIGNAL,
  RESTART_NEVER,
  START_WHEN_READY,
  MAX_WORKERS,
  SUP_EXITED,
  SUP_FAILED,
  SUP_RELOADING,
  SUP_RUNNING,
  SUP_STARTING,
  SUP_STOPPING,
  WORKER_EXITED,
  WORKER_FAILED,
  WORKER_STARTING,
  WORKER_STOPPING,
  CONFIG_WORKERS,
  CONFIG_RESTART,
  CONFIG_BACKOFF_MIN_MS,
  CONFIG_BACKOFF_MAX_MS,
  CONFIG_MIN_UPTIME_MS,
  CONFIG_MAX_RESTARTS,
  CONFIG_RESTART_WINDOW_MS,
  CONFIG_START_MS,
  CONFIG_READY_TIMEOUT_MS,
  CONFIG_RELOAD,
  NO_RESTART_LIMIT,
  A_RELOAD_FAILED,
} from './supervisor-abi';
import {
  addProc,
  anyPending,
  cancel,
  describeEnd,
  emit,
  findProc,
  flush,
  Machine,
  mainProc,
  P_MAIN,
  P_NEW,
  P_OLD,
  PEND_MAIN,
  PEND_NEW,
  PEND_NONE,
  Proc,
  removeProc,
  T_READY_TIMEOUT,
  T_START,
  T_STOP,
  Worker,
} from './supervisor-machine';
import { clearReload, advanceReload, doReload } from './supervisor-reload';
import {
  enterStop,
  finish,
  retire,
  leftoversSignalled,
  leftoversTimerFired,
  procStopFired,
  startLeftovers,
  stopCode,
  stopLateComer,
  stopTimerFired,
} from './supervisor-stop';
import { armReadiness, checkAllExited, markReady, readyTimedOut, spawnMain, spawnStatus, workerGone } from './supervisor-workers';
import { stopStepSignal, stopStepTimeout, validStopSchedule } from './stop-schedule';

const machines: Array<Machine | null> = [];

function get(h: i32): Machine | null {
  if (h < 1 || h > machines.length) return null;
  return machines[h - 1];
}

const NONE = new Int32Array(0);

function validConfig(c: Int32Array): bool {
  if (c.length != CONFIG_LENGTH) return false;
  const workers = c[CONFIG_WORKERS];
  const restart = c[CONFIG_RESTART];
  const reload = c[CONFIG_RELOAD];
  return (
    workers >= 1 &&
    workers <= MAX_WORKERS &&
    restart >= 0 &&
    restart <= RESTART_NEVER &&
    c[CONFIG_BACKOFF_MIN_MS] >= 0 &&
    c[CONFIG_BACKOFF_MAX_MS] >= c[CONFIG_BACKOFF_MIN_MS] &&
    c[CONFIG_MIN_UPTIME_MS] >= 0 &&
    c[CONFIG_MAX_RESTARTS] >= NO_RESTART_LIMIT &&
    c[CONFIG_RESTART_WINDOW_MS] >= 0 &&
    c[CONFIG_START_MS] >= START_WHEN_READY &&
    c[CONFIG_READY_TIMEOUT_MS] >= 0 &&
    reload >= 0 &&
    reload <= RELOAD_SIGNAL
  );
}

/** A new machine from CONFIG_LENGTH slots named CONFIG_*; 0 if the config is out of range. */
export function supCreate(config: Int32Array): i32 {
  if (!validConfig(config)) return 0;
  machines.push(new Machine(config));
  return machines.length;
}

export function supDestroy(h: i32): void {
  if (get(h) != null) machines[h - 1] = null;
}

/** 1 if taken, 0 if `pairs` is not a valid schedule or a stop is under way (the previous one stays). */
export function supSetStopSchedule(h: i32, pairs: Int32Array): i32 {
  const m = get(h);
  if (m == null || m.stopping || m.done || !validStopSchedule(pairs)) return 0;
  const s = new Int32Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) s[i] = pairs[i];
  m.schedule = s;
  return 1;
}

/** The stop schedule in force (the default, or the last one supSetStopSchedule took). */
export function supStopSchedule(h: i32): Int32Array {
  const m = get(h);
  return m == null ? NONE : m.schedule;
}

/** The signal the machine's stop schedule sends at `step`; 0 past its end. */
export function supStopStepSignal(h: i32, step: i32): i32 {
  const m = get(h);
  return m == null ? 0 : stopStepSignal(m.schedule, step);
}

/** How long the machine's stop schedule waits at `step`; 0 past its end. */
export function supStopStepTimeout(h: i32, step: i32): i32 {
  const m = get(h);
  return m == null ? 0 : stopStepTimeout(m.schedule, step);
}

/** How many processes needed a stop schedule's later steps (each A_ESCALATE's pid, counted once). */
export function supEscalations(h: i32): i32 {
  const m = get(h);
  return m == null ? 0 : m.escalations;
}

export function supStart(h: i32, t: f64): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (!m.started && !m.done) {
    m.started = true;
    for (let i = 0; i < m.n; i++) spawnMain(m, m.workers[i]);
  }
  return flush(m);
}

export function supSpawned(h: i32, t: f64, task: i32, pid: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (task < 0 || task >= m.n || pid <= 0 || findProc(m, pid) != null) return flush(m);
  const w = m.workers[task];
  const kind = w.pending;
  if (kind == PEND_NONE) return flush(m);
  w.pending = PEND_NONE;
  const forReload = kind == PEND_NEW && m.reloading && m.reloadTask == task;
  let role = P_MAIN;
  if (kind == PEND_NEW) role = forReload && m.reloadOldGone ? P_MAIN : forReload ? P_NEW : P_OLD;
  const p = new Proc(pid, task, role, t, w.pendingGen);
  addProc(m, p);
  if (role == P_MAIN) {
    w.startedAt = t;
    w.readyTimedOut = false;
  }
  if (forReload) m.reloadNewPid = pid;
  if (m.done) return flush(m);
  if (m.stopping) stopLateComer(m, pid);
  else armReadiness(m, p);
  return flush(m);
}

/** A spawn failed: `errno` (positive) and the host's words for why ("ENOEXEC: exec format error, posix_spawn
 *  '/srv/app'"), which the failure texts quote instead of the errno's number. */
export function supSpawnFailedWith(h: i32, t: f64, task: i32, errno: i32, why: string): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (task < 0 || task >= m.n) return flush(m);
  const w = m.workers[task];
  const kind = w.pending;
  if (kind == PEND_NONE) return flush(m);
  w.pending = PEND_NONE;
  const status = spawnStatus(errno);
  const forReload = kind == PEND_NEW && m.reloading && m.reloadTask == task;
  const ownsTask = kind == PEND_MAIN || (forReload && m.reloadOldGone);
  if (m.done) return flush(m);
  if (m.stopping) {
    if (ownsTask) {
      w.lastStatus = status;
      w.lastErrno = errno;
      w.spawnError = why;
      w.state = WORKER_FAILED;
    }
    if (m.procs.length == 0 && !anyPending(m)) finish(m, stopCode(m));
    return flush(m);
  }
  if (forReload) {
    emit(m, A_RELOAD_FAILED, task, status, 0);
    clearReload(m);
  }
  if (ownsTask) {
    w.startedAt = t;
    w.spawnError = why;
    workerGone(m, w, t, status, errno, 0);
  }
  return flush(m);
}

export function supSpawnFailed(h: i32, t: f64, task: i32, errno: i32): Int32Array {
  return supSpawnFailedWith(h, t, task, errno, '');
}

export function supReady(h: i32, t: f64, pid: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  const p = findProc(m, pid);
  if (p == null || m.done || m.stopping || p.ready || p.role == P_OLD) return flush(m);
  const w = m.workers[p.task];
  if (p.role == P_MAIN && w.state == WORKER_STOPPING) return flush(m); // too late: it is being stopped
  markReady(m, p);
  return flush(m);
}

/** A ready worker failed its liveness check (health probes, a silent watchdog). Decision: it is stopped with the stop
 *  schedule and its exit counts as a crash (restarted whatever the policy, with the backoff), like a restarted worker
 *  not ready in time; before the start's A_READY, during a stop, or for a process not (yet) the task's ready worker,
 *  nothing happens: the ready timeout and the stop own those. */
export function supUnhealthy(h: i32, t: f64, pid: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  const p = findProc(m, pid);
  if (p == null || m.done || m.stopping || !m.firstReady || !p.ready || p.role != P_MAIN || p.timerKind == T_STOP) return flush(m);
  const w = m.workers[p.task];
  if (w.state == WORKER_STOPPING) return flush(m);
  w.readyTimedOut = true;
  w.state = WORKER_STOPPING;
  retire(m, p);
  return flush(m);
}

/** A process the machine knows was reaped. The answer begins with A_REAPED (why it is gone) and, outside a stop,
 *  ends with A_SIGNAL_LEFTOVERS for its group. */
export function supExited(h: i32, t: f64, pid: i32, rawStatus: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  const p = findProc(m, pid);
  if (p == null) return flush(m);
  const cause = m.done || m.stopping ? EXIT_CAUSE_STOPPED : p.replaced ? EXIT_CAUSE_REPLACED : EXIT_CAUSE_EXITED;
  emit(m, A_REAPED, pid, p.task, cause);
  removeProc(m, p);
  const w = m.workers[p.task];
  if (p.role == P_MAIN) {
    w.lastStatus = rawStatus;
    w.lastErrno = 0;
  }
  if (m.done) {
    if (p.role == P_MAIN && w.state == WORKER_STOPPING) w.state = WORKER_EXITED;
    return flush(m);
  }
  if (p.timer != 0) {
    cancel(m, p.timer);
    p.timer = 0;
  }
  if (m.stopping) {
    if (p.role == P_MAIN && w.state != WORKER_FAILED) w.state = WORKER_EXITED;
    if (m.procs.length == 0 && !anyPending(m)) finish(m, stopCode(m));
    return flush(m);
  }
  const isReplacement = m.reloading && !m.reloadReplaced && m.reloadTask == p.task && pid == m.reloadNewPid;
  if (p.role == P_MAIN) {
    if (m.reloading && !m.reloadReplaced && m.reloadTask == p.task && !isReplacement) {
      // The old worker died while its replacement starts: the replacement takes over the task, no restart.
      m.reloadOldGone = true;
      w.state = WORKER_STARTING;
      const np = m.reloadNewPid != 0 ? findProc(m, m.reloadNewPid) : null;
      if (np != null) {
        np.role = P_MAIN;
        w.startedAt = np.spawnedAt;
      }
      afterExit(m, pid);
      return flush(m);
    }
    if (isReplacement) {
      emit(m, A_RELOAD_FAILED, p.task, rawStatus, 0);
      clearReload(m);
    }
    workerGone(m, w, t, rawStatus, 0, pid);
  } else if (p.role == P_NEW) {
    if (isReplacement) {
      emit(m, A_RELOAD_FAILED, p.task, rawStatus, 0);
      clearReload(m);
    }
  } else if (m.reloading && m.reloadReplaced && pid == m.reloadOldPid) {
    advanceReload(m);
  }
  checkAllExited(m);
  afterExit(m, pid);
  return flush(m);
}

// Outside a stop, what the process forked must not outlive it: its group gets the stop schedule.
function afterExit(m: Machine, pid: i32): void {
  if (!m.done && !m.stopping) startLeftovers(m, pid);
}

/** The host signalled `count` processes left in group `pgid` at stop step `step` (of an A_SIGNAL_LEFTOVERS). */
export function supLeftoversSignalled(h: i32, t: f64, pgid: i32, step: i32, count: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (!m.done && !m.stopping) leftoversSignalled(m, pgid, step, count);
  return flush(m);
}

export function supTimer(h: i32, t: f64, timerId: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (m.done || timerId <= 0) return flush(m);
  if (timerId == m.stopTimer) {
    stopTimerFired(m);
    return flush(m);
  }
  for (let i = 0; i < m.n; i++) {
    const w = m.workers[i];
    if (w.backoffTimer == timerId) {
      w.backoffTimer = 0;
      spawnMain(m, w);
      return flush(m);
    }
  }
  if (leftoversTimerFired(m, timerId)) return flush(m);
  for (let i = 0; i < m.procs.length; i++) {
    const p = m.procs[i];
    if (p.timer != timerId) continue;
    const kind = p.timerKind;
    p.timer = 0;
    p.timerKind = 0;
    if (kind == T_START) {
      if (!p.ready) markReady(m, p);
    } else if (kind == T_READY_TIMEOUT) {
      if (!p.ready) readyTimedOut(m, p);
    } else if (kind == T_STOP) {
      procStopFired(m, p);
    }
    return flush(m);
  }
  return flush(m);
}

/** Decision: a second stop, a stop while giving up, or one after the exit does nothing. */
export function supStop(h: i32, t: f64): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (!m.done && !m.stopping) enterStop(m, false);
  return flush(m);
}

/** Decision: a reload before the first A_READY runs right after it; during a stop or after the exit it does nothing. */
export function supReload(h: i32, t: f64): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  if (!m.started || m.done || m.stopping) return flush(m);
  if (!m.firstReady) m.reloadDeferred = true;
  else doReload(m);
  return flush(m);
}

/** One of SUP_*; -1 for a bad handle. */
export function supState(h: i32): i32 {
  const m = get(h);
  if (m == null) return -1;
  if (m.failing) return SUP_FAILED;
  if (m.done) return SUP_EXITED;
  if (m.stopping) return SUP_STOPPING;
  if (m.reloading) return SUP_RELOADING;
  return m.firstReady ? SUP_RUNNING : SUP_STARTING;
}

/** The code of A_EXIT once emitted, else -1. */
export function supExitCode(h: i32): i32 {
  const m = get(h);
  return m == null ? -1 : m.exitCode;
}

export function supWorkers(h: i32): i32 {
  const m = get(h);
  return m == null ? 0 : m.n;
}

function worker(h: i32, task: i32): Worker | null {
  const m = get(h);
  if (m == null || task < 0 || task >= m.n) return null;
  return m.workers[task];
}

export function supWorkerPid(h: i32, task: i32): i32 {
  const m = get(h);
  if (m == null || task < 0 || task >= m.n) return 0;
  const p = mainProc(m, task);
  return p == null ? 0 : p.pid;
}

/** One of WORKER_*; -1 for a bad handle or task. */
export function supWorkerState(h: i32, task: i32): i32 {
  const w = worker(h, task);
  return w == null ? -1 : w.state;
}

export function supWorkerRestarts(h: i32, task: i32): i32 {
  const w = worker(h, task);
  return w == null ? 0 : w.restarts;
}

/** The raw wait status of the task's last process; -1 if none ended yet. */
export function supWorkerLastStatus(h: i32, task: i32): i32 {
  const w = worker(h, task);
  return w == null ? -1 : w.lastStatus;
}

/** How the task's last process ended ("exited 1", "could not be spawned: EMFILE: ..."); "" if none has yet. */
export function supWorkerLastExit(h: i32, task: i32): string {
  const w = worker(h, task);
  if (w == null || w.lastStatus < 0) return '';
  return describeEnd(w.lastStatus, w.lastErrno, w.spawnError);
}

/** When the current (or last) process of the task was spawned; -1 if never. */
export function supWorkerStartedAt(h: i32, task: i32): f64 {
  const w = worker(h, task);
  return w == null ? -1 : w.startedAt;
}

export function supFailureReason(h: i32): string {
  const m = get(h);
  return m == null ? '' : m.reason;
}

/** Every live pid the machine knows: workers, reload replacements, processes being retired. */
export function supPids(h: i32): Int32Array {
  const m = get(h);
  if (m == null) return NONE;
  const r = new Int32Array(m.procs.length);
  for (let i = 0; i < m.procs.length; i++) r[i] = m.procs[i].pid;
  return r;
}
