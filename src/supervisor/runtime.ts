// The supervisor's event loop: feeds kernel events to the wasm state machine and carries out the actions it returns.
import { closeSync, existsSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import type { Server } from 'node:net';
import { logFileOf, type Normalized } from '../options.js';
import { planner } from '../core/wasm.js';
import { planFds } from '../core/plan.js';
import { spawnPlanned } from '../core/spawner.js';
import { LogSink } from './log-sink.js';
import { serviceUserOf } from '../core/log-file-open.js';
import { bindControl, serveControl, type ControlRequest, type Reply } from '../core/control.js';
import { readPidFromFd, releasePidfile, writePid } from '../core/pidfile.js';
import { confine, giveToServiceUser } from '../core/confine.js';
import { filesOf, writeState, type ServiceStatus, type WorkerStatus } from '../core/service-files.js';
import type { Report } from '../core/messages.js';
import type { SessionLink } from '../core/session-link.js';
import { pipe } from '../sys/unistd.js';
import { waitpid } from '../sys/wait.js';
import { kill, killGroup } from '../sys/signal.js';
import { SysError } from '../sys/errors.js';
import { membersOf, sessionOf, signalMembers } from '../core/proc-scan.js';
import { SessionGuard } from './session-guard.js';
import { mallocTrim } from '../sys/malloc.js';
import { monotonicMs } from '../sys/time.js';
import { toKernelLog } from '../core/last-resort.js';
import { raiseNofile } from '../core/fd-limit.js';

/** util-linux's setpriv drops a worker's ids between fork and exec, which posix_spawn cannot do. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync) ?? null;
const TAIL_BYTES = 4096;
const NO_TAIL = Buffer.alloc(0);
/** The latest a start waits to answer control clients and read output when its verdict is not yet out. */
const GO_LIVE_MS = 10;
const TRIM_QUIET_MS = 1000;
const TRIM_MAX_WAIT_MS = 10_000;
const SUP_STATES = ['starting', 'running', 'reloading', 'stopping', 'failed', 'exited'];
const WORKER_STATES = ['starting', 'running', 'backoff', 'stopping', 'exited', 'failed'];
const RESTART_CODES = { 'on-failure': 0, always: 1, never: 2 } as const;
const SIGKILL = 9;
const SIGTERM = 15;
const SIGCONT = 18;
/** What the machine is told for a spawn that failed with no errno (a plan refused): a failure like any other, not ENOENT. */
const NO_ERRNO = -1;
/** What the supervisor itself does on a signal, for a CLI whose control request went unanswered. */
const osSignals = constants.signals;
const SUPERVISOR_SIGNALS = { reload: osSignals.SIGHUP, reopen: osSignals.SIGUSR1 };
/** V8's full collection, when the supervisor runs with --expose-gc (start.ts): frees Buffers' native memory before the trim. */
const fullGc = (globalThis as { gc?: () => void }).gc;

interface Worker {
  task: number;
  tail: Buffer;
  /** Resolves when every pipe of this worker has closed (its output is all in the log). */
  drained: Promise<void>;
}

export class SupervisorRuntime {
  readonly #o: Normalized;
  readonly #program: { path: string; argv: string[] };
  readonly #h: number;
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
  #timers = new Map<number, () => void>();
  #stopWaiters: Reply[] = [];
  #reloadWaiters: Reply[] = [];
  /** The first failure of a start, with the worker it names (kept here: reaped workers leave #workers once drained). */
  #startFailure: { task: number; status: number; pid: number; worker: Worker | undefined } | null = null;
  /** The spawn whose failure the machine is being told of, for the texts its answer leads to (a reload's). */
  #failedSpawn: { task: number; why: string } | null = null;

  #exiting = false;
  /** The stop schedule in force, to tell an escalation (a later step's signal) from the first signal. */
  #schedule: number[];
  /** Processes a stop had to escalate for, reported in the log and the stop answer. */
  #escalated = new Set<number>();
  /** Kills the session's processes if we die by SIGKILL: workers and whatever they forked. */
  #guard: SessionGuard;
  #trim: NodeJS.Timeout | null = null;
  #lastWork = 0;
  #reapPending: NodeJS.Immediate | null = null;
  /** Old workers a rolling reload is retiring, so their exit reads as a replacement, not a crash. */
  #retiring = new Set<number>();

  constructor(o: Normalized, program: { path: string; argv: string[] }, pidfd: number | null, link: SessionLink) {
    this.#o = o;
    this.#program = program;
    this.#pidfd = pidfd;
    this.#link = link;
    this.#h = planner.supCreate(
      o.workers,
      RESTART_CODES[o.restart],
      o.backoffMinMs,
      o.backoffMaxMs,
      o.minUptimeMs,
      o.maxRestarts,
      o.restartWindowMs,
      o.startMs,
      o.readyTimeoutMs,
      o.reload === 'signal' ? 1 : 0,
    );
    if (!this.#h) throw new Error('the supervisor state machine refused these options');
    planner.supSetStopSchedule(this.#h, Int32Array.from(o.stopSchedule));
    this.#schedule = o.stopSchedule;
    // A log that cannot be written is said where someone will see it: status, the kernel log, and (held) the log.
    this.#sink = new LogSink(o.stdio[1], o.stdio[2], (error, path) =>
      queueMicrotask(() => {
        const line = error ? `cannot write the log: ${error}; holding its lines until it can be written` : `writing ${path} again`;
        toKernelLog(`daemonkit[${process.pid}]`, `${this.#o.name ?? 'daemon'}: ${line}`);
        this.#log(line);
      }),
      { serviceUser: serviceUserOf(o), time: o.logTime },
    );
    this.#guard = new SessionGuard(process.pid, o.pidfile ?? o.name ?? 'daemon');
  }

  /** setpriv's arguments for the worker's identity: initgroups of the user, then gid, then uid. */
  get #identity(): string[] {
    const { user, group } = this.#o;
    if (!user && !group) return [];
    if (!SETPRIV) throw new Error('--user and --group need /usr/bin/setpriv (util-linux) to drop privileges in each worker');
    const gid = String(group?.gid ?? user!.gid);
    return user ? ['--reuid', String(user.uid), '--regid', gid, '--init-groups'] : ['--regid', gid, '--clear-groups'];
  }

  get #files() {
    return filesOf(this.#o);
  }

  /** Everything that needs the caller's privileges and paths outside a chroot, then confinement, then the workers. */
  async start(): Promise<void> {
    const files = this.#files;
    void this.#identity; // no setpriv for --user: fail the start now, not each worker's spawn
    try {
      raiseNofile();
    } catch (e) {
      this.#log(`cannot raise the open-file limit: ${(e as Error).message}`);
    }
    if (this.#pidfd !== null) {
      // A supervisor killed with SIGKILL whose guard was killed too left its session behind: its id (that PID) the
      // kernel keeps from reuse while members live. Sweep them before starting anew.
      // A live process with that PID means it was recycled: its session is a stranger's, never ours to sweep.
      const previous = readPidFromFd(this.#pidfd);
      if (previous && previous !== process.pid && sessionOf(previous) === -1) await this.#sweepLeftovers(previous, `leftovers of the previous supervisor (session ${previous})`);
      writePid(this.#pidfd, process.pid);
    }
    if (files) {
      this.#controlFd = bindControl(files.socket);
      giveToServiceUser(this.#o, files.socket);
      this.#saveState(null);
    }
    // Before the chroot: the guard's shell and /proc are outside it.
    this.#guard.start();
    // The supervisor keeps root so it can remove its PID file, write its state and reopen root's logs; workers drop.
    confine(this.#o, { dropIds: false });
    process.on('SIGCHLD', () => this.#reapSoon());
    process.on('SIGTERM', () => this.#apply(planner.supStop(this.#h, now())));
    process.on('SIGINT', () => this.#apply(planner.supStop(this.#h, now())));
    process.on('SIGHUP', () => this.#apply(planner.supReload(this.#h, now())));
    process.on('SIGUSR1', () => this.#reopen());
    this.#apply(planner.supStart(this.#h, now()));
    // Go live right after the verdict, or soon if the verdict waits (--start-secs, a ready protocol). Referenced: until
    // the control server exists, this timer is what keeps the loop alive for our SIGCHLD listener.
    setTimeout(() => this.#goLive(), GO_LIVE_MS);
    // Starting up (the order, the plan, the wasm's compilation) leaves the most garbage this process will ever have.
    this.#trimSoon();
  }

  #spawnWorker(task: number): number {
    // One pipe for both streams when they share a file, so a worker's stdout and stderr stay in the order it wrote them.
    const out1 = logFileOf(this.#o.stdio[1]);
    const shared = out1 !== null && out1 === logFileOf(this.#o.stdio[2]);
    const out = pipe();
    let err = out;
    let pid: number;
    try {
      if (!shared) err = pipe();
      const fds = planFds([
        [0, { kind: 'null' }],
        [1, { kind: 'fd', fd: out[1] }],
        [2, { kind: 'fd', fd: err[1] }],
      ]);
      const { path, argv } = this.#program;
      const identity = this.#identity;
      pid = spawnPlanned({
        path: identity.length ? SETPRIV! : path,
        argv: identity.length ? [SETPRIV!, ...identity, '--', path, ...argv.slice(1)] : argv,
        env: [...this.#o.env, `DAEMONKIT_TASK_ID=${task}`],
        fds,
        ownGroup: true,
      });
    } catch (e) {
      // Not spawned: nobody will ever write to these pipes, so their read ends go too.
      for (const fd of new Set([out[0], err[0]])) closeSync(fd);
      throw e;
    } finally {
      closeSync(out[1]);
      if (err !== out) closeSync(err[1]);
    }
    const worker: Worker = { task, tail: NO_TAIL, drained: Promise.resolve() };
    // The tail is for a start failure's report: once the original has its verdict, output is not copied.
    const keepTail = (chunk: Buffer) => {
      if (this.#link) worker.tail = Buffer.concat([worker.tail, chunk]).subarray(-TAIL_BYTES);
    };
    const streams = [this.#sink.attach(out[0], 0, keepTail)];
    if (!shared) streams.push(this.#sink.attach(err[0], 1, keepTail));
    worker.drained = Promise.all(streams).then(() => undefined);
    this.#workers.set(pid, worker);
    return pid;
  }

  /**
   * Once a burst of work (start, restarts, control requests) has been quiet for a second (at most TRIM_MAX_WAIT_MS
   * under steady work), run a full V8 collection and hand malloc's free pages back to the kernel. Buffers read from
   * workers' pipes stay in malloc's heap until V8 collects their objects, which its young-generation passes miss once
   * they are promoted: in a 4-minute soak anonymous memory grew 7.9 MB without the collection, 2.0 MB with it. Not
   * inside a burst: a collection there slows it. One-shot and unref'd: idle arms nothing.
   */
  #trimSoon(): void {
    this.#lastWork = now();
    if (this.#trim) return;
    const armed = this.#lastWork;
    const check = () => {
      const quiet = now() - this.#lastWork;
      if (quiet < TRIM_QUIET_MS && now() - armed < TRIM_MAX_WAIT_MS) {
        this.#trim = setTimeout(check, TRIM_QUIET_MS - quiet).unref();
        return;
      }
      this.#trim = null;
      fullGc?.();
      mallocTrim();
    };
    this.#trim = setTimeout(check, TRIM_QUIET_MS).unref();
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
    this.#trimSoon();
    if (this.#guard.reapIfGone() && !this.#exiting) {
      try {
        this.#guard.start();
      } catch (e) {
        this.#log(`the session guard exited and cannot be restarted: ${(e as Error).message}`);
      }
    }
    for (const pid of planner.supPids(this.#h)) {
      let r;
      try {
        r = waitpid(pid, 1 /* WNOHANG */);
      } catch {
        continue; // not our child (any more): the machine will hear of it through another pid
      }
      if (!r) continue;
      this.#logExit(pid, r.status);
      this.#apply(planner.supExited(this.#h, now(), pid, r.status));
      // A stop sweeps the whole session; outside one, what this worker forked must not outlive it.
      if (!this.#exiting && planner.supState(this.#h) !== 3 /* stopping */) this.#stopLeftovers(pid);
      // Reaped, so the machine no longer tracks it: drop its bookkeeping once its output is in.
      const w = this.#workers.get(pid);
      if (w) void w.drained.then(() => this.#workers.get(pid) === w && this.#workers.delete(pid));
    }
  }

  /** One line per reaped worker, saying whether it crashed, was replaced by a reload, or was stopped. */
  #logExit(pid: number, status: number): void {
    const task = this.#workers.get(pid)?.task ?? '?';
    const how = planner.describeWaitStatus(status);
    if (this.#retiring.delete(pid)) this.#log(`reload: replaced worker ${task} (pid ${pid})`);
    else if (this.#exiting || planner.supState(this.#h) === 3 /* stopping */) this.#log(`stop: worker ${task} (pid ${pid}) ${how}`);
    else this.#log(`worker ${task} (pid ${pid}) ${how}`);
  }

  #apply(actions: Int32Array): void {
    const p = planner;
    for (let i = 0; i < actions.length; i += 4) {
      const [kind, a, b, c] = [actions[i]!, actions[i + 1]!, actions[i + 2]!, actions[i + 3]!];
      switch (kind) {
        case p.A_SPAWN.value: {
          let next: Int32Array;
          try {
            next = p.supSpawned(this.#h, now(), a, this.#spawnWorker(a));
          } catch (e) {
            this.#log(`worker ${a}: cannot spawn ${this.#program.path}: ${(e as Error).message}`);
            this.#failedSpawn = { task: a, why: (e as Error).message };
            next = p.supSpawnFailedWith(this.#h, now(), a, e instanceof SysError ? -e.errno : NO_ERRNO, (e as Error).message);
          }
          this.#apply(next);
          this.#failedSpawn = null;
          break;
        }
        case p.A_SIGNAL.value:
          if (c) {
            // The machine signals a worker's group outside a stop only to retire it for its replacement.
            if (p.supState(this.#h) === 2 /* reloading */) this.#retiring.add(a);
            this.#noteEscalation(a, b);
            killGroup(a, b);
            // Like systemd: a stopped (SIGSTOP) process only acts on SIGTERM once continued.
            if (b !== SIGKILL && b !== SIGCONT) killGroup(a, SIGCONT);
          } else kill(a, b);
          break;
        case p.A_ARM_TIMER.value: {
          this.#timers.get(a)?.();
          const fire = () => {
            this.#timers.delete(a);
            this.#apply(p.supTimer(this.#h, now(), a));
          };
          // setTimeout(0) waits a whole millisecond; a 0 ms restart runs right after this turn's I/O instead.
          if (b <= 0) {
            const immediate = setImmediate(fire);
            this.#timers.set(a, () => clearImmediate(immediate));
          } else {
            const timeout = setTimeout(fire, b);
            this.#timers.set(a, () => clearTimeout(timeout));
          }
          break;
        }
        case p.A_CANCEL_TIMER.value:
          this.#timers.get(a)?.();
          this.#timers.delete(a);
          break;
        case p.A_READY.value:
          this.#tellOriginal({ kind: 'ready', pid: process.pid });
          break;
        case p.A_START_FAILED.value:
          this.#startFailure = { task: a, status: b, pid: c, worker: this.#workers.get(c) };
          break;
        case p.A_GAVE_UP.value:
          this.#log(`giving up: ${p.supFailureReason(this.#h) || ['', 'crash loop', 'stop schedule ran out', 'ready timeout'][a]}`);
          break;
        case p.A_EXIT.value:
          void this.#exit(a);
          break;
        case p.A_RELOADED.value:
          for (const reply of this.#reloadWaiters.splice(0)) reply({ ok: true, status: this.status() });
          break;
        case p.A_RELOAD_FAILED.value:
          for (const reply of this.#reloadWaiters.splice(0)) {
            const how = this.#failedSpawn?.task === a ? `could not be spawned: ${this.#failedSpawn.why}` : `${p.describeWaitStatus(b)} before it was ready`;
            reply({ ok: false, error: `reload failed: the new worker ${a} ${how}; the old workers keep running` });
          }
          break;
      }
    }
  }

  #control(req: ControlRequest, reply: Reply): void {
    this.#trimSoon();
    switch (req.cmd) {
      case 'status':
        return reply({ ok: true, status: this.status() });
      case 'stop':
        // A second stop while stopping waits for the same end (the first one's schedule stays).
        if (planner.supState(this.#h) === 3 /* stopping */) return void this.#stopWaiters.push(reply);
        if (req.schedule && !planner.supSetStopSchedule(this.#h, Int32Array.from(req.schedule))) return reply({ ok: false, error: 'bad stop schedule' });
        if (req.schedule) this.#schedule = req.schedule;
        this.#stopWaiters.push(reply);
        return this.#apply(planner.supStop(this.#h, now()));
      case 'reload':
        this.#reloadWaiters.push(reply);
        return this.#apply(planner.supReload(this.#h, now()));
      case 'reopen': {
        const refused = this.#reopen();
        return reply(refused ? { ok: false, error: refused } : { ok: true, message: 'logs reopened' });
      }
      default:
        return reply({ ok: false, error: `unknown request ${JSON.stringify((req as { cmd?: unknown }).cmd)}` });
    }
  }

  status(): ServiceStatus {
    const p = planner;
    const workers: WorkerStatus[] = [];
    const epoch = Date.now() - now();
    for (let task = 0; task < p.supWorkers(this.#h); task++) {
      const last = p.supWorkerLastStatus(this.#h, task);
      const started = p.supWorkerStartedAt(this.#h, task);
      const pid = p.supWorkerPid(this.#h, task);
      workers.push({
        task,
        pid,
        state: WORKER_STATES[p.supWorkerState(this.#h, task)] ?? 'unknown',
        restarts: p.supWorkerRestarts(this.#h, task),
        lastStatus: last < 0 ? null : last,
        lastExit: last < 0 ? null : p.supWorkerLastExit(this.#h, task),
        startedAt: pid ? Math.round(epoch + started) : null,
      });
    }
    return {
      name: this.#o.name ?? 'daemon',
      pid: process.pid,
      state: SUP_STATES[p.supState(this.#h)] ?? 'unknown',
      startedAt: this.#startedAt,
      workers,
      failure: p.supFailureReason(this.#h) || null,
      logError: this.#sink.error,
      leftovers: this.#countLeftovers(),
      command: this.#program.argv,
    };
  }

  /** Processes in our session that are neither a worker nor the guard: what exited workers left behind. */
  #countLeftovers(): number {
    const known = new Set([...planner.supPids(this.#h), this.#guard.pid]);
    return membersOf((ids) => ids.session === process.pid).filter((pid) => !known.has(pid)).length;
  }

  /** A stop-schedule signal after the first step goes to a process that outlived the step before: say so. */
  #noteEscalation(pid: number, signal: number): void {
    const s = this.#schedule;
    for (let i = 2; i < s.length; i += 2) {
      if (s[i] !== signal || s[i + 1] === -1) continue;
      const prev = s[i - 2]!;
      const secs = s[i - 1]! / 1000;
      this.#log(`stop: pid ${pid} still alive ${secs}s after ${planner.signalName(prev)}: sending ${planner.signalName(signal)}`);
      this.#escalated.add(pid);
      return;
    }
  }

  /**
   * Processes still in our session once every worker is gone: children a worker left behind when it exited (or died
   * on SIGTERM while they ignored it). TERM, a second, then KILL. Found in /proc, signalled through a pidfd after
   * checking the session again, so a recycled PID is never hit. Returns how many were signalled.
   */
  #sweepSession(signal: number, session = process.pid): number {
    return signalMembers((ids) => ids.session === session, signal);
  }

  /**
   * What an exited worker left in its process group (children it forked) gets the stop schedule, like supervisord's
   * killasgroup, so a crash loop cannot pile them up. Each step signals only processes still in that group and in our
   * session, through pidfds: once the group is empty its id may be any new process's.
   */
  #stopLeftovers(pgid: number, step = 0): void {
    const s = this.#schedule;
    if (step >= s.length || (step === 0 && !killGroup(pgid, 0))) return; // no member left: the usual case, one syscall
    const ours = (ids: { pgrp: number; session: number }) => ids.pgrp === pgid && ids.session === process.pid;
    const signal = s[step]!;
    const n = signalMembers(ours, signal);
    if (n === 0) return;
    if (signal !== SIGKILL && signal !== SIGCONT) signalMembers(ours, SIGCONT);
    this.#log(`worker pid ${pgid} left ${n} process${n === 1 ? '' : 'es'} in its group: sent ${planner.signalName(signal)}`);
    const wait = s[step + 1]!;
    const next = setTimeout(() => {
      this.#stopLeftovers(pgid, wait < 0 ? step : step + 2);
    }, wait < 0 ? 1000 : wait);
    next.unref();
  }

  async #sweepLeftovers(session = process.pid, what = 'stop: left behind by exited workers'): Promise<void> {
    // A process that outlived the whole schedule is left as the schedule says (exit 2); so are its companions.
    if (session === process.pid && planner.supPids(this.#h).length > 0) return;
    const left = this.#sweepSession(SIGTERM, session);
    if (left === 0) return;
    this.#sweepSession(SIGCONT, session);
    this.#log(`${what}: ${left} process${left === 1 ? '' : 'es'}: sent SIGTERM`);
    for (let i = 0; i < 50 && this.#sweepSession(0, session) > 0; i++) await delay(20);
    const killed = this.#sweepSession(SIGKILL, session);
    if (killed) this.#log(`${what}: ${killed} still alive 1s after SIGTERM: sent SIGKILL`);
  }

  #saveState(exitCode: number | null): void {
    const files = this.#files;
    if (!files) return;
    try {
      writeState(files.state, { version: 1, options: this.#o, status: this.status(), exitCode, exitedAt: exitCode === null ? null : Date.now(), signals: SUPERVISOR_SIGNALS });
    } catch (e) {
      this.#log(`cannot write ${files.state}: ${(e as Error).message}`);
    }
  }

  /**
   * Loads node:net (~5 ms) and with it starts answering the control socket and reading workers' output, both of
   * which wait in the kernel meanwhile (queued clients, pipes): off a start's critical path.
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
    for (const w of this.#workers.values()) w.tail = NO_TAIL;
    this.#goLive();
  }

  async #exit(code: number): Promise<void> {
    if (this.#exiting) return;
    this.#exiting = true;
    this.#goLive(); // the last output, and a failed start's stderr tail, come through the sink
    const failed = this.#startFailure?.worker;
    // Nothing of the service may outlive it: its workers' leftover children hold our pipes and our session.
    await this.#sweepLeftovers();
    this.#guard.dismiss();
    // Wait (briefly) for the last output: a grandchild holding a pipe must not keep us here.
    await Promise.race([Promise.all([...this.#workers.values(), ...(failed ? [failed] : [])].map((w) => w.drained)), delay(1000)]);
    if (this.#startFailure) {
      const f = this.#startFailure;
      const w = failed;
      const status = planner.describeWaitStatus(f.status);
      // pid 0: never spawned, so no exit status either; the machine's reason quotes the spawn's error.
      this.#tellOriginal({
        kind: 'failed',
        pid: f.pid || undefined,
        message: f.pid ? `worker ${f.task} (pid ${f.pid}) ${status} before it was ready` : planner.supFailureReason(this.#h),
        status: f.pid ? f.status : undefined,
        statusText: f.pid ? status : undefined,
        stderrTail: w && w.tail.length ? w.tail.toString('utf8').split('\n').slice(-20).join('\n').trimEnd() : undefined,
      });
    } else if (this.#link) {
      this.#tellOriginal({ kind: 'failed', message: planner.supFailureReason(this.#h) || `the supervisor exited with ${code} before every worker was ready` });
    }
    this.#saveState(code);
    this.#sink.close();
    const note = this.#escalated.size ? `${this.#escalated.size} process${this.#escalated.size === 1 ? '' : 'es'} needed the stop schedule's later steps` : undefined;
    for (const reply of this.#stopWaiters.splice(0)) reply({ ok: code === 0, exitCode: code, message: note, error: code === 0 ? undefined : planner.supFailureReason(this.#h) || `exit ${code}` });
    for (const reply of this.#reloadWaiters.splice(0)) reply({ ok: false, error: 'the service stopped' });
    const files = this.#files;
    if (files) {
      try {
        unlinkSync(files.socket);
      } catch {
        // gone already
      }
    }
    // A schedule that ran out leaves processes of our session alive: the service is not stopped, so its PID file stays
    // (unlocked once we are gone): status says so, and the next start sweeps this session before it starts anew.
    const leftBehind = membersOf((ids) => ids.session === process.pid).length > 0;
    if (this.#pidfd !== null) {
      if (leftBehind) closeSync(this.#pidfd);
      else releasePidfile(this.#o.pidfile!, this.#pidfd);
    }
    this.#server?.close();
    // Let the answers reach their readers before we go.
    setTimeout(() => process.exit(code), 20);
  }

  /** Reopens the logs; a refused one (a symlink, a FIFO at the path) keeps the previous file, which is told why. */
  #reopen(): string | null {
    const refused = this.#sink.reopen();
    if (refused) this.#log(refused);
    return refused;
  }

  /** Our own lines go through the sink, so a full disk holds them like workers' output instead of failing a write. */
  #log(line: string): void {
    this.#sink.line(1, `daemonkit supervisor[${process.pid}]: ${line}`);
  }
}

const now = monotonicMs;

// Referenced: before the control server exists (a start's sweep of leftovers), nothing else keeps the loop alive.
function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
