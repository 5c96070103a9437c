// daemonkit's library entry: `const daemon = await daemonize({...}); ... daemon.ready()`.
// Importing it loads this file and the error classes only. What a worker calls as it starts (taskId, listenFds, notify)
// is here; the rest (src/library.ts, with the wasm and the planner) loads on the first call of one of its functions,
// so a service pays for nothing it has not called yet, and a worker's READY=1 does not wait for the planner.
import type * as Library from './library.js';

export {
  AlreadyRunningError,
  ControlError,
  DamagedStateError,
  ListenError,
  LogFileError,
  NotRunningError,
  PidfileError,
  StartError,
  SysError,
  UnknownServiceError,
  UsageError,
} from './errors.js';
export { LSB } from './core/lsb-status.js';
import { isForkWorker, taskId } from './core/fork-worker.js';
export { taskId };
export { listenFds } from './core/listen-fds.js';
export { notify } from './core/notify.js';
export type {
  ControlResult,
  Daemon,
  DaemonEvents,
  DaemonOptions,
  Duration,
  ForkOptions,
  HomeOption,
  ListenFd,
  LogsOptions,
  ServiceOptions,
  ServiceReport,
  ServiceTarget,
  Started,
  StopOptions,
  StopResult,
  WorkerReport,
} from './library.js';

type Lib = typeof Library;
let loaded: Lib | null = null;

/** dist/library.js, on first use. The bundles are CommonJS: `require` is this module's own, resolved beside it. */
function lib(): Lib {
  return (loaded ??= require('./library.js') as Lib);
}

/** The library function `name`, loaded on its first call; its type (overloads included) is the implementation's. */
function later<K extends keyof Lib>(name: K): Lib[K] {
  return ((...args: unknown[]) => (lib()[name] as (...a: unknown[]) => unknown)(...args)) as Lib[K];
}

/**
 * Turns this Node program into a daemon. In the original process it never resolves: the process exits 0 once
 * the daemon calls `ready()`, or 1 with the daemon's error. In the daemon (the same script, run again) it
 * resolves with the handle. In a process that is already a daemon (systemd, PID 1 parent, socket on stdin)
 * it does not fork: it takes the PID file and resolves at once (for a socket on stdin, which is also what a
 * child_process pipe is, it says so on stderr). Called again, it returns the same promise. An unknown option key
 * or a call from a worker_thread rejects with a UsageError.
 */
export const daemonize = later('daemonize');
/**
 * tornado's fork_processes(): in the parent, runs n copies of this script (n <= 0 or omitted: one per CPU), restarts
 * the ones that fail, and never resolves; in each copy, resolves with its task id 0..n-1. After daemonize(), the
 * daemon's original exits 0 once every worker is ready.
 */
export const forkProcesses: Lib['forkProcesses'] = (n, options) => {
  // A copy learns its task id from its environment: it loads nothing more, so a restarted worker serves sooner.
  return isForkWorker() ? (workerTask ??= Promise.resolve(taskId()!)) : lib().forkProcesses(n, options);
};
let workerTask: Promise<number> | null = null;
/** Starts a service, as `daemonkit start`: resolves once it is ready, or rejects with a StartError saying why not. */
export const start = later('start');
/** Stops the service and waits until it is gone. Not running is a result (`kind: 'not-running'`), not an error. */
export const stop = later('stop');
/** Stops the service if it runs, then starts it with the options recorded when it was last started. */
export const restart = later('restart');
/** Reload: a rolling replacement of the workers (or SIGHUP to them, `reload: 'signal'`); an unsupervised daemon gets SIGHUP. */
export const reload = later('reload');
/** Reopen the log files (logrotate's postrotate); an unsupervised program gets only the signal it declared. */
export const reopen = later('reopen');
/** The service's status: LSB code, state, supervisor and workers, restarts, last exits. A name never started: UnknownServiceError. */
export const status = later('status');
/** Every service in the state directory (a PID file or a record), by name, with its status. */
export const list = later('list');
/**
 * The last lines of the service's logs, without their newlines. With `follow: true`, an async iterator instead: those
 * lines, then each line appended (across rotation) until you `break` or `signal` aborts; bad arguments throw at once.
 */
export const logs = later('logs');
