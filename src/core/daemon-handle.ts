// The daemon's side of the library: the handle `daemonize()` resolves with, the ready/fail protocol, and signals.
import { closeSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { MARKERS } from './markers.js';
import { sendSync } from './messages.js';
import { releasePidfile, writePid } from './pidfile.js';
import { notifySocket } from '../sys/socket.js';
import { setCloexec } from '../sys/fcntl.js';

export interface DaemonEvents {
  reload: [];
  reopen: [];
  stop: [signal: NodeJS.Signals];
}

/**
 * What `daemonize()` returns in the daemon. Emits 'reload' on SIGHUP, 'reopen' on SIGUSR1 (reopen your log files;
 * never Node's inspector, which SIGUSR1 would otherwise open to anyone on 127.0.0.1:9229) and 'stop' on
 * SIGTERM/SIGINT (if listened to; otherwise the PID file is released and the process exits 0).
 */
export class Daemon extends EventEmitter<DaemonEvents> {
  readonly pid = process.pid;
  #readyFd: number | null;
  #pidfile: { path: string; fd: number } | null;
  #settled = false;
  /** Whether this process detached itself (false when it was already a daemon, e.g. under systemd). */
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

  /** Tells whoever started us that we are up: the original exits 0 (or systemd gets READY=1). */
  ready(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#readyFd !== null) {
      sendSync(this.#readyFd, { kind: 'ready', pid: process.pid });
      this.#closeReady();
    } else if (process.env.NOTIFY_SOCKET) {
      notifySocket(process.env.NOTIFY_SOCKET, `READY=1\nMAINPID=${process.pid}\n`);
    }
  }

  /** Makes the original exit 1 with this error, then ends the daemon. */
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
        sendSync(this.#readyFd, { kind: 'failed', message: e.message, stack: e.stack });
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
  return new Daemon(readyFd, pidfileFd !== null && pidfilePath ? { path: pidfilePath, fd: pidfileFd } : null, true);
}

/** For a process that is already a daemon: the PID file is ours to write, nothing else to adopt. */
export function inPlaceDaemon(pidfile: { path: string; fd: number } | null): Daemon {
  if (pidfile) writePid(pidfile.fd, process.pid);
  return new Daemon(null, pidfile, false);
}
