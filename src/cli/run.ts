// `daemonkit run`: the supervisor in the foreground, in this very process (no fork, no new session): for a container's
// ENTRYPOINT (as PID 1 it also reaps orphans) and systemd's Type=notify units. Its exit status is the service's.
import { bundleRequire } from '../bundle-require.js';
import { normalize, type Normalized } from '../options.js';
import { makeStateDir, stateDirRefusal } from '../core/service-files.js';
import { StartError, UsageError } from '../errors.js';
import { buildPlan, contextBits, optionBits, plannedSteps, renderPlan } from '../core/plan.js';
import { detachContext } from '../core/context.js';
import { describeFailure } from '../core/start.js';
import { listenFds } from '../core/listen-fds.js';
import { distFile } from '../core/dist-path.js';
import type { Report } from '../core/messages.js';
import type { SessionLink } from '../core/session-link.js';
import { setChildSubreaper } from '../sys/prctl.js';
import { exitNow } from '../sys/unistd.js';
import { startOptionsFrom, type Values } from './flags.js';
import { printable, writeStdio } from './terminal.js';

const INIT_PID = 1;

function say(line: string): void {
  try {
    writeStdio(process.stderr, `daemonkit: ${printable(line)}\n`);
  } catch {
    // nobody reads our stderr
  }
}

/**
 * The normalized options as run takes them: its output is ours unless --log/--stdout/--stderr say otherwise, and
 * without --name it keeps no files (no PID file, control socket or record) unless --pidfile is given.
 */
function foregroundOptions(values: Values, command: string[] | undefined): Normalized {
  // run is always supervised: start's --no-supervise is not one of its flags.
  const o = normalize({ ...startOptionsFrom(values, command, 'run'), supervise: true }, 'cli');
  const given = (flag: string) => values[flag] !== undefined;
  if (!given('log') && !given('stdout')) o.stdio[1] = { kind: 'inherit' };
  if (!given('log') && !given('stdout') && !given('stderr')) o.stdio[2] = { kind: 'inherit' };
  if (!given('name')) {
    o.stateDir = null;
    if (!given('pidfile')) o.pidfile = null;
    if (!o.pidfile && (o.ready.kind === 'notify' || o.watchdogMs)) {
      throw new UsageError(
        `--${o.ready.kind === 'notify' ? 'ready notify' : 'watchdog'} needs --name (or --pidfile) under run: the workers' NOTIFY_SOCKET lives beside the service's files`,
        o.ready.kind === 'notify' ? '--ready' : '--watchdog',
      );
    }
  }
  return o;
}

/** run's end of what `start`'s new session tells its original: here, our own stderr and exit status. */
function foregroundLink(o: Normalized): SessionLink {
  const close = (r: Report) => {
    if (r.kind === 'failed')
      say(describeFailure({ ...r, kind: 'failed', stderrTail: o.stdio[2].kind === 'inherit' ? undefined : r.stderrTail }));
    else if (r.kind === 'error') say(r.message);
    else if (r.kind === 'busy') say(`${o.name ?? 'the service'} already running (pid ${r.pid ?? 'unknown'})`);
  };
  // Nothing comes with a foreground run's options: its stdio is already its own.
  return { takeFds: () => [], send: () => {}, close, finish: (r, code) => (close(r), exitNow(code)) };
}

/** `daemonkit plan --foreground`: run's plan, with the same options. */
export function renderRunPlan(values: Values, command: string[] | undefined, json: boolean): string {
  const o = foregroundOptions(values, command);
  const plan = buildPlan(o, detachContext(), undefined, false, true);
  return json ? JSON.stringify(plan, null, 2) : renderPlan(plan);
}

/** Runs the service until it ends; never returns (the process exits with the service's status). */
export async function runForeground(values: Values, command: string[] | undefined): Promise<number> {
  // The supervisor runtime is its own bundle (src/supervisor/foreground.ts): the other commands do not compile it.
  const foreground = bundleRequire()(distFile('foreground.js')) as typeof import('../supervisor/foreground.js');
  // Taken before anything else reads the environment: the workers must not see the manager's variables.
  const manager = foreground.takeManagerEnv();
  const inherited = listenFds();
  const o = foregroundOptions(values, command);
  const own = o;
  // As start's original does for its new session: the service's files live there, where only root may change them.
  if (o.stateDir) makeStateDir(o.stateDir);
  const refusal = stateDirRefusal(o);
  if (refusal) throw new StartError(o.name, `${o.name} failed to start: ${refusal.message}`, refusal);
  const pid1 = process.pid === INIT_PID;
  if (own.subreaper && !pid1) setChildSubreaper(true);
  const reapOrphans = pid1 || own.subreaper;
  const steps = plannedSteps(optionBits(o, false, true), contextBits(detachContext()));
  return foreground.serveForeground({ o, command, steps, link: foregroundLink(o), manager, inherited, reapOrphans, say });
}
