// A simulated process model: runs a plan without touching the OS, so tests can check a daemon's invariants without
// forking. It runs the plan the way the runtime does (each role's steps through src/core/step-runner.ts, a spawned
// process's steps when it is spawned) with the runtime's fd plans (FD_PLANS); only the syscalls are simulated.
import { FD_PLANS, type FdAction, type FdPlans, type Plan, type Role } from '../core/plan.js';
import { DAEMON_PIDFILE_FD, DAEMON_READY_FD } from '../core/plan.js';
import { LISTEN_FDS_START } from '../core/socket-activation.js';
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

/** Every invariant the model checks, by name (daemonkit/testing reports each as holding or not). */
export const INVARIANTS = [
  'daemonStarted',
  'newSession',
  'notSessionLeader',
  'noControllingTerminal',
  'reparented',
  'stdioOpen',
  'stdioDetached',
  'noInheritedFds',
  'umask',
  'cwd',
  'chrooted',
  'chrootBeforeChdir',
  'idsDropped',
  'idsDroppedInOrder',
  'signalsReset',
  'noCoreDumps',
  'pidfileTakenOnce',
  'pidfileTakenAfterFork',
  'pidfileNotHeldByCaller',
  'pidfileNamesDaemon',
  'pidfileHeld',
  'pidfilePassedOn',
  'oneSessionGuard',
  'guardOutsideChroot',
  'groupsFromHost',
  'fdPlanValid',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

/** A broken invariant: its name, the process it concerns (null: the service as a whole) and one sentence. */
export interface Violation {
  invariant: Invariant;
  pid: number | null;
  message: string;
}

function broke(list: Violation[], invariant: Invariant, message: string, pid: number | null = null): void {
  list.push({ invariant, pid, message });
}

export interface SimResult {
  processes: SimProcess[];
  /** The process(es) that run the user's program. */
  daemons: SimProcess[];
  /** lockedBy: the process that took the lock, with its ids at that moment. */
  pidfile: {
    opens: number;
    writes: number;
    content: number | null;
    openedAfterFork: number;
    forksTotal: number;
    lockedBy: { pid: number; role: SimProcess['role']; uid: number; gid: number } | null;
  };
  /** Broken invariants, one sentence each; empty when the plan is sound. */
  violations: string[];
  /** The same, each with its invariant's name and process. */
  broken: Violation[];
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
export function spawnFds(parent: Map<number, OpenFile>, actions: FdAction[], violations: Violation[], who: string): Map<number, OpenFile> {
  const t = fdTableCopy(parent);
  for (const a of actions) {
    switch (a.op) {
      case 'open':
        t.set(a.fd, { object: a.mode === 'null' ? '/dev/null' : `file:${a.path}`, cloexec: false });
        break;
      case 'dup2': {
        const src = t.get(a.fd);
        if (!src) {
          broke(violations, 'fdPlanValid', `${who}: dup2 from closed fd ${a.fd}`);
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
  violations: Violation[];
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
  /** The supervisor's listening sockets (bind-sockets), in --listen order. */
  listeners: number[];
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
  const p: SimProcess = {
    ...self,
    pid: w.nextPid++,
    ppid: self.pid,
    role,
    fds: spawnFds(self.fds, actions, w.violations, who),
    groups: [...self.groups],
    alive: true,
  };
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
  s.w.pidfile.lockedBy = { pid: s.self.pid, role: s.self.role, uid: s.self.uid, gid: s.self.gid };
  s.pidfd = open(s.self, 'pidfile');
  s.w.holder = s.self;
}

function chdir(s: Sim): void {
  if (s.w.o.chroot && s.self.root !== s.w.o.chroot)
    broke(s.w.violations, 'chrootBeforeChdir', 'chdir ran before chroot: the cwd is outside the new root');
  s.self.cwd = s.w.o.cwd;
}

/** session-stdio: the log files the original sent become fds 0-2 as the options say (dup2 clears close-on-exec). */
function takeStdio(s: Sim): void {
  s.w.o.stdio.forEach((t, fd) => {
    const path = logFileOf(t);
    if (path) s.self.fds.set(fd, { object: `file:${path}`, cloexec: false });
  });
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
      const p = spawn(s, role, w.fdPlans.sessionSpawn(w.sessionEnd), 'spawn-session');
      p.sid = p.pid;
      p.pgid = p.pid;
      p.ctty = null;
      p.sigmaskEmpty = true;
      p.handlersDefault = true;
      s.self.fds.delete(w.sessionEnd);
      run(w, role, p);
    },
    // The order and the log files go over the ready socket (session-stdio takes them); then the original drops its own.
    'await-ready': (s) => {
      for (const fd of s.w.logs.values()) s.self.fds.delete(fd);
    },
  },
  intermediate: {
    'session-stdio': takeStdio,
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
    'session-stdio': takeStdio,
    umask: (s) => void (s.self.umask = s.w.o.umask),
    'no-core-dumps': (s) => void (s.self.coreDumps = false),
    'pidfile.lock': lockPidfile,
    'pidfile.write': (s) => {
      s.w.pidfile.writes++;
      s.w.pidfile.content = s.self.pid;
    },
    'bind-sockets': (s) => {
      for (const l of s.w.o.listen) s.w.listeners.push(open(s.self, `listener:${l.text}`));
    },
    'control-socket': (s) => void open(s.self, 'control-socket'),
    'notify-socket': (s) => void open(s.self, 'notify-socket'),
    'session-guard': (s) => {
      const read = open(s.self, 'guard-pipe');
      open(s.self, 'guard-pipe (write end)');
      const g = spawn(s, 'guard', s.w.fdPlans.guard(read), 'session-guard');
      s.self.fds.delete(read);
      g.sid = g.pid;
      g.pgid = g.pid;
      g.cwd = '/';
      if (s.self.root !== '/')
        broke(s.w.violations, 'guardOutsideChroot', 'session-guard ran after chroot: its shell and /proc are outside the new root');
    },
    chdir,
    'spawn-workers': (s) => {
      const { w } = s;
      for (let i = 0; i < (w.start.workers ?? w.o.workers); i++) {
        const out = [open(s.self, `worker ${i} stdout (read end)`), open(s.self, `worker ${i} stdout`)] as const;
        const err = [open(s.self, `worker ${i} stderr (read end)`), open(s.self, `worker ${i} stderr`)] as const;
        const p = spawn(
          s,
          'daemon',
          w.fdPlans.worker(
            out[1],
            err[1],
            w.listeners.map((fd) => ({ fd })),
          ),
          'spawn-workers',
        );
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
    // A worker enters the jail through unshare, which sets the gid with no supplementary groups at all.
    chroot: (s) => void (s.self.root = s.w.o.chroot!),
    chdir,
    ...ids,
    setgid: (s) => {
      if (s.self.root !== '/') s.self.groups = [];
      applyIds('setgid', s.self, s.w.o, s.w.violations);
    },
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
    pidfile: { opens: 0, writes: 0, content: null, openedAfterFork: -1, forksTotal: 0, lockedBy: null },
    holder: null,
    forks: 0,
    nextPid: 1001,
    logs: new Map(),
    sessionEnd: -1,
    listeners: [],
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
  if (plan.detach && o.supervise && guards.length !== 1)
    broke(
      w.violations,
      'oneSessionGuard',
      `${guards.length} session guards: a SIGKILLed supervisor must leave exactly one process to kill its workers`,
    );
  checkInvariants(plan, o, original, w.daemons, w.pidfile, w.holder, w.processes, w.violations);
  return {
    processes: w.processes,
    daemons: w.daemons,
    pidfile: w.pidfile,
    violations: w.violations.map((v) => v.message),
    broken: w.violations,
  };
}

function applyIds(step: string, p: SimProcess, o: Normalized, violations: Violation[]): void {
  if (step !== 'setuid' && p.uid !== 0) broke(violations, 'idsDroppedInOrder', `${step} after the uid was dropped: EPERM`, p.pid);
  if (step === 'setgroups' && p.root !== '/')
    broke(violations, 'groupsFromHost', "initgroups ran inside the chroot: the jail's /etc/group chose the groups", p.pid);
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
  v: Violation[],
): void {
  if (daemons.length === 0) broke(v, 'daemonStarted', 'no daemon was started');
  if (o.pidfile) {
    if (pidfile.opens !== 1) broke(v, 'pidfileTakenOnce', `the PID file was taken ${pidfile.opens} times, not once`);
    if (plan.detach) {
      const lastForkOfHolder = holder ? processes.indexOf(holder) : -1;
      if (holder === original) broke(v, 'pidfileNotHeldByCaller', 'the original process holds the PID file');
      if (pidfile.openedAfterFork < 1) broke(v, 'pidfileTakenAfterFork', 'the PID file was taken before the first fork');
      const named = processes.find((p) => p.pid === pidfile.content);
      if (!named || !named.alive)
        broke(v, 'pidfileNamesDaemon', `the PID file names ${pidfile.content}, which is not a live process of this service`);
      else if (named.role !== 'daemon' && named.role !== 'supervisor')
        broke(v, 'pidfileNamesDaemon', `the PID file names the ${named.role}`);
      if (lastForkOfHolder < 0 || !holder!.alive) broke(v, 'pidfileHeld', 'nobody alive holds the PID file lock');
    }
  }
  if (!plan.detach) return;
  for (const d of daemons) {
    const who = `daemon ${d.pid}`;
    if (d.sid === original.sid) broke(v, 'newSession', `${who} is still in the caller's session`, d.pid);
    if (d.sid === d.pid) broke(v, 'notSessionLeader', `${who} is a session leader (it could acquire a controlling terminal)`, d.pid);
    if (d.ctty !== null) broke(v, 'noControllingTerminal', `${who} has a controlling terminal`, d.pid);
    const expectedParent = o.supervise ? processes.find((p) => p.role === 'supervisor')!.pid : INIT;
    if (d.ppid !== expectedParent) broke(v, 'reparented', `${who} has parent ${d.ppid}, expected ${expectedParent}`, d.pid);
    for (const fd of [0, 1, 2]) if (!d.fds.has(fd)) broke(v, 'stdioOpen', `${who} has fd ${fd} closed`, d.pid);
    if ([0, 1, 2].some((fd) => d.fds.get(fd)?.object === 'tty')) broke(v, 'stdioDetached', `${who} still writes to the terminal`, d.pid);
    const allowed = new Set([0, 1, 2]);
    if (!o.supervise && o.pidfile) allowed.add(DAEMON_PIDFILE_FD);
    if (!o.supervise && !o.command) allowed.add(DAEMON_READY_FD);
    const listeners = o.supervise ? (o.listen ?? []) : [];
    listeners.forEach((l, i) => {
      allowed.add(LISTEN_FDS_START + i);
      const f = d.fds.get(LISTEN_FDS_START + i);
      if (f?.object !== `listener:${l.text}` || f.cloexec)
        broke(v, 'fdPlanValid', `${who} does not hold ${l.text} as fd ${LISTEN_FDS_START + i}`, d.pid);
    });
    for (const [fd, f] of d.fds) if (!allowed.has(fd)) broke(v, 'noInheritedFds', `${who} inherited fd ${fd} (${f.object})`, d.pid);
    if (!o.supervise && o.pidfile && d.fds.get(DAEMON_PIDFILE_FD)?.object !== 'pidfile')
      broke(v, 'pidfilePassedOn', `${who} does not hold the PID file as fd ${DAEMON_PIDFILE_FD}`, d.pid);
    if (d.umask !== o.umask) broke(v, 'umask', `${who} has umask ${d.umask.toString(8)}, expected ${o.umask.toString(8)}`, d.pid);
    if (d.cwd !== o.cwd) broke(v, 'cwd', `${who} has cwd ${d.cwd}, expected ${o.cwd}`, d.pid);
    if (o.chroot && d.root !== o.chroot) broke(v, 'chrooted', `${who} is not chrooted`, d.pid);
    if (o.user && (d.uid !== o.user.uid || d.groups.includes(0) !== (o.user.gid === 0)))
      broke(v, 'idsDropped', `${who} kept root's identity`, d.pid);
    if (!d.sigmaskEmpty || !d.handlersDefault) broke(v, 'signalsReset', `${who} inherited the caller's signal mask or handlers`, d.pid);
    if (d.coreDumps && !o.coreDumps) broke(v, 'noCoreDumps', `${who} can dump core (core dumps were not asked for)`, d.pid);
  }
}
