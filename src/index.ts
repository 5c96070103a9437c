// daemonkit's library entry: `const daemon = await daemonize({...}); ... daemon.ready()`.
import { normalize, type DaemonOptions } from './options.js';
import { buildPlan } from './core/plan.js';
import { detachContext } from './core/context.js';
import { adoptDaemon, inPlaceDaemon, Daemon } from './core/daemon-handle.js';
import { MARKERS } from './core/markers.js';
import { acquirePidfile } from './core/pidfile.js';
import { describeFailure, startDetached } from './core/start.js';

export { Daemon } from './core/daemon-handle.js';
export { UsageError } from './errors.js';
export { SysError } from './sys/errors.js';
export type { DaemonOptions } from './options.js';

/** Thrown in an already-detached process whose PID file another live process holds. */
export class AlreadyRunningError extends Error {
  readonly code = 'EALREADY';
  constructor(readonly pid: number | null) {
    super(`already running (pid ${pid ?? 'unknown'})`);
    this.name = 'AlreadyRunningError';
  }
}

/**
 * Turns this Node program into a daemon. In the original process it never resolves: the process exits 0 once
 * the daemon calls `ready()`, or 1 with the daemon's error. In the daemon (the same script, run again) it
 * resolves with the handle. In a process that is already a daemon (systemd, PID 1 parent, socket on stdin)
 * it does not fork: it takes the PID file and resolves at once.
 */
export async function daemonize(options: DaemonOptions = {}): Promise<Daemon> {
  if (process.env[MARKERS.role] === 'daemon') return adoptDaemon();
  const o = normalize(options, 'library');
  const plan = buildPlan(o, detachContext());
  if (!plan.detach) {
    let pidfile: { path: string; fd: number } | null = null;
    if (o.pidfile) {
      const got = acquirePidfile(o.pidfile);
      if (!got.ok) throw new AlreadyRunningError(got.pid);
      pidfile = { path: o.pidfile, fd: got.fd };
    }
    process.umask(o.umask);
    return inPlaceDaemon(pidfile);
  }
  const result = await startDetached(o, {
    path: process.execPath,
    argv: [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    readyProtocol: true,
  });
  if (result.kind === 'ready') process.exit(0);
  process.stderr.write(
    result.kind === 'busy' ? `daemonkit: already running (pid ${result.pid ?? 'unknown'})\n` : `daemonkit: ${describeFailure(result)}\n`,
  );
  process.exit(1);
}
