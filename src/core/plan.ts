// Turns normalized options into the plan the planner decides: steps per process, and the daemon's fd actions.
import { planner } from './wasm.js';
import type { Normalized } from '../options.js';
import { logFileOf, type StdioTarget } from './option-values.js';
import { quote } from '../errors.js';
import type { PlannedStep } from './step-runner.js';
import { describeProbe } from './ready-spec.js';
import { EXEC_SHELL, listenerFdTargets, notifyChildFd } from './socket-activation.js';
import { SESSION_READY_FD, sessionSpawnFds } from './session-spawn.js';
import { notifySocketPlace } from './notify-address.js';

export type Role = 'original' | 'intermediate' | 'supervisor' | 'daemon';

/** A planned step with the line `daemonkit plan` prints for it. */
export interface Step extends PlannedStep {
  detail: string;
}

export type FdAction =
  | { op: 'open'; fd: number; path: string; mode: 'null' | 'append' | 'truncate' }
  | { op: 'dup2'; fd: number; newfd: number }
  | { op: 'close'; fd: number }
  | { op: 'closefrom'; fd: number };

export interface Plan {
  /** False when the caller is already a daemon (and detaching was not forced). */
  detach: boolean;
  skipReason: string | null;
  steps: Step[];
  /** fd actions when the original spawns the new session: stdio per the options, the ready socket as fd 3, nothing else. */
  sessionFds: FdAction[];
  /** Log files the original opens itself (openLogFile) and hands the new session by fd: never opened by path as root. */
  sessionLogs: SessionLog[];
  /** fd actions when the intermediate or supervisor spawns the daemon: its stdio kept, the PID file lock and the ready pipe passed on. */
  daemonFds: FdAction[];
}

export { SESSION_READY_FD };
/** Where an unsupervised daemon finds the locked PID file, and a library daemon its ready pipe. */
export const DAEMON_PIDFILE_FD = 3;
export const DAEMON_READY_FD = 4;

export interface SessionLog {
  fd: number;
  path: string;
}

/** The fds the runtime has at hand when it spawns; the plan command uses stand-ins. */
export interface LiveFds {
  /** The original's end of the ready socket meant for the child. */
  readySocket: number;
  /** The intermediate's PID file descriptor. */
  pidfile: number;
  /** The write end of the daemon's ready pipe (library daemons only). */
  daemonReady: number;
  /** The log files the original opened, by path (stand-ins after daemonReady when absent). */
  logs?: Map<string, number>;
}

export function sessionFdTargets(o: Normalized, readySocket: number, logs: Map<string, number>): Array<[number, StdioTarget]> {
  const opened = (t: StdioTarget): StdioTarget => {
    const path = logFileOf(t);
    return path ? { kind: 'fd', fd: logs.get(path)! } : t;
  };
  return [...o.stdio.map((t, fd) => [fd, opened(t)] as [number, StdioTarget]), [SESSION_READY_FD, { kind: 'fd', fd: readySocket }]];
}

/** The distinct log files of the new session's stdio, in the order the original sends their fds with the order. */
export function sessionLogPaths(o: Normalized): string[] {
  return [...new Set(o.stdio.map(logFileOf).filter((p): p is string => p !== null))];
}

/** The distinct log files of the new session's stdio, each with the fd the original holds it on (or a stand-in). */
function sessionLogsOf(o: Normalized, fds: LiveFds): SessionLog[] {
  return sessionLogPaths(o).map((path, i) => ({ path, fd: fds.logs?.get(path) ?? fds.daemonReady + 1 + i }));
}

export function daemonFdTargets(pidfile: number | null, daemonReady: number | null): Array<[number, StdioTarget]> {
  const targets: Array<[number, StdioTarget]> = [0, 1, 2].map((fd) => [fd, { kind: 'inherit' }]);
  if (pidfile !== null) targets.push([DAEMON_PIDFILE_FD, { kind: 'fd', fd: pidfile }]);
  if (daemonReady !== null) targets.push([DAEMON_READY_FD, { kind: 'fd', fd: daemonReady }]);
  return targets;
}

/**
 * A supervised worker's fds: no input, its output into the supervisor's pipes (one pipe when both go to one file), and
 * the supervisor's listening sockets (close-on-exec in the supervisor) as fds 3, 4, ... (socket activation).
 */
export function workerFdTargets(
  stdoutPipe: number,
  stderrPipe: number,
  listeners: ReadonlyArray<{ fd: number }> = [],
  notifySender: number | null = null,
): Array<[number, StdioTarget]> {
  const targets: Array<[number, StdioTarget]> = [
    [0, { kind: 'null' }],
    [1, { kind: 'fd', fd: stdoutPipe }],
    [2, { kind: 'fd', fd: stderrPipe }],
  ];
  targets.push(...listenerFdTargets(listeners));
  if (notifySender !== null) targets.push([notifyChildFd(listeners), { kind: 'fd', fd: notifySender }]);
  return targets;
}

/**
 * The fd plan of every spawn daemonkit makes, by what is spawned: the runtime and the simulator (src/sim) both call
 * these, so what the simulator checks is what runs.
 */
export const FD_PLANS = {
  /**
   * The new session's fds once it has its stdio (session-stdio): stdio per the options (log files by the fds the original
   * opened and sent), the ready socket. What the simulator and `daemonkit plan` show.
   */
  session: (o: Normalized, readySocket: number, logs: Map<string, number>): FdAction[] => planFds(sessionFdTargets(o, readySocket, logs)),
  /** The original spawning the new session, before any option is read (session-spawn.ts). */
  sessionSpawn: sessionSpawnFds,
  /** The intermediate spawning the daemon: its stdio kept, the locked PID file and the ready pipe passed on. */
  daemon: (pidfile: number | null, daemonReady: number | null): FdAction[] => planFds(daemonFdTargets(pidfile, daemonReady)),
  /** The supervisor spawning a worker: its output pipes, the listening sockets (if any) at fds 3.., its notify sender. */
  worker: (
    stdoutPipe: number,
    stderrPipe: number,
    listeners: ReadonlyArray<{ fd: number }> = [],
    notifySender: number | null = null,
  ): FdAction[] => planFds(workerFdTargets(stdoutPipe, stderrPipe, listeners, notifySender)),
  /**
   * The supervisor spawning its session guard: the pipe it reads as stdin, /dev/null for its output, nothing else.
   * Written out, not planned: three fixed actions whose only source fd is a fresh pipe.
   */
  guard: (pipeRead: number): FdAction[] => [
    { op: 'dup2', fd: pipeRead, newfd: 0 },
    { op: 'open', fd: 1, path: '/dev/null', mode: 'null' },
    { op: 'dup2', fd: 1, newfd: 2 },
    { op: 'closefrom', fd: 3 },
  ],
};
export type FdPlans = typeof FD_PLANS;

/** What the planner needs to know about the calling process, to decide whether it is already detached. */
export interface DetachContext {
  parentIsInit: boolean;
  systemdInvocation: boolean;
  notifySocket: boolean;
  stdinIsSocket: boolean;
  /** A worker of our own supervisor: it is the supervisor's job to keep it, not the worker's to detach. */
  supervisedWorker: boolean;
}

const ROLES: Role[] = ['original', 'intermediate', 'supervisor', 'daemon'];

export function contextBits(c: DetachContext): number {
  return (
    (c.parentIsInit ? planner.CTX_PARENT_IS_INIT.value : 0) |
    (c.systemdInvocation ? planner.CTX_SYSTEMD_INVOCATION.value : 0) |
    (c.notifySocket ? planner.CTX_NOTIFY_SOCKET.value : 0) |
    (c.stdinIsSocket ? planner.CTX_STDIN_SOCKET.value : 0) |
    (c.supervisedWorker ? planner.CTX_SUPERVISED.value : 0)
  );
}

/** foreground: `run`'s plan, the supervisor being the calling process. */
export function optionBits(o: Normalized, readyProtocol: boolean, foreground = false): number {
  return (
    (foreground ? planner.OPT_FOREGROUND.value : 0) |
    (o.supervise ? planner.OPT_SUPERVISE.value : 0) |
    (o.pidfile ? planner.OPT_PIDFILE.value : 0) |
    (o.chroot ? planner.OPT_CHROOT.value : 0) |
    (o.user ? planner.OPT_USER.value : 0) |
    (o.group ? planner.OPT_GROUP.value : 0) |
    (o.forceDetach ? planner.OPT_FORCE_DETACH.value : 0) |
    (readyProtocol ? planner.OPT_READY_PROTOCOL.value : 0) |
    (o.coreDumps ? 0 : planner.OPT_NO_CORE_DUMPS.value) |
    (o.supervise && (o.ready?.kind === 'notify' || o.watchdogMs) ? planner.OPT_NOTIFY.value : 0) |
    (o.supervise && o.listen?.length ? planner.OPT_LISTEN.value : 0)
  );
}

/** The wasm's fd-plan constants, read from its globals once (each read is a call into the wasm). */
interface FdCodes {
  kind: Record<StdioTarget['kind'], number>;
  open: number;
  dup2: number;
  close: number;
  closefrom: number;
}
let fdCodes: FdCodes | null = null;
function codes(): FdCodes {
  const p = planner;
  return (fdCodes ??= {
    kind: {
      inherit: p.FD_INHERIT.value,
      null: p.FD_NULL.value,
      append: p.FD_APPEND.value,
      truncate: p.FD_TRUNCATE.value,
      fd: p.FD_FROM.value,
    },
    open: p.ACT_OPEN.value,
    dup2: p.ACT_DUP2.value,
    close: p.ACT_CLOSE.value,
    closefrom: p.ACT_CLOSEFROM.value,
  });
}

/** The fd plan: targets (fd → what it must be in the child) and fds kept as they are, to ordered actions. */
export function planFds(targets: Array<[number, StdioTarget]>, preserve: number[] = []): FdAction[] {
  const k = codes();
  const paths: string[] = [];
  const flat: number[] = [];
  for (const [fd, t] of targets) {
    let arg = -1;
    if (t.kind === 'append' || t.kind === 'truncate') arg = paths.push(t.path) - 1;
    else if (t.kind === 'fd') arg = t.fd;
    flat.push(fd, k.kind[t.kind], arg);
  }
  const targetArray = Int32Array.from(flat);
  const preserveArray = Int32Array.from(preserve);
  // Empty only when the wasm found the input invalid (a valid plan ends in closefrom): then, and only then, ask why.
  const raw = planner.planFds(targetArray, preserveArray);
  if (raw.length === 0) throw new Error(`bad fd plan: ${planner.fdPlanError(targetArray, preserveArray)}`);
  const out: FdAction[] = [];
  for (let i = 0; i < raw.length; i += 4) {
    const [op, a, b, c] = [raw[i]!, raw[i + 1]!, raw[i + 2]!, raw[i + 3]!];
    if (op === k.open) {
      const mode = b === k.kind.null ? 'null' : b === k.kind.append ? 'append' : 'truncate';
      out.push({ op: 'open', fd: a, path: mode === 'null' ? '/dev/null' : paths[c]!, mode });
    } else if (op === k.dup2) out.push({ op: 'dup2', fd: a, newfd: b });
    else if (op === k.close) out.push({ op: 'close', fd: a });
    else if (op === k.closefrom) out.push({ op: 'closefrom', fd: a });
    else throw new Error(`planner returned unknown fd action ${op}`);
  }
  return out;
}

export function describeFdAction(a: FdAction, names: Record<number, string> = {}): string {
  switch (a.op) {
    case 'open':
      return a.mode === 'null' ? `fd ${a.fd} </dev/null>` : `fd ${a.fd} ${a.mode === 'append' ? '>>' : '>'}${a.path}`;
    case 'dup2':
      return a.fd === a.newfd ? `fd ${a.fd} kept` : `fd ${a.newfd} = ${names[a.fd] ?? `fd ${a.fd}`}`;
    case 'close':
      return `close ${a.fd}`;
    case 'closefrom':
      return `close fds >= ${a.fd}`;
  }
}

function stdioText(o: Normalized): string {
  const names = ['stdin', 'stdout', 'stderr'];
  return o.stdio
    .map(
      (t, fd) =>
        `${names[fd]} ${t.kind === 'null' ? '/dev/null' : t.kind === 'append' ? `>>${t.path}` : t.kind === 'truncate' ? `>${t.path}` : t.kind}`,
    )
    .join(', ');
}

/** Where workers' output goes: piped to the supervisor for its log, or (run's default) the supervisor's own fd 1/2. */
function workerOutputText(o: Normalized): string {
  const [out, err] = [o.stdio[1].kind === 'inherit', o.stdio[2].kind === 'inherit'];
  if (out && err) return "output straight to the supervisor's own stdout and stderr (inherited, not piped)";
  if (out) return "stdout straight to the supervisor's own stdout, stderr piped to its log";
  if (err) return "stdout piped to its log, stderr straight to the supervisor's own stderr";
  return 'output piped to the log';
}

function detail(step: string, o: Normalized, role: Role): string {
  switch (step) {
    case 'ready-pipe':
      return 'socket pair the new session reports readiness or failure on';
    case 'spawn-session':
      return `posix_spawn the ${o.supervise ? 'supervisor' : 'intermediate'}: setsid, cwd /, empty signal mask, default handlers, stdio /dev/null, fd 3 the ready socket, no other fd (start spawns it before it plans, so its Node starts meanwhile)`;
    case 'session-stdio':
      return `take the log files sent with the order (SCM_RIGHTS) as its own stdio: ${stdioText(o)}`;
    case 'await-ready':
      return o.supervise && o.command
        ? `wait up to ${o.readyTimeoutMs / 1000}s for every worker to be ready (${readyText(o)}): exit 0, or 1 with the failing worker's error`
        : `wait up to ${o.readyTimeoutMs / 1000}s for ready: exit 0, or 1 with the daemon's error`;
    case 'umask':
      return `umask ${planner.formatUmaskOctal(o.umask)} (files ${planner.fileMode(o.umask).toString(8).padStart(4, '0')}, dirs ${planner.dirMode(o.umask).toString(8).padStart(4, '0')})`;
    case 'no-core-dumps':
      return `setrlimit RLIMIT_CORE 0 (soft and hard): no core dumps, which could hold secrets; ${role === 'daemon' ? 'this process and its children' : role === 'supervisor' ? 'the workers inherit it' : 'the daemon inherits it'}`;
    case 'pidfile.lock':
      return `open ${o.pidfile} O_CREAT|O_NOFOLLOW|O_CLOEXEC 0644, flock LOCK_EX|LOCK_NB (busy: already running)`;
    case 'pidfile.write':
      return role === 'supervisor' || role === 'daemon' ? `write own PID to ${o.pidfile}` : `write the daemon's PID to ${o.pidfile}`;
    case 'bind-sockets':
      return `bind and listen on ${o.listen.map((l) => l.text).join(', ')} (close-on-exec; kept across restarts and reloads), passed to each worker as fd${o.listen.length === 1 ? ' 3' : `s 3..${2 + o.listen.length}`} with LISTEN_FDS=${o.listen.length}, LISTEN_FDNAMES=${o.listen.map((l) => l.name).join(':')} and LISTEN_PID${o.listen.some((l) => l.kind === 'unix') && o.user ? `; socket files owned by ${o.user.name}` : ''}`;
    case 'control-socket':
      return `listen on ${o.stateDir ?? '.'}/${o.name ?? 'daemon'}.sock (0600)`;
    case 'session-guard':
      return 'posix_spawn the session guard (sh, own session, cwd /): if the supervisor dies by SIGKILL, it kills the session';
    case 'chroot':
      return role === 'daemon'
        ? `chroot ${o.chroot}, by unshare run from outside it (root runs nothing the jail holds)`
        : `chroot ${o.chroot}`;
    case 'chdir':
      return `chdir ${o.cwd}${role === 'daemon' ? ' inside the jail, by unshare' : ''}`;
    case 'setgroups':
      return `initgroups ${o.user!.name} (supplementary groups of the user, not root's)${role === 'daemon' ? ', by setpriv before exec' : ''}`;
    case 'setgid':
      return `setgid ${o.group?.gid ?? o.user!.gid}${role === 'daemon' ? `, by ${o.chroot ? 'unshare, which clears the supplementary groups,' : 'setpriv'} before exec` : ''}`;
    case 'setuid':
      return `setuid ${o.user!.uid} (${o.user!.name})${role === 'daemon' ? `, by ${o.chroot ? 'unshare' : 'setpriv'} before exec` : ''}`;
    case 'spawn-daemon':
      return 'posix_spawn the daemon: same session, not its leader; PID file lock passed on as fd 3';
    case 'report-exit':
      return o.command
        ? `after ${o.startMs / 1000}s alive (or its exit), report to the original and exit`
        : 'relay ready or the failure to the original and exit';
    case 'spawn-workers':
      return `posix_spawn ${o.workers} worker${o.workers === 1 ? '' : 's'} (DAEMONKIT_TASK_ID 0..${o.workers - 1}), each its own process group${o.chroot ? ', through unshare' : o.user || o.group ? ', through setpriv' : ''}, ${workerOutputText(o)}`;
    case 'notify-socket':
      return `bind ${notifySocketPlace(o) ?? 'the notify socket'} (0600, owned by the workers' user; datagrams with the sender's credentials): workers get NOTIFY_SOCKET and a socket of their own connected to it after the listeners (DAEMONKIT_NOTIFY_FD)${o.ready?.kind === 'notify' ? ', ready on READY=1' : ''}${o.watchdogMs ? `, WATCHDOG=1 within ${o.watchdogMs / 1000}s` : ''}`;
    case 'supervise':
      return `restart ${o.restart}, backoff ${o.backoffMinMs}ms..${o.backoffMaxMs}ms, give up after ${o.maxRestarts} failed restarts in a row (each up less than ${o.minUptimeMs / 1000}s) or ${o.maxRestarts} restarts in ${o.restartWindowMs / 1000}s`;
    case 'exec': {
      const cmd = o.command ? o.command.argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : quote(a))).join(' ') : 'the calling script again';
      return role === 'daemon' && o.supervise && o.listen?.length
        ? `exec ${cmd} (through ${EXEC_SHELL}, which sets LISTEN_PID to its own PID first)`
        : `exec ${cmd}`;
    }
    case 'ready':
      return role === 'daemon' && !o.command ? 'daemon.ready(): tell the original (or systemd, via NOTIFY_SOCKET)' : 'report ready';
    case 'pidfile.release':
      return `remove ${o.pidfile} on a clean exit`;
  }
  return '';
}

/** How a supervised worker becomes ready, in the plan's words. */
function readyText(o: Normalized): string {
  const r = o.ready ?? { kind: 'alive', ms: o.startMs };
  const health = o.health
    ? `; health: ${describeProbe(o.health.probe)} every ${o.health.intervalMs / 1000}s, ${o.health.failures} failures restart it`
    : '';
  const watchdog = o.watchdogMs ? `; WATCHDOG=1 at least every ${o.watchdogMs / 1000}s` : '';
  const how =
    r.kind === 'alive' ? `alive ${r.ms / 1000}s` : r.kind === 'notify' ? 'READY=1 on NOTIFY_SOCKET' : `${describeProbe(r)} answers, polled`;
  return how + health + watchdog;
}

// Stand-ins for the plan command: the real numbers are whatever the kernel hands out.
export const NOMINAL_FDS: LiveFds = { readySocket: 20, pidfile: 21, daemonReady: 22 };

/** The planner's (role, step) pairs for these options, by name: the list every process runs its share of. */
export function plannedSteps(options: number, context: number): PlannedStep[] {
  // Not re-checked with stepOrderError here: test/assembly/steps.test.ts checks every one of the 65,536 inputs.
  const raw = planner.planSteps(options, context);
  const steps: PlannedStep[] = [];
  for (let i = 0; i < raw.length; i += 2) steps.push({ role: ROLES[raw[i]!]!, step: stepNameOf(raw[i + 1]!) });
  return steps;
}

// The wasm's step names, each lifted from its memory once: a name never changes for a build.
const STEP_NAMES: string[] = [];
const stepNameOf = (id: number): string => (STEP_NAMES[id] ??= planner.stepName(id));

/** What `plan` prints instead of a reason not to detach for `run`'s plan. */
export const FOREGROUND_TEXT = "run: the supervisor is this process (no fork, no new session); exit status is the service's";

export function buildPlan(
  o: Normalized,
  context: DetachContext,
  fds: LiveFds = NOMINAL_FDS,
  readyProtocol = o.command === null,
  foreground = false,
): Plan {
  const options = optionBits(o, readyProtocol, foreground);
  const ctx = contextBits(context);
  const skip = planner.detachSkipReason(ctx, options);
  const steps: Step[] = plannedSteps(options, ctx).map(({ role, step }) => ({ role, step, detail: detail(step, o, role) }));
  if (foreground) {
    // run may be socket-activated: its plan says what it binds then.
    const bind = steps.find((s) => s.step === 'bind-sockets');
    if (bind)
      bind.detail +=
        '; when started with LISTEN_FDS for it (a .socket unit), the passed sockets instead, each --listen NAME taking the one LISTEN_FDNAMES names so';
    return { detach: false, skipReason: FOREGROUND_TEXT, steps, sessionFds: [], sessionLogs: [], daemonFds: [] };
  }
  const detach = skip === 0;
  const unsupervised = detach && !o.supervise;
  const sessionLogs = detach ? sessionLogsOf(o, fds) : [];
  return {
    detach,
    skipReason: detach ? null : planner.detachSkipText(skip),
    steps,
    sessionFds: detach ? FD_PLANS.session(o, fds.readySocket, new Map(sessionLogs.map((l) => [l.path, l.fd]))) : [],
    sessionLogs,
    daemonFds: unsupervised ? FD_PLANS.daemon(o.pidfile ? fds.pidfile : null, readyProtocol ? fds.daemonReady : null) : [],
  };
}

/** How openLogFile opens a log file, for the plan's text. */
const LOG_OPEN_TEXT =
  'O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK 0644, regular files only; as root where others can write the directory, as --user or refused';

/** The line a library daemon prints when it stays in the foreground for a reason its caller may not have meant. */
export function detachWarning(o: Normalized, context: DetachContext): string | null {
  const skip = planner.detachSkipReason(contextBits(context), optionBits(o, o.command === null));
  if (!planner.detachSkipSurprises(skip)) return null;
  return skip === planner.CTX_STDIN_SOCKET.value
    ? 'not detaching: stdin is a socket; pass forceDetach: true'
    : `not detaching: ${planner.detachSkipText(skip)}`;
}

export function renderPlan(plan: Plan): string {
  const lines: string[] = [];
  if (!plan.detach) lines.push(plan.skipReason === FOREGROUND_TEXT ? `# ${FOREGROUND_TEXT}` : `# not detaching: ${plan.skipReason}`);
  const w = Math.max(...plan.steps.map((s) => s.role.length));
  const sw = Math.max(...plan.steps.map((s) => s.step.length));
  plan.steps.forEach((s, i) => lines.push(`${String(i + 1).padStart(2)}  ${s.role.padEnd(w)}  ${s.step.padEnd(sw)}  ${s.detail}`));
  const names: Record<number, string> = {
    [NOMINAL_FDS.readySocket]: 'the ready socket',
    [NOMINAL_FDS.pidfile]: 'the locked PID file',
    [NOMINAL_FDS.daemonReady]: 'the ready pipe',
  };
  for (const l of plan.sessionLogs) names[l.fd] = `>>${l.path}`;
  const fdText = (list: FdAction[]) => list.map((a) => describeFdAction(a, names)).join('; ');
  if (plan.sessionLogs.length)
    lines.push(`    log files: opened by the original, sent to the new session with its order: ${LOG_OPEN_TEXT}`);
  if (plan.sessionFds.length) lines.push(`    fds of the new session: ${fdText(plan.sessionFds)}`);
  if (plan.daemonFds.length) lines.push(`    fds of the daemon:      ${fdText(plan.daemonFds)}`);
  return lines.join('\n');
}
