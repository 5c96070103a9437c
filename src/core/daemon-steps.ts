// The daemon's steps. Detached, another process does them on the daemon's behalf: the one that spawns it (the
// intermediate, or the supervisor for each worker) runs this table to build the spawn, and the library's Daemon handle
// does ready and pidfile.release. Already detached (systemd, PID 1 parent), this process runs them on itself.
import { existsSync } from 'node:fs';
import type { Normalized } from '../options.js';
import { DaemonHandle, type Daemon } from './daemon-handle.js';
import { MARKERS } from './markers.js';
import { acquirePidfile, writePid } from './pidfile.js';
import { DAEMON_PIDFILE_FD, DAEMON_READY_FD } from './plan.js';
import { noCoreDumps, setUmask } from './confine.js';
import { runSteps, type PlannedStep, type StepTable } from './step-runner.js';

/** util-linux's setpriv drops a worker's ids between fork and exec, which posix_spawn cannot do. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync) ?? null;

/** What the spawning process hands posix_spawn for the daemon (its fds are the fd plan's: FD_PLANS in plan.ts). */
export interface DaemonSpawn {
  path: string;
  argv: string[];
  env: string[];
  /** The daemon speaks the ready protocol: the spawner makes a ready pipe and passes it as DAEMON_READY_FD. */
  readyPipe: boolean;
}

interface Setup {
  o: Normalized;
  /** The spawn being built, or null when this process is the daemon itself. */
  spawn: (DaemonSpawn & { program: { path: string; argv: string[] }; ids: string[] }) | null;
  /** In place: the PID file this process holds, and whether its Daemon handle removes it on exit. */
  pidfile: { path: string; fd: number } | null;
  releases: boolean;
  busy: (pid: number | null) => never;
}

function spawning(c: Setup, step: string): NonNullable<Setup['spawn']> {
  if (!c.spawn) throw new Error(`${step} is a step of a spawned daemon, not of one that stays in place`);
  return c.spawn;
}

function inPlace(c: Setup, step: string): void {
  if (c.spawn) throw new Error(`${step} is a step of a daemon that stays in place, not of a spawned one`);
}

export const DAEMON_STEPS: StepTable<Setup, void> = {
  umask: (c) => (inPlace(c, 'umask'), setUmask(c.o)),
  'no-core-dumps': (c) => (inPlace(c, 'no-core-dumps'), noCoreDumps()),
  'pidfile.lock': (c) => {
    inPlace(c, 'pidfile.lock');
    const got = acquirePidfile(c.o.pidfile!);
    if (!got.ok) return c.busy(got.pid);
    c.pidfile = { path: c.o.pidfile!, fd: got.fd };
  },
  'pidfile.write': (c) => {
    inPlace(c, 'pidfile.write');
    writePid(c.pidfile!.fd, process.pid);
  },
  // setpriv applies its options in its own fixed order (groups, gid, uid): each step adds its own.
  setgroups: (c) => void spawning(c, 'setgroups').ids.push('--init-groups'),
  setgid: (c) => {
    const s = spawning(c, 'setgid');
    // setpriv changes the gid only with an explicit choice of supplementary groups: none, without --user.
    s.ids.push('--regid', String(c.o.group?.gid ?? c.o.user!.gid), ...(c.o.user ? [] : ['--clear-groups']));
  },
  setuid: (c) => void spawning(c, 'setuid').ids.push('--reuid', String(c.o.user!.uid)),
  /** exec is the posix_spawn: the program itself, or setpriv running it once the id steps gave it arguments. */
  exec: (c) => {
    const s = spawning(c, 'exec');
    const { path, argv } = s.program;
    if (!s.ids.length) return void Object.assign(s, { path, argv });
    if (!SETPRIV) throw new Error('--user and --group need /usr/bin/setpriv (util-linux) to drop privileges in each worker');
    Object.assign(s, { path: SETPRIV, argv: [SETPRIV, ...s.ids, '--', path, ...argv.slice(1)] });
  },
  /** ready happens in Daemon.ready(); here it gets its channel: a ready pipe when spawned, NOTIFY_SOCKET (if any) in place. */
  ready: (c) => {
    if (!c.spawn) return;
    c.spawn.readyPipe = true;
    c.spawn.env.push(`${MARKERS.role}=daemon`, `${MARKERS.readyFd}=${DAEMON_READY_FD}`);
  },
  /** pidfile.release happens in the Daemon handle's exit: here it learns which file, and by which fd, it holds. */
  'pidfile.release': (c) => {
    if (c.spawn) c.spawn.env.push(`${MARKERS.pidfileFd}=${DAEMON_PIDFILE_FD}`, `${MARKERS.pidfile}=${c.o.pidfile}`);
    else c.releases = true;
  },
};

const notInPlace = (): never => {
  throw new Error('a spawned daemon has no PID file of its own to find busy');
};

/** The daemon's steps as the spawn the intermediate or supervisor makes (a worker's env gets its task id on top). */
export function daemonSpawn(o: Normalized, plan: readonly PlannedStep[], program: { path: string; argv: string[] }): DaemonSpawn {
  const spawn = { program, ids: [] as string[], path: program.path, argv: program.argv, env: [...o.env], readyPipe: false };
  runSteps(plan, 'daemon', DAEMON_STEPS, { o, spawn, pidfile: null, releases: false, busy: notInPlace });
  return { path: spawn.path, argv: spawn.argv, env: spawn.env, readyPipe: spawn.readyPipe };
}

/** Already detached: this process runs the daemon's steps on itself and is the daemon. busy: the PID file is held. */
export function daemonInPlace(o: Normalized, plan: readonly PlannedStep[], busy: (pid: number | null) => never): Daemon {
  const c: Setup = { o, spawn: null, pidfile: null, releases: false, busy };
  runSteps(plan, 'daemon', DAEMON_STEPS, c);
  return new DaemonHandle(null, c.releases ? c.pidfile : null, false);
}
