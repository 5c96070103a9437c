// forkProcesses()'s options: each value parsed by the option table's own parser, so units and errors match daemonize().
import { availableParallelism } from 'node:os';
import { invalid, UsageError } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import { OPTIONS } from './option-table.js';
import { parseStopSchedule, type ParseContext, type RestartPolicy } from './option-values.js';
import type { ListenSpec } from './listen-spec.js';
import { maxWorkers, type MachineConfig } from './supervisor-machine.js';

export interface ForkOptions {
  /** Give up (exit 1) once workers were restarted more than this many times in all (tornado's max_restarts). Default 100. */
  maxRestarts?: number | string;
  /** on-failure (default: a clean exit is not restarted), always or never. */
  restart?: RestartPolicy;
  /** First restart delay, doubling up to backoffMax: seconds, or a string with a unit ('100ms'). Default 100ms. */
  backoffMin?: number | string;
  /** Longest restart delay. Default 10s. */
  backoffMax?: number | string;
  /**
   * alive:DURATION (ready once alive that long) or notify (ready when it calls daemon.ready()). Default: alive:0.2 after
   * daemonize(), whose original waits for every worker; else alive:0, tornado's rule (no start to fail).
   */
  ready?: string;
  /** How long a worker may take to be ready with ready: 'notify'. Default 30s. */
  readyTimeout?: number | string;
  /** Sockets bound once in the parent and passed to every worker as fds 3.. (listenFds()): tcp:PORT, unix:PATH... */
  listen?: string | string[];
  /** How workers are stopped: signal/seconds pairs as start-stop-daemon takes them. Default TERM/10/KILL/5. */
  stopSchedule?: string;
  /** The CLI's name for stopSchedule. */
  retry?: string;
  /** Variables to set in the workers: KEY=VALUE strings or an object. */
  env?: Record<string, string> | string[];
}

const KEYS: Readonly<Record<string, true>> = Object.fromEntries(
  ['maxRestarts', 'restart', 'backoffMin', 'backoffMax', 'ready', 'readyTimeout', 'listen', 'stopSchedule', 'retry', 'env'].map((k) => [
    k,
    true,
  ]),
);

/** tornado's fork_processes(max_restarts=100): the CLI's --max-restarts default is a crash-loop bound, not this. */
export const DEFAULT_MAX_RESTARTS = 100;
const READY_FORMS = 'notify or alive:DURATION (alive:0.5, alive:500ms)';
/** The machine's startMs when a worker is ready only once it says so. */
const READY_WHEN_TOLD = -1;
/** The machine's restartWindowMs that counts every restart ever made: tornado's total, not a rate. */
const COUNT_EVERY_RESTART = 0;

export interface ForkConfig {
  workers: number;
  machine: MachineConfig;
  notify: boolean;
  listen: ListenSpec[];
  env: [string, string][];
}

function parseWorkers(n: unknown): number {
  if (n === undefined || n === null) return availableParallelism();
  if (typeof n !== 'number' || !Number.isInteger(n)) throw invalid('n', n, 'not a whole number');
  if (n <= 0) return availableParallelism();
  if (n > maxWorkers()) throw invalid('n', n, `at most ${maxWorkers()}`);
  return n;
}

/** alive:0: ready once spawned. */
const SPAWNED_IS_READY = 0;

/** The table's `ready` parser; of its modes, forkProcesses() carries out alive:DURATION and notify. */
function parseReady(value: unknown, c: ParseContext): number {
  if (value === undefined) return OPTIONS.startSecs.parse('ready', OPTIONS.startSecs.default, c);
  const spec = OPTIONS.ready.parse('ready', value as string, c);
  if (spec.kind === 'notify') return READY_WHEN_TOLD;
  if (spec.kind === 'alive') return spec.ms;
  throw invalid('ready', value, `forkProcesses() takes ${READY_FORMS}; ${spec.kind} probes need the CLI's supervisor`);
}

/** The table's `listen` parser; parseListenSpec names the CLI's flag, and the library's caller wrote `listen`. */
function parseListen(value: unknown, c: ParseContext): ListenSpec[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  try {
    return OPTIONS.listen.parse('listen', list as string[], c);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(e.message.replace(/^invalid --listen /, 'invalid listen '), 'listen', e.value);
  }
}

/**
 * Checks every option before anything is bound or spawned; a bad one is a UsageError naming it and its value. awaited:
 * a daemonize() original waits for the workers to be ready.
 */
export function parseForkOptions(n: unknown, input: ForkOptions, awaited = false): ForkConfig {
  if (typeof input !== 'object' || input === null) throw invalid('options', input, 'expected an object');
  checkOptionKeys(input, KEYS, 'library');
  if (input.stopSchedule !== undefined && input.retry !== undefined) {
    throw new UsageError(
      'conflicting options: stopSchedule and retry are the same option; give one',
      'stopSchedule',
      String(input.stopSchedule),
    );
  }
  const c: ParseContext = { naming: 'library', base: process.cwd() };
  const workers = parseWorkers(n);
  const given = <K extends keyof typeof OPTIONS>(key: K, value: unknown, name: string = key) =>
    OPTIONS[key].parse(name, (value ?? OPTIONS[key].default) as never, c) as ReturnType<(typeof OPTIONS)[K]['parse']>;
  const backoffMinMs = given('backoffMin', input.backoffMin);
  const backoffMaxMs = given('backoffMax', input.backoffMax);
  if (backoffMaxMs < backoffMinMs) throw invalid('backoffMax', input.backoffMax ?? OPTIONS.backoffMax.default, 'less than backoffMin');
  const scheduleName = input.retry !== undefined ? 'retry' : 'stopSchedule';
  const schedule = input.stopSchedule ?? input.retry;
  // Nobody awaits a start (no daemonize() before): tornado's rule from the first moment, each worker ready once spawned,
  // so an early exit is judged as any exit is (a clean one ends that worker, a crash is restarted).
  const startMs = input.ready === undefined && !awaited ? SPAWNED_IS_READY : parseReady(input.ready, c);
  const machine: MachineConfig = {
    workers,
    restart: given('restart', input.restart),
    backoffMinMs,
    backoffMaxMs,
    minUptimeMs: given('minUptime', undefined),
    maxRestarts: given('maxRestarts', input.maxRestarts ?? DEFAULT_MAX_RESTARTS),
    restartWindowMs: COUNT_EVERY_RESTART,
    startMs,
    readyTimeoutMs: given('readyTimeout', input.readyTimeout),
    reload: 'rolling',
    stopSchedule: schedule === undefined ? undefined : parseStopSchedule(scheduleName, schedule),
  };
  return { workers, machine, notify: startMs === READY_WHEN_TOLD, listen: parseListen(input.listen, c), env: given('env', input.env) };
}
