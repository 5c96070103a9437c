// A simulated process model: runs a plan without touching the OS, so tests can check a daemon's invariants without forking.
import type { FdAction, Plan, Role } from '../core/plan.js';
import { DAEMON_PIDFILE_FD, DAEMON_READY_FD } from '../core/plan.js';
import type { Normalized } from '../options.js';

export interface OpenFile {
  /** What the descriptor refers to: "tty", "/dev/null", "pidfile", "file:/var/log/x", "ready-socket", "leak:7"... */
  object: string;
  cloexec: boolean;
}

export interface SimProcess {
  pid: number;
  ppid: number;
  sid: number;
  pgid: number;
  ctty: string | null;
  /** 'guard': the supervisor's session guard, which no plan step names as a role. */
  role: Role | 'guard';
  fds: Map<number, OpenFile>;
  umask: number;
  cwd: string;
  root: string;
  uid: number;
  gid: number;
  groups: number[];
  sigmaskEmpty: boolean;
  handlersDefault: boolean;
  /** RLIMIT_CORE above 0. */
  coreDumps: boolean;
  alive: boolean;
}

export interface SimResult {
  processes: SimProcess[];
  /** The process(es) that run the user's program. */
  daemons: SimProcess[];
  pidfile: { opens: number; writes: number; content: number | null; openedAfterFork: number; forksTotal: number };
  /** Broken invariants, one sentence each; empty when the plan is sound. */
  violations: string[];
}

export interface SimStart {
  /** fds the original holds without close-on-exec besides 0-2 (a careless shell's 3..300). */
  leakedFds?: number[];
  /** fds the original holds with close-on-exec (Node's own). */
  cloexecFds?: number[];
  uid?: number;
  workers?: number;
}

const INIT = 1;

function fdTableCopy(fds: Map<number, OpenFile>): Map<number, OpenFile> {
  return new Map([...fds].map(([k, v]) => [k, { ...v }]));
}

/** Applies posix_spawn file actions to a copy of the parent's table, then exec's close-on-exec sweep. */
export function spawnFds(parent: Map<number, OpenFile>, actions: FdAction[], violations: string[], who: string): Map<number, OpenFile> {
  const t = fdTableCopy(parent);
  for (const a of actions) {
    switch (a.op) {
      case 'open':
        t.set(a.fd, { object: a.mode === 'null' ? '/dev/null' : `file:${a.path}`, cloexec: false });
        break;
      case 'dup2': {
        const src = t.get(a.fd);
        if (!src) {
          violations.push(`${who}: dup2 from closed fd ${a.fd}`);
          break;
        }
        t.set(a.newfd, { object: src.object, cloexec: false });
        break;
      }
      case 'close':
        t.delete(a.fd);
        break;
      case 'closefrom':
        for (const fd of [...t.keys()]) if (fd >= a.fd) t.delete(fd);
        break;
    }
  }
  for (const [fd, f] of [...t]) if (f.cloexec) t.delete(fd);
  return t;
}

/** Runs the plan's steps in order against simulated processes and checks a daemon's invariants. */
export function simulate(plan: Plan, o: Normalized, start: SimStart = {}): SimResult {
  const violations: string[] = [];
  let nextPid = 1000;
  let forks = 0;
  const pidfile = { opens: 0, writes: 0, content: null as number | null, openedAfterFork: -1, forksTotal: 0 };
  const original: SimProcess = {
    pid: nextPid++,
    ppid: 900,
    sid: 900,
    pgid: 1000,
    ctty: '/dev/pts/0',
    role: 'original',
    fds: new Map<number, OpenFile>([
      [0, { object: 'tty', cloexec: true }],
      [1, { object: 'tty', cloexec: true }],
      [2, { object: 'tty', cloexec: true }],
    ]),
    umask: 0o002,
    cwd: '/home/user',
    root: '/',
    uid: start.uid ?? 0,
    gid: start.uid ?? 0,
    groups: [0, 4, 27],
    sigmaskEmpty: false,
    handlersDefault: false,
    coreDumps: true,
    alive: true,
  };
  for (const fd of start.leakedFds ?? []) original.fds.set(fd, { object: `leak:${fd}`, cloexec: false });
  for (const fd of start.cloexecFds ?? []) original.fds.set(fd, { object: `node:${fd}`, cloexec: true });
  const processes: SimProcess[] = [original];
  const byRole = (role: Role) => processes.filter((p) => p.role === role && p.alive).at(-1);
  const daemons: SimProcess[] = [];
  let pidfileHolder: SimProcess | null = null;

  const child = (parent: SimProcess, role: SimProcess['role'], fds: Map<number, OpenFile>): SimProcess => {
    forks++;
    const p: SimProcess = { ...parent, pid: nextPid++, ppid: parent.pid, role, fds, groups: [...parent.groups], alive: true };
    processes.push(p);
    return p;
  };

  if (!plan.detach) {
    original.role = 'daemon';
    daemons.push(original);
  }

  for (const { role, step } of plan.steps) {
    // In a supervised plan the workers drop their own privileges: every worker runs those steps.
    if (plan.detach && role === 'daemon' && o.supervise && ['setgroups', 'setgid', 'setuid'].includes(step)) {
      for (const d of daemons) applyIds(step, d, o, violations);
      continue;
    }
    const self = role === 'original' ? original : byRole(role);
    if (!self && step !== 'exec' && step !== 'ready' && step !== 'pidfile.release') {
      violations.push(`${step}: no live ${role} process to run it`);
      continue;
    }
    switch (step) {
      case 'ready-pipe':
        original.fds.set(20, { object: 'ready-socket', cloexec: true });
        break;
      case 'spawn-session': {
        // The log files the original opened itself for the new session (close-on-exec, like every open of Node's).
        for (const l of plan.sessionLogs) original.fds.set(l.fd, { object: `file:${l.path}`, cloexec: true });
        const p = child(original, o.supervise ? 'supervisor' : 'intermediate', spawnFds(original.fds, plan.sessionFds, violations, 'spawn-session'));
        p.sid = p.pid;
        p.pgid = p.pid;
        p.ctty = null;
        p.sigmaskEmpty = true;
        p.handlersDefault = true;
        break;
      }
      case 'umask':
        self!.umask = o.umask;
        break;
      case 'no-core-dumps':
        self!.coreDumps = false;
        break;
      case 'pidfile.lock': {
        pidfile.opens++;
        pidfile.openedAfterFork = forks;
        const fd = Math.max(...self!.fds.keys()) + 1;
        self!.fds.set(fd, { object: 'pidfile', cloexec: true });
        pidfileHolder = self!;
        break;
      }
      case 'pidfile.write':
        pidfile.writes++;
        pidfile.content = self!.role === 'intermediate' ? daemons.at(-1)?.pid ?? -1 : self!.pid;
        break;
      case 'chroot':
        self!.root = o.chroot!;
        break;
      case 'chdir':
        if (o.chroot && self!.root !== o.chroot) violations.push('chdir ran before chroot: the cwd is outside the new root');
        self!.cwd = o.cwd;
        break;
      case 'setgroups':
      case 'setgid':
      case 'setuid':
        applyIds(step, self!, o, violations);
        break;
      case 'spawn-daemon': {
        // The intermediate's PID file fd is whatever it got; the plan's daemonFds name stand-ins, so map them.
        const fds = fdTableCopy(self!.fds);
        const pidfileFd = [...fds].find(([, f]) => f.object === 'pidfile')?.[0];
        if (pidfileFd !== undefined) fds.set(21, fds.get(pidfileFd)!);
        fds.set(22, { object: 'daemon-ready-pipe', cloexec: true });
        const p = child(self!, 'daemon', spawnFds(fds, plan.daemonFds, violations, 'spawn-daemon'));
        daemons.push(p);
        if (pidfileHolder === self) pidfileHolder = p;
        break;
      }
      case 'session-guard': {
        // Its own session (a kill of ours misses it), cwd /, stdio only: it holds nothing of the service.
        const g = child(self!, 'guard', spawnFds(self!.fds, [{ op: 'open', fd: 0, path: '/dev/null', mode: 'null' }, { op: 'dup2', fd: 0, newfd: 1 }, { op: 'dup2', fd: 0, newfd: 2 }, { op: 'closefrom', fd: 3 }], violations, 'session-guard'));
        g.sid = g.pid;
        g.pgid = g.pid;
        g.cwd = '/';
        if (self!.root !== '/') violations.push('session-guard ran after chroot: its shell and /proc are outside the new root');
        break;
      }
      case 'spawn-workers':
        for (let i = 0; i < (start.workers ?? o.workers); i++) {
          const p = child(self!, 'daemon', spawnFds(self!.fds, [0, 1, 2].map((fd) => ({ op: 'dup2', fd, newfd: fd }) as FdAction).concat({ op: 'closefrom', fd: 3 }), violations, 'spawn-workers'));
          p.pgid = p.pid;
          daemons.push(p);
        }
        break;
      case 'report-exit':
        self!.alive = false;
        for (const p of processes) if (p.ppid === self!.pid && p.alive) p.ppid = INIT;
        break;
      case 'await-ready':
      case 'exec':
      case 'ready':
      case 'supervise':
      case 'control-socket':
      case 'pidfile.release':
        break;
      default:
        violations.push(`unknown step ${step}`);
    }
  }

  pidfile.forksTotal = forks;
  const guards = processes.filter((p) => p.role === 'guard');
  if (plan.detach && o.supervise && guards.length !== 1) violations.push(`${guards.length} session guards: a SIGKILLed supervisor must leave exactly one process to kill its workers`);
  checkInvariants(plan, o, original, daemons, pidfile, pidfileHolder, processes, violations);
  return { processes, daemons, pidfile, violations };
}

function applyIds(step: string, p: SimProcess, o: Normalized, violations: string[]): void {
  if (step !== 'setuid' && p.uid !== 0) violations.push(`${step} after the uid was dropped: EPERM`);
  if (step === 'setgroups') p.groups = [o.user!.gid];
  else if (step === 'setgid') p.gid = o.group?.gid ?? o.user!.gid;
  else p.uid = o.user!.uid;
}

function checkInvariants(
  plan: Plan,
  o: Normalized,
  original: SimProcess,
  daemons: SimProcess[],
  pidfile: SimResult['pidfile'],
  holder: SimProcess | null,
  processes: SimProcess[],
  v: string[],
): void {
  if (daemons.length === 0) v.push('no daemon was started');
  if (o.pidfile) {
    if (pidfile.opens !== 1) v.push(`the PID file was taken ${pidfile.opens} times, not once`);
    if (plan.detach) {
      const lastForkOfHolder = holder ? processes.indexOf(holder) : -1;
      if (holder === original) v.push('the original process holds the PID file');
      if (pidfile.openedAfterFork < 1) v.push('the PID file was taken before the first fork');
      const named = processes.find((p) => p.pid === pidfile.content);
      if (!named || !named.alive) v.push(`the PID file names ${pidfile.content}, which is not a live process of this service`);
      else if (named.role !== 'daemon' && named.role !== 'supervisor') v.push(`the PID file names the ${named.role}`);
      if (lastForkOfHolder < 0 || !holder!.alive) v.push('nobody alive holds the PID file lock');
    }
  }
  if (!plan.detach) return;
  for (const d of daemons) {
    const who = `daemon ${d.pid}`;
    if (d.sid === original.sid) v.push(`${who} is still in the caller's session`);
    if (d.sid === d.pid) v.push(`${who} is a session leader (it could acquire a controlling terminal)`);
    if (d.ctty !== null) v.push(`${who} has a controlling terminal`);
    const expectedParent = o.supervise ? processes.find((p) => p.role === 'supervisor')!.pid : INIT;
    if (d.ppid !== expectedParent) v.push(`${who} has parent ${d.ppid}, expected ${expectedParent}`);
    for (const fd of [0, 1, 2]) if (!d.fds.has(fd)) v.push(`${who} has fd ${fd} closed`);
    if ([0, 1, 2].some((fd) => d.fds.get(fd)?.object === 'tty')) v.push(`${who} still writes to the terminal`);
    const allowed = new Set([0, 1, 2]);
    if (!o.supervise && o.pidfile) allowed.add(DAEMON_PIDFILE_FD);
    if (!o.supervise && !o.command) allowed.add(DAEMON_READY_FD);
    for (const [fd, f] of d.fds) if (!allowed.has(fd)) v.push(`${who} inherited fd ${fd} (${f.object})`);
    if (!o.supervise && o.pidfile && d.fds.get(DAEMON_PIDFILE_FD)?.object !== 'pidfile') v.push(`${who} does not hold the PID file as fd ${DAEMON_PIDFILE_FD}`);
    if (d.umask !== o.umask) v.push(`${who} has umask ${d.umask.toString(8)}, expected ${o.umask.toString(8)}`);
    if (d.cwd !== o.cwd) v.push(`${who} has cwd ${d.cwd}, expected ${o.cwd}`);
    if (o.chroot && d.root !== o.chroot) v.push(`${who} is not chrooted`);
    if (o.user && (d.uid !== o.user.uid || d.groups.includes(0) !== (o.user.gid === 0))) v.push(`${who} kept root's identity`);
    if (!d.sigmaskEmpty || !d.handlersDefault) v.push(`${who} inherited the caller's signal mask or handlers`);
    if (d.coreDumps && !o.coreDumps) v.push(`${who} can dump core (core dumps were not asked for)`);
  }
}
