// daemonkit's library entry: `const daemon = await daemonize({...}); ... daemon.ready()`.
import { checkOptionKeys, DAEMON_OPTION_KEYS, normalize, type DaemonOptions, type Normalized } from './options.js';
import { isMainThread } from 'node:worker_threads';
import { UsageError } from './errors.js';
import { filesOf, writeState } from './core/service-files.js';
import { buildPlan, detachWarning } from './core/plan.js';
import { detachContext } from './core/context.js';
import { adoptDaemon, Daemon } from './core/daemon-handle.js';
import { daemonInPlace } from './core/daemon-steps.js';
import { MARKERS } from './core/markers.js';
import { describeFailure, startDetached } from './core/start.js';
import { SIGHUP, SIGUSR1 } from './sys/signal.js';

export { Daemon } from './core/daemon-handle.js';
export { UsageError } from './errors.js';
export { SysError } from './sys/errors.js';
export { listenFds, type ListenFd } from './core/listen-fds.js';
export type { DaemonOptions } from './options.js';

/** Thrown in an already-detached process whose PID file another live process holds. */
export class AlreadyRunningError extends Error {
  readonly code = 'EALREADY';
  constructor(readonly pid: number | null) {
    super(`already running (pid ${pid ?? 'unknown'})`);
    this.name = 'AlreadyRunningError';
  }
}

/** Tells `daemonkit reload|reopen --pidfile F` which signals this daemon handles (the Daemon handle's events). */
function recordDaemon(o: Normalized): void {
  const files = filesOf(o);
  if (!files) return;
  try {
    writeState(files.state, { version: 1, options: o, status: null, exitCode: null, exitedAt: null, signals: { reload: SIGHUP, reopen: SIGUSR1 } });
  } catch {
    // Not fatal: without the record, reload and reopen refuse rather than guess.
  }
}

/** The first call's promise: what every later call returns. */
let handle: Promise<Daemon> | null = null;

const WORKER_THREAD =
  'daemonize() must be called from the main thread, not a worker_thread: the daemon is a new process, and the main thread would run on beside it';

/**
 * Turns this Node program into a daemon. In the original process it never resolves: the process exits 0 once
 * the daemon calls `ready()`, or 1 with the daemon's error. In the daemon (the same script, run again) it
 * resolves with the handle. In a process that is already a daemon (systemd, PID 1 parent, socket on stdin)
 * it does not fork: it takes the PID file and resolves at once (for a socket on stdin, which is also what a
 * child_process pipe is, it says so on stderr). Called again, it returns the same promise. An unknown option key
 * or a call from a worker_thread rejects with a UsageError.
 */
export function daemonize(options: DaemonOptions = {}): Promise<Daemon> {
  // A process becomes a daemon once: a second call (two modules, a retry) gets the first call's promise and handle.
  if (handle) return handle;
  let o: Normalized | null = null;
  try {
    if (!isMainThread) throw new UsageError(WORKER_THREAD);
    checkOptionKeys(options, DAEMON_OPTION_KEYS, 'library');
    if (process.env[MARKERS.role] !== 'daemon') o = normalize(options, 'library');
  } catch (e) {
    return Promise.reject(e);
  }
  handle = o ? begin(o) : Promise.resolve(adoptDaemon());
  return handle;
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
