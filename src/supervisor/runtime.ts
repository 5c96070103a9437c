// The supervisor's event loop: feeds kernel events to the wasm state machine and carries out the actions it returns.
import { constants } from 'node:os';
import type { Server } from 'node:net';
import type { Normalized } from '../options.js';
import { planner } from '../core/wasm.js';
import { SupervisorMachine, type Action } from '../core/supervisor-machine.js';
import { LogSink } from './log-sink.js';
import { serviceUserOf } from '../core/log-file-open.js';
import { bindControl, serveControl, type ControlRequest, type Reply } from '../core/control.js';
import { acquirePidfile, readPidFromFd, releasePidfile, writePid } from '../core/pidfile.js';
import { changeDir, giveToServiceUser, noCoreDumps, setUmask } from '../core/confine.js';
import { daemonSpawn, type DaemonSpawn } from '../core/daemon-steps.js';
import { runSteps, type PlannedStep, type StepTable } from '../core/step-runner.js';
import { filesOf, writeState, type ServiceStatus, type WorkerStatus } from '../core/service-files.js';
import type { Report } from '../core/messages.js';
import type { SessionLink } from '../core/session-link.js';
import { peekExited, waitpid, WNOHANG } from '../sys/wait.js';
import { killGroup, SIGINT, SIGTERM } from '../sys/signal.js';
import { takeSessionStdio } from '../core/session-stdio.js';
import { SessionGuard } from './session-guard.js';
import { MemoryTrim } from './memory-trim.js';
import { dropTail, spawnWorker, tailText, type Worker } from './worker-spawn.js';
import { countLeftovers, signalOurLeftovers } from './session-sweep.js';
import { delay, leftByDeadSupervisor, sweepLeftovers } from '../core/leftover-sweep.js';
import { escalationText, MachineTimers, sendSignal, spawnTask } from '../core/machine-effects.js';
import { releaseServiceFiles } from './shutdown.js';
import { monotonicMs } from '../sys/time.js';
import { toKernelLog } from '../core/last-resort.js';
import { raiseNofile } from '../core/fd-limit.js';
import { NotifySocket } from '../core/notify-socket.js';
import { notifySocketAddress } from '../core/notify-address.js';
import { ProbeCommands } from './probe.js';
import { Readiness, workerEnv } from './readiness.js';
import { Liveness } from './health.js';
import { bindListeners, closeListeners, type Listener } from '../core/listen-sockets.js';
import type { ListenFd } from '../core/listen-fds.js';
import { adoptListeners } from './adopt-listeners.js';
import { ManagerNotify, type ManagerEnv } from './manager-notify.js';

/** What differs when the supervisor is not the detached session leader `start` makes: `run`, PID 1, systemd above. */
export interface RuntimeHost {
  /** systemd's variables for this process (NOTIFY_SOCKET...): the notify protocol upward. */
  manager?: ManagerEnv;
  /** `start` under systemd: name the supervisor the main process (MAINPID=) with READY=1. */
  mainPid?: boolean;
  /** Sockets the service manager passed (LISTEN_FDS): used for --listen instead of binding. */
  inherited?: ListenFd[];
  /** PID 1 or a subreaper: every exited child is reaped, not only ours. */
  reapOrphans?: boolean;
  /** `run`: the record says so, and `restart` refuses to start it again detached. */
  foreground?: boolean;
  /** Instead of process.exit(code): `signal` is the one that asked the stop, if one did. */
  exit?(code: number, signal: number | null): void;
}

/** The latest a start waits to answer control clients and read output when its verdict is not yet out. */
const GO_LIVE_MS = 10;
/** What the supervisor itself does on a signal, for a CLI whose control request went unanswered. */
const osSignals = constants.signals;
const SUPERVISOR_SIGNALS = { reload: osSignals.SIGHUP, reopen: osSignals.SIGUSR1 };
/** How long the exit waits for the last output: a grandchild holding a pipe must not keep us here. */
const DRAIN_WAIT_MS = 1000;
/** Time for the last answers to reach their readers before the process exits. */
const ANSWER_GRACE_MS = 20;

export class SupervisorRuntime {
  /**
   * The supervisor's steps, run in the plan's order by start(): what needs the caller's privileges, then confinement
   * (keeping root and the host's root directory: each worker drops and enters any chroot instead), then the workers.
   */
  static readonly STEPS: StepTable<SupervisorRuntime> = {
    'session-stdio': (r) => {
      takeSessionStdio(r.#o, r.#link!.takeFds());
      r.#ownStdioIsLog = true;
    },
    umask: (r) => setUmask(r.#o),
    'no-core-dumps': () => noCoreDumps(),
    'pidfile.lock': (r) => r.#lockPidfile(),
    'pidfile.write': (r) => r.#writePidfile(),
    // As root; kept for the supervisor's life, every worker (and replacement) gets them.
    'bind-sockets': (r) => r.#bindSockets(),
    'control-socket': (r) => r.#listen(),
    // Before the workers: its file is in the state directory, and each worker gets its path.
    'notify-socket': (r) => r.#openNotify(),
    'session-guard': (r) => r.#guard.start(),
    // Without --chroot only: in one, each worker enters the jail and its directory itself (daemon-steps.ts).
    chdir: (r) => changeDir(r.#o),
    'spawn-workers': (r) => r.#startWorkers(),
    supervise: (r) => r.#supervise(),
    // Happens in #exit: removed after a clean stop, left (unlocked) when the stop schedule left processes behind.
    'pidfile.release': () => {},
  };

  readonly #o: Normalized;
  /** The --listen sockets, bound once (close-on-exec here; each worker's fd plan passes them as fds 3..). */
  #listeners: Listener[] = [];
  readonly #program: { path: string; argv: string[] };
  readonly #steps: PlannedStep[];
  /** Each worker's spawn, from the daemon's steps of the plan (setpriv for --user/--group; exec). */
  #workerSpawn: DaemonSpawn | null = null;
  readonly #machine: SupervisorMachine;
  readonly #startedAt = Date.now();
  readonly #sink: LogSink;
  #pidfd: number | null;
  #link: SessionLink | null;
  /** The control socket, listening from the start; answered once node:net is loaded (#goLive). */
  #controlFd: number | null = null;
  #server: Server | null = null;
  #live = false;
  #workers = new Map<number, Worker>();
  /** The machine's armed timers, each as the way to cancel it. */
  readonly #timers = new MachineTimers();
  #stopWaiters: Reply[] = [];
  #reloadWaiters: Reply[] = [];
  /** The first failure of a start, with the worker it names (kept here: reaped workers leave #workers once drained). */
  #startFailure: { task: number; status: number; pid: number; worker: Worker | undefined } | null = null;
  /** The spawn whose failure the machine is being told of, for the texts its answer leads to (a reload's). */
  #failedSpawn: { task: number; why: string } | null = null;

  #exiting = false;
  /** Our fds 1 and 2 are the service's log files (start's session-stdio), not a caller's (run). */
  #ownStdioIsLog = false;
  /** The service's NOTIFY_SOCKET (--ready notify, --watchdog), or null. */
  #notify: NotifySocket | null = null;
  /** The workers' NOTIFY_SOCKET, when the plan has a notify-socket step (made in start(), bound by notify-socket). */
  #notifyPath: string | null = null;
  /** The worker a start's ready timeout gave up on. */
  #notReadyTask: number | null = null;
  readonly #probeCommands: ProbeCommands;
  /** Tells the machine when a worker is ready by --ready (notify, probes); alive mode is the machine's own timer. */
  readonly #readiness: Readiness;
  /** --health and --watchdog: nothing armed without them. */
  readonly #liveness: Liveness;
  /** Kills the session's processes if we die by SIGKILL: workers and whatever they forked. */
  #guard: SessionGuard;
  readonly #trim = new MemoryTrim();
  #reapPending: NodeJS.Immediate | null = null;
  readonly #host: RuntimeHost;
  /** The manager above us (systemd's NOTIFY_SOCKET), or null. */
  readonly #manager: ManagerNotify | null;
  /** The signal that asked the stop (run's exit status 128+n). */
  #stopSignal: number | null = null;
  /** Workers a rolling reload replaced so far (the manager's "reloading 2/4"). */
  #replaced = 0;
  /** Each worker waiting out its backoff, as the manager's status says it ("worker 3 restarting in 1.6s: exited 1"). */
  readonly #restartNotes = new Map<number, string>();

  constructor(o: Normalized, program: { path: string; argv: string[] }, steps: PlannedStep[], link: SessionLink, host: RuntimeHost = {}) {
    this.#o = o;
    this.#host = host;
    this.#program = program;
    this.#steps = steps;
    this.#pidfd = null;
    this.#link = link;
    // The normalized options carry the machine's config under its own names (workers, restart, ..., stopSchedule).
    this.#machine = new SupervisorMachine(o);
    // A log that cannot be written is said where someone will see it: status, the kernel log, and (held) the log.
    this.#sink = new LogSink(
      o.stdio[1],
      o.stdio[2],
      (error, path) =>
        queueMicrotask(() => {
          const line = error ? `cannot write the log: ${error}; holding its lines until it can be written` : `writing ${path} again`;
          toKernelLog(`daemonkit[${process.pid}]`, `${this.#o.name ?? 'daemon'}: ${line}`);
          this.#log(line);
        }),
      { serviceUser: serviceUserOf(o), time: o.logTime },
    );
    this.#guard = new SessionGuard(process.pid, o.pidfile ?? o.name ?? 'daemon');
    this.#probeCommands = new ProbeCommands(o, steps, () => this.#workerSpawn?.env ?? []);
    this.#readiness = new Readiness(o, this.#probeCommands, {
      ready: (pid) => this.#apply(this.#machine.ready(now(), pid)),
      watchdog: (pid) => this.#liveness.ping(pid),
      log: (line) => this.#log(line),
    });
    this.#liveness = new Liveness(o, this.#probeCommands, {
      workers: () => this.#machine.workers(),
      active: () => !this.#exiting && (this.#machine.state === 'running' || this.#machine.state === 'reloading'),
      unhealthy: (pid, task, why) => {
        this.#log(`worker ${task} (pid ${pid}) is unhealthy: ${why}; restarting it`);
        this.#apply(this.#machine.unhealthy(now(), pid));
      },
      record: (task, pid, result) => this.#readiness.record(task, pid, result),
    });
    this.#manager = host.manager
      ? ManagerNotify.fromEnv(
          host.manager,
          { statusLine: () => this.#statusLine(), healthy: () => this.#healthy() },
          (line) => this.#log(line),
          { mainPid: host.mainPid },
        )
      : null;
  }

  /** One line for the manager's STATUS=: how many workers are ready, or what the service is doing. */
  #statusLine(): string {
    const m = this.#machine;
    const workers = m.workers();
    const ready = workers.filter((w) => w.state === 'running').length;
    switch (m.state) {
      case 'reloading':
        return `reloading ${this.#replaced}/${workers.length}`;
      case 'stopping':
        return 'stopping';
      case 'failed':
      case 'exited':
        return m.failure ? `gave up: ${m.failure}` : 'exited';
      case 'starting':
        return `starting: ${ready}/${workers.length} workers ready`;
      default: {
        const waiting = workers.find((w) => w.state === 'backoff' && this.#restartNotes.has(w.task));
        return waiting ? this.#restartNotes.get(waiting.task)! : `${ready}/${workers.length} workers ready`;
      }
    }
  }

  /** Watchdog pings go on while the service runs with at least one worker up (a crash loop ends in a give-up). */
  #healthy(): boolean {
    const m = this.#machine;
    if (this.#exiting || (m.state !== 'starting' && m.state !== 'running' && m.state !== 'reloading')) return false;
    return m.workers().some((w) => w.state === 'running' || w.state === 'starting' || w.state === 'stopping');
  }

  /** After each batch of actions: the status line, when it changed, to the manager. */
  #tellManager(): void {
    this.#manager?.status();
  }

  /** A reload asked (SIGHUP, `reload`): RELOADING=1 goes to the manager once the batch that begins it is done (#apply). */
  #reload(): void {
    this.#apply(this.#machine.reload(now()));
  }

  /** RELOADING=1 once a reload, a deferred one included, begins (Type=notify-reload waits for it after its SIGHUP). */
  #reloadAnnounced = false;
  #announceReload(): void {
    if (this.#reloadAnnounced) return;
    this.#reloadAnnounced = true;
    this.#replaced = 0;
    this.#manager?.reloading();
  }

  /** A stop asked (a signal, `stop`): STOPPING=1 to the manager first. */
  #stop(): void {
    const was = this.#machine.state;
    const actions = this.#machine.stop(now());
    if (was !== 'stopping' && this.#machine.state === 'stopping') this.#manager?.stopping();
    this.#apply(actions);
  }

  /** --forward: the signal to every worker's process group (the machine's list of live workers is the whole rule). */
  forward(signal: number): void {
    for (const pid of this.#machine.pids) killGroup(pid, signal);
  }

  /** A stop asked by a signal: the first one is remembered for the exit status. */
  #stopBy(signal: number): void {
    this.#stopSignal ??= signal;
    this.#stop();
  }

  get #files() {
    return filesOf(this.#o);
  }

  /** Runs the supervisor's steps of the plan (STEPS); a failure is the caller's verdict to send (releasePidfile first). */
  async start(): Promise<void> {
    // The workers' spawn is built first: no setpriv for --user fails the start now, before it takes anything.
    const spawn = daemonSpawn(this.#o, this.#steps, this.#program);
    this.#notifyPath = this.#steps.some((s) => s.step === 'notify-socket') ? notifySocketAddress(this.#o) : null;
    this.#workerSpawn = { ...spawn, env: workerEnv(spawn.env, this.#notifyPath, this.#o.watchdogMs) };
    try {
      raiseNofile();
    } catch (e) {
      this.#log(`cannot raise the open-file limit: ${(e as Error).message}`);
    }
    await runSteps(this.#steps, 'supervisor', SupervisorRuntime.STEPS, this);
  }

  /** After a start that failed: the PID file this supervisor took goes with it, and so do its listening sockets. */
  releasePidfile(): void {
    if (this.#pidfd !== null) releasePidfile(this.#o.pidfile!, this.#pidfd);
    this.#pidfd = null;
    this.#closeListeners();
    this.#notify?.close();
  }

  /** bind-sockets: all or none; a ListenError ("--listen tcp:80: address already in use") is the start's error. */
  #bindSockets(): void {
    if (this.#host.inherited?.length) return void (this.#listeners = adoptListeners(this.#o.listen, this.#host.inherited));
    const { user, group } = this.#o;
    const owner = user ? { uid: user.uid, gid: group?.gid ?? user.gid } : group ? { uid: process.getuid!(), gid: group.gid } : undefined;
    this.#listeners = bindListeners(this.#o.listen, { owner, userFlag: '--user' });
  }

  /** Closes the listening sockets and removes the socket files this supervisor made. */
  #closeListeners(): void {
    closeListeners(this.#listeners);
    this.#listeners = [];
  }

  /** Busy is an answer, not an error. */
  #lockPidfile(): void {
    const got = acquirePidfile(this.#o.pidfile!);
    if (!got.ok) return this.#link!.finish({ kind: 'busy', pid: got.pid }, 1);
    this.#pidfd = got.fd;
  }

  #writePidfile(): void | Promise<void> {
    const fd = this.#pidfd!;
    // A supervisor killed with SIGKILL whose guard was killed too left its session behind: its id (that PID) the
    // kernel keeps from reuse while members live. Sweep them before starting anew.
    // A live process with that PID means it was recycled: its session is a stranger's, never ours to sweep. So is one
    // our record does not name: an unsupervised daemon (the service user's) can write any number into its PID file.
    const previous = readPidFromFd(fd);
    if (previous && previous !== process.pid && this.#files && leftByDeadSupervisor(this.#files.state, previous).length > 0) {
      return this.#sweepLeftovers(previous, `leftovers of the previous supervisor (session ${previous})`).then(() =>
        writePid(fd, process.pid),
      );
    }
    writePid(fd, process.pid);
  }

  /** control-socket: bound now (as root), answered once node:net is loaded (#goLive). */
  #listen(): void {
    const files = this.#files;
    if (!files) return;
    this.#controlFd = bindControl(files.socket);
    giveToServiceUser(this.#o, files.socket);
    this.#saveState(null);
  }

  /** notify-socket: workers' READY=1 and WATCHDOG=1, on a socket file owned by the workers' user so they can send. */
  #openNotify(): void {
    if (!this.#notifyPath) throw new Error('the notify socket needs a PID file or a state directory to live beside');
    const { user, group } = this.#o;
    const owner = user ? { uid: user.uid, gid: group?.gid ?? user.gid } : group ? { uid: process.getuid!(), gid: group.gid } : undefined;
    this.#notify = NotifySocket.open(this.#notifyPath, {
      owner,
      onMessage: (m) => this.#readiness.onNotify(m),
      onDropped: (why, pid) => this.#log(`notify: dropped a datagram${pid ? ` from pid ${pid}` : ''}: ${why}`),
    });
  }

  /** spawn-workers: the reactions first (a worker may exit before its spawn returns), then the machine's start. */
  #startWorkers(): void {
    process.on('SIGCHLD', () => this.#reapSoon());
    process.on('SIGTERM', () => this.#stopBy(SIGTERM));
    process.on('SIGINT', () => this.#stopBy(SIGINT));
    process.on('SIGHUP', () => this.#reload());
    process.on('SIGUSR1', () => this.#reopen());
    this.#apply(this.#machine.start(now()));
  }

  /** supervise: the loop runs on the machine's actions from here; these only start its housekeeping. */
  #supervise(): void {
    // Go live right after the verdict, or soon if the verdict waits (--start-secs, a ready protocol). Referenced: until
    // the control server exists, this timer is what keeps the loop alive for our SIGCHLD listener.
    setTimeout(() => this.#goLive(), GO_LIVE_MS);
    this.#liveness.start();
    // Starting up (the order, the plan, the wasm's compilation) leaves the most garbage this process will ever have.
    this.#trim.soon();
  }

  #spawnWorker(task: number): number {
    const { pid, worker } = spawnWorker(
      this.#o,
      this.#workerSpawn!,
      task,
      this.#sink,
      () => this.#link !== null,
      this.#listeners,
      this.#notify,
    );
    this.#workers.set(pid, worker);
    this.#restartNotes.delete(task);
    this.#readiness.spawned(task, pid);
    return pid;
  }

  /**
   * One scan of our children per loop turn, however many SIGCHLDs arrived in it: a scan costs a waitpid per worker,
   * and 1,000 workers killed at once deliver hundreds of signals.
   */
  #reapSoon(): void {
    this.#reapPending ??= setImmediate(() => {
      this.#reapPending = null;
      this.#reap();
    });
  }

  #reap(): void {
    this.#trim.soon();
    this.#probeCommands.reap();
    if (this.#guard.reapIfGone() && !this.#exiting) {
      try {
        this.#guard.start();
      } catch (e) {
        this.#log(`the session guard exited and cannot be restarted: ${(e as Error).message}`);
      }
    }
    for (const pid of this.#machine.pids) {
      let r;
      try {
        r = waitpid(pid, WNOHANG);
      } catch {
        continue; // not our child (any more): the machine will hear of it through another pid
      }
      if (!r) continue;
      this.#readiness.exited(pid);
      // The machine answers first with why it is gone (logged), and outside a stop asks to sweep its group.
      const actions = this.#machine.exited(now(), pid, r.status);
      // The machine has already moved the worker to its backoff: the batch's status line says so.
      this.#noteRestart(actions);
      this.#apply(actions, r.status);
      // Reaped, so the machine no longer tracks it: drop its bookkeeping once its output is in.
      const w = this.#workers.get(pid);
      if (w) void w.drained.then(() => this.#workers.get(pid) === w && this.#workers.delete(pid));
    }
    if (this.#host.reapOrphans) this.#reapOrphans();
  }

  /**
   * PID 1 or a subreaper: orphans reparented to us are reaped here, and only those: a child of ours that exited is
   * looked at first without reaping it (WNOWAIT), and left to its owner (the machine, a probe, the guard).
   */
  #reapOrphans(): void {
    for (;;) {
      const pid = peekExited();
      if (pid === null) return;
      if (this.#machine.pids.includes(pid) || this.#probeCommands.pids.includes(pid) || pid === this.#guard.pid) return this.#reapSoon();
      waitpid(pid, WNOHANG);
    }
  }

  /** "worker 3 restarting in 1.6s: exited 1" for the manager's status, when an exit's answer armed the worker's backoff. */
  #noteRestart(actions: Action[]): void {
    if (!this.#manager) return;
    const reaped = actions.find((a) => a.kind === 'reaped');
    const timer = actions.find((a) => a.kind === 'arm-timer');
    if (reaped?.kind !== 'reaped' || timer?.kind !== 'arm-timer' || reaped.cause !== 'exited') return;
    const w = this.#machine.workers().find((x) => x.task === reaped.task);
    if (w?.state === 'backoff')
      this.#restartNotes.set(w.task, `worker ${w.task} restarting in ${timer.ms / 1000}s: ${w.lastExit ?? 'exited'}`);
  }

  /** Carries out the machine's actions in order; `status` is the wait status of the exit they answer, if one. */
  #apply(actions: Action[], status = 0): void {
    this.#depth++;
    try {
      this.#applyAll(actions, status);
    } finally {
      if (--this.#depth === 0) {
        // Whatever began it (a SIGHUP, `reload`, or one deferred until the start's READY=1 in this very batch).
        if (this.#machine.state === 'reloading') this.#announceReload();
        this.#tellManager();
      }
    }
  }

  /** Nesting of #apply (a spawn's answer is applied inside): the manager hears once a whole batch is done. */
  #depth = 0;

  #applyAll(actions: Action[], status: number): void {
    const m = this.#machine;
    for (const act of actions) {
      switch (act.kind) {
        case 'spawn': {
          const next = spawnTask(
            m,
            now,
            act.task,
            (task) => this.#spawnWorker(task),
            (why) => {
              this.#log(`worker ${act.task}: cannot spawn ${this.#program.path}: ${why}`);
              this.#failedSpawn = { task: act.task, why };
            },
          );
          this.#apply(next);
          this.#failedSpawn = null;
          break;
        }
        case 'signal':
          sendSignal(act);
          break;
        case 'escalate':
          this.#log(escalationText(act));
          break;
        case 'arm-timer':
          this.#timers.arm(act.id, act.ms, () => this.#apply(m.timer(now(), act.id)));
          break;
        case 'cancel-timer':
          this.#timers.cancel(act.id);
          break;
        case 'ready':
          this.#tellOriginal({ kind: 'ready', pid: process.pid });
          this.#manager?.ready();
          break;
        case 'start-failed':
          this.#startFailure = {
            task: act.task,
            status: act.status,
            pid: act.pid ?? 0,
            worker: act.pid ? this.#workers.get(act.pid) : undefined,
          };
          break;
        case 'give-up':
          // The ready timeout fails the worker it waited for: its last probe completes the start's error.
          if (act.reason === 'ready-timeout') this.#notReadyTask = m.workers().find((w) => w.state === 'failed')?.task ?? null;
          this.#log(`giving up: ${m.failure ?? act.reason}`);
          this.#manager?.status(`gave up: ${m.failure ?? act.reason}`);
          break;
        case 'exit':
          void this.#exit(act.code);
          break;
        case 'reloaded':
          for (const reply of this.#reloadWaiters.splice(0)) reply({ ok: true, status: this.status() });
          this.#announceReload();
          this.#reloadAnnounced = false;
          this.#manager?.ready();
          break;
        case 'reload-failed':
          for (const reply of this.#reloadWaiters.splice(0)) {
            const how =
              this.#failedSpawn?.task === act.task
                ? `could not be spawned: ${this.#failedSpawn.why}`
                : act.status === null
                  ? 'was not ready in time'
                  : `${planner.describeWaitStatus(act.status)} before it was ready`;
            reply({ ok: false, error: `reload failed: the new worker ${act.task} ${how}; the old workers keep running` });
          }
          // The old workers serve on: the manager waits for READY=1 to end the reload either way.
          this.#reloadAnnounced = false;
          this.#manager?.ready(`reload failed: worker ${act.task}; the old workers keep running`);
          break;
        case 'reaped': {
          const how = planner.describeWaitStatus(status);
          const { pid, task } = act;
          if (act.cause === 'replaced') {
            this.#replaced++;
            this.#log(`reload: replaced worker ${task} (pid ${pid})`);
          } else if (act.cause === 'stopped') this.#log(`stop: worker ${task} (pid ${pid}) ${how}`);
          else this.#log(`worker ${task} (pid ${pid}) ${how}`);
          break;
        }
        case 'signal-leftovers':
          this.#apply(m.leftoversSignalled(now(), act.pgid, act.step, this.#signalLeftovers(act.pgid, act.signal, act.step)));
          break;
      }
    }
  }

  #control(req: ControlRequest, reply: Reply): void {
    this.#trim.soon();
    switch (req.cmd) {
      case 'status':
        return reply({ ok: true, status: this.status() });
      case 'stop':
        // A second stop while stopping waits for the same end (the first one's schedule stays).
        if (this.#machine.state === 'stopping') return void this.#stopWaiters.push(reply);
        if (req.schedule && !this.#machine.setStopSchedule(req.schedule)) return reply({ ok: false, error: 'bad stop schedule' });
        this.#stopWaiters.push(reply);
        return this.#stop();
      case 'reload':
        this.#reloadWaiters.push(reply);
        return this.#reload();
      case 'reopen': {
        const refused = this.#reopen();
        return reply(refused ? { ok: false, error: refused } : { ok: true, message: 'logs reopened' });
      }
    }
  }

  status(): ServiceStatus {
    const m = this.#machine;
    const epoch = Date.now() - now();
    const workers: WorkerStatus[] = m.workers().map((w) => ({
      task: w.task,
      pid: w.pid ?? 0,
      state: w.state,
      restarts: w.restarts,
      lastStatus: w.lastStatus,
      lastExit: w.lastExit,
      startedAt: w.startedAt === null ? null : Math.round(epoch + w.startedAt),
      ready: w.state === 'running',
      probe: this.#readiness.last(w.task, w.pid),
    }));
    return {
      name: this.#o.name ?? 'daemon',
      pid: process.pid,
      state: m.state,
      startedAt: this.#startedAt,
      workers,
      failure: m.failure,
      logError: this.#sink.error,
      // Until a worker has run, the session setsid made holds only us and the guard: nothing to scan /proc for.
      leftovers: workers.some((w) => w.pid !== 0 || w.lastExit !== null) ? this.#countLeftovers() : 0,
      command: this.#program.argv,
    };
  }

  #countLeftovers(): number {
    return countLeftovers(new Set([...this.#machine.pids, this.#guard.pid, ...this.#probeCommands.pids]));
  }

  #signalLeftovers(pgid: number, signal: number, step: number): number {
    return signalOurLeftovers(pgid, signal, step, (line) => this.#log(line));
  }

  /** What is left of a session once its workers are gone gets the stop schedule (the one in force). */
  async #sweepLeftovers(session = process.pid, what = 'stop: left behind by exited workers'): Promise<void> {
    // A process that outlived the whole schedule is left as the schedule says (exit 2); so are its companions.
    if (session === process.pid && this.#machine.pids.length > 0) return;
    await sweepLeftovers(this.#machine.stopSchedule, session, what, (line) => this.#log(line));
  }

  #saveState(exitCode: number | null): void {
    const files = this.#files;
    if (!files) return;
    try {
      const record = {
        version: 1,
        options: this.#o,
        status: this.status(),
        exitCode,
        exitedAt: exitCode === null ? null : Date.now(),
        signals: SUPERVISOR_SIGNALS,
      } as const;
      writeState(files.state, this.#host.foreground ? { ...record, startedBy: 'run' } : record);
    } catch (e) {
      this.#log(`cannot write ${files.state}: ${(e as Error).message}`);
    }
  }

  /**
   * Loads node:net (its cost: RELIABILITY.md) and with it starts answering the control socket and reading workers'
   * output, both of which wait in the kernel meanwhile (queued clients, pipes): off a start's critical path.
   */
  #goLive(): void {
    if (this.#live) return;
    this.#live = true;
    if (this.#controlFd !== null) this.#server = serveControl(this.#controlFd, (req, reply) => this.#control(req, reply));
    this.#sink.goLive();
  }

  #tellOriginal(r: Report): void {
    if (!this.#link) return;
    this.#link.close(r);
    this.#link = null;
    for (const w of this.#workers.values()) dropTail(w);
    this.#goLive();
  }

  async #exit(code: number): Promise<void> {
    if (this.#exiting) return;
    this.#exiting = true;
    this.#manager?.close();
    this.#liveness.stop();
    this.#readiness.stop();
    this.#goLive(); // the last output, and a failed start's stderr tail, come through the sink
    const failed = this.#startFailure?.worker;
    // Nothing of the service may outlive it: its workers' leftover children hold our pipes and our session.
    await this.#sweepLeftovers();
    this.#guard.dismiss();
    await Promise.race([Promise.all([...this.#workers.values(), ...(failed ? [failed] : [])].map((w) => w.drained)), delay(DRAIN_WAIT_MS)]);
    if (this.#startFailure) {
      const f = this.#startFailure;
      const status = planner.describeWaitStatus(f.status);
      // pid 0: never spawned, so no exit status either; the machine's reason quotes the spawn's error.
      this.#tellOriginal({
        kind: 'failed',
        pid: f.pid || undefined,
        message: f.pid ? `worker ${f.task} (pid ${f.pid}) ${status} before it was ready` : (this.#machine.failure ?? ''),
        status: f.pid ? f.status : undefined,
        statusText: f.pid ? status : undefined,
        stderrTail: tailText(failed),
      });
    } else if (this.#link) {
      this.#tellOriginal({
        kind: 'failed',
        message: this.#notReadyText() ?? this.#machine.failure ?? `the supervisor exited with ${code} before every worker was ready`,
      });
    }
    this.#saveState(code);
    this.#sink.close();
    const escalated = this.#machine.escalations;
    const note = escalated ? `${escalated} process${escalated === 1 ? '' : 'es'} needed the stop schedule's later steps` : undefined;
    for (const reply of this.#stopWaiters.splice(0))
      reply({ ok: code === 0, exitCode: code, message: note, error: code === 0 ? undefined : (this.#machine.failure ?? `exit ${code}`) });
    for (const reply of this.#reloadWaiters.splice(0)) reply({ ok: false, error: 'the service stopped' });
    this.#closeListeners();
    this.#notify?.close();
    releaseServiceFiles(this.#files?.socket ?? null, this.#o.pidfile, this.#pidfd);
    this.#server?.close();
    // Let the answers reach their readers before we go.
    const exit = this.#host.exit;
    setTimeout(() => (exit ? exit(code, this.#stopSignal) : process.exit(code)), ANSWER_GRACE_MS);
  }

  /** A start that timed out waiting for readiness: the machine's words, with what the worker's last probe said. */
  #notReadyText(): string | null {
    const failure = this.#machine.failure;
    const task = this.#notReadyTask;
    if (task === null || !failure) return null;
    const mode = this.#o.ready.kind;
    const last = this.#readiness.last(task);
    if (last && !last.ok) return `${failure} (last probe: ${last.text})`;
    return mode === 'notify' ? `${failure} (no READY=1 on NOTIFY_SOCKET ${this.#notifyPath})` : failure;
  }

  /** Reopens the logs; a refused one (a symlink, a FIFO at the path) keeps the previous file, which is told why. */
  #reopen(): string | null {
    const refused = this.#sink.reopen();
    if (refused) this.#log(refused);
    // Our own stdout and stderr are the log files the start sent (session-stdio): moved to the new ones too, or the
    // rotated file stays open (and its space taken) for our whole life. run's own stdio is its caller's, left alone.
    if (this.#ownStdioIsLog) for (const stream of [0, 1] as const) this.#sink.pointAt(stream, stream + 1);
    return refused;
  }

  /** Our own lines go through the sink, so a full disk holds them like workers' output instead of failing a write. */
  #log(line: string): void {
    this.#sink.line(1, `daemonkit supervisor[${process.pid}]: ${line}`);
  }
}

const now = monotonicMs;
