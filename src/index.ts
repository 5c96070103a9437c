// daemonkit's library entry: `const daemon = await daemonize({...}); ... daemon.ready()`.
// Importing it loads this file and the error classes only. What a worker calls as it starts (taskId, listenFds, notify)
// is here; the rest (src/library.ts, with the wasm and the planner) loads on the first call of one of its functions,
// so a service pays for nothing it has not called yet, and a worker's READY=1 does not wait for the planner.
import type * as Library from './library.js';

export {
  AlreadyRunningError,
  ControlError,
  DamagedStateError,
  LogFileError,
  NotRunningError,
  PidfileError,
  StartError,
  SysError,
  UnknownServiceError,
  UsageError,
} from './errors.js';
export { LSB } from './core/lsb-status.js';
export { taskId } from './core/fork-worker.js';
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

/** Turns this Node program into a daemon (see src/library.ts). */
export const daemonize = later('daemonize');
/** tornado's fork_processes(): n copies of this script, restarted when they fail; resolves with the task id. */
export const forkProcesses = later('forkProcesses');
export const start = later('start');
export const stop = later('stop');
export const restart = later('restart');
export const reload = later('reload');
export const reopen = later('reopen');
export const status = later('status');
export const list = later('list');
export const logs = later('logs');
