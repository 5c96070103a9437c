// Stopping: the whole service on `stop` or a failure, one process on its own (retired by a reload, not ready in
// time), and what an exited worker left in its group. Every one walks the stop schedule with stop-schedule.ts's steps.
import {
  A_ESCALATE,
  A_EXIT,
  A_GAVE_UP,
  A_SIGNAL,
  A_SIGNAL_LEFTOVERS,
  GIVE_UP_STOP_RAN_OUT,
  SUP_EXIT_FAILED,
  SUP_EXIT_OK,
  SUP_EXIT_RAN_OUT,
  WORKER_EXITED,
  WORKER_FAILED,
  WORKER_RUNNING,
  WORKER_STARTING,
  WORKER_STOPPING,
} from './supervisor-abi';
import { anyPending, arm, cancel, emit, Leftovers, Machine, Proc, T_STOP } from './supervisor-machine';
import { advanceReload, clearReload } from './supervisor-reload';
import { formatStopSchedule, stopNextStep, stopStepRanOut, stopStepSignal, stopStepTimeout } from './stop-schedule';
import { waitSucceeded } from './wait-status';

const TO_GROUP: i32 = 1;

export function finish(m: Machine, code: i32): void {
  if (m.stopTimer != 0) {
    cancel(m, m.stopTimer);
    m.stopTimer = 0;
  }
  dropLeftovers(m);
  emit(m, A_EXIT, code, 0, 0);
  m.done = true;
  m.exitCode = code;
  m.stopping = false;
  m.reloading = false;
}

export function stopCode(m: Machine): i32 {
  return m.failing ? SUP_EXIT_FAILED : SUP_EXIT_OK;
}

/** Signals a process's group with a stop step, saying first when it outlived an earlier step. */
function stopSignal(m: Machine, p: Proc, from: i32, to: i32): void {
  if (to > 0) {
    emit(m, A_ESCALATE, p.pid, from, to);
    if (!p.escalated) {
      p.escalated = true;
      m.escalations++;
    }
  }
  emit(m, A_SIGNAL, p.pid, stopStepSignal(m.schedule, to), TO_GROUP);
}

/** A process spawned while a stop is under way gets the step the others are at. */
export function stopLateComer(m: Machine, pid: i32): void {
  emit(m, A_SIGNAL, pid, stopStepSignal(m.schedule, m.stopStep), TO_GROUP);
}

// Stop everything with the schedule: on `stop` (exit 0) or when the service failed (exit 1).
// Decision: this abandons a reload in progress silently (A_EXIT answers whoever waits), and processes
// already being retired restart the schedule from its first step with everybody else.
export function enterStop(m: Machine, failing: bool): void {
  m.stopping = true;
  if (failing) m.failing = true;
  clearReload(m);
  m.reloadDeferred = false;
  // Decision: the session sweep at the exit covers what exited workers left behind; their own schedules end here.
  dropLeftovers(m);
  for (let i = 0; i < m.n; i++) {
    const w = m.workers[i];
    if (w.backoffTimer != 0) {
      cancel(m, w.backoffTimer);
      w.backoffTimer = 0;
      w.state = waitSucceeded(w.lastStatus) ? WORKER_EXITED : WORKER_FAILED;
    } else if (w.state == WORKER_STARTING || w.state == WORKER_RUNNING) {
      w.state = WORKER_STOPPING;
    }
  }
  for (let i = 0; i < m.procs.length; i++) {
    const p = m.procs[i];
    if (p.timer != 0) {
      cancel(m, p.timer);
      p.timer = 0;
      p.timerKind = 0;
    }
  }
  if (m.procs.length == 0 && !anyPending(m)) {
    finish(m, stopCode(m));
    return;
  }
  m.stopStep = 0;
  for (let i = 0; i < m.procs.length; i++) stopSignal(m, m.procs[i], 0, 0);
  m.stopTimer = arm(m, stopStepTimeout(m.schedule, 0));
}

export function stopTimerFired(m: Machine): void {
  m.stopTimer = 0;
  const next = stopNextStep(m.schedule, m.stopStep);
  if (stopStepRanOut(m.schedule, next)) {
    emit(m, A_GAVE_UP, GIVE_UP_STOP_RAN_OUT, 0, 0);
    if (!m.failing) {
      const left = m.procs.length;
      m.reason =
        'stop schedule ' +
        formatStopSchedule(m.schedule) +
        ' ran out with ' +
        left.toString() +
        (left == 1 ? ' process' : ' processes') +
        ' still alive';
    }
    finish(m, m.failing ? SUP_EXIT_FAILED : SUP_EXIT_RAN_OUT);
    return;
  }
  const from = m.stopStep;
  m.stopStep = next;
  for (let i = 0; i < m.procs.length; i++) stopSignal(m, m.procs[i], from, next);
  m.stopTimer = arm(m, stopStepTimeout(m.schedule, next));
}

// One process on its own schedule (a reload's old worker, a worker or replacement not ready in time).
export function retire(m: Machine, p: Proc): void {
  if (p.timer != 0) {
    cancel(m, p.timer);
    p.timer = 0;
  }
  p.step = 0;
  stopSignal(m, p, 0, 0);
  p.timer = arm(m, stopStepTimeout(m.schedule, 0));
  p.timerKind = T_STOP;
}

// Decision: when a process's own schedule runs out it is left alone (still tracked and reaped); a reload moves on.
export function procStopFired(m: Machine, p: Proc): void {
  const from = p.step;
  const next = stopNextStep(m.schedule, p.step);
  p.step = next;
  if (stopStepRanOut(m.schedule, next)) {
    if (m.reloading && m.reloadReplaced && p.pid == m.reloadOldPid) advanceReload(m);
    return;
  }
  stopSignal(m, p, from, next);
  p.timer = arm(m, stopStepTimeout(m.schedule, next));
  p.timerKind = T_STOP;
}

// ---- leftovers: what a worker forked stays in its process group after it exits -----------------------------------
// Decision: like supervisord's killasgroup, they get the stop schedule, so a crash loop cannot pile them up. The
// machine keeps nothing for a group until the host says it signalled someone in it (the usual case: nobody).

/** An exited worker's group gets the schedule's first step. */
export function startLeftovers(m: Machine, pgid: i32): void {
  emit(m, A_SIGNAL_LEFTOVERS, pgid, stopStepSignal(m.schedule, 0), 0);
}

function findLeftovers(m: Machine, pgid: i32): i32 {
  for (let i = 0; i < m.leftovers.length; i++) if (m.leftovers[i].pgid == pgid) return i;
  return -1;
}

/** The host signalled `count` processes of the group at `step`: none left ends it, else the step's wait begins. */
export function leftoversSignalled(m: Machine, pgid: i32, step: i32, count: i32): void {
  const at = findLeftovers(m, pgid);
  if (at >= 0) {
    cancel(m, m.leftovers[at].timer);
    m.leftovers.splice(at, 1);
  }
  if (count <= 0 || stopStepRanOut(m.schedule, step)) return;
  const l = new Leftovers(pgid, step);
  l.timer = arm(m, stopStepTimeout(m.schedule, step));
  m.leftovers.push(l);
}

/** True if `timerId` was a leftover group's: its next step (or the end of the schedule). */
export function leftoversTimerFired(m: Machine, timerId: i32): bool {
  for (let i = 0; i < m.leftovers.length; i++) {
    const l = m.leftovers[i];
    if (l.timer != timerId) continue;
    m.leftovers.splice(i, 1);
    const next = stopNextStep(m.schedule, l.step);
    if (!stopStepRanOut(m.schedule, next)) emit(m, A_SIGNAL_LEFTOVERS, l.pgid, stopStepSignal(m.schedule, next), next);
    return true;
  }
  return false;
}

function dropLeftovers(m: Machine): void {
  for (let i = 0; i < m.leftovers.length; i++) cancel(m, m.leftovers[i].timer);
  m.leftovers.length = 0;
}
