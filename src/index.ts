// daemonkit's library entry: `const daemon = await daemonize({...}); ... daemon.ready()`.
// Importing it loads this file and the error classes only. The implementation (src/library.ts, with koffi, the wasm
// and the planner) loads on the first call of one of its functions, so a service that imports daemonkit pays for
// nothing it has not called yet.
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
/** This worker's task id under forkProcesses() or a supervisor, else null. */
export const taskId = later('taskId');
/** The listening sockets a supervisor or systemd passed to this process (sd_listen_fds). */
export const listenFds = later('listenFds');
/** sd_notify(3): "READY=1", "WATCHDOG=1", "STATUS=..." to $NOTIFY_SOCKET; false when there is none. */
export const notify = later('notify');
export const start = later('start');
export const stop = later('stop');
export const restart = later('restart');
export const reload = later('reload');
export const reopen = later('reopen');
export const status = later('status');
export const list = later('list');
export const logs = later('logs');
