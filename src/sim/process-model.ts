// A simulated process model: runs a plan without touching the OS, so tests can check a daemon's invariants without
// forking. It runs the plan the way the runtime does (each role's steps through src/core/step-runner.ts, a spawned
// process's steps when it is spawned) with the runtime's fd plans (FD_PLANS); only the syscalls are simulated.
import { FD_PLANS, type FdAction, type FdPlans, type Plan, type Role } from '../core/plan.js';
import { DAEMON_PIDFILE_FD, DAEMON_READY_FD } from '../core/plan.js';
import { runSteps, stepsFor, type StepTable } from '../core/step-runner.js';
import { logFileOf, type Normalized } from '../options.js';

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
  /** Replaces some of the runtime's fd plans, to show the model catches a broken one. */
  fdPlans?: Partial<FdPlans>;
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

/** Everything one simulation shares; each process runs its steps with its own Sim. */
interface World {
  plan: Plan;
  o: Normalized;
  start: SimStart;
  fdPlans: FdPlans;
  violations: string[];
  processes: SimProcess[];
  daemons: SimProcess[];
  pidfile: SimResult['pidfile'];
  holder: SimProcess | null;
  forks: number;
  nextPid: number;
  /** The log files the original opened for the new session, by path. */
  logs: Map<string, number>;
  /** The new session's end of the ready socket, in the original. */
  sessionEnd: number;
}

interface Sim {
  w: World;
  self: SimProcess;
  /** The PID file's descriptor, in the process that locked it. */
  pidfd: number | null;
}

/** The lowest free descriptor, as open(2), pipe(2) and socketpair(2) return; Node opens everything close-on-exec. */
function open(p: SimProcess, object: string): number {
  let fd = 0;
  while (p.fds.has(fd)) fd++;
  p.fds.set(fd, { object, cloexec: true });
  return fd;
}

function spawn(s: Sim, role: SimProcess['role'], actions: FdAction[], who: string): SimProcess {
  const { w, self } = s;
  w.forks++;
  const p: SimProcess = { ...self, pid: w.nextPid++, ppid: self.pid, role, fds: spawnFds(self.fds, actions, w.violations, who), groups: [...self.groups], alive: true };
  w.processes.push(p);
  return p;
}

/** A spawned process runs its role's steps of the plan, as the runtime's entry points do. */
function run(w: World, role: Role, self: SimProcess): void {
  runSteps(w.plan.steps, role, SIM_STEPS[role], { w, self, pidfd: null });
}

function lockPidfile(s: Sim): void {
  s.w.pidfile.opens++;
  s.w.pidfile.openedAfterFork = s.w.forks;
  s.pidfd = open(s.self, 'pidfile');
  s.w.holder = s.self;
}

function chdir(s: Sim): void {
  if (s.w.o.chroot && s.self.root !== s.w.o.chroot) s.w.violations.push('chdir ran before chroot: the cwd is outside the new root');
  s.self.cwd = s.w.o.cwd;
}

const ids: StepTable<Sim, void> = {
  setgroups: (s) => applyIds('setgroups', s.self, s.w.o, s.w.violations),
  setgid: (s) => applyIds('setgid', s.self, s.w.o, s.w.violations),
  setuid: (s) => applyIds('setuid', s.self, s.w.o, s.w.violations),
};

/** What each step does to the simulated processes: one table a role, like the runtime's. */
export const SIM_STEPS: Record<Role, StepTable<Sim, void>> = {
  original: {
    'ready-pipe': (s) => {
      open(s.self, 'ready-socket');
      s.w.sessionEnd = open(s.self, 'ready-socket (session end)');
    },
    'spawn-session': (s) => {
      const { w } = s;
      const role = w.o.supervise ? 'supervisor' : 'intermediate';
      const p = spawn(s, role, w.fdPlans.session(w.o, w.sessionEnd, w.logs), 'spawn-session');
      p.sid = p.pid;
      p.pgid = p.pid;
      p.ctty = null;
      p.sigmaskEmpty = true;
      p.handlersDefault = true;
      for (const fd of [w.sessionEnd, ...w.logs.values()]) s.self.fds.delete(fd);
      run(w, role, p);
    },
    'await-ready': () => {},
  },
  intermediate: {
    umask: (s) => void (s.self.umask = s.w.o.umask),
    'no-core-dumps': (s) => void (s.self.coreDumps = false),
    'pidfile.lock': lockPidfile,
    chroot: (s) => void (s.self.root = s.w.o.chroot!),
    chdir,
    ...ids,
    'spawn-daemon': (s) => {
      const { w } = s;
      const readyWrite = stepsFor(w.plan.steps, 'daemon').includes('ready') ? open(s.self, 'daemon-ready-pipe') : null;
      const d = spawn(s, 'daemon', w.fdPlans.daemon(s.pidfd, readyWrite), 'spawn-daemon');
      if (readyWrite !== null) s.self.fds.delete(readyWrite);
      w.daemons.push(d);
      if (w.holder === s.self) w.holder = d;
      run(w, 'daemon', d);
    },
    'pidfile.write': (s) => {
      s.w.pidfile.writes++;
      s.w.pidfile.content = s.w.daemons.at(-1)?.pid ?? -1;
    },
    'report-exit': (s) => {
      s.self.alive = false;
      for (const p of s.w.processes) if (p.ppid === s.self.pid && p.alive) p.ppid = INIT;
    },
  },
  supervisor: {
    umask: (s) => void (s.self.umask = s.w.o.umask),
    'no-core-dumps': (s) => void (s.self.coreDumps = false),
    'pidfile.lock': lockPidfile,
    'pidfile.write': (s) => {
      s.w.pidfile.writes++;
      s.w.pidfile.content = s.self.pid;
    },
    'control-socket': (s) => void open(s.self, 'control-socket'),
    'session-guard': (s) => {
      const read = open(s.self, 'guard-pipe');
      open(s.self, 'guard-pipe (write end)');
      const g = spawn(s, 'guard', s.w.fdPlans.guard(read), 'session-guard');
      s.self.fds.delete(read);
      g.sid = g.pid;
      g.pgid = g.pid;
      g.cwd = '/';
      if (s.self.root !== '/') s.w.violations.push('session-guard ran after chroot: its shell and /proc are outside the new root');
    },
    chroot: (s) => void (s.self.root = s.w.o.chroot!),
    chdir,
    'spawn-workers': (s) => {
      const { w } = s;
      for (let i = 0; i < (w.start.workers ?? w.o.workers); i++) {
        const out = [open(s.self, `worker ${i} stdout (read end)`), open(s.self, `worker ${i} stdout`)] as const;
        const err = [open(s.self, `worker ${i} stderr (read end)`), open(s.self, `worker ${i} stderr`)] as const;
        const p = spawn(s, 'daemon', w.fdPlans.worker(out[1], err[1]), 'spawn-workers');
        s.self.fds.delete(out[1]);
        s.self.fds.delete(err[1]);
        p.pgid = p.pid;
        w.daemons.push(p);
        run(w, 'daemon', p);
      }
    },
    supervise: () => {},
    'pidfile.release': () => {},
  },
  daemon: {
    umask: (s) => void (s.self.umask = s.w.o.umask),
    'no-core-dumps': (s) => void (s.self.coreDumps = false),
    'pidfile.lock': lockPidfile,
    'pidfile.write': (s) => {
      s.w.pidfile.writes++;
      s.w.pidfile.content = s.self.pid;
    },
    ...ids,
    // exec's close-on-exec sweep is part of the spawn (spawnFds); ready and the release happen later, in the program.
    exec: () => {},
    ready: () => {},
    'pidfile.release': () => {},
  },
};

/** Runs the plan against simulated processes, starting from the caller's, and checks a daemon's invariants. */
export function simulate(plan: Plan, o: Normalized, start: SimStart = {}): SimResult {
  const original: SimProcess = {
    pid: 1000,
    ppid: 900,
    sid: 900,
    pgid: 1000,
    ctty: '/dev/pts/0',
    role: 'original',
    fds: new Map<number, OpenFile>([
      [0, { object: 'tty', cloexec: false }],
      [1, { object: 'tty', cloexec: false }],
      [2, { object: 'tty', cloexec: false }],
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
  const w: World = {
    plan,
    o,
    start,
    fdPlans: { ...FD_PLANS, ...start.fdPlans },
    violations: [],
    processes: [original],
    daemons: [],
    pidfile: { opens: 0, writes: 0, content: null, openedAfterFork: -1, forksTotal: 0 },
    holder: null,
    forks: 0,
    nextPid: 1001,
    logs: new Map(),
    sessionEnd: -1,
  };

  if (plan.detach) {
    // Before the plan's steps, the original opens the new session's log files itself (start.ts, prepareFiles).
    for (const path of o.stdio.map(logFileOf)) if (path && !w.logs.has(path)) w.logs.set(path, open(original, `file:${path}`));
    run(w, 'original', original);
  } else {
    original.role = 'daemon';
    w.daemons.push(original);
    run(w, 'daemon', original);
  }

  w.pidfile.forksTotal = w.forks;
  const guards = w.processes.filter((p) => p.role === 'guard');
  if (plan.detach && o.supervise && guards.length !== 1) w.violations.push(`${guards.length} session guards: a SIGKILLed supervisor must leave exactly one process to kill its workers`);
  checkInvariants(plan, o, original, w.daemons, w.pidfile, w.holder, w.processes, w.violations);
  return { processes: w.processes, daemons: w.daemons, pidfile: w.pidfile, violations: w.violations };
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
