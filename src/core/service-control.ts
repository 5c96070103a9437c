// Operations on a named service: find it, ask it, signal it only when its PID file lock proves who it is.
import { closeSync, readdirSync } from 'node:fs';
import { askControl, type ControlAnswer, type ControlRequest } from './control.js';
import { inspectPidfile, PidfileError, removeStalePidfile, type PidfileState } from './pidfile.js';
import { readState, serviceFiles, type ServiceFiles, type ServiceStatus, type StateRecord } from './service-files.js';
import { pidfdOpen, pidfdSendSignal, waitReadable } from '../sys/pidfd.js';

export interface Service {
  name: string;
  files: ServiceFiles;
}

/** LSB init-script status codes. */
export const LSB = { running: 0, deadWithPidfile: 1, notRunning: 3, unknown: 4 } as const;

export interface StatusReport {
  name: string;
  lsb: number;
  /** running | stale | stopped | failed | unknown */
  summary: string;
  pid: number | null;
  status: ServiceStatus | null;
  /** Why it is not running, from the last record the supervisor left. */
  reason: string | null;
  record: StateRecord | null;
}

/**
 * A pidfd for the process that holds the PID file's lock right now, or null if nobody does.
 * The lock is checked again after the pidfd is open, so a PID recycled in between is never the one we get.
 */
export function pinHolder(pidfile: string): { pid: number; pidfd: number } | null {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = inspectPidfile(pidfile);
    if (before.state !== 'running' || before.pid === null) return null;
    const pidfd = pidfdOpen(before.pid);
    if (pidfd === null) continue;
    const after = inspectPidfile(pidfile);
    if (after.state === 'running' && after.pid === before.pid) return { pid: before.pid, pidfd };
    closeSync(pidfd);
  }
  return null;
}

export async function ask(service: Service, req: ControlRequest, timeoutMs: number): Promise<ControlAnswer | null | { denied: true }> {
  return askControl(service.files.socket, req, timeoutMs);
}

export async function statusOf(service: Service): Promise<StatusReport> {
  const record = readState(service.files.state);
  const base = { name: service.name, record, status: null as ServiceStatus | null };
  let state: PidfileState;
  try {
    state = inspectPidfile(service.files.pidfile);
  } catch (e) {
    // A PID file we refuse to read (a symlink): LSB "unknown", with the reason instead of a stack trace.
    if (e instanceof PidfileError) return { ...base, lsb: LSB.unknown, summary: 'unknown', pid: null, reason: e.message };
    throw e;
  }
  if (state.state === 'absent') {
    const failed = record?.exitCode ? record.status?.failure ?? `exited ${record.exitCode}` : null;
    return { ...base, lsb: LSB.notRunning, summary: failed ? 'failed' : 'stopped', pid: null, reason: failed, status: record?.status ?? null };
  }
  if (state.state === 'stale') {
    return { ...base, lsb: LSB.deadWithPidfile, summary: 'stale', pid: state.pid, reason: 'not running (stale PID file)', status: record?.status ?? null };
  }
  const answer = await ask(service, { cmd: 'status' }, 2000);
  if (answer && 'denied' in answer) return { ...base, lsb: LSB.unknown, summary: 'unknown', pid: state.pid, reason: 'permission denied on the control socket' };
  if (answer?.ok && answer.status) return { ...base, lsb: LSB.running, summary: answer.status.state, pid: state.pid, reason: answer.status.failure, status: answer.status };
  // Holding the lock is proof of life; an unsupervised daemon simply has no socket to answer on.
  return { ...base, lsb: LSB.running, summary: 'running', pid: state.pid, reason: null };
}

export type StopOutcome =
  | { kind: 'stopped'; pid: number; note?: string }
  | { kind: 'not-running'; stale: boolean }
  | { kind: 'timeout'; pid: number; message: string }
  /** Not ours to stop: the control socket refused us (another user's service), or its PID file is refused. */
  | { kind: 'denied'; pid: number | null; message: string };

/** Stops the service and waits until its supervisor (or daemon) is gone; only the lock holder is ever signalled. */
export async function stopService(service: Service, schedule: number[]): Promise<StopOutcome> {
  const outcome = await stopHolder(service, schedule);
  // A stopped daemon that could not remove its own PID file would otherwise read as "stale" (LSB 1) after a clean stop.
  if (outcome.kind === 'stopped') removeStalePidfile(service.files.pidfile, outcome.pid);
  return outcome;
}

async function stopHolder(service: Service, schedule: number[]): Promise<StopOutcome> {
  let held;
  try {
    held = pinHolder(service.files.pidfile);
  } catch (e) {
    if (e instanceof PidfileError) return { kind: 'denied', pid: null, message: e.message };
    throw e;
  }
  if (!held) return { kind: 'not-running', stale: inspectPidfile(service.files.pidfile).state === 'stale' };
  const budget = scheduleBudget(schedule);
  try {
    const answer = await ask(service, { cmd: 'stop', schedule }, budget + 5000);
    // Another user's supervisor: signalling it would fail the same way (EPERM), so say so instead of trying.
    if (answer && 'denied' in answer) return { kind: 'denied', pid: held.pid, message: `permission denied on ${service.files.socket}` };
    if (answer && !('denied' in answer) && answer.exitCode === 2) {
      return { kind: 'timeout', pid: held.pid, message: answer.error ?? 'the stop schedule ran out' };
    }
    if (!answer) {
      // No supervisor to ask (an unsupervised daemon, or a hung one): run the schedule on the lock holder itself.
      for (let i = 0; i < schedule.length; i += 2) {
        try {
          pidfdSendSignal(held.pidfd, schedule[i]!);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EPERM') return { kind: 'denied', pid: held.pid, message: `permission denied: cannot signal pid ${held.pid}` };
          throw e;
        }
        const wait = schedule[i + 1]! < 0 ? -1 : schedule[i + 1]!;
        if (await waitReadable(held.pidfd, wait === -1 ? 3_600_000 : wait)) return { kind: 'stopped', pid: held.pid };
        if (wait === -1) i -= 2;
      }
      return { kind: 'timeout', pid: held.pid, message: `pid ${held.pid} is still alive after the stop schedule` };
    }
    if (await waitReadable(held.pidfd, 5000)) return { kind: 'stopped', pid: held.pid, note: answer.message };
    return { kind: 'timeout', pid: held.pid, message: `supervisor ${held.pid} answered but did not exit` };
  } finally {
    closeSync(held.pidfd);
  }
}

/** Milliseconds the schedule may take (a 'forever' step counts as an hour: the caller gives up before). */
export function scheduleBudget(schedule: number[]): number {
  let total = 0;
  for (let i = 1; i < schedule.length; i += 2) total += schedule[i]! < 0 ? 3_600_000 : schedule[i]!;
  return total;
}

/** Signals the lock holder only (reload by SIGHUP, reopen by SIGUSR1) when there is no supervisor to ask. */
export function signalHolder(service: Service, signal: number): number | null {
  const held = pinHolder(service.files.pidfile);
  if (!held) return null;
  try {
    return pidfdSendSignal(held.pidfd, signal) ? held.pid : null;
  } finally {
    closeSync(held.pidfd);
  }
}

/** Every service with a PID file or a state record in the directory. */
export function listServices(stateDir: string): Service[] {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return [];
  }
  const stems = new Set(names.filter((n) => n.endsWith('.pid') || (n.endsWith('.json') && !n.endsWith('.tmp'))).map((n) => n.replace(/\.(pid|json)$/, '')));
  return [...stems].sort().map((name) => ({ name, files: serviceFiles(`${stateDir}/${name}.pid`) }));
}
