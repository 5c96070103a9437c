// The daemon's steps. Detached, another process does them on the daemon's behalf: the one that spawns it (the
// intermediate, or the supervisor for each worker) runs this table to build the spawn, and the library's Daemon handle
// does ready and pidfile.release. Already detached (systemd, PID 1 parent), this process runs them on itself.
import { existsSync } from 'node:fs';
import type { Normalized } from '../options.js';
import { DaemonHandle, type Daemon } from './daemon-handle.js';
import { MARKERS } from './markers.js';
import { acquirePidfile, writePid } from './pidfile.js';
import { DAEMON_PIDFILE_FD, DAEMON_READY_FD } from './plan.js';
import { checkJail, noCoreDumps, setUmask } from './confine.js';
import { runSteps, type PlannedStep, type StepTable } from './step-runner.js';

/** util-linux's setpriv drops a worker's ids between fork and exec, which posix_spawn cannot do. */
export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync) ?? null;
/** util-linux's unshare, run from outside the jail: chroot, chdir, setgroups(0), setgid, setuid, then exec (unshare(1)). */
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find(existsSync) ?? null;

/** What the spawning process hands posix_spawn for the daemon (its fds are the fd plan's: FD_PLANS in plan.ts). */
export interface DaemonSpawn {
  path: string;
  argv: string[];
  env: string[];
  /** The daemon speaks the ready protocol: the spawner makes a ready pipe and passes it as DAEMON_READY_FD. */
  readyPipe: boolean;
  /** The spawn enters the chroot and its directory itself (unshare --root --wd): the spawner sets no directory. */
  entersJail: boolean;
}

/** What the id and jail steps ask of the wrapper that runs the program; exec turns it into setpriv's or unshare's argv. */
interface Wrapper {
  jail: { root: string; wd: string } | null;
  initGroups: boolean;
  gid: number | null;
  uid: number | null;
}

interface Setup {
  o: Normalized;
  /** The spawn being built, or null when this process is the daemon itself. */
  spawn: (DaemonSpawn & { program: { path: string; argv: string[] }; wrap: Wrapper }) | null;
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
  chroot: (c) => {
    // Each spawn looks the jail up by its path again: nobody but root may be able to swap it for another.
    spawning(c, 'chroot').wrap.jail = { root: checkJail(c.o.chroot!), wd: '/' };
  },
  chdir: (c) => {
    const s = spawning(c, 'chdir');
    if (!s.wrap.jail) throw new Error("a spawned daemon's chdir is the jail's: chroot comes first");
    s.wrap.jail.wd = c.o.cwd;
    s.entersJail = true;
  },
  setgroups: (c) => void (spawning(c, 'setgroups').wrap.initGroups = true),
  setgid: (c) => void (spawning(c, 'setgid').wrap.gid = c.o.group?.gid ?? c.o.user!.gid),
  setuid: (c) => void (spawning(c, 'setuid').wrap.uid = c.o.user!.uid),
  /** exec is the posix_spawn: the program itself, or the wrapper (unshare in a jail, else setpriv) that runs it. */
  exec: (c) => {
    const s = spawning(c, 'exec');
    const { path, argv } = s.program;
    const args = wrapperArgs(s.wrap);
    if (!args) return void Object.assign(s, { path, argv });
    Object.assign(s, { path: args[0], argv: [...args, '--', path, ...argv.slice(1)] });
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

/** The wrapper's command line up to its `--`, or null when the program is spawned as it is. */
function wrapperArgs(w: Wrapper): string[] | null {
  const { jail, gid, uid } = w;
  if (jail) {
    if (!UNSHARE) throw new Error('--chroot needs /usr/bin/unshare (util-linux) to enter the jail in each worker');
    // unshare clears the supplementary groups when it sets the gid: the jail's /etc/group is never read as root.
    const ids = [...(gid === null ? [] : ['--setgid', String(gid)]), ...(uid === null ? [] : ['--setuid', String(uid)])];
    return [UNSHARE, `--root=${jail.root}`, `--wd=${jail.wd}`, ...ids];
  }
  if (gid === null && uid === null) return null;
  if (!SETPRIV) throw new Error('--user and --group need /usr/bin/setpriv (util-linux) to drop privileges in each worker');
  // setpriv changes the gid only with an explicit choice of supplementary groups: none, without --user.
  const groups = w.initGroups ? ['--init-groups'] : ['--clear-groups'];
  return [SETPRIV, ...groups, ...(gid === null ? [] : ['--regid', String(gid)]), ...(uid === null ? [] : ['--reuid', String(uid)])];
}

const notInPlace = (): never => {
  throw new Error('a spawned daemon has no PID file of its own to find busy');
};

/** The daemon's steps as the spawn the intermediate or supervisor makes (a worker's env gets its task id on top). */
export function daemonSpawn(o: Normalized, plan: readonly PlannedStep[], program: { path: string; argv: string[] }): DaemonSpawn {
  const wrap: Wrapper = { jail: null, initGroups: false, gid: null, uid: null };
  const spawn = { program, wrap, path: program.path, argv: program.argv, env: [...o.env], readyPipe: false, entersJail: false };
  runSteps(plan, 'daemon', DAEMON_STEPS, { o, spawn, pidfile: null, releases: false, busy: notInPlace });
  return { path: spawn.path, argv: spawn.argv, env: spawn.env, readyPipe: spawn.readyPipe, entersJail: spawn.entersJail };
}

/** Already detached: this process runs the daemon's steps on itself and is the daemon. busy: the PID file is held. */
export function daemonInPlace(o: Normalized, plan: readonly PlannedStep[], busy: (pid: number | null) => never): Daemon {
  const c: Setup = { o, spawn: null, pidfile: null, releases: false, busy };
  runSteps(plan, 'daemon', DAEMON_STEPS, c);
  return new DaemonHandle(null, c.releases ? c.pidfile : null, false);
}
