// The supervisor's state machine (tornado fork_processes + pm2/supervisord restarts): events in, 4-int action records out.
// Time is the caller's monotonic clock in ms. Decisions the brief left open are marked "Decision:".
import { signalName } from "./signals";
import { defaultStopSchedule, formatStopSchedule } from "./stop-schedule";
import { describeWaitStatus } from "./wait-status";

/** [task] spawn worker `task` (answer with supSpawned or supSpawnFailed). */
export const A_SPAWN: i32 = 1;
/** [pid, signal, toGroup] */
export const A_SIGNAL: i32 = 2;
/** [timerId, delayMs] answer with supTimer(timerId) unless cancelled. */
export const A_ARM_TIMER: i32 = 3;
/** [timerId] */
export const A_CANCEL_TIMER: i32 = 4;
/** every worker was ready once: `start` may exit 0. */
export const A_READY: i32 = 5;
/** [task, rawStatus, pid] a worker died (pid 0: could not be spawned) before the first A_READY. */
export const A_START_FAILED: i32 = 6;
/** [reason] 1 crash loop, 2 stop schedule ran out, 3 ready timeout. */
export const A_GAVE_UP: i32 = 7;
/** [exitCode] the supervisor exits now; nothing follows. */
export const A_EXIT: i32 = 8;
export const A_RELOADED: i32 = 9;
/** [task, rawStatus] rawStatus -1: the replacement was not ready in time. */
export const A_RELOAD_FAILED: i32 = 10;

export const SUP_STARTING: i32 = 0;
export const SUP_RUNNING: i32 = 1;
export const SUP_RELOADING: i32 = 2;
export const SUP_STOPPING: i32 = 3;
export const SUP_FAILED: i32 = 4;
export const SUP_EXITED: i32 = 5;

export const WORKER_STARTING: i32 = 0;
export const WORKER_RUNNING: i32 = 1;
export const WORKER_BACKOFF: i32 = 2;
export const WORKER_STOPPING: i32 = 3;
export const WORKER_EXITED: i32 = 4;
export const WORKER_FAILED: i32 = 5;

const RESTART_ALWAYS: i32 = 1;
const RESTART_NEVER: i32 = 2;
const RELOAD_SIGNAL: i32 = 1;
const SIGHUP: i32 = 1;

// A process's role: the task's worker, a reload replacement not ready yet, or one being retired.
const P_MAIN: i32 = 0;
const P_NEW: i32 = 1;
const P_OLD: i32 = 2;

const T_START: i32 = 1;
const T_READY_TIMEOUT: i32 = 2;
const T_STOP: i32 = 3;

// Pending spawn of a worker: none, its main process, a reload replacement.
const PEND_NONE: i32 = 0;
const PEND_MAIN: i32 = 1;
const PEND_NEW: i32 = 2;

class Proc {
  ready: bool = false;
  timer: i32 = 0;
  timerKind: i32 = 0;
  step: i32 = -1;
  constructor(public pid: i32, public task: i32, public role: i32, public spawnedAt: f64, public gen: i32) {}
}

class Worker {
  state: i32 = WORKER_STARTING;
  pending: i32 = PEND_NONE;
  pendingGen: i32 = 0;
  restarts: i32 = 0;
  consecutive: i32 = 0;
  lastStatus: i32 = -1;
  lastErrno: i32 = 0;
  /** The host's words for the last failed spawn ("EMFILE: too many open files, pipe"), quoted by failure texts. */
  spawnError: string = "";
  startedAt: f64 = -1;
  backoffTimer: i32 = 0;
  everReady: bool = false;
  readyTimedOut: bool = false;
  constructor(public task: i32) {}
}

class Machine {
  schedule: Int32Array = defaultStopSchedule();
  workers: Worker[] = [];
  procs: Proc[] = [];
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
  reason: string = "";
  notRestarted: string = "";
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
  constructor(
    public n: i32, public restart: i32, public backoffMin: i32, public backoffMax: i32, public minUptime: i32,
    public maxRestarts: i32, public window: i32, public startMs: i32, public readyTimeout: i32, public reloadMode: i32,
  ) {
    for (let i = 0; i < n; i++) this.workers.push(new Worker(i));
  }
}

const machines: Array<Machine | null> = [];

function get(h: i32): Machine | null {
  if (h < 1 || h > machines.length) return null;
  return machines[h - 1];
}

// ---- small helpers -------------------------------------------------------------------------------------------

function emit(m: Machine, kind: i32, a: i32, b: i32, c: i32): void {
  m.out.push(kind); m.out.push(a); m.out.push(b); m.out.push(c);
}

function flush(m: Machine): Int32Array {
  const r = new Int32Array(m.out.length);
  for (let i = 0; i < m.out.length; i++) r[i] = m.out[i];
  m.out.length = 0;
  return r;
}

function arm(m: Machine, delay: i32): i32 {
  const id = m.nextTimer++;
  emit(m, A_ARM_TIMER, id, delay, 0);
  return id;
}

function cancel(m: Machine, id: i32): void {
  if (id != 0) emit(m, A_CANCEL_TIMER, id, 0, 0);
}

function isClean(status: i32): bool {
  return (status & 0xffff) == 0;
}

function describe(status: i32, errno: i32, why: string = ""): string {
  if (errno != 0) return why.length ? "could not be spawned: " + why : "could not be spawned (errno " + errno.toString() + ")";
  const sig = status & 0x7f;
  if (sig == 0) return "exited " + ((status >> 8) & 0xff).toString();
  if (sig != 0x7f) {
    const name = signalName(sig);
    return "killed by " + (name.length ? name : "signal " + sig.toString()) + ((status & 0x80) != 0 ? " (core dumped)" : "");
  }
  return "status " + status.toString();
}

function duration(ms: i32): string {
  return ms % 1000 == 0 ? (ms / 1000).toString() + "s" : ms.toString() + "ms";
}

/** The least wait before retrying a worker that could not be spawned at all. */
const SPAWN_RETRY_MS: f64 = 100;

// Decision: a failed spawn counts as an exit with the shell's codes: 127 for ENOENT, 126 for anything else.
function spawnStatus(errno: i32): i32 {
  return (errno == 2 ? 127 : 126) << 8;
}

function findProc(m: Machine, pid: i32): Proc | null {
  for (let i = 0; i < m.procs.length; i++) if (m.procs[i].pid == pid) return m.procs[i];
  return null;
}

function mainProc(m: Machine, task: i32): Proc | null {
  for (let i = 0; i < m.procs.length; i++) {
    const p = m.procs[i];
    if (p.task == task && p.role == P_MAIN) return p;
  }
  return null;
}

// Keeps procs ordered by task, then spawn order, so "signal everybody" goes in task order.
function addProc(m: Machine, p: Proc): void {
  m.procs.push(p);
  let at = m.procs.length - 1;
  while (at > 0 && m.procs[at - 1].task > p.task) {
    m.procs[at] = m.procs[at - 1];
    at--;
  }
  m.procs[at] = p;
}

function removeProc(m: Machine, p: Proc): void {
  for (let i = 0; i < m.procs.length; i++) if (m.procs[i] === p) { m.procs.splice(i, 1); return; }
}

function anyPending(m: Machine): bool {
  for (let i = 0; i < m.n; i++) if (m.workers[i].pending != PEND_NONE) return true;
  return false;
}

// A stop step index → the pair it runs: the `forever` marker [0, -1] runs the pair before it.
function pairOf(s: Int32Array, step: i32): i32 {
  return s[step * 2 + 1] == -1 ? step - 1 : step;
}

function stepSignal(s: Int32Array, step: i32): i32 { return s[pairOf(s, step) * 2]; }
function stepTimeout(s: Int32Array, step: i32): i32 { return s[pairOf(s, step) * 2 + 1]; }

// The step after `step`; == the number of pairs when the schedule ran out. `forever` stays where it is.
function nextStep(s: Int32Array, step: i32): i32 {
  if (step < 0 || step * 2 + 1 >= s.length) return s.length >> 1;
  return s[step * 2 + 1] == -1 ? step : step + 1;
}

function validSchedule(s: Int32Array): bool {
  const n = s.length;
  if (n < 2 || n > 32 || (n & 1) != 0) return false;
  for (let i = 0; i < n; i += 2) {
    const sig = s[i];
    const ms = s[i + 1];
    if (sig == 0 && ms == -1) {
      if (i == 0 || i != n - 2) return false;
    } else if (sig < 1 || sig > 64 || ms < 0 || ms > 86400000) return false;
  }
  return true;
}

// ---- stopping --------------------------------------------------------------------------------------------------

function finish(m: Machine, code: i32): void {
  if (m.stopTimer != 0) { cancel(m, m.stopTimer); m.stopTimer = 0; }
  emit(m, A_EXIT, code, 0, 0);
  m.done = true;
  m.exitCode = code;
  m.stopping = false;
  m.reloading = false;
}

function stopCode(m: Machine): i32 {
  return m.failing ? 1 : 0;
}

function clearReload(m: Machine): void {
  m.reloading = false;
  m.reloadAgain = false;
  m.reloadTask = -1;
  m.reloadReplaced = false;
  m.reloadNewPid = 0;
  m.reloadOldPid = 0;
  m.reloadOldGone = false;
}

// Stop everything with the schedule: on `stop` (exit 0) or when the service failed (exit 1).
// Decision: this abandons a reload in progress silently (A_EXIT answers whoever waits), and processes
// already being retired restart the schedule from its first step with everybody else.
function enterStop(m: Machine, failing: bool): void {
  m.stopping = true;
  if (failing) m.failing = true;
  clearReload(m);
  m.reloadDeferred = false;
  for (let i = 0; i < m.n; i++) {
    const w = m.workers[i];
    if (w.backoffTimer != 0) {
      cancel(m, w.backoffTimer);
      w.backoffTimer = 0;
      w.state = isClean(w.lastStatus) ? WORKER_EXITED : WORKER_FAILED;
    } else if (w.state == WORKER_STARTING || w.state == WORKER_RUNNING) {
      w.state = WORKER_STOPPING;
    }
  }
  for (let i = 0; i < m.procs.length; i++) {
    const p = m.procs[i];
    if (p.timer != 0) { cancel(m, p.timer); p.timer = 0; p.timerKind = 0; }
  }
  if (m.procs.length == 0 && !anyPending(m)) { finish(m, stopCode(m)); return; }
  m.stopStep = 0;
  const sig = stepSignal(m.schedule, 0);
  for (let i = 0; i < m.procs.length; i++) emit(m, A_SIGNAL, m.procs[i].pid, sig, 1);
  m.stopTimer = arm(m, stepTimeout(m.schedule, 0));
}

function stopTimerFired(m: Machine): void {
  m.stopTimer = 0;
  const next = nextStep(m.schedule, m.stopStep);
  if (next * 2 >= m.schedule.length) {
    emit(m, A_GAVE_UP, 2, 0, 0);
    if (!m.failing) {
      const left = m.procs.length;
      m.reason = "stop schedule " + formatStopSchedule(m.schedule) + " ran out with " + left.toString() +
        (left == 1 ? " process" : " processes") + " still alive";
    }
    finish(m, m.failing ? 1 : 2);
    return;
  }
  m.stopStep = next;
  const sig = stepSignal(m.schedule, next);
  for (let i = 0; i < m.procs.length; i++) emit(m, A_SIGNAL, m.procs[i].pid, sig, 1);
  m.stopTimer = arm(m, stepTimeout(m.schedule, next));
}

// One process on its own schedule (a reload's old worker, a worker or replacement not ready in time).
function retire(m: Machine, p: Proc): void {
  if (p.timer != 0) { cancel(m, p.timer); p.timer = 0; }
  p.step = 0;
  emit(m, A_SIGNAL, p.pid, stepSignal(m.schedule, 0), 1);
  p.timer = arm(m, stepTimeout(m.schedule, 0));
  p.timerKind = T_STOP;
}

// Decision: when a process's own schedule runs out it is left alone (still tracked and reaped); a reload moves on.
function procStopFired(m: Machine, p: Proc): void {
  const next = nextStep(m.schedule, p.step);
  p.step = next;
  if (next * 2 >= m.schedule.length) {
    if (m.reloading && m.reloadReplaced && p.pid == m.reloadOldPid) advanceReload(m);
    return;
  }
  emit(m, A_SIGNAL, p.pid, stepSignal(m.schedule, next), 1);
  p.timer = arm(m, stepTimeout(m.schedule, next));
  p.timerKind = T_STOP;
}

// ---- spawning, readiness, exits ------------------------------------------------------------------------------

function spawnMain(m: Machine, w: Worker): void {
  emit(m, A_SPAWN, w.task, 0, 0);
  w.pending = PEND_MAIN;
  w.pendingGen = m.reloadGen;
  w.state = WORKER_STARTING;
}

function armReadiness(m: Machine, p: Proc): void {
  if (m.startMs >= 0) {
    p.timer = arm(m, m.startMs);
    p.timerKind = T_START;
  } else if (m.readyTimeout > 0) {
    p.timer = arm(m, m.readyTimeout);
    p.timerKind = T_READY_TIMEOUT;
  }
}

function allEverReady(m: Machine): bool {
  for (let i = 0; i < m.n; i++) if (!m.workers[i].everReady) return false;
  return true;
}

function markReady(m: Machine, p: Proc): void {
  if (p.timer != 0) { cancel(m, p.timer); p.timer = 0; p.timerKind = 0; }
  p.ready = true;
  const w = m.workers[p.task];
  if (p.role == P_NEW) {
    // The replacement is ready: it becomes the worker, the old one is retired with the stop schedule.
    p.role = P_MAIN;
    w.startedAt = p.spawnedAt;
    w.state = WORKER_RUNNING;
    w.readyTimedOut = false;
    const old = findProc(m, m.reloadOldPid);
    m.reloadReplaced = true;
    if (old != null) {
      old.role = P_OLD;
      if (old.timerKind != T_STOP) retire(m, old);
    } else {
      advanceReload(m);
    }
    return;
  }
  if (p.role != P_MAIN) return;
  w.state = WORKER_RUNNING;
  w.everReady = true;
  if (!m.firstReady) {
    if (allEverReady(m)) {
      m.firstReady = true;
      emit(m, A_READY, 0, 0, 0);
      if (m.reloadDeferred) { m.reloadDeferred = false; doReload(m); }
    }
  } else if (m.reloading && !m.reloadReplaced && p.pid == m.reloadNewPid) {
    advanceReload(m); // a replacement that took over from an old worker that died meanwhile
  }
}

function readyTimedOut(m: Machine, p: Proc): void {
  const w = m.workers[p.task];
  if (!m.firstReady) {
    w.state = WORKER_FAILED;
    m.reason = "worker " + p.task.toString() + " was not ready within " + duration(m.readyTimeout);
    emit(m, A_GAVE_UP, 3, 0, 0);
    enterStop(m, true);
    return;
  }
  const isReplacement = m.reloading && !m.reloadReplaced && p.pid == m.reloadNewPid;
  if (isReplacement) {
    emit(m, A_RELOAD_FAILED, p.task, -1, 0);
    clearReload(m);
  }
  if (p.role == P_NEW) {
    p.role = P_OLD;
  } else {
    // Decision: a restarted worker not ready in time is stopped with the schedule, and its exit counts as a crash.
    w.readyTimedOut = true;
    w.state = WORKER_STOPPING;
  }
  retire(m, p);
}

function recordFailureText(m: Machine, w: Worker): void {
  m.notRestarted = "worker " + w.task.toString() + " " + describe(w.lastStatus, w.lastErrno, w.spawnError) + " and was not restarted";
}

// Every worker is gone for good (clean exits not restarted, restart=never): exit 0 if all were clean.
function checkAllExited(m: Machine): void {
  if (m.done || m.stopping || !m.firstReady || m.procs.length > 0) return;
  let failed = false;
  for (let i = 0; i < m.n; i++) {
    const w = m.workers[i];
    if (w.pending != PEND_NONE || (w.state != WORKER_EXITED && w.state != WORKER_FAILED)) return;
    if (w.state == WORKER_FAILED) failed = true;
  }
  if (failed) m.reason = m.notRestarted;
  if (m.reloading) { clearReload(m); emit(m, A_RELOADED, 0, 0, 0); }
  finish(m, failed ? 1 : 0);
}

// The worker's process is gone (exit or failed spawn) outside a stop: start failure, restart, or done.
function workerGone(m: Machine, w: Worker, t: f64, status: i32, errno: i32, pid: i32): void {
  w.lastStatus = status;
  w.lastErrno = errno;
  const task = w.task;
  if (!m.firstReady) {
    w.state = WORKER_FAILED;
    emit(m, A_START_FAILED, task, status, pid);
    m.reason = errno != 0 && w.spawnError.length
      ? "could not spawn worker " + task.toString() + ": " + w.spawnError
      : "worker " + task.toString() + " " + describe(status, errno) + (errno != 0 ? "" : " before it was ready");
    enterStop(m, true);
    return;
  }
  const failed = !isClean(status) || errno != 0 || w.readyTimedOut;
  w.readyTimedOut = false;
  if (m.restart == RESTART_NEVER || (m.restart != RESTART_ALWAYS && !failed)) {
    w.state = failed ? WORKER_FAILED : WORKER_EXITED;
    if (failed) recordFailureText(m, w);
    checkAllExited(m);
    return;
  }
  if (t - w.startedAt >= <f64>m.minUptime) w.consecutive = 0;
  w.consecutive++;
  // Crash loop: more than maxRestarts restarts (service-wide) within the window.
  if (m.maxRestarts >= 0) {
    while (m.restartTimes.length > 0 && m.window > 0 && t - m.restartTimes[0] >= <f64>m.window) {
      m.restartTimes.shift();
      m.restartTasks.shift();
    }
    const count = m.restartTimes.length + 1;
    if (count > m.maxRestarts) {
      let same = true;
      for (let i = 0; i < m.restartTasks.length; i++) if (m.restartTasks[i] != task) same = false;
      const times = count.toString() + (count == 1 ? " time" : " times") + (m.window > 0 ? " in " + duration(m.window) : "");
      const last = describe(status, errno, w.spawnError);
      m.reason = same
        ? "worker " + task.toString() + " restarted " + times + "; last: " + last
        : "workers restarted " + times + "; last: worker " + task.toString() + " " + last;
      w.state = WORKER_FAILED;
      emit(m, A_GAVE_UP, 1, 0, 0);
      enterStop(m, true);
      return;
    }
    // Decision: a crash loop is also a worker failing maxRestarts + 1 times in a row, each before it was up
    // minUptime. Unlike a count within a window, this survives the backoff: doubling delays never spread it out of reach.
    if (w.consecutive > m.maxRestarts) {
      m.reason = "worker " + task.toString() + " failed " + w.consecutive.toString() + " times in a row without staying up " +
        duration(m.minUptime) + "; last: " + describe(status, errno, w.spawnError);
      w.state = WORKER_FAILED;
      emit(m, A_GAVE_UP, 1, 0, 0);
      enterStop(m, true);
      return;
    }
    m.restartTimes.push(t);
    m.restartTasks.push(task);
  }
  w.restarts++;
  let delay = <f64>m.backoffMin;
  for (let i = 1; i < w.consecutive && delay < <f64>m.backoffMax; i++) delay *= 2;
  if (delay > <f64>m.backoffMax) delay = <f64>m.backoffMax;
  // Decision: a spawn that failed (EMFILE, EAGAIN, ENOENT) waits at least SPAWN_RETRY_MS whatever the backoff says:
  // nothing that made it fail changes within a loop turn, and a 0 ms retry would spin the supervisor.
  if (errno != 0 && delay < SPAWN_RETRY_MS) delay = SPAWN_RETRY_MS;
  // Decision: every restart goes through a timer, even with a 0 delay, so a stop can always cancel it.
  w.state = WORKER_BACKOFF;
  w.backoffTimer = arm(m, <i32>delay);
}

// ---- reload -----------------------------------------------------------------------------------------------------

function doReload(m: Machine): void {
  if (m.reloadMode == RELOAD_SIGNAL) {
    // Decision: SIGHUP only reaches ready workers; one still starting may not handle it yet (and it starts fresh anyway).
    for (let i = 0; i < m.procs.length; i++) {
      const p = m.procs[i];
      if (p.role == P_MAIN && p.ready) emit(m, A_SIGNAL, p.pid, SIGHUP, 0);
    }
    emit(m, A_RELOADED, 0, 0, 0);
    return;
  }
  if (m.reloading) { m.reloadAgain = true; return; }
  m.reloading = true;
  m.reloadGen++;
  m.reloadTask = -1;
  advanceReload(m);
}

// The next task whose process predates this pass gets a replacement; backoff/spawning/exited/stopping tasks are skipped.
function advanceReload(m: Machine): void {
  for (let i = m.reloadTask + 1; i < m.n; i++) {
    const w = m.workers[i];
    const main = mainProc(m, i);
    if (main == null || main.gen >= m.reloadGen || w.pending != PEND_NONE || w.state == WORKER_STOPPING) continue;
    m.reloadTask = i;
    m.reloadReplaced = false;
    m.reloadOldPid = main.pid;
    m.reloadNewPid = 0;
    m.reloadOldGone = false;
    emit(m, A_SPAWN, i, 0, 0);
    w.pending = PEND_NEW;
    w.pendingGen = m.reloadGen;
    return;
  }
  if (m.reloadAgain) {
    m.reloadAgain = false;
    m.reloadGen++;
    m.reloadTask = -1;
    advanceReload(m);
    return;
  }
  clearReload(m);
  emit(m, A_RELOADED, 0, 0, 0);
}

// ---- public API ---------------------------------------------------------------------------------------------------

/** A new machine; 0 if an argument is out of range. restart: 0 on-failure, 1 always, 2 never; maxRestarts -1: no
 *  limit; restartWindowMs 0: count every restart ever; startMs -1: wait for supReady (readyTimeoutMs 0: forever). */
export function supCreate(
  workers: i32, restart: i32, backoffMinMs: i32, backoffMaxMs: i32, minUptimeMs: i32, maxRestarts: i32,
  restartWindowMs: i32, startMs: i32, readyTimeoutMs: i32, reloadMode: i32,
): i32 {
  if (workers < 1 || workers > 1024 || restart < 0 || restart > 2 || backoffMinMs < 0 || backoffMaxMs < backoffMinMs ||
    minUptimeMs < 0 || maxRestarts < -1 || restartWindowMs < 0 || startMs < -1 || readyTimeoutMs < 0 ||
    reloadMode < 0 || reloadMode > 1) return 0;
  machines.push(new Machine(workers, restart, backoffMinMs, backoffMaxMs, minUptimeMs, maxRestarts, restartWindowMs,
    startMs, readyTimeoutMs, reloadMode));
  return machines.length;
}

export function supDestroy(h: i32): void {
  if (get(h) != null) machines[h - 1] = null;
}

/** 1 if taken, 0 if `pairs` is not a valid schedule or a stop is under way (the previous one stays). */
export function supSetStopSchedule(h: i32, pairs: Int32Array): i32 {
  const m = get(h);
  if (m == null || m.stopping || m.done || !validSchedule(pairs)) return 0;
  const s = new Int32Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) s[i] = pairs[i];
  m.schedule = s;
  return 1;
}

export function supStart(h: i32, t: f64): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
  if (!m.started && !m.done) {
    m.started = true;
    for (let i = 0; i < m.n; i++) spawnMain(m, m.workers[i]);
  }
  return flush(m);
}

export function supSpawned(h: i32, t: f64, task: i32, pid: i32): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
  if (task < 0 || task >= m.n || pid <= 0 || findProc(m, pid) != null) return flush(m);
  const w = m.workers[task];
  const kind = w.pending;
  if (kind == PEND_NONE) return flush(m);
  w.pending = PEND_NONE;
  const forReload = kind == PEND_NEW && m.reloading && m.reloadTask == task;
  let role = P_MAIN;
  if (kind == PEND_NEW) role = forReload && m.reloadOldGone ? P_MAIN : (forReload ? P_NEW : P_OLD);
  const p = new Proc(pid, task, role, t, w.pendingGen);
  addProc(m, p);
  if (role == P_MAIN) { w.startedAt = t; w.readyTimedOut = false; }
  if (forReload) m.reloadNewPid = pid;
  if (m.done) return flush(m);
  if (m.stopping) {
    emit(m, A_SIGNAL, pid, stepSignal(m.schedule, m.stopStep), 1);
  } else {
    armReadiness(m, p);
  }
  return flush(m);
}

export function supSpawnFailed(h: i32, t: f64, task: i32, errno: i32): Int32Array {
  return supSpawnFailedWith(h, t, task, errno, "");
}

/** supSpawnFailed with the host's words for why ("ENOEXEC: exec format error, posix_spawn '/srv/app'"), which
 *  the failure texts quote instead of the errno's number. */
export function supSpawnFailedWith(h: i32, t: f64, task: i32, errno: i32, why: string): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
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
    if (ownsTask) { w.lastStatus = status; w.lastErrno = errno; w.spawnError = why; w.state = WORKER_FAILED; }
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

export function supReady(h: i32, t: f64, pid: i32): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
  const p = findProc(m, pid);
  if (p == null || m.done || m.stopping || p.ready || p.role == P_OLD) return flush(m);
  const w = m.workers[p.task];
  if (p.role == P_MAIN && w.state == WORKER_STOPPING) return flush(m); // too late: it is being stopped
  markReady(m, p);
  return flush(m);
}

export function supExited(h: i32, t: f64, pid: i32, rawStatus: i32): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
  const p = findProc(m, pid);
  if (p == null) return flush(m);
  removeProc(m, p);
  const w = m.workers[p.task];
  if (p.role == P_MAIN) { w.lastStatus = rawStatus; w.lastErrno = 0; }
  if (m.done) {
    if (p.role == P_MAIN && w.state == WORKER_STOPPING) w.state = WORKER_EXITED;
    return flush(m);
  }
  if (p.timer != 0) { cancel(m, p.timer); p.timer = 0; }
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
      if (np != null) { np.role = P_MAIN; w.startedAt = np.spawnedAt; }
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
  return flush(m);
}

export function supTimer(h: i32, t: f64, timerId: i32): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
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
  if (m == null) return new Int32Array(0);
  if (!m.done && !m.stopping) enterStop(m, false);
  return flush(m);
}

/** Decision: a reload before the first A_READY runs right after it; during a stop or after the exit it does nothing. */
export function supReload(h: i32, t: f64): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
  if (!m.started || m.done || m.stopping) return flush(m);
  if (!m.firstReady) m.reloadDeferred = true;
  else doReload(m);
  return flush(m);
}

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

export function supWorkerState(h: i32, task: i32): i32 {
  const w = worker(h, task);
  return w == null ? -1 : w.state;
}

export function supWorkerRestarts(h: i32, task: i32): i32 {
  const w = worker(h, task);
  return w == null ? 0 : w.restarts;
}

export function supWorkerLastStatus(h: i32, task: i32): i32 {
  const w = worker(h, task);
  return w == null ? -1 : w.lastStatus;
}

/** How the task's last process ended ("exited 1", "could not be spawned: EMFILE: ..."); "" if none has yet. */
export function supWorkerLastExit(h: i32, task: i32): string {
  const w = worker(h, task);
  if (w == null || w.lastStatus < 0) return "";
  return w.lastErrno != 0 ? describe(w.lastStatus, w.lastErrno, w.spawnError) : describeWaitStatus(w.lastStatus);
}

/** When the current (or last) process of the task was spawned; -1 if never. */
export function supWorkerStartedAt(h: i32, task: i32): f64 {
  const w = worker(h, task);
  return w == null ? -1 : w.startedAt;
}

export function supFailureReason(h: i32): string {
  const m = get(h);
  return m == null ? "" : m.reason;
}

/** Every live pid the machine knows: workers, reload replacements, processes being retired. */
export function supPids(h: i32): Int32Array {
  const m = get(h);
  if (m == null) return new Int32Array(0);
  const r = new Int32Array(m.procs.length);
  for (let i = 0; i < m.procs.length; i++) r[i] = m.procs[i].pid;
  return r;
}
