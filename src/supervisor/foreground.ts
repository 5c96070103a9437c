// `daemonkit run`'s supervisor half, its own bundle (dist/foreground.js): the CLI requires it only when run is the
// command, so start, stop and the rest do not compile the supervisor runtime.
import { constants } from 'node:os';
import type { Normalized } from '../options.js';
import { mapExit } from '../core/run-options.js';
import { SIGNAL_EXIT_BASE, SUPERVISOR_EXIT } from '../core/supervisor-machine.js';
import type { ListenFd } from '../core/listen-fds.js';
import type { PlannedStep } from '../core/step-runner.js';
import type { SessionLink } from '../core/session-link.js';
import { SupervisorRuntime } from './runtime.js';
import { ManagerNotify, type ManagerEnv } from './manager-notify.js';
import { stopTree } from './orphans.js';
import { exitNow } from '../sys/unistd.js';

/** Any long period: the timer only holds the event loop. */
const KEEP_ALIVE_MS = 3_600_000;
const SIGNAL_NAMES = Object.fromEntries(Object.entries(constants.signals).map(([name, n]) => [n, name])) as Record<number, NodeJS.Signals>;

/** The service manager's variables, removed from process.env so the workers do not see them. */
export function takeManagerEnv(): ManagerEnv {
  return ManagerNotify.takeEnv();
}

export interface Foreground {
  o: Normalized;
  command: string[] | undefined;
  steps: PlannedStep[];
  link: SessionLink;
  manager: ManagerEnv;
  inherited: ListenFd[];
  reapOrphans: boolean;
  say(line: string): void;
}

/** Runs the supervisor in this process until the service ends; the process exits with the service's status. */
export async function serveForeground(f: Foreground): Promise<never> {
  const { o, command, say, reapOrphans } = f;
  const runtime = new SupervisorRuntime(
    o,
    command ? { path: o.command!.path, argv: o.command!.argv } : { path: '', argv: [] },
    f.steps,
    f.link,
    {
      manager: f.manager,
      inherited: f.inherited,
      reapOrphans,
      foreground: true,
      exit: (code, signal) => {
        const status = mapExit(o.exitMap, signal !== null && code === SUPERVISOR_EXIT.ok ? SIGNAL_EXIT_BASE + signal : code);
        const done = () => exitNow(status);
        if (reapOrphans) void stopTree(o.stopSchedule, say).then(done, done);
        else done();
      },
    },
  );
  for (const signal of o.forward) process.on(SIGNAL_NAMES[signal]!, () => runtime.forward(signal));
  try {
    await runtime.start();
  } catch (e) {
    runtime.releasePidfile();
    say((e as Error).message);
    exitNow(SUPERVISOR_EXIT.failed);
  }
  // Without a control socket or output pipes nothing of the loop is referenced (docs/DESIGN.md, fact 8): this timer
  // holds the process until the exit hook ends it with the service's status.
  setInterval(() => {}, KEEP_ALIVE_MS);
  return new Promise<never>(() => {});
}
