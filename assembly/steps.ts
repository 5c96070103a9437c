// Step sequencing: which process runs which daemon step, in which order, and the rules an order must keep.

// Process roles.
export const ROLE_ORIGINAL: i32 = 0;
export const ROLE_INTERMEDIATE: i32 = 1;
export const ROLE_SUPERVISOR: i32 = 2;
export const ROLE_DAEMON: i32 = 3;

// Steps.
export const STEP_OPEN_READY_PIPE: i32 = 1;
export const STEP_SPAWN_SESSION: i32 = 2;
export const STEP_AWAIT_READY: i32 = 3;
export const STEP_UMASK: i32 = 4;
export const STEP_PIDFILE_LOCK: i32 = 5;
export const STEP_CHROOT: i32 = 6;
export const STEP_CHDIR: i32 = 7;
export const STEP_SETGROUPS: i32 = 8;
export const STEP_SETGID: i32 = 9;
export const STEP_SETUID: i32 = 10;
export const STEP_SPAWN_DAEMON: i32 = 11;
export const STEP_PIDFILE_WRITE: i32 = 12;
export const STEP_REPORT_EXIT: i32 = 13;
export const STEP_SPAWN_WORKERS: i32 = 14;
export const STEP_SUPERVISE: i32 = 15;
export const STEP_EXEC: i32 = 16;
export const STEP_READY: i32 = 17;
export const STEP_RELEASE_PIDFILE: i32 = 18;
export const STEP_CONTROL_SOCKET: i32 = 19;
export const STEP_SESSION_GUARD: i32 = 20;
export const STEP_NO_CORE_DUMPS: i32 = 21;
export const STEP_BIND_SOCKETS: i32 = 22;
/** The service's NOTIFY_SOCKET, bound by the supervisor for its workers' READY=1 and WATCHDOG=1. */
export const STEP_NOTIFY_SOCKET: i32 = 23;
/** The new session puts the log files the original sent with its order onto its stdio (it was spawned on /dev/null). */
export const STEP_SESSION_STDIO: i32 = 24;
/** The range of step numbers, for whoever lists every step (tests, the handler tables' check). */
export const STEP_FIRST: i32 = STEP_OPEN_READY_PIPE;
export const STEP_LAST: i32 = STEP_SESSION_STDIO;

// Option flags (from the normalized options).
export const OPT_SUPERVISE: i32 = 1;
export const OPT_PIDFILE: i32 = 2;
export const OPT_CHROOT: i32 = 4;
export const OPT_USER: i32 = 8;
export const OPT_GROUP: i32 = 16;
export const OPT_FORCE_DETACH: i32 = 32;
export const OPT_READY_PROTOCOL: i32 = 64;
export const OPT_NO_CORE_DUMPS: i32 = 128;
/** Supervised with --listen: the supervisor binds the sockets every worker inherits. */
export const OPT_LISTEN: i32 = 256;
/** Workers report on a NOTIFY_SOCKET of the supervisor's (--ready notify, --watchdog). */
export const OPT_NOTIFY: i32 = 512;
/** `run`: the supervisor is the calling process itself (no new session, no original waiting); implies supervision. */
export const OPT_FOREGROUND: i32 = 1024;
/** Every option flag: the combinations a plan can be asked for are the subsets of this. */
export const OPT_ALL: i32 =
  OPT_SUPERVISE |
  OPT_PIDFILE |
  OPT_CHROOT |
  OPT_USER |
  OPT_GROUP |
  OPT_FORCE_DETACH |
  OPT_READY_PROTOCOL |
  OPT_NO_CORE_DUMPS |
  OPT_LISTEN |
  OPT_NOTIFY |
  OPT_FOREGROUND;

// What the calling process knows about itself, for the "already detached" rule.
export const CTX_PARENT_IS_INIT: i32 = 1;
export const CTX_SYSTEMD_INVOCATION: i32 = 2;
export const CTX_NOTIFY_SOCKET: i32 = 4;
export const CTX_STDIN_SOCKET: i32 = 8;
export const CTX_SUPERVISED: i32 = 16;
/** Every context bit. */
export const CTX_ALL: i32 = CTX_PARENT_IS_INIT | CTX_SYSTEMD_INVOCATION | CTX_NOTIFY_SOCKET | CTX_STDIN_SOCKET | CTX_SUPERVISED;

/** 0 when the process must detach; otherwise the CTX_ bit that says it already is (and force was not given). */
export function detachSkipReason(context: i32, options: i32): i32 {
  if ((options & OPT_FORCE_DETACH) != 0) return 0;
  if ((context & CTX_PARENT_IS_INIT) != 0) return CTX_PARENT_IS_INIT;
  if ((context & CTX_SYSTEMD_INVOCATION) != 0) return CTX_SYSTEMD_INVOCATION;
  if ((context & CTX_NOTIFY_SOCKET) != 0) return CTX_NOTIFY_SOCKET;
  if ((context & CTX_STDIN_SOCKET) != 0) return CTX_STDIN_SOCKET;
  if ((context & CTX_SUPERVISED) != 0) return CTX_SUPERVISED;
  return 0;
}

/**
 * Whether not detaching for this reason may not be what the caller meant, and must be said: systemd and init start
 * daemons on purpose, but a socket on stdin is also any pipe Node's child_process made (they are socketpairs).
 */
export function detachSkipSurprises(reason: i32): bool {
  return reason == CTX_STDIN_SOCKET;
}

export function detachSkipText(reason: i32): string {
  if (reason == CTX_PARENT_IS_INIT) return 'parent is PID 1';
  if (reason == CTX_SYSTEMD_INVOCATION) return 'started by systemd (INVOCATION_ID is set)';
  if (reason == CTX_NOTIFY_SOCKET) return 'started by systemd (NOTIFY_SOCKET is set)';
  if (reason == CTX_STDIN_SOCKET) return 'stdin is a socket (started by inetd or a socket unit)';
  if (reason == CTX_SUPERVISED) return 'a worker of the daemonkit supervisor (DAEMONKIT_TASK_ID is set)';
  return '';
}

function push(out: i32[], role: i32, step: i32): void {
  out.push(role);
  out.push(step);
}

// Steps a process that is about to spawn the final daemon applies to itself, in the only safe order:
// umask first (so the PID file gets it), the PID file while the path is still reachable and writable,
// supplementary groups before chroot (looked up in the host's /etc/group, not the jail's),
// chroot before chdir (a chdir before chroot would leave the cwd outside the new root), gid, uid last.
function confine(out: i32[], role: i32, options: i32): void {
  const supervised = (options & OPT_SUPERVISE) != 0;
  push(out, role, STEP_UMASK);
  // A limit the daemon (or each worker) inherits from the process that spawns it.
  if ((options & OPT_NO_CORE_DUMPS) != 0) push(out, role, STEP_NO_CORE_DUMPS);
  if ((options & OPT_PIDFILE) != 0) push(out, role, STEP_PIDFILE_LOCK);
  if ((options & OPT_SUPERVISE) != 0) {
    if ((options & OPT_PIDFILE) != 0) push(out, role, STEP_PIDFILE_WRITE);
    // As root; after the PID file, so a second start finds it busy before it binds anything.
    if ((options & OPT_LISTEN) != 0) push(out, role, STEP_BIND_SOCKETS);
    // Beside the PID file: `run` without --name keeps no file, so it has none.
    if ((options & OPT_PIDFILE) != 0) push(out, role, STEP_CONTROL_SOCKET);
    // Bound in the state directory as root, like the control socket.
    if ((options & OPT_NOTIFY) != 0) push(out, role, STEP_NOTIFY_SOCKET);
    // Outlives a SIGKILLed supervisor to kill its session.
    // In the foreground the session is the caller's (a shell's, a manager's): not ours to kill.
    if ((options & OPT_FOREGROUND) == 0) push(out, role, STEP_SESSION_GUARD);
  }
  // A supervisor keeps root (to remove its PID file, write its state, reopen root's logs) and never enters the chroot:
  // root must run nothing from a jail others may write, and its /proc there could lie. Each worker enters it instead.
  if (supervised) {
    if ((options & OPT_CHROOT) == 0) push(out, role, STEP_CHDIR);
    return;
  }
  if ((options & OPT_USER) != 0) push(out, role, STEP_SETGROUPS);
  if ((options & OPT_CHROOT) != 0) push(out, role, STEP_CHROOT);
  push(out, role, STEP_CHDIR);
  dropIds(out, role, options);
}

/** gid then uid; supplementary groups are set before, by confine, or cleared with the gid in a worker's chroot. */
function dropIds(out: i32[], role: i32, options: i32): void {
  if ((options & (OPT_USER | OPT_GROUP)) != 0) push(out, role, STEP_SETGID);
  if ((options & OPT_USER) != 0) push(out, role, STEP_SETUID);
}

/**
 * A supervised worker's own steps before its program runs, done by the wrapper it is spawned through: in a chroot,
 * chroot and chdir, then gid and uid with no supplementary groups (the jail's /etc/group is not ours to read as root);
 * otherwise the user's groups from initgroups, then gid and uid.
 */
function workerSteps(out: i32[], options: i32): void {
  if ((options & OPT_CHROOT) != 0) {
    push(out, ROLE_DAEMON, STEP_CHROOT);
    push(out, ROLE_DAEMON, STEP_CHDIR);
  } else if ((options & OPT_USER) != 0) push(out, ROLE_DAEMON, STEP_SETGROUPS);
  dropIds(out, ROLE_DAEMON, options);
}

/** The ordered plan as flat (role, step) pairs. */
export function planSteps(options: i32, context: i32): Int32Array {
  const out: i32[] = [];
  const pidfile = (options & OPT_PIDFILE) != 0;
  const ready = (options & OPT_READY_PROTOCOL) != 0;
  if ((options & OPT_FOREGROUND) != 0) {
    // `run`: the calling process is the supervisor; the context cannot make it detach or skip supervising.
    const o = options | OPT_SUPERVISE;
    confine(out, ROLE_SUPERVISOR, o);
    push(out, ROLE_SUPERVISOR, STEP_SPAWN_WORKERS);
    workerSteps(out, o);
    push(out, ROLE_DAEMON, STEP_EXEC);
    if (ready) push(out, ROLE_DAEMON, STEP_READY);
    push(out, ROLE_SUPERVISOR, STEP_SUPERVISE);
    if (pidfile) push(out, ROLE_SUPERVISOR, STEP_RELEASE_PIDFILE);
    return toArray(out);
  }
  if (detachSkipReason(context, options) != 0) {
    // Already a daemon: no fork, no new session; keep the PID file and say ready.
    push(out, ROLE_DAEMON, STEP_UMASK);
    if ((options & OPT_NO_CORE_DUMPS) != 0) push(out, ROLE_DAEMON, STEP_NO_CORE_DUMPS);
    if (pidfile) {
      push(out, ROLE_DAEMON, STEP_PIDFILE_LOCK);
      push(out, ROLE_DAEMON, STEP_PIDFILE_WRITE);
    }
    push(out, ROLE_DAEMON, STEP_READY);
    if (pidfile) push(out, ROLE_DAEMON, STEP_RELEASE_PIDFILE);
    return toArray(out);
  }
  push(out, ROLE_ORIGINAL, STEP_OPEN_READY_PIPE);
  push(out, ROLE_ORIGINAL, STEP_SPAWN_SESSION);
  // The session is spawned before its order exists (so its Node boots while the original plans): its stdio comes after.
  push(out, (options & OPT_SUPERVISE) != 0 ? ROLE_SUPERVISOR : ROLE_INTERMEDIATE, STEP_SESSION_STDIO);
  if ((options & OPT_SUPERVISE) != 0) {
    confine(out, ROLE_SUPERVISOR, options);
    push(out, ROLE_SUPERVISOR, STEP_SPAWN_WORKERS);
    workerSteps(out, options);
    push(out, ROLE_DAEMON, STEP_EXEC);
    if (ready) push(out, ROLE_DAEMON, STEP_READY);
    push(out, ROLE_SUPERVISOR, STEP_SUPERVISE);
    push(out, ROLE_ORIGINAL, STEP_AWAIT_READY);
    if (pidfile) push(out, ROLE_SUPERVISOR, STEP_RELEASE_PIDFILE);
  } else {
    confine(out, ROLE_INTERMEDIATE, options);
    push(out, ROLE_INTERMEDIATE, STEP_SPAWN_DAEMON);
    if (pidfile) push(out, ROLE_INTERMEDIATE, STEP_PIDFILE_WRITE);
    push(out, ROLE_DAEMON, STEP_EXEC);
    if (ready) push(out, ROLE_DAEMON, STEP_READY);
    push(out, ROLE_INTERMEDIATE, STEP_REPORT_EXIT);
    push(out, ROLE_ORIGINAL, STEP_AWAIT_READY);
    // Only a daemon that speaks our protocol removes its PID file; a foreign program leaves it unlocked, which reads as stale.
    if (pidfile && ready) push(out, ROLE_DAEMON, STEP_RELEASE_PIDFILE);
  }
  return toArray(out);
}

function toArray(list: i32[]): Int32Array {
  const a = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) a[i] = list[i];
  return a;
}

function indexOf(plan: Int32Array, step: i32): i32 {
  for (let i = 0; i + 1 < plan.length; i += 2) if (plan[i + 1] == step) return i >> 1;
  return -1;
}

function count(plan: Int32Array, step: i32): i32 {
  let n = 0;
  for (let i = 0; i + 1 < plan.length; i += 2) if (plan[i + 1] == step) n++;
  return n;
}

function roleOf(plan: Int32Array, index: i32): i32 {
  return plan[index << 1];
}

// "a before b" when both are present; a missing step is someone else's rule.
function before(plan: Int32Array, a: i32, b: i32): bool {
  const ia = indexOf(plan, a);
  const ib = indexOf(plan, b);
  return ia < 0 || ib < 0 || ia < ib;
}

/** "" when the plan keeps every rule; otherwise the first rule it breaks. */
export function stepOrderError(plan: Int32Array): string {
  if ((plan.length & 1) != 0) return 'a plan is a list of (role, step) pairs';
  for (let i = 0; i < plan.length; i += 2) {
    if (plan[i] < ROLE_ORIGINAL || plan[i] > ROLE_DAEMON) return 'unknown role ' + plan[i].toString();
    if (plan[i + 1] < STEP_FIRST || plan[i + 1] > STEP_LAST) return 'unknown step ' + plan[i + 1].toString();
  }
  for (let s = STEP_FIRST; s <= STEP_LAST; s++) {
    if (count(plan, s) > 1) return stepName(s) + ' appears more than once';
  }
  const lock = indexOf(plan, STEP_PIDFILE_LOCK);
  const write = indexOf(plan, STEP_PIDFILE_WRITE);
  if (lock < 0 != write < 0) return 'pidfile.lock and pidfile.write go together';
  if (lock >= 0) {
    if (write < lock) return 'pidfile.write must come after pidfile.lock';
    const session = indexOf(plan, STEP_SPAWN_SESSION);
    if (session >= 0 && lock < session) return 'the PID file must be taken after the fork into the new session';
    if (session >= 0 && roleOf(plan, lock) == ROLE_ORIGINAL) return 'the original process must not hold the PID file';
    if (!before(plan, STEP_PIDFILE_LOCK, STEP_CHROOT)) return 'the PID file must be taken before chroot';
    if (!before(plan, STEP_PIDFILE_LOCK, STEP_SETGID)) return 'the PID file must be taken before privileges are dropped';
    if (!before(plan, STEP_PIDFILE_LOCK, STEP_SETUID)) return 'the PID file must be taken before privileges are dropped';
    const daemon = indexOf(plan, STEP_SPAWN_DAEMON);
    if (daemon >= 0 && write < daemon) return "the PID written must be the daemon's: pidfile.write comes after the last fork";
  }
  if (!before(plan, STEP_CHROOT, STEP_CHDIR)) return 'chdir must come after chroot';
  if (!before(plan, STEP_SETGROUPS, STEP_CHROOT)) return "setgroups must come before chroot (the jail's /etc/group is not to be trusted)";
  const chroot = indexOf(plan, STEP_CHROOT);
  if (chroot >= 0 && indexOf(plan, STEP_SPAWN_WORKERS) >= 0 && roleOf(plan, chroot) != ROLE_DAEMON)
    return 'a supervisor never enters the chroot: each worker does, after spawn-workers';
  if (!before(plan, STEP_SETGROUPS, STEP_SETGID)) return 'setgroups must come before setgid';
  if (!before(plan, STEP_SETGID, STEP_SETUID)) return 'setgid must come before setuid';
  if (!before(plan, STEP_SETGROUPS, STEP_SETUID)) return 'setgroups must come before setuid';
  // Privileges drop either in the process that spawns the daemon, before it spawns, or in each worker, before exec.
  const setuid = indexOf(plan, STEP_SETUID);
  const setgid = indexOf(plan, STEP_SETGID);
  for (let k = 0; k < 2; k++) {
    const at = k == 0 ? setuid : setgid;
    if (at < 0) continue;
    if (roleOf(plan, at) == ROLE_DAEMON) {
      const workers = indexOf(plan, STEP_SPAWN_WORKERS);
      if (workers < 0 || at < workers) return 'only a supervised worker drops its own privileges (after spawn-workers)';
      if (!before(plan, k == 0 ? STEP_SETUID : STEP_SETGID, STEP_EXEC)) return 'privileges must be dropped before the program runs';
    } else if (
      !before(plan, k == 0 ? STEP_SETUID : STEP_SETGID, STEP_SPAWN_DAEMON) ||
      !before(plan, k == 0 ? STEP_SETUID : STEP_SETGID, STEP_SPAWN_WORKERS)
    ) {
      return 'privileges must be dropped before the daemon is spawned';
    }
  }
  const chdir = indexOf(plan, STEP_CHDIR);
  if (chdir >= 0 && roleOf(plan, chdir) == ROLE_DAEMON) {
    if (!before(plan, STEP_CHDIR, STEP_EXEC)) return 'a worker enters its directory before the program runs';
  } else if (!before(plan, STEP_CHDIR, STEP_SPAWN_DAEMON) || !before(plan, STEP_CHDIR, STEP_SPAWN_WORKERS))
    return 'chdir must come before the daemon is spawned';
  if (!before(plan, STEP_UMASK, STEP_SPAWN_DAEMON) || !before(plan, STEP_UMASK, STEP_SPAWN_WORKERS))
    return 'umask must be set before the daemon is spawned';
  if (!before(plan, STEP_NO_CORE_DUMPS, STEP_SPAWN_DAEMON) || !before(plan, STEP_NO_CORE_DUMPS, STEP_SPAWN_WORKERS))
    return 'the core limit must be set before the daemon is spawned (it is inherited)';
  const spawnSession = indexOf(plan, STEP_SPAWN_SESSION);
  if (spawnSession >= 0 && roleOf(plan, spawnSession) != ROLE_ORIGINAL) return 'only the original process spawns the new session';
  const spawnDaemon = indexOf(plan, STEP_SPAWN_DAEMON);
  if (spawnDaemon >= 0) {
    if (spawnSession < 0 || spawnDaemon < spawnSession)
      return 'the daemon must be spawned from the new session (second fork), not by the original';
    if (roleOf(plan, spawnDaemon) != ROLE_INTERMEDIATE) return 'the daemon is spawned by the intermediate';
  }
  const spawnWorkers = indexOf(plan, STEP_SPAWN_WORKERS);
  if (spawnWorkers >= 0 && (spawnWorkers < spawnSession || roleOf(plan, spawnWorkers) != ROLE_SUPERVISOR))
    return 'workers are spawned by the supervisor, inside the new session';
  // Without a new session the supervisor is the caller's own process (run): nobody waits for a verdict.
  if (spawnWorkers >= 0 && spawnSession < 0) {
    for (let i = 0; i < plan.length; i += 2) {
      if (plan[i] == ROLE_ORIGINAL || plan[i] == ROLE_INTERMEDIATE) return 'a supervisor in the foreground has no original or intermediate';
    }
  }
  const guard = indexOf(plan, STEP_SESSION_GUARD);
  if (guard >= 0 && roleOf(plan, guard) != ROLE_SUPERVISOR) return 'only the supervisor starts a session guard';
  if (guard >= 0 && spawnSession < 0) return 'a supervisor in the foreground starts no session guard (the session is not its own)';
  if (spawnWorkers >= 0 && spawnSession >= 0 && (guard < 0 || guard > spawnWorkers))
    return 'the session guard must run before the workers are spawned (nothing else kills them if the supervisor is SIGKILLed)';
  const bind = indexOf(plan, STEP_BIND_SOCKETS);
  if (bind >= 0) {
    if (roleOf(plan, bind) != ROLE_SUPERVISOR) return 'only the supervisor binds the listening sockets (its workers inherit them)';
    if (lock >= 0 && bind < lock) return 'bind-sockets must come after pidfile.lock (a second start must bind nothing)';
    if (!before(plan, STEP_BIND_SOCKETS, STEP_SETGID) || !before(plan, STEP_BIND_SOCKETS, STEP_SETUID))
      return 'bind-sockets must come before privileges are dropped (ports below 1024 need root)';
    if (spawnWorkers < 0 || bind > spawnWorkers) return 'bind-sockets must come before the workers are spawned';
  }
  const notify = indexOf(plan, STEP_NOTIFY_SOCKET);
  if (notify >= 0) {
    if (roleOf(plan, notify) != ROLE_SUPERVISOR) return 'only the supervisor binds the notify socket';
    if (spawnWorkers < 0 || notify > spawnWorkers) return 'notify-socket must come before the workers are spawned (they get its path)';
    if (!before(plan, STEP_NOTIFY_SOCKET, STEP_SETGID) || !before(plan, STEP_NOTIFY_SOCKET, STEP_SETUID))
      return 'notify-socket must come before privileges are dropped';
  }
  for (let i = 0; i < plan.length; i += 2) {
    const role = plan[i];
    const step = plan[i + 1];
    if (
      step == STEP_UMASK ||
      step == STEP_NO_CORE_DUMPS ||
      step == STEP_CHROOT ||
      step == STEP_CHDIR ||
      step == STEP_SETGROUPS ||
      step == STEP_SETGID ||
      step == STEP_SETUID
    ) {
      if (role == ROLE_ORIGINAL) return stepName(step) + " must not run in the original process (it is the caller's)";
    }
  }
  if (!before(plan, STEP_EXEC, STEP_READY)) return 'ready comes after exec';
  // The session was spawned on /dev/null: its log files go on before any step could write there or pass its stdio on.
  const stdio = indexOf(plan, STEP_SESSION_STDIO);
  if (spawnSession >= 0 != stdio >= 0) return 'session-stdio comes with spawn-session, and only with it';
  if (stdio >= 0 && (stdio != spawnSession + 1 || roleOf(plan, stdio) == ROLE_ORIGINAL || roleOf(plan, stdio) == ROLE_DAEMON))
    return "session-stdio is the new session's first step, right after spawn-session";
  return '';
}

export function stepName(step: i32): string {
  switch (step) {
    case STEP_OPEN_READY_PIPE:
      return 'ready-pipe';
    case STEP_SPAWN_SESSION:
      return 'spawn-session';
    case STEP_AWAIT_READY:
      return 'await-ready';
    case STEP_UMASK:
      return 'umask';
    case STEP_PIDFILE_LOCK:
      return 'pidfile.lock';
    case STEP_CHROOT:
      return 'chroot';
    case STEP_CHDIR:
      return 'chdir';
    case STEP_SETGROUPS:
      return 'setgroups';
    case STEP_SETGID:
      return 'setgid';
    case STEP_SETUID:
      return 'setuid';
    case STEP_SPAWN_DAEMON:
      return 'spawn-daemon';
    case STEP_PIDFILE_WRITE:
      return 'pidfile.write';
    case STEP_REPORT_EXIT:
      return 'report-exit';
    case STEP_SPAWN_WORKERS:
      return 'spawn-workers';
    case STEP_SUPERVISE:
      return 'supervise';
    case STEP_EXEC:
      return 'exec';
    case STEP_READY:
      return 'ready';
    case STEP_RELEASE_PIDFILE:
      return 'pidfile.release';
    case STEP_CONTROL_SOCKET:
      return 'control-socket';
    case STEP_SESSION_GUARD:
      return 'session-guard';
    case STEP_NO_CORE_DUMPS:
      return 'no-core-dumps';
    case STEP_BIND_SOCKETS:
      return 'bind-sockets';
    case STEP_NOTIFY_SOCKET:
      return 'notify-socket';
    case STEP_SESSION_STDIO:
      return 'session-stdio';
  }
  return '';
}

export function roleName(role: i32): string {
  switch (role) {
    case ROLE_ORIGINAL:
      return 'original';
    case ROLE_INTERMEDIATE:
      return 'intermediate';
    case ROLE_SUPERVISOR:
      return 'supervisor';
    case ROLE_DAEMON:
      return 'daemon';
  }
  return '';
}
