// Reload: SIGHUP to every ready worker, or a rolling replacement one task at a time (the new process ready before
// the old one is retired with the stop schedule).
import { A_RELOADED, A_SIGNAL, A_SPAWN, RELOAD_SIGNAL, WORKER_STOPPING } from './supervisor-abi';
import { emit, Machine, mainProc, P_MAIN, PEND_NEW, PEND_NONE } from './supervisor-machine';

const SIGHUP: i32 = 1;
const TO_PROCESS: i32 = 0;

export function clearReload(m: Machine): void {
  m.reloading = false;
  m.reloadAgain = false;
  m.reloadTask = -1;
  m.reloadReplaced = false;
  m.reloadNewPid = 0;
  m.reloadOldPid = 0;
  m.reloadOldGone = false;
}

export function doReload(m: Machine): void {
  if (m.reloadMode == RELOAD_SIGNAL) {
    // Decision: SIGHUP only reaches ready workers; one still starting may not handle it yet (and it starts fresh anyway).
    for (let i = 0; i < m.procs.length; i++) {
      const p = m.procs[i];
      if (p.role == P_MAIN && p.ready) emit(m, A_SIGNAL, p.pid, SIGHUP, TO_PROCESS);
    }
    emit(m, A_RELOADED, 0, 0, 0);
    return;
  }
  if (m.reloading) {
    m.reloadAgain = true;
    return;
  }
  m.reloading = true;
  m.reloadGen++;
  m.reloadTask = -1;
  advanceReload(m);
}

// The next task whose process predates this pass gets a replacement; backoff/spawning/exited/stopping tasks are skipped.
export function advanceReload(m: Machine): void {
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
