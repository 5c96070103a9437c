// Finding processes by session and process group in /proc, and signalling each through a pidfd after checking again.
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { pidfdOpen, pidfdSendSignal } from '../sys/pidfd.js';
import { TASK_ID_VAR } from './fork-worker.js';

interface Ids {
  pgrp: number;
  session: number;
}

/** The process group and session of pid from /proc/PID/stat; null if it is gone or a zombie (its parent's to reap). */
export function idsOf(pid: number): Ids | null {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' ? null : { pgrp: Number(f[2]), session: Number(f[3]) };
  } catch {
    return null;
  }
}

/** The process group of pid, a zombie's too (a notify sender that exited right after sending); -1 if it is gone. */
export function groupOf(pid: number): number {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return -1;
  }
}

/** The session of pid; -1 if it is gone or a zombie. */
export function sessionOf(pid: number): number {
  return idsOf(pid)?.session ?? -1;
}

/** Live processes (not zombies) whose ids match, us excluded; [] without /proc (a chroot without it). */
export function membersOf(match: (ids: Ids) => boolean): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!(pid > 0) || pid === process.pid) continue;
    const ids = idsOf(pid);
    if (ids && match(ids)) out.push(pid);
  }
  return out;
}

/**
 * Signals each process still matching after its pidfd is open, so a PID recycled meanwhile is never hit; signal 0
 * only counts them. Returns how many were signalled.
 */
export function signalMembers(match: (ids: Ids) => boolean, signal: number, proven: (pid: number) => boolean = () => true): number {
  let n = 0;
  for (const pid of membersOf(match)) {
    let fd: number | null = null;
    try {
      fd = pidfdOpen(pid);
      // Checked again once pinned by its pidfd: a PID that changed hands since the scan is never signalled.
      const ids = fd === null ? null : idsOf(pid);
      if (fd !== null && ids && match(ids) && proven(pid) && pidfdSendSignal(fd, signal)) n++;
    } catch {
      // gone, or not ours to signal
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }
  return n;
}

/**
 * Whether pid was started by a daemonkit supervisor (a worker, or what a worker forked with its environment): its
 * environment carries DAEMONKIT_TASK_ID. What is swept from a dead supervisor's session must show it: a session id is
 * only a PID, which a stranger's setsid can have taken since.
 */
export function carriesTaskId(pid: number): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    return env.startsWith(`${TASK_ID_VAR}=`) || env.includes(`\0${TASK_ID_VAR}=`);
  } catch {
    return false;
  }
}
