// The daemon's side of the library: the handle `daemonize()` resolves with, the ready/fail protocol, and signals.
import { closeSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { MARKERS } from './markers.js';
import { sendReport } from './messages.js';
import { releasePidfile, writePid } from './pidfile.js';
import { notifySocket } from '../sys/socket.js';
import { notifyInherited } from './notify.js';
import { setCloexec } from '../sys/fcntl.js';

/** The events a Daemon handle emits, each with what happens when nobody listens. */
export interface DaemonEvents {
  /** SIGHUP: re-read your configuration. Unheard, SIGHUP is ignored (it never ends the daemon). */
  reload: [];
  /**
   * SIGUSR1: reopen your log files (logrotate moved them). Unheard, SIGUSR1 is ignored: Node's inspector, which
   * SIGUSR1 would otherwise open to anyone on 127.0.0.1:9229, never opens.
   */
  reopen: [];
  /**
   * SIGTERM or SIGINT: shut down. Heard, shutting down is yours: close what you hold, then `process.exit()` (the PID
   * file is released on exit). Unheard, the PID file is released and the process exits 0 at once.
   */
  stop: [signal: NodeJS.Signals];
}

/**
 * What `daemonize()` resolves with in the daemon. Emits 'reload' on SIGHUP, 'reopen' on SIGUSR1 and 'stop' on
 * SIGTERM/SIGINT (see DaemonEvents for what each does when nobody listens). Only daemonize() makes one.
 */
export interface Daemon extends EventEmitter<DaemonEvents> {
  /** This process's PID, as written in the PID file. */
  readonly pid: number;
  /** Whether this process detached itself (false when it was already a daemon, e.g. under systemd). */
  readonly detached: boolean;
  /** The PID file this process holds (released when it exits), or null. */
  readonly pidfile: string | null;
  /** Tells whoever started us that we are up: the original exits 0 (or systemd gets READY=1). Later calls do nothing. */
  ready(): void;
  /** Makes the original exit 1 with this error, then ends the daemon (exit 1). */
  fail(err: unknown): never;
}

/** The one implementation of Daemon; not exported from the package, so its constructor is no part of the API. */
export class DaemonHandle extends EventEmitter<DaemonEvents> implements Daemon {
  readonly pid = process.pid;
  #readyFd: number | null;
  #pidfile: { path: string; fd: number } | null;
  #settled = false;
  readonly detached: boolean;

  constructor(readyFd: number | null, pidfile: { path: string; fd: number } | null, detached: boolean) {
    super();
    this.#readyFd = readyFd;
    this.#pidfile = pidfile;
    this.detached = detached;
    this.#installHooks();
  }

  get pidfile(): string | null {
    return this.#pidfile?.path ?? null;
  }

  ready(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#readyFd !== null) {
      sendReport(this.#readyFd, { kind: 'ready', pid: process.pid });
      this.#closeReady();
    } else {
      // A worker of our supervisor or of forkProcesses() has a descriptor to its NOTIFY_SOCKET: no socket code needed.
      const text = `READY=1\nMAINPID=${process.pid}\n`;
      if (!notifyInherited(text) && process.env.NOTIFY_SOCKET) notifySocket(process.env.NOTIFY_SOCKET, text);
    }
  }

  fail(err: unknown): never {
    this.#reportFailure(err);
    this.#release();
    process.exit(1);
  }

  #reportFailure(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.#readyFd !== null) {
      try {
        sendReport(this.#readyFd, { kind: 'failed', message: e.message, stack: e.stack });
      } catch {
        // the original is gone; nothing else can be told
      }
      this.#closeReady();
    }
  }

  #closeReady(): void {
    if (this.#readyFd === null) return;
    try {
      closeSync(this.#readyFd);
    } catch {
      // already closed
    }
    this.#readyFd = null;
  }

  #release(): void {
    if (!this.#pidfile) return;
    releasePidfile(this.#pidfile.path, this.#pidfile.fd);
    this.#pidfile = null;
  }

  #installHooks(): void {
    process.on('SIGHUP', () => this.emit('reload'));
    // A listener of our own replaces Node's SIGUSR1 handler, which would start the inspector as root.
    process.on('SIGUSR1', () => this.emit('reopen'));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (this.listenerCount('stop') > 0) this.emit('stop', signal);
        else {
          this.#release();
          process.exit(0);
        }
      });
    }
    process.on('uncaughtExceptionMonitor', (err) => this.#reportFailure(err));
    process.on('exit', (code) => {
      if (!this.#settled) this.#reportFailure(new Error(`the daemon exited with code ${code} before it called ready()`));
      this.#release();
    });
  }
}

/** In a daemon started by daemonize(): take over the fds the intermediate passed, and hide the markers. */
export function adoptDaemon(env: NodeJS.ProcessEnv = process.env): Daemon {
  const readyFd = env[MARKERS.readyFd] ? Number(env[MARKERS.readyFd]) : null;
  const pidfileFd = env[MARKERS.pidfileFd] ? Number(env[MARKERS.pidfileFd]) : null;
  const pidfilePath = env[MARKERS.pidfile] ?? null;
  for (const key of Object.values(MARKERS)) delete env[key];
  // These fds were inherited on purpose; nothing this daemon spawns may inherit them (the lock must not leak).
  if (readyFd !== null) setCloexec(readyFd, true);
  if (pidfileFd !== null) setCloexec(pidfileFd, true);
  return new DaemonHandle(readyFd, pidfileFd !== null && pidfilePath ? { path: pidfilePath, fd: pidfileFd } : null, true);
}

/** For a process that is already a daemon: the PID file is ours to write, nothing else to adopt. */
export function inPlaceDaemon(pidfile: { path: string; fd: number } | null): Daemon {
  if (pidfile) writePid(pidfile.fd, process.pid);
  return new DaemonHandle(null, pidfile, false);
}
