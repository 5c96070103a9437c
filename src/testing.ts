// daemonkit/testing: a daemon configuration tested without a process. plan() is what `daemonkit plan --json` prints,
// simulate() runs it in the process model of src/sim/, SupervisorModel drives the wasm supervisor on a virtual clock.
// Each is a thin layer over what the runtime itself runs: no decision is made here.
import { constants } from 'node:os';
import {
  checkOptionKeys,
  DAEMON_OPTION_KEYS,
  normalize,
  START_OPTION_KEYS,
  type DaemonOptions,
  type Normalized,
  type StartOptions,
} from './options.js';
import { optionKeysFor, type OptionKey } from './core/option-table.js';
import { serviceOptions, type ServiceOptions } from './core/service-options.js';
import { buildPlan, type DetachContext, type Plan } from './core/plan.js';
import type { PlannedStep } from './core/step-runner.js';
import { planner } from './core/wasm.js';
import { parseSignal } from './core/option-values.js';
import { SupervisorMachine, type Action, type SupervisorState, type WorkerInfo } from './core/supervisor-machine.js';
import { INVARIANTS, simulate as simulateModel, type Invariant, type SimProcess, type Violation } from './sim/process-model.js';
import { SysError, UsageError } from './errors.js';

export { UsageError } from './errors.js';
export { UnhandledStepError } from './core/step-runner.js';
export type { FdAction, Role, SessionLog, Step } from './core/plan.js';
export type { Invariant, Violation } from './sim/process-model.js';
export type { ExitCause, GiveUpReason, SupervisorState, WorkerInfo, WorkerState } from './core/supervisor-machine.js';
export type { Identity, ReloadMode, RestartPolicy, StdioTarget } from './options.js';

// ---- plan ----------------------------------------------------------------------------------------------------------

/** start()'s options (with `command`) or daemonize()'s (without), by the library's names. */
export type PlanOptions = ServiceOptions | (DaemonOptions & { command?: undefined });

/** Who would start the daemon. Each field defaults to a shell on a terminal, as this process's user. */
export interface Caller {
  /** 0 plans as root (so `user` and `group` are allowed); default: this process's ids. */
  uid?: number;
  gid?: number;
  /** What relative paths resolve against; default: process.cwd(). */
  cwd?: string;
  /** The environment the command is looked up in and the daemon's is built from; default: process.env. */
  env?: Record<string, string | undefined>;
  /** What the planner asks to decide whether a library caller is already a daemon (it then does not fork). */
  parentIsInit?: boolean;
  systemdInvocation?: boolean;
  notifySocket?: boolean;
  stdinIsSocket?: boolean;
}

/** The options as the normalizer left them (without the environment, which can hold secrets). */
export type PlannedOptions = Omit<Normalized, 'env' | 'source'>;

/** What `daemonkit plan --json` prints (detach, skipReason, steps, sessionFds, sessionLogs, daemonFds), plus what simulate() needs. */
export interface DaemonPlan extends Plan {
  options: PlannedOptions;
  caller: { uid: number; gid: number };
}

/** A reason the options cannot start: a usage error (as start() or daemonize() would throw it) or a broken planner rule. */
export interface PlanError {
  kind: 'usage' | 'order';
  /** The option it names, if one. */
  option: string | null;
  value: string | null;
  message: string;
}

/**
 * The plan start() (given `command`) or daemonize() (without) would run: each process role's steps, in order, with the
 * line `daemonkit plan` prints for each. Throws the UsageError start() or daemonize() would.
 */
export function plan(options: PlanOptions = {}, caller: Caller = {}): DaemonPlan {
  const o = normalizedFor(options, caller);
  const ids = idsOf(caller);
  const context: DetachContext = {
    parentIsInit: caller.parentIsInit ?? false,
    systemdInvocation: caller.systemdInvocation ?? false,
    notifySocket: caller.notifySocket ?? false,
    stdinIsSocket: caller.stdinIsSocket ?? false,
    supervisedWorker: false,
  };
  return { ...buildPlan(o, context), options: plannedOptions(o), caller: ids };
}

/**
 * Options no other option is checked against: with one of these (or a key that is no option at all) left out, what
 * else is wrong is still what the caller wrote. Left out, any other one (chroot, env, name, home, supervise, log,
 * user, ready, ...) would change how the rest is checked, so the list ends at its error.
 */
const CHECKED_ALONE = new Set<OptionKey | 'okIfRunning'>([
  'umask',
  'cwd',
  'readyTimeout',
  'workers',
  'restart',
  'minUptime',
  'maxRestarts',
  'restartWindow',
  'retry',
  'coreDumps',
  'logTime',
  'forceDetach',
  'exitMap',
  'forward',
  'subreaper',
  'okIfRunning',
]);

/** A key planErrors() may leave out and go on: one checked alone, or one that names no option (a typo). */
function canLeaveOut(key: string): boolean {
  return CHECKED_ALONE.has(key as OptionKey) || !(Object.hasOwn(START_OPTION_KEYS, key) || key === 'home');
}

/**
 * What is wrong with these options, empty when plan() would succeed: the error start() or daemonize() would throw,
 * then each further one found with the options already named left out, as long as what was left out is checked alone
 * (CHECKED_ALONE): an error past any other one could be an artefact of leaving it out.
 */
export function planErrors(options: PlanOptions = {}, caller: Caller = {}): PlanError[] {
  const errors: PlanError[] = [];
  const rest: Record<string, unknown> = { ...options };
  for (;;) {
    let p: DaemonPlan;
    try {
      p = plan(rest as PlanOptions, caller);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      errors.push(usage(e));
      if (e.option === undefined || !Object.hasOwn(rest, e.option) || !canLeaveOut(e.option)) return errors;
      delete rest[e.option];
      continue;
    }
    if (errors.length) return errors;
    const order = stepOrderError(p.steps);
    return order ? [{ kind: 'order', option: null, value: null, message: order }] : [];
  }
}

function usage(e: UsageError): PlanError {
  return { kind: 'usage', option: e.option ?? null, value: e.value ?? null, message: e.message };
}

function idsOf(caller: Caller): { uid: number; gid: number } {
  return { uid: caller.uid ?? process.getuid!(), gid: caller.gid ?? caller.uid ?? process.getgid!() };
}

function normalizedFor(options: PlanOptions, caller: Caller): Normalized {
  const where = { env: caller.env ?? process.env, cwd: caller.cwd ?? process.cwd(), ids: idsOf(caller) };
  // start(): the same checks and normalization as start() itself.
  if (options.command !== undefined) return serviceOptions(options, where).options;
  // daemonize(): the calling script is the daemon, never supervised; its keys are the library's.
  checkOptionKeys(options, DAEMON_OPTION_KEYS, 'library');
  return normalize(options, 'library', where.env, where.cwd, where.ids);
}

function plannedOptions(o: Normalized): PlannedOptions {
  // Read key by key: env and source are getters that copy the caller's environment.
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) if (key !== 'env' && key !== 'source') out[key] = o[key as keyof Normalized];
  return out as PlannedOptions;
}

const ROLE_CODES = new Map(
  [planner.ROLE_ORIGINAL, planner.ROLE_INTERMEDIATE, planner.ROLE_SUPERVISOR, planner.ROLE_DAEMON].map((g) => [
    planner.roleName(g.value),
    g.value,
  ]),
);
const STEP_CODES = new Map<string, number>();
for (let s = planner.STEP_FIRST.value; s <= planner.STEP_LAST.value; s++) STEP_CODES.set(planner.stepName(s), s);

/** The first of the planner's ordering rules these steps break, or null: the same check every plan passes. */
export function stepOrderError(steps: readonly PlannedStep[]): string | null {
  const flat: number[] = [];
  for (const { role, step } of steps) {
    const r = ROLE_CODES.get(role);
    const s = STEP_CODES.get(step);
    if (r === undefined) return `unknown role '${role}'`;
    if (s === undefined) return `unknown step '${step}'`;
    flat.push(r, s);
  }
  return planner.stepOrderError(Int32Array.from(flat)) || null;
}

// ---- simulate --------------------------------------------------------------------------------------------------------

export interface SimulateOptions {
  /** fds the caller holds open without close-on-exec besides 0-2 (a careless parent's): none must reach the daemon. */
  leakedFds?: number[];
}

export interface OpenFd {
  fd: number;
  /** What it refers to: "/dev/null", "file:/var/log/app.log", "pidfile", "tty", "leak:7", "control-socket"... */
  file: string;
  cloexec: boolean;
}

/** One process of the simulated table, after the plan ran. */
export interface SimulatedProcess {
  pid: number;
  ppid: number;
  /** Session and process group ids. */
  sid: number;
  pgid: number;
  sessionLeader: boolean;
  groupLeader: boolean;
  /** The controlling terminal, or null. */
  ctty: string | null;
  /** 'guard': the supervisor's session guard. */
  role: SimProcess['role'];
  /** Open descriptors, by number. */
  fds: OpenFd[];
  umask: number;
  cwd: string;
  /** The root directory (a chroot's path, else /). */
  root: string;
  uid: number;
  gid: number;
  groups: number[];
  signalMaskEmpty: boolean;
  defaultSignalHandlers: boolean;
  /** RLIMIT_CORE above 0. */
  coreDumps: boolean;
  /** False for a process that has exited (the intermediate). */
  alive: boolean;
}

export interface Simulation {
  /** Every invariant holds and the steps keep the planner's rules. */
  ok: boolean;
  /** Every process the plan made, the caller first. */
  processes: SimulatedProcess[];
  /** The process(es) that run the program (workers, when supervised). */
  daemons: SimulatedProcess[];
  pidfile: {
    path: string | null;
    /** The PID written in it, or null. */
    content: number | null;
    /** How often it was opened and written. */
    opens: number;
    writes: number;
    /** The process that locked it, with its ids at that moment. */
    lockedBy: { pid: number; role: SimProcess['role']; uid: number; gid: number } | null;
  };
  /** Each invariant the model checks: true when it holds for every process it concerns. */
  invariants: Record<Invariant, boolean>;
  /** The broken ones, each with the process it concerns and one sentence. */
  violations: Violation[];
  /** The first of the planner's ordering rules the steps break (a hand-edited plan), or null. */
  stepOrder: string | null;
}

/**
 * Runs a plan (from plan(), or one edited from it) in the simulated process model: the runtime's own step tables and
 * fd plans, on a table of processes instead of the kernel. A step given to a role with no handler for it throws
 * UnhandledStepError, as the runtime would before running anything.
 */
export function simulate(p: DaemonPlan, options: SimulateOptions = {}): Simulation {
  const o = { ...p.options, env: [], source: { input: {}, cwd: '/', env: {} } } as Normalized;
  const r = simulateModel(p, o, { uid: p.caller.uid, leakedFds: options.leakedFds });
  const view = (q: SimProcess): SimulatedProcess => ({
    pid: q.pid,
    ppid: q.ppid,
    sid: q.sid,
    pgid: q.pgid,
    sessionLeader: q.sid === q.pid,
    groupLeader: q.pgid === q.pid,
    ctty: q.ctty,
    role: q.role,
    fds: [...q.fds].sort(([a], [b]) => a - b).map(([fd, f]) => ({ fd, file: f.object, cloexec: f.cloexec })),
    umask: q.umask,
    cwd: q.cwd,
    root: q.root,
    uid: q.uid,
    gid: q.gid,
    groups: [...q.groups],
    signalMaskEmpty: q.sigmaskEmpty,
    defaultSignalHandlers: q.handlersDefault,
    coreDumps: q.coreDumps,
    alive: q.alive,
  });
  const invariants = Object.fromEntries(INVARIANTS.map((name) => [name, !r.broken.some((v) => v.invariant === name)])) as Record<
    Invariant,
    boolean
  >;
  const stepOrder = stepOrderError(p.steps);
  return {
    ok: r.broken.length === 0 && stepOrder === null,
    processes: r.processes.map(view),
    daemons: r.daemons.map(view),
    pidfile: {
      path: o.pidfile,
      content: r.pidfile.content,
      opens: r.pidfile.opens,
      writes: r.pidfile.writes,
      lockedBy: r.pidfile.lockedBy,
    },
    invariants,
    violations: r.broken,
    stepOrder,
  };
}

// ---- SupervisorModel -----------------------------------------------------------------------------------------------

const MODEL_KEYS = [
  'workers',
  'restart',
  'backoffMin',
  'backoffMax',
  'minUptime',
  'maxRestarts',
  'restartWindow',
  'reload',
  'retry',
  'startSecs',
  'ready',
  'readyTimeout',
] as const;
type ModelKey = (typeof MODEL_KEYS)[number];
const MODEL_OPTION_KEYS: Readonly<Record<string, true>> = Object.fromEntries(
  Object.keys(optionKeysFor('start'))
    .filter((k) => (MODEL_KEYS as readonly string[]).includes(k))
    .map((k) => [k, true]),
);

/** The supervisor's options, by the names and in the units start() takes them. */
export interface SupervisorModelOptions extends Pick<StartOptions, ModelKey> {}

/** An action of the machine, as the supervisor would carry it out; signals by name ("SIGTERM"). */
export type ModelAction =
  | Exclude<Action, { kind: 'signal' | 'escalate' | 'signal-leftovers' }>
  | { kind: 'signal'; pid: number; signal: string; group: boolean }
  | { kind: 'escalate'; pid: number; step: number; signal: string; after: { signal: string; ms: number } }
  | { kind: 'signal-leftovers'; pgid: number; signal: string; step: number };

/** How a simulated process ended: it exited with a code, or a signal killed it. */
export type ProcessEnd = { code: number } | { signal: string | number };

/** Which process ends: a worker's current one by task number, or any live one by pid (one a reload or stop retires). */
export type ProcessRef = number | { pid: number };

function named(signal: number): string {
  return planner.signalName(signal) || String(signal);
}

function modelAction(a: Action): ModelAction {
  switch (a.kind) {
    case 'signal':
      return { ...a, signal: named(a.signal) };
    case 'escalate':
      return { ...a, signal: named(a.signal), after: { signal: named(a.after.signal), ms: a.after.ms } };
    case 'signal-leftovers':
      return { ...a, signal: named(a.signal) };
    default:
      return a;
  }
}

/** wait(2): a process killed by a signal, without a core dump, has that signal's number as its raw status. */
function killedStatus(signal: number): number {
  return signal;
}

/**
 * The supervisor's state machine (the wasm the supervisor runs) on a virtual clock. Each call is an event at `now`;
 * it returns the actions the machine decided, in the order the supervisor would carry them out. Spawns are answered
 * with simulated pids, timers fire when advance() reaches them, and a worker's process group never has leftovers.
 */
export class SupervisorModel {
  readonly #m: SupervisorMachine;
  #now = 0;
  #nextPid: number;
  /** Armed timers by id: when each fires, and the order it was armed in (ties fire in that order). */
  readonly #timers = new Map<number, { at: number; seq: number }>();
  #seq = 0;
  readonly #history: Array<{ at: number; action: ModelAction }> = [];
  /** Spawns still to fail (failSpawns), and with which errno. */
  #failing = { count: 0, errno: null as number | null };

  /** Throws the UsageError start() would for a bad option. */
  constructor(options: SupervisorModelOptions = {}, { firstPid = 1000 }: { firstPid?: number } = {}) {
    checkOptionKeys(options, MODEL_OPTION_KEYS, 'library');
    // The supervisor builds its machine from the normalized options, under the machine's own names.
    this.#m = new SupervisorMachine(normalize({ ...options, supervise: true }, 'library'));
    this.#nextPid = firstPid;
  }

  /** The virtual clock, in milliseconds since the model was made. */
  get now(): number {
    return this.#now;
  }
  get state(): SupervisorState {
    return this.#m.state;
  }
  /** Each task's current process (pid null while none runs), state, restarts and last exit. */
  get workers(): WorkerInfo[] {
    return this.#m.workers();
  }
  /** Every live pid the machine knows: workers, reload replacements, processes being stopped. */
  get pids(): number[] {
    return Array.from(this.#m.pids);
  }
  /** Why it gave up (or why a stop ran out), in one line; null if it did not. */
  get failure(): string | null {
    return this.#m.failure;
  }
  /** The code the supervisor exits with, once the machine said so. */
  get exitCode(): number | null {
    return this.#m.exitCode;
  }
  /** Armed timers, soonest first. */
  get timers(): Array<{ id: number; at: number }> {
    return [...this.#timers].sort(([, a], [, b]) => a.at - b.at || a.seq - b.seq).map(([id, { at }]) => ({ id, at }));
  }
  /** Every action so far, with the time it was decided. */
  get history(): ReadonlyArray<{ at: number; action: ModelAction }> {
    return this.#history;
  }

  start(): ModelAction[] {
    return this.#apply(this.#m.start(this.#now));
  }
  stop(): ModelAction[] {
    return this.#apply(this.#m.stop(this.#now));
  }
  reload(): ModelAction[] {
    return this.#apply(this.#m.reload(this.#now));
  }

  /**
   * The worker says it is ready: READY=1 under `ready: 'notify'`, or a probe of `ready: 'tcp:…'`, `http:` or `exec:`
   * passing (the probes themselves run in the supervisor, not in the machine).
   */
  ready(which: ProcessRef): ModelAction[] {
    return this.#apply(this.#m.ready(this.#now, this.#pidOf(which)));
  }

  /** A ready worker failed its liveness checks (--health failures in a row, a missed --watchdog ping). */
  unhealthy(which: ProcessRef): ModelAction[] {
    return this.#apply(this.#m.unhealthy(this.#now, this.#pidOf(which)));
  }

  /** The next `count` spawns fail with errno (a name, 'EMFILE', or a number; null: no errno), as posix_spawn would. */
  failSpawns(errno: string | number | null, count = 1): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`failSpawns count ${count}: expected a whole number, 0 or more`);
    const known = constants.errno as Record<string, number>;
    const number = typeof errno === 'string' ? known[errno] : errno;
    if (number === undefined || (number !== null && !(Number.isInteger(number) && number > 0)))
      throw new RangeError(`failSpawns: unknown errno ${typeof errno === 'string' ? `'${errno}'` : errno}`);
    this.#failing = { count, errno: number };
  }

  /** A process ends (at `atMs` on the virtual clock, after the timers due before then; default now). */
  exit(which: ProcessRef, how: ProcessEnd, atMs?: number): ModelAction[] {
    if (atMs !== undefined && !(atMs >= this.#now)) throw new RangeError(`exit at ${atMs} ms: the clock is already at ${this.#now} ms`);
    let status: number;
    if ('code' in how) {
      if (!Number.isInteger(how.code) || how.code < 0 || how.code > 255) throw new RangeError(`exit code ${how.code}: expected 0 to 255`);
      status = planner.exitedStatus(how.code);
    } else status = killedStatus(parseSignal('signal', how.signal));
    const out = atMs === undefined ? [] : this.advance(atMs - this.#now);
    return [...out, ...this.#apply(this.#m.exited(this.#now, this.#pidOf(which), status))];
  }

  /** Moves the clock `ms` on, firing each timer that comes due, in order, at its own time. */
  advance(ms: number): ModelAction[] {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(${ms}): expected a number of milliseconds, 0 or more`);
    const until = this.#now + ms;
    const out: ModelAction[] = [];
    for (let next = this.timers[0]; next && next.at <= until; next = this.timers[0]) {
      this.#timers.delete(next.id);
      this.#now = next.at;
      out.push(...this.#apply(this.#m.timer(this.#now, next.id)));
    }
    this.#now = until;
    return out;
  }

  /** Frees the machine in the wasm. */
  destroy(): void {
    this.#m.destroy();
  }

  #pidOf(which: ProcessRef): number {
    if (typeof which !== 'number') {
      if (!this.pids.includes(which.pid))
        throw new RangeError(`pid ${which.pid} is not a live process of this model (live: ${this.pids.join(', ') || 'none'})`);
      return which.pid;
    }
    if (!Number.isInteger(which) || which < 0 || which >= this.#m.workerCount)
      throw new RangeError(`no worker ${which} (tasks 0 to ${this.#m.workerCount - 1})`);
    const w = this.#m.worker(which);
    if (w.pid === null) throw new RangeError(`worker ${which} has no process now (${w.state})`);
    return w.pid;
  }

  /** Carries out the actions as the supervisor's runtime does: a spawn's answer follows the spawn. */
  #apply(actions: Action[]): ModelAction[] {
    const out: ModelAction[] = [];
    for (const a of actions) {
      const shown = modelAction(a);
      out.push(shown);
      this.#history.push({ at: this.#now, action: shown });
      switch (a.kind) {
        case 'spawn':
          if (this.#failing.count > 0) {
            this.#failing.count--;
            const { errno } = this.#failing;
            // Said as the supervisor says a real one: the system error's own text ("EMFILE: too many open files, ...").
            const why = errno === null ? '' : new SysError(errno, 'posix_spawn').message;
            out.push(...this.#apply(this.#m.spawnFailed(this.#now, a.task, errno, why)));
          } else out.push(...this.#apply(this.#m.spawned(this.#now, a.task, this.#nextPid++)));
          break;
        case 'arm-timer':
          this.#timers.set(a.id, { at: this.#now + a.ms, seq: this.#seq++ });
          break;
        case 'cancel-timer':
          this.#timers.delete(a.id);
          break;
        case 'signal-leftovers':
          out.push(...this.#apply(this.#m.leftoversSignalled(this.#now, a.pgid, a.step, 0)));
          break;
        default:
          break;
      }
    }
    return out;
  }
}
