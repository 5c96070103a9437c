// The library's implementation: index.ts requires it on the first call of one of its functions, so importing
// daemonkit loads neither this nor the wasm; the error classes and LSB are index.ts's own exports.
import { checkOptionKeys, DAEMON_OPTION_KEYS, normalize, type DaemonOptions, type Normalized } from './options.js';
import { nodeWorkerThreads } from './core/lazy-builtins.js';
import { AlreadyRunningError, UsageError } from './errors.js';
import { filesOf, writeUnsupervisedRecord } from './core/service-files.js';
import { buildPlan, detachWarning } from './core/plan.js';
import { detachContext } from './core/context.js';
import { adoptDaemon, DaemonHandle, type Daemon } from './core/daemon-handle.js';
import { daemonInPlace } from './core/daemon-steps.js';
import { MARKERS } from './core/markers.js';
import { describeFailure, startDetached } from './core/start.js';
import { SIGHUP, SIGUSR1 } from './sys/signal.js';
import { forkProcesses as forkWorkers, type ForkOptions } from './core/fork-processes.js';
import { isForkWorker } from './core/fork-worker.js';

export type { Daemon, DaemonEvents } from './core/daemon-handle.js';
export { list, logs, reload, reopen, restart, start, status, stop } from './core/service-api.js';
export type { ControlResult, LogsOptions, Started, StopOptions, StopResult } from './core/service-api.js';
export type { ServiceOptions } from './core/service-options.js';
export type { ServiceReport, WorkerReport } from './core/service-report.js';
export type { HomeOption, ServiceTarget } from './core/service-target.js';
export type { Duration } from './core/option-values.js';
export type { ListenFd } from './core/listen-fds.js';
export type { ForkOptions } from './core/fork-processes.js';
export type { DaemonOptions } from './options.js';

/** Tells `daemonkit reload|reopen --pidfile F` which signals this daemon handles (the Daemon handle's events). */
function recordDaemon(o: Normalized): void {
  const files = filesOf(o);
  if (!files) return;
  try {
    writeUnsupervisedRecord(files.state, o, { reload: SIGHUP, reopen: SIGUSR1 });
  } catch {
    // Not fatal: without the record, reload and reopen refuse rather than guess.
  }
}

/** The first call's promise: what every later call returns. */
let handle: Promise<Daemon> | null = null;

const WORKER_THREAD =
  'daemonize() must be called from the main thread, not a worker_thread: the daemon is a new process, and the main thread would run on beside it';

/** daemonize(), as index.ts documents it for users. */
export function daemonize(options: DaemonOptions = {}): Promise<Daemon> {
  // A process becomes a daemon once: a second call (two modules, a retry) gets the first call's promise and handle.
  if (handle) return handle;
  let o: Normalized | null = null;
  try {
    if (!nodeWorkerThreads().isMainThread) throw new UsageError(WORKER_THREAD);
    checkOptionKeys(options, DAEMON_OPTION_KEYS, 'library');
    // A forkProcesses() worker: its parent holds the PID file and the verdict; ready() tells the parent.
    if (isForkWorker()) return (handle = Promise.resolve(new DaemonHandle(null, null, false)));
    if (process.env[MARKERS.role] !== 'daemon') o = normalize(options, 'library');
  } catch (e) {
    return Promise.reject(e);
  }
  handle = o ? begin(o) : Promise.resolve(adoptDaemon());
  return handle;
}

/** forkProcesses(), as index.ts documents it for users. */
export function forkProcesses(n?: number | null, options: ForkOptions = {}): Promise<number> {
  return forkWorkers(n, options, handle);
}

async function begin(o: Normalized): Promise<Daemon> {
  const context = detachContext();
  const plan = buildPlan(o, context);
  if (!plan.detach) {
    const warning = detachWarning(o, context);
    if (warning) process.stderr.write(`daemonkit: ${warning}\n`);
    // Already a daemon: this process runs the daemon's steps of the plan on itself.
    return daemonInPlace(o, plan.steps, (pid) => {
      throw new AlreadyRunningError(pid);
    });
  }
  const result = await startDetached(o, {
    path: process.execPath,
    argv: [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    readyProtocol: true,
  });
  if (result.kind === 'ready') {
    recordDaemon(o);
    process.exit(0);
  }
  process.stderr.write(
    result.kind === 'busy' ? `daemonkit: already running (pid ${result.pid ?? 'unknown'})\n` : `daemonkit: ${describeFailure(result)}\n`,
  );
  process.exit(1);
}
