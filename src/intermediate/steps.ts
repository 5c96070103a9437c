// The intermediate's steps: the process that called setsid confines itself, takes the PID file, spawns the daemon (so
// the daemon is not a session leader), relays the readiness verdict to the original, and exits.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { acquirePidfile, releasePidfile, writePid } from '../core/pidfile.js';
import { changeDir, changeRoot, initGroups, noCoreDumps, setGid, setUid, setUmask } from '../core/confine.js';
import { daemonSpawn } from '../core/daemon-steps.js';
import { FD_PLANS } from '../core/plan.js';
import { onLines, REPORT_MAX_BYTES, type Report, type SessionOrder } from '../core/messages.js';
import { errorReport, type SessionLink } from '../core/session-link.js';
import { takeSessionStdio } from '../core/session-stdio.js';
import { nodeNet } from '../core/lazy-net.js';
import { spawnPlanned } from '../core/spawner.js';
import { runSteps, type StepTable } from '../core/step-runner.js';
import { planner } from '../core/wasm.js';
import { socketpair } from '../sys/socket.js';
import { waitpid, WNOHANG } from '../sys/wait.js';
import { kill } from '../sys/signal.js';
import { runStopSchedule } from '../core/supervisor-machine.js';
import { O_NOFOLLOW, O_NONBLOCK, O_RDONLY } from '../sys/fcntl.js';
import type { Normalized } from '../options.js';
import { logFileOf, type StdioTarget } from '../core/option-values.js';

/** Only what the daemon wrote to stderr during this start, not an old log's tail. */
function stderrTail(o: Normalized, from: number): string | undefined {
  const path = logFileOf(o.stdio[2]);
  if (!path) return undefined;
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - 4096);
    if (size <= start) return undefined;
    // Never blocked by a FIFO or led by a symlink planted there meanwhile: the log was opened that way too.
    const fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8').split('\n').slice(-20).join('\n').trimEnd() || undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function sizeOf(t: StdioTarget): number {
  const path = logFileOf(t);
  if (!path) return 0;
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class Intermediate {
  static readonly STEPS: StepTable<Intermediate, void> = {
    'session-stdio': (i) => takeSessionStdio(i.o, i.#link.takeFds()),
    umask: (i) => setUmask(i.o),
    'no-core-dumps': () => noCoreDumps(),
    'pidfile.lock': (i) => i.#lockPidfile(),
    chroot: (i) => changeRoot(i.o),
    chdir: (i) => changeDir(i.o),
    setgroups: (i) => initGroups(i.o),
    setgid: (i) => setGid(i.o),
    setuid: (i) => setUid(i.o),
    'spawn-daemon': (i) => i.#spawnDaemon(),
    'pidfile.write': (i) => i.#writePid(),
    'report-exit': (i) => i.#reportExit(),
  };

  readonly o: Normalized;
  readonly #order: SessionOrder;
  readonly #link: SessionLink;
  #reported = false;
  #pidfd: number | null = null;
  #pidWriteFd: number | null = null;
  #daemonPid = 0;
  #readyRead: number | null = null;
  #exited: number | null = null;
  #daemonFailure: Extract<Report, { kind: 'failed' }> | null = null;
  /** The failure is ours (a timeout, an overlong report): the daemon's exit status is how it took our stop. */
  #stoppedIt = false;
  #stderrFrom = 0;

  constructor(order: SessionOrder, link: SessionLink) {
    this.o = order.options;
    this.#order = order;
    this.#link = link;
  }

  /** Runs the plan's intermediate steps; a failure before the daemon exists releases the PID file and is the verdict. */
  run(): void {
    try {
      runSteps(this.#order.steps, 'intermediate', Intermediate.STEPS, this);
    } catch (e) {
      // Once the daemon runs, it holds the PID file's lock: a failure after that is not a failed start's to undo.
      if (this.#daemonPid) throw e;
      this.#releasePidfile();
      this.#report(errorReport(e), 1);
    }
  }

  #report(message: Report, exitCode: number): void {
    this.#reported = true;
    this.#link.finish(message, exitCode);
  }

  #releasePidfile(): void {
    this.#closeWriteFd();
    if (this.#pidfd !== null) releasePidfile(this.o.pidfile!, this.#pidfd);
    this.#pidfd = null;
  }

  /** Busy is an answer, not an error. The lock is on a read-only descriptor: the daemon (maybe --user) keeps that one. */
  #lockPidfile(): void {
    const got = acquirePidfile(this.o.pidfile!, { readOnlyLock: true });
    if (!got.ok) return this.#report({ kind: 'busy', pid: got.pid }, 1);
    this.#pidfd = got.fd;
    this.#pidWriteFd = got.writeFd ?? null;
  }

  /** pidfile.write: the daemon's PID, through the descriptor that can write, which then goes (never the daemon's). */
  #writePid(): void {
    writePid(this.#pidWriteFd!, this.#daemonPid);
    this.#closeWriteFd();
  }

  #closeWriteFd(): void {
    if (this.#pidWriteFd !== null) closeSync(this.#pidWriteFd);
    this.#pidWriteFd = null;
  }

  #spawnDaemon(): void {
    const o = this.o;
    const spawn = daemonSpawn(o, this.#order.steps, this.#order.daemon);
    let readyWrite: number | null = null;
    if (spawn.readyPipe) [this.#readyRead, readyWrite] = socketpair();
    this.#stderrFrom = sizeOf(o.stdio[2]);
    process.on('SIGCHLD', () => this.#reap());
    // That listener does not keep Node's loop alive (docs/DESIGN.md, fact 8), and no handle of ours may until the verdict.
    setInterval(() => {}, 2 ** 30);
    try {
      this.#daemonPid = spawnPlanned({ path: spawn.path, argv: spawn.argv, env: spawn.env, fds: FD_PLANS.daemon(this.#pidfd, readyWrite) });
    } finally {
      if (readyWrite !== null) closeSync(readyWrite);
    }
    this.#link.send({ kind: 'spawned', pid: this.#daemonPid });
  }

  #settle(): void {
    const exited = this.#exited;
    if (exited === null) return;
    this.#releasePidfile();
    const o = this.o;
    const failure = this.#daemonFailure;
    this.#report(
      {
        kind: 'failed',
        pid: this.#daemonPid,
        message:
          failure?.message ?? `${o.command ? o.command.path : 'the daemon'} ${planner.describeWaitStatus(exited)} before it was ready`,
        stack: failure?.stack,
        status: exited,
        statusText: `${planner.describeWaitStatus(exited)}${this.#stoppedIt ? ' when stopped' : ''}`,
        stderrTail: stderrTail(o, this.#stderrFrom),
      },
      1,
    );
  }

  #reap(): void {
    if (!this.#daemonPid || this.#exited !== null) return;
    const r = waitpid(this.#daemonPid, WNOHANG);
    if (r) {
      this.#exited = r.status;
      this.#settle();
    }
  }

  #ready(): void {
    if (this.#exited !== null || this.#reported) return;
    // The daemon holds its own dup of the locked file now; ours can go.
    if (this.#pidfd !== null) closeSync(this.#pidfd);
    this.#pidfd = null;
    this.#report({ kind: 'ready', pid: this.#daemonPid }, 0);
  }

  /** report-exit: once the daemon is ready (its ready line, or alive after --start-secs) or gone, tell the original and exit. */
  #reportExit(): void {
    const o = this.o;
    const pid = this.#daemonPid;
    this.#reap();
    if (this.#readyRead !== null) {
      const channel = new (nodeNet().Socket)({ fd: this.#readyRead, readable: true, writable: false });
      onLines(
        channel,
        (m) => {
          const msg = m as Report;
          if (msg.kind === 'ready') this.#ready();
          else if (msg.kind === 'failed') {
            // A timeout we already declared stays the reason; the daemon's own exit report follows from it.
            this.#daemonFailure ??= msg;
            // It is on its way out; give it a moment to exit so we can report its status too, then the stop schedule.
            setTimeout(() => stopDaemon(pid, o.stopSchedule, () => this.#exited !== null), FAILED_EXIT_GRACE_MS).unref();
          }
        },
        {
          // The daemon runs as the service user: what it writes here is bounded.
          maxBytes: REPORT_MAX_BYTES,
          tooLong: () => this.#stopIt(pid, `the daemon sent a report over ${REPORT_MAX_BYTES / 1024} KiB; stopped it`, false),
        },
      );
      channel.on('error', () => {});
    } else {
      setTimeout(() => {
        this.#reap();
        this.#ready();
      }, o.startMs);
    }

    setTimeout(() => {
      if (this.#exited !== null || this.#reported) return;
      this.#stopIt(pid, `not ready after ${o.readyTimeoutMs / 1000}s; stopped it`, true);
    }, o.readyTimeoutMs);
  }

  /** Our own stop: the reason is ours (a timeout wins over a report already read), its exit status how it took it. */
  #stopIt(pid: number, message: string, wins: boolean): void {
    if (wins || !this.#daemonFailure) this.#daemonFailure = { kind: 'failed', message };
    this.#stoppedIt = true;
    stopDaemon(pid, this.o.stopSchedule, () => this.#exited !== null);
  }
}

/** How long a daemon that reported its own failure has to exit before it gets the stop schedule. */
const FAILED_EXIT_GRACE_MS = 3000;

/** The daemon gets the service's stop schedule (--retry) until it is gone (reaped: `gone`) or the schedule ran out. */
function stopDaemon(pid: number, schedule: readonly number[], gone: () => boolean): void {
  void runStopSchedule(schedule, {
    send: (signal) => !gone() && kill(pid, signal),
    gone: (ms) => new Promise((resolve) => setTimeout(() => resolve(gone()), ms).unref()),
  });
}
