// A worker's life outside a stop: spawned, ready (or not in time), gone; then restarted with backoff, given up on in a
// crash loop, or left exited by the restart policy.
import {
  A_GAVE_UP,
  A_READY,
  A_RELOAD_FAILED,
  A_RELOADED,
  A_SPAWN,
  A_START_FAILED,
  GIVE_UP_CRASH_LOOP,
  GIVE_UP_READY_TIMEOUT,
  RELOAD_NOT_READY,
  RESTART_ALWAYS,
  RESTART_NEVER,
  SUP_EXIT_FAILED,
  SUP_EXIT_OK,
  WORKER_BACKOFF,
  WORKER_EXITED,
  WORKER_FAILED,
  WORKER_RUNNING,
  WORKER_STARTING,
  WORKER_STOPPING,
} from './supervisor-abi';
import {
  arm,
  cancel,
  describeEnd,
  duration,
  emit,
  findProc,
  Machine,
  P_MAIN,
  P_NEW,
  P_OLD,
  PEND_MAIN,
  PEND_NONE,
  Proc,
  T_READY_TIMEOUT,
  T_START,
  T_STOP,
  Worker,
} from './supervisor-machine';
import { advanceReload, clearReload, doReload } from './supervisor-reload';
import { enterStop, finish, retire } from './supervisor-stop';
import { exitedStatus, waitSucceeded } from './wait-status';

/** The least wait before retrying a worker that could not be spawned at all. */
const SPAWN_RETRY_MS: f64 = 100;
const ENOENT: i32 = 2;
/** The shell's exit codes for a command not found and one that cannot run. */
const EXIT_NOT_FOUND: i32 = 127;
const EXIT_CANNOT_RUN: i32 = 126;

// Decision: a failed spawn counts as an exit with the shell's codes: 127 for ENOENT, 126 for anything else.
export function spawnStatus(errno: i32): i32 {
  return exitedStatus(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
}

export function spawnMain(m: Machine, w: Worker): void {
  emit(m, A_SPAWN, w.task, 0, 0);
  w.pending = PEND_MAIN;
  w.pendingGen = m.reloadGen;
  w.state = WORKER_STARTING;
}

export function armReadiness(m: Machine, p: Proc): void {
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

export function markReady(m: Machine, p: Proc): void {
  if (p.timer != 0) {
    cancel(m, p.timer);
    p.timer = 0;
    p.timerKind = 0;
  }
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
      old.replaced = true;
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
      if (m.reloadDeferred) {
        m.reloadDeferred = false;
        doReload(m);
      }
    }
  } else if (m.reloading && !m.reloadReplaced && p.pid == m.reloadNewPid) {
    advanceReload(m); // a replacement that took over from an old worker that died meanwhile
  }
}

export function readyTimedOut(m: Machine, p: Proc): void {
  const w = m.workers[p.task];
  if (!m.firstReady) {
    w.state = WORKER_FAILED;
    m.reason = 'worker ' + p.task.toString() + ' was not ready within ' + duration(m.readyTimeout);
    emit(m, A_GAVE_UP, GIVE_UP_READY_TIMEOUT, 0, 0);
    enterStop(m, true);
    return;
  }
  const isReplacement = m.reloading && !m.reloadReplaced && p.pid == m.reloadNewPid;
  if (isReplacement) {
    emit(m, A_RELOAD_FAILED, p.task, RELOAD_NOT_READY, 0);
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
  m.notRestarted = 'worker ' + w.task.toString() + ' ' + describeEnd(w.lastStatus, w.lastErrno, w.spawnError) + ' and was not restarted';
}

// Every worker is gone for good (clean exits not restarted, restart=never): exit 0 if all were clean.
export function checkAllExited(m: Machine): void {
  if (m.done || m.stopping || !m.firstReady || m.procs.length > 0) return;
  let failed = false;
  for (let i = 0; i < m.n; i++) {
    const w = m.workers[i];
    if (w.pending != PEND_NONE || (w.state != WORKER_EXITED && w.state != WORKER_FAILED)) return;
    if (w.state == WORKER_FAILED) failed = true;
  }
  if (failed) m.reason = m.notRestarted;
  if (m.reloading) {
    clearReload(m);
    emit(m, A_RELOADED, 0, 0, 0);
  }
  finish(m, failed ? SUP_EXIT_FAILED : SUP_EXIT_OK);
}

function giveUp(m: Machine, w: Worker, reason: string): void {
  m.reason = reason;
  w.state = WORKER_FAILED;
  emit(m, A_GAVE_UP, GIVE_UP_CRASH_LOOP, 0, 0);
  enterStop(m, true);
}

// The worker's process is gone (exit or failed spawn) outside a stop: start failure, restart, or done.
export function workerGone(m: Machine, w: Worker, t: f64, status: i32, errno: i32, pid: i32): void {
  w.lastStatus = status;
  w.lastErrno = errno;
  const task = w.task;
  if (!m.firstReady) {
    w.state = WORKER_FAILED;
    emit(m, A_START_FAILED, task, status, pid);
    m.reason =
      errno != 0 && w.spawnError.length
        ? 'could not spawn worker ' + task.toString() + ': ' + w.spawnError
        : 'worker ' + task.toString() + ' ' + describeEnd(status, errno) + (errno != 0 ? '' : ' before it was ready');
    enterStop(m, true);
    return;
  }
  const failed = !waitSucceeded(status) || errno != 0 || w.readyTimedOut;
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
      // This end and the restarts before it in the window: one more than the restarts allowed, none restarted yet.
      const times = count.toString() + (count == 1 ? ' time' : ' times') + (m.window > 0 ? ' in ' + duration(m.window) : '');
      const allowed = ' (' + m.maxRestarts.toString() + (m.maxRestarts == 1 ? ' restart' : ' restarts') + ' allowed)';
      const last = describeEnd(status, errno, w.spawnError);
      giveUp(
        m,
        w,
        same
          ? 'worker ' + task.toString() + ' ended ' + times + allowed + '; last: ' + last
          : 'workers ended ' + times + allowed + '; last: worker ' + task.toString() + ' ' + last,
      );
      return;
    }
    // Decision: a crash loop is also a worker failing maxRestarts + 1 times in a row, each before it was up
    // minUptime. Unlike a count within a window, this survives the backoff: doubling delays never spread it out of reach.
    if (w.consecutive > m.maxRestarts) {
      giveUp(
        m,
        w,
        'worker ' +
          task.toString() +
          ' failed ' +
          w.consecutive.toString() +
          ' times in a row without staying up ' +
          duration(m.minUptime) +
          '; last: ' +
          describeEnd(status, errno, w.spawnError),
      );
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
