// The one typed facade over the wasm supervisor machine (assembly/supervisor*.ts) and its stop-schedule stepper: a
// config object in, actions out as a discriminated union, states and reasons as the names the wasm gives them. Time
// is always passed in (the caller's monotonic clock, or a virtual one in tests and models): nothing here reads a clock.
import type { ReloadMode, RestartPolicy } from '../options.js';
import { planner } from './wasm.js';

export type SupervisorState = 'starting' | 'running' | 'reloading' | 'stopping' | 'failed' | 'exited';
export type WorkerState = 'starting' | 'running' | 'backoff' | 'stopping' | 'exited' | 'failed';
export type GiveUpReason = 'crash-loop' | 'stop-schedule-ran-out' | 'ready-timeout';
/** Why a reaped process is gone: it exited on its own (or crashed), a rolling reload replaced it, or a stop ended it. */
export type ExitCause = 'exited' | 'replaced' | 'stopped';

export type Action =
  /** Spawn worker `task`; answer with spawned() or spawnFailed(). */
  | { kind: 'spawn'; task: number }
  /** Send `signal` to pid's process group (group) or to pid alone. */
  | { kind: 'signal'; pid: number; signal: number; group: boolean }
  /** pid outlived stop step `after` and gets step `step`'s signal: the 'signal' action that follows sends it. */
  | { kind: 'escalate'; pid: number; step: number; signal: number; after: { signal: number; ms: number } }
  /** Call timer(id) after `ms` unless cancelled. */
  | { kind: 'arm-timer'; id: number; ms: number }
  | { kind: 'cancel-timer'; id: number }
  /** Every worker was ready once: the start succeeded. */
  | { kind: 'ready' }
  /** A worker died before the first 'ready' (pid null: it could not be spawned; status is then the shell's 126/127). */
  | { kind: 'start-failed'; task: number; status: number; pid: number | null }
  | { kind: 'give-up'; reason: GiveUpReason }
  /** The supervisor exits now with `code` (SUPERVISOR_EXIT); nothing follows. */
  | { kind: 'exit'; code: number }
  | { kind: 'reloaded' }
  /** A reload's replacement failed: status is its wait status, or null when it was not ready in time. */
  | { kind: 'reload-failed'; task: number; status: number | null }
  /** The first answer to exited(): which task the process was and why it is gone. */
  | { kind: 'reaped'; pid: number; task: number; cause: ExitCause }
  /** Send `signal` to what is left in group `pgid` of an exited worker; answer with leftoversSignalled(). */
  | { kind: 'signal-leftovers'; pgid: number; signal: number; step: number };

export type ActionKind = Action['kind'];

export interface MachineConfig {
  workers: number;
  restart: RestartPolicy;
  backoffMinMs: number;
  backoffMaxMs: number;
  minUptimeMs: number;
  /** -1: no limit. */
  maxRestarts: number;
  /** 0: every restart ever counts. */
  restartWindowMs: number;
  /** -1: a worker is ready when it says so (ready()), not after a time. */
  startMs: number;
  /** 0: wait for ready() forever. */
  readyTimeoutMs: number;
  reload: ReloadMode;
  /** [signal, timeoutMs, ...] as parseStopSchedule gives it; the wasm's default (TERM/10/KILL/5) if absent. */
  stopSchedule?: readonly number[];
}

export interface WorkerInfo {
  task: number;
  /** Its current process, or null while none runs (backoff, exited). */
  pid: number | null;
  state: WorkerState;
  restarts: number;
  /** The raw wait status of its last process, or null if none ended yet. */
  lastStatus: number | null;
  /** "exited 1", "killed by SIGKILL", "could not be spawned: ..."; null if none ended yet. */
  lastExit: string | null;
  /** When its current (or last) process was spawned, on the caller's clock; null if never. */
  startedAt: number | null;
}

// Nothing here asks the wasm at import (wasm.ts compiles it on first use): constants are getters or read once.

/** MachineConfig.startMs's "ready when it says so" (notify, a probe), from the wasm. */
export const startWhenReady = (): number => planner.START_WHEN_READY.value;
/** The most workers the machine takes. */
export const maxWorkers = (): number => planner.MAX_WORKERS.value;

/** The supervisor's exit codes, from the wasm. */
export const SUPERVISOR_EXIT = {
  get ok(): number {
    return planner.SUP_EXIT_OK.value;
  },
  get failed(): number {
    return planner.SUP_EXIT_FAILED.value;
  },
  get stopScheduleRanOut(): number {
    return planner.SUP_EXIT_RAN_OUT.value;
  },
} as const;

/** 128 + n: a shell's (and docker's) exit status for "ended by signal n", which `run` exits with after one. */
export const SIGNAL_EXIT_BASE = 128;

/** The wasm's names for its codes, read once: action kinds, states, reasons, causes. */
function namesOf(name: (code: number) => string): string[] {
  const out: string[] = [];
  for (let code = 0; code === 0 || name(code) !== ''; code++) out[code] = name(code);
  return out;
}
let names: {
  ACTION: ActionKind[];
  SUP_STATE: SupervisorState[];
  WORKER_STATE: WorkerState[];
  GIVE_UP: GiveUpReason[];
  EXIT_CAUSE: ExitCause[];
} | null = null;
const wasmNames = (): NonNullable<typeof names> =>
  (names ??= {
    ACTION: namesOf((k) => planner.actionName(k)) as ActionKind[],
    SUP_STATE: namesOf((s) => planner.supStateName(s)) as SupervisorState[],
    WORKER_STATE: namesOf((s) => planner.workerStateName(s)) as WorkerState[],
    GIVE_UP: namesOf((r) => planner.giveUpReasonName(r)) as GiveUpReason[],
    EXIT_CAUSE: namesOf((c) => planner.exitCauseName(c)) as ExitCause[],
  });

/** Every action kind the wasm can emit, by its name: a test holds the union above to it. */
export const actionKinds = (): readonly string[] => wasmNames().ACTION.filter(Boolean);

function config(c: MachineConfig): Int32Array {
  const p = planner;
  const restart = p.restartCode(c.restart);
  const reload = p.reloadModeCode(c.reload);
  if (restart < 0) throw new RangeError(`unknown restart policy ${JSON.stringify(c.restart)}`);
  if (reload < 0) throw new RangeError(`unknown reload mode ${JSON.stringify(c.reload)}`);
  const slots = new Int32Array(p.CONFIG_LENGTH.value);
  slots[p.CONFIG_WORKERS.value] = c.workers;
  slots[p.CONFIG_RESTART.value] = restart;
  slots[p.CONFIG_BACKOFF_MIN_MS.value] = c.backoffMinMs;
  slots[p.CONFIG_BACKOFF_MAX_MS.value] = c.backoffMaxMs;
  slots[p.CONFIG_MIN_UPTIME_MS.value] = c.minUptimeMs;
  slots[p.CONFIG_MAX_RESTARTS.value] = c.maxRestarts;
  slots[p.CONFIG_RESTART_WINDOW_MS.value] = c.restartWindowMs;
  slots[p.CONFIG_START_MS.value] = c.startMs;
  slots[p.CONFIG_READY_TIMEOUT_MS.value] = c.readyTimeoutMs;
  slots[p.CONFIG_RELOAD.value] = reload;
  return slots;
}

/** The wasm supervisor machine: events in (each with the time it happened), actions out. */
export class SupervisorMachine {
  readonly #h: number;

  /** Throws RangeError when the wasm refuses the config (a value out of range). */
  constructor(c: MachineConfig) {
    this.#h = planner.supCreate(config(c));
    if (!this.#h) throw new RangeError(`the supervisor machine refused this config: ${JSON.stringify(c)}`);
    if (c.stopSchedule && !this.setStopSchedule(c.stopSchedule)) {
      this.destroy();
      throw new RangeError(`the supervisor machine refused the stop schedule ${JSON.stringify(c.stopSchedule)}`);
    }
  }

  start(t: number): Action[] {
    return this.#decode(planner.supStart(this.#h, t));
  }
  spawned(t: number, task: number, pid: number): Action[] {
    return this.#decode(planner.supSpawned(this.#h, t, task, pid));
  }
  /** errno positive, or null when the spawn failed without one (a plan refused); `why` is quoted by the failure
   *  texts ("EMFILE: too many open files, pipe2"). */
  spawnFailed(t: number, task: number, errno: number | null, why = ''): Action[] {
    return this.#decode(planner.supSpawnFailedWith(this.#h, t, task, errno ?? planner.SPAWN_ERRNO_UNKNOWN.value, why));
  }
  ready(t: number, pid: number): Action[] {
    return this.#decode(planner.supReady(this.#h, t, pid));
  }
  /** A ready worker failed its liveness check (health probes, watchdog): the machine restarts it with the stop schedule. */
  unhealthy(t: number, pid: number): Action[] {
    return this.#decode(planner.supUnhealthy(this.#h, t, pid));
  }
  exited(t: number, pid: number, status: number): Action[] {
    return this.#decode(planner.supExited(this.#h, t, pid, status));
  }
  timer(t: number, id: number): Action[] {
    return this.#decode(planner.supTimer(this.#h, t, id));
  }
  stop(t: number): Action[] {
    return this.#decode(planner.supStop(this.#h, t));
  }
  reload(t: number): Action[] {
    return this.#decode(planner.supReload(this.#h, t));
  }
  /** The answer to 'signal-leftovers': how many processes of the group were signalled (0: the group is empty). */
  leftoversSignalled(t: number, pgid: number, step: number, count: number): Action[] {
    return this.#decode(planner.supLeftoversSignalled(this.#h, t, pgid, step, count));
  }

  /** False when the schedule is invalid or a stop is under way (the previous one stays). */
  setStopSchedule(pairs: readonly number[]): boolean {
    return planner.supSetStopSchedule(this.#h, Int32Array.from(pairs)) === 1;
  }

  get state(): SupervisorState {
    return wasmNames().SUP_STATE[planner.supState(this.#h)]!;
  }
  /** The code of the 'exit' action once emitted. */
  get exitCode(): number | null {
    const code = planner.supExitCode(this.#h);
    return code < 0 ? null : code;
  }
  /** Why it failed (or a stop ran out), in one line; null if it did not. */
  get failure(): string | null {
    return planner.supFailureReason(this.#h) || null;
  }
  /** Every live pid the machine knows: workers, reload replacements, processes being retired. */
  get pids(): Int32Array {
    return planner.supPids(this.#h);
  }
  /** The stop schedule in force, as [signal, timeoutMs, ...] pairs. */
  get stopSchedule(): number[] {
    return Array.from(planner.supStopSchedule(this.#h));
  }
  /** How many processes needed the stop schedule's later steps. */
  get escalations(): number {
    return planner.supEscalations(this.#h);
  }
  get workerCount(): number {
    return planner.supWorkers(this.#h);
  }

  worker(task: number): WorkerInfo {
    const p = planner;
    const h = this.#h;
    const pid = p.supWorkerPid(h, task);
    const last = p.supWorkerLastStatus(h, task);
    return {
      task,
      pid: pid || null,
      state: wasmNames().WORKER_STATE[p.supWorkerState(h, task)]!,
      restarts: p.supWorkerRestarts(h, task),
      lastStatus: last < 0 ? null : last,
      lastExit: last < 0 ? null : p.supWorkerLastExit(h, task),
      startedAt: pid ? p.supWorkerStartedAt(h, task) : null,
    };
  }

  workers(): WorkerInfo[] {
    return Array.from({ length: this.workerCount }, (_, task) => this.worker(task));
  }

  /** Frees the machine in the wasm; any later call answers nothing. */
  destroy(): void {
    planner.supDestroy(this.#h);
  }

  #decode(records: Int32Array): Action[] {
    const out: Action[] = [];
    const { ACTION, GIVE_UP, EXIT_CAUSE } = wasmNames();
    for (let i = 0; i < records.length; i += 4) {
      const a = records[i + 1]!;
      const b = records[i + 2]!;
      const c = records[i + 3]!;
      const kind = ACTION[records[i]!];
      switch (kind) {
        case 'spawn':
          out.push({ kind, task: a });
          break;
        case 'signal':
          out.push({ kind, pid: a, signal: b, group: c !== 0 });
          break;
        case 'escalate':
          out.push({
            kind,
            pid: a,
            step: c,
            signal: this.#stepSignal(c),
            after: { signal: this.#stepSignal(b), ms: planner.supStopStepTimeout(this.#h, b) },
          });
          break;
        case 'arm-timer':
          out.push({ kind, id: a, ms: b });
          break;
        case 'cancel-timer':
          out.push({ kind, id: a });
          break;
        case 'ready':
          out.push({ kind });
          break;
        case 'start-failed':
          out.push({ kind, task: a, status: b, pid: c || null });
          break;
        case 'give-up':
          out.push({ kind, reason: GIVE_UP[a]! });
          break;
        case 'exit':
          out.push({ kind, code: a });
          break;
        case 'reloaded':
          out.push({ kind });
          break;
        case 'reload-failed':
          out.push({ kind, task: a, status: b === planner.RELOAD_NOT_READY.value ? null : b });
          break;
        case 'reaped':
          out.push({ kind, pid: a, task: b, cause: EXIT_CAUSE[c]! });
          break;
        case 'signal-leftovers':
          out.push({ kind, pgid: a, signal: b, step: c });
          break;
        default:
          throw new Error(`the supervisor machine emitted an unknown action ${records[i]}`);
      }
    }
    return out;
  }

  #stepSignal(step: number): number {
    return planner.supStopStepSignal(this.#h, step);
  }
}

// ---- stop schedules outside the supervisor: an unsupervised daemon's stop, a start's cleanup ------------------------

/** How a stop schedule run ended: the target went at `step`, or it outlived every step. */
export type StopRun = { stopped: true; step: number } | { stopped: false };

export interface StopTarget {
  /** Sends the step's signal; false: it cannot be signalled (the run ends, not stopped). */
  send(signal: number, step: number): boolean;
  /** Waits up to `ms` for the target to be gone: true as soon as it is. */
  gone(ms: number): Promise<boolean>;
}

/** Walks `schedule` over one target with the wasm's stepping (forever repeats its pair, as the supervisor does). */
export async function runStopSchedule(schedule: readonly number[], target: StopTarget): Promise<StopRun> {
  const pairs = Int32Array.from(schedule);
  if (!planner.validStopSchedule(pairs)) throw new RangeError(`invalid stop schedule ${JSON.stringify(schedule)}`);
  for (let step = 0; !planner.stopStepRanOut(pairs, step); step = planner.stopNextStep(pairs, step)) {
    if (!target.send(planner.stopStepSignal(pairs, step), step)) return { stopped: false };
    if (await target.gone(planner.stopStepTimeout(pairs, step))) return { stopped: true, step };
  }
  return { stopped: false };
}

/** Milliseconds `schedule` may take at most; a `forever` step counts as an hour (callers give up before). */
export function stopScheduleBudgetMs(schedule: readonly number[]): number {
  return planner.stopScheduleBudgetMs(Int32Array.from(schedule));
}

let defaultSchedule: string | null = null;
/** What `stop` does without --retry, as text (TERM/10/KILL/5), formatted once: the default lives in the wasm only. */
export const defaultStopSchedule = (): string => (defaultSchedule ??= planner.formatStopSchedule(planner.defaultStopSchedule()));

/** The canonical text of a schedule ("TERM/10/KILL/5"). */
export function formatStopSchedule(schedule: readonly number[]): string {
  return planner.formatStopSchedule(Int32Array.from(schedule));
}
