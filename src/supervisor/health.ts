// Liveness of ready workers: --health probes every --health-interval (--health-failures in a row fail it) and the
// --watchdog deadline for WATCHDOG=1 pings. The verdicts are the wasm's (assembly/liveness.ts); this keeps the clock,
// each worker's numbers and runs the probes. A worker that fails is reported through `unhealthy`; the machine decides
// what happens to it (a restart with the stop schedule). Without either option nothing here is armed: no wake-ups.
import type { Normalized } from '../options.js';
import type { WorkerInfo } from '../core/supervisor-machine.js';
import { planner } from '../core/wasm.js';
import { runProbe, type ProbeCommands, type ProbeResult } from './probe.js';

/** The wasm's "none" for an interval or a period that is not configured. */
const NONE_MS = 0;

export interface LivenessHooks {
  /** The workers as the machine sees them; only 'running' (ready) ones are checked. */
  workers(): WorkerInfo[];
  /** Whether checks make sense now (not while stopping). */
  active(): boolean;
  unhealthy(pid: number, task: number, why: string): void;
  record(task: number, pid: number, result: ProbeResult): void;
}

interface Watch {
  /** When the watchdog's deadline started: the last ping, or when the worker was first seen ready. */
  since: number;
  lastProbe: number;
  failures: number;
  probing: boolean;
}

export class Liveness {
  readonly #health: Normalized['health'];
  readonly #watchdogMs: number | null;
  readonly #commands: ProbeCommands;
  readonly #hooks: LivenessHooks;
  readonly #watched = new Map<number, Watch>();
  #timer: NodeJS.Timeout | null = null;

  constructor(o: Normalized, commands: ProbeCommands, hooks: LivenessHooks) {
    this.#health = o.health;
    this.#watchdogMs = o.watchdogMs;
    this.#commands = commands;
    this.#hooks = hooks;
  }

  get enabled(): boolean {
    return this.#tickMs > 0;
  }

  get #intervalMs(): number {
    return this.#health?.intervalMs ?? NONE_MS;
  }

  get #tickMs(): number {
    return planner.livenessTickMs(this.#intervalMs, this.#watchdogMs ?? NONE_MS);
  }

  start(): void {
    if (!this.enabled || this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** A WATCHDOG=1 from worker process pid. */
  ping(pid: number): void {
    const w = this.#watched.get(pid);
    if (w) w.since = Date.now();
    else this.#watched.set(pid, { since: Date.now(), lastProbe: Date.now(), failures: 0, probing: false });
  }

  #tick(): void {
    if (!this.#hooks.active()) return;
    const now = Date.now();
    const running = new Map<number, number>();
    for (const w of this.#hooks.workers()) if (w.state === 'running' && w.pid) running.set(w.pid, w.task);
    for (const pid of this.#watched.keys()) if (!running.has(pid)) this.#watched.delete(pid);
    for (const [pid, task] of running) {
      let w = this.#watched.get(pid);
      if (!w) {
        // First seen ready: the first probe waits one interval, the watchdog's deadline starts now.
        w = { since: now, lastProbe: now, failures: 0, probing: false };
        this.#watched.set(pid, w);
        continue;
      }
      const verdict = planner.livenessCheck(now, w.since, w.lastProbe, w.probing, this.#watchdogMs ?? NONE_MS, this.#intervalMs);
      if (verdict === planner.LIVE_WATCHDOG_EXPIRED.value) {
        this.#watched.delete(pid);
        this.#hooks.unhealthy(pid, task, `no WATCHDOG=1 within ${this.#watchdogMs! / 1000}s`);
      } else if (verdict === planner.LIVE_PROBE.value) void this.#probe(pid, task, w);
    }
  }

  async #probe(pid: number, task: number, w: Watch): Promise<void> {
    const health = this.#health!;
    w.probing = true;
    const r = await runProbe(health.probe, { task, pid }, health.timeoutMs, this.#commands);
    w.probing = false;
    w.lastProbe = Date.now();
    // Gone, restarted or stopping meanwhile: this result is about nobody.
    if (this.#watched.get(pid) !== w || !this.#hooks.active()) return;
    this.#hooks.record(task, pid, { ...r, text: `health ${r.text}` });
    w.failures = planner.healthFailuresAfter(w.failures, r.ok);
    if (planner.healthFailed(w.failures, health.failures)) {
      this.#watched.delete(pid);
      this.#hooks.unhealthy(pid, task, `${w.failures} health probe${w.failures === 1 ? '' : 's'} failed in a row; last: ${r.text}`);
    }
  }
}
