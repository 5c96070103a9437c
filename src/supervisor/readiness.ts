// When a worker is ready by the service's --ready mode: READY=1 on the service's NOTIFY_SOCKET, or a probe that
// answers after the worker was spawned. The machine decides what readiness means for the start and a reload; this
// only tells it, through the `ready` hook, which worker's process is ready.
import type { Normalized } from '../options.js';
import type { ReadySpec } from '../core/ready-spec.js';
import type { NotifyMessage } from '../core/notify-socket.js';
import { groupOf } from '../core/proc-scan.js';
import { NOTIFY_FD_VAR } from '../core/notify.js';
import { runProbe, type ProbeCommands, type ProbeResult } from './probe.js';

/** What a systemd (or a supervisor) above the supervisor gave it, which its workers must not take as theirs. */
const SUPERVISOR_ONLY_ENV = ['NOTIFY_SOCKET', NOTIFY_FD_VAR, 'WATCHDOG_USEC', 'WATCHDOG_PID'];
const USEC_PER_MS = 1000;
/** Time between two readiness probes of a starting worker. */
const READY_POLL_MS = 100;
/** Longest a single readiness probe may take; the ready timeout bounds the whole wait. */
const READY_PROBE_TIMEOUT_MS = 1000;

/** The workers' environment: the supervisor's own NOTIFY_SOCKET and WATCHDOG_* removed, the service's socket given. */
export function workerEnv(env: readonly string[], notifyPath: string | null, watchdogMs: number | null): string[] {
  const out = env.filter((kv) => !SUPERVISOR_ONLY_ENV.some((k) => kv.startsWith(`${k}=`)));
  if (notifyPath) out.push(`NOTIFY_SOCKET=${notifyPath}`);
  if (notifyPath && watchdogMs) out.push(`WATCHDOG_USEC=${watchdogMs * USEC_PER_MS}`);
  return out;
}

export interface ReadinessHooks {
  /** The worker process pid is ready by the service's mode. */
  ready(pid: number): void;
  /** A WATCHDOG=1 from worker process pid. */
  watchdog(pid: number): void;
  log(line: string): void;
}

const ROOT_UID = 0;

export class Readiness {
  readonly #ready: ReadySpec;
  readonly #commands: ProbeCommands;
  readonly #hooks: ReadinessHooks;
  /** Live worker processes (pid → task), as the runtime spawned and reaped them. */
  readonly #tasks = new Map<number, number>();
  /** Worker processes whose readiness probe is being polled. */
  readonly #polling = new Set<number>();
  /** The last probe (or notify message) result of each worker process: status shows it. */
  readonly #last = new Map<number, ProbeResult>();
  /** Each task's process with the latest result: what a task with no process now (backing off, timed out) shows. */
  readonly #latest = new Map<number, number>();
  /** The uid the workers run as (--user, else ours). */
  readonly #workerUid: number;

  constructor(o: Normalized, commands: ProbeCommands, hooks: ReadinessHooks) {
    this.#ready = o.ready ?? { kind: 'alive', ms: o.startMs };
    this.#workerUid = o.user?.uid ?? process.getuid!();
    this.#commands = commands;
    this.#hooks = hooks;
  }

  /** A worker process was spawned: a probe mode starts polling it. */
  spawned(task: number, pid: number): void {
    this.#tasks.set(pid, task);
    const r = this.#ready;
    if (r.kind === 'tcp' || r.kind === 'http' || r.kind === 'exec') {
      this.#polling.add(pid);
      void this.#poll(task, pid);
    }
  }

  /** A worker process was reaped: nothing more is asked of it. */
  exited(pid: number): void {
    const task = this.#tasks.get(pid);
    this.#tasks.delete(pid);
    this.#polling.delete(pid);
    if (task === undefined || this.#latest.get(task) !== pid) this.#last.delete(pid);
  }

  /** Stops every poll (the supervisor is exiting). */
  stop(): void {
    this.#polling.clear();
  }

  /**
   * The last result of the task's process `pid`; with no process (pid null or 0), of the task's latest one. A reload's
   * replacement has its own: its failure is not shown on the worker that goes on serving.
   */
  last(task: number, pid: number | null = null): ProbeResult | null {
    const of = pid || this.#latest.get(task);
    return (of && this.#last.get(of)) || null;
  }

  record(task: number, pid: number, result: ProbeResult): void {
    const previous = this.#latest.get(task);
    this.#last.set(pid, result);
    this.#latest.set(task, pid);
    // A task's earlier process already reaped keeps nothing once a later one has a result.
    if (previous !== undefined && previous !== pid && !this.#tasks.has(previous)) this.#last.delete(previous);
  }

  /** A datagram on the service's NOTIFY_SOCKET: from a worker, or from a process of a worker's group. */
  onNotify(m: NotifyMessage): void {
    const pid = this.#workerOf(m);
    const ready = m.fields.READY === '1';
    const watchdog = m.fields.WATCHDOG === '1';
    if (pid === null) {
      if (ready || watchdog)
        this.#hooks.log(
          `notify: ${ready ? 'READY=1' : 'WATCHDOG=1'} from pid ${m.pid}, which is not a worker nor in a worker's process group: ignored`,
        );
      return;
    }
    const task = this.#tasks.get(pid)!;
    if (ready) {
      this.record(task, pid, {
        ok: true,
        text: `notify: READY=1${m.pid === pid ? '' : ` (from pid ${m.pid})`}${m.fields.STATUS ? `, STATUS=${m.fields.STATUS}` : ''}`,
        at: Date.now(),
      });
      if (this.#ready.kind === 'notify') this.#hooks.ready(pid);
    }
    if (watchdog) this.#hooks.watchdog(pid);
  }

  /** Sent by root or the workers' user (a worker that dropped to another uid itself is still known by its PID). */
  #trusted(m: NotifyMessage): boolean {
    return m.uid === ROOT_UID || m.uid === this.#workerUid;
  }

  /**
   * The worker a sender speaks for: itself, or the leader of its process group (systemd-notify run by a worker's
   * script sends with its parent's PID or its own). A sender already gone may still name its worker in MAINPID.
   */
  #workerOf(m: NotifyMessage): number | null {
    if (this.#tasks.has(m.pid)) return m.pid;
    const group = groupOf(m.pid);
    if (this.#tasks.has(group)) return group;
    // Gone, so unverifiable by PID: its MAINPID counts only from root or the workers' own user.
    const main = Number(m.fields.MAINPID);
    if (group === -1 && this.#tasks.has(main) && this.#trusted(m)) return main;
    return null;
  }

  async #poll(task: number, pid: number): Promise<void> {
    const probe = this.#ready;
    if (probe.kind !== 'tcp' && probe.kind !== 'http' && probe.kind !== 'exec') return;
    while (this.#polling.has(pid)) {
      const r = await runProbe(probe, { task, pid }, READY_PROBE_TIMEOUT_MS, this.#commands);
      if (!this.#polling.has(pid)) return;
      this.record(task, pid, r);
      if (r.ok) {
        this.#polling.delete(pid);
        this.#hooks.ready(pid);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }
}
