// systemd's notify protocol upward (sd_notify(3)): the supervisor as the service of the manager that started it.
// READY=1 when every worker is ready and after each reload, RELOADING=1/STOPPING=1 as those begin, STATUS= one line on
// every change, WATCHDOG=1 while the service is healthy. A send that fails is said once and never stops the service.
import { sdNotify } from '../core/notify.js';

/** What the manager gave us: read once, then removed from our environment so nothing we start takes it as its own. */
export const MANAGER_VARS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;
const NS_PER_USEC = 1000n;
const USEC_PER_MS = 1000;
/** sd_watchdog_enabled(3) asks for a ping at half the interval, so one late ping is not a missed one. */
const PINGS_PER_INTERVAL = 2;

export interface ManagerEnv {
  NOTIFY_SOCKET?: string;
  WATCHDOG_USEC?: string;
  WATCHDOG_PID?: string;
}

/** The status line and health the notifier reads from the supervisor whenever it may have changed. */
export interface ServiceView {
  /** "4/4 workers ready", "reloading 2/4", "stopping". */
  statusLine(): string;
  /** Whether watchdog pings may go on: the loop turns, and not every worker is down. */
  healthy(): boolean;
}

/** The longest delay a Node timer holds (a 32-bit signed ms count); a longer one fires after 1 ms, every 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ManagerNotify {
  readonly #socket: string;
  readonly #view: ServiceView;
  readonly #log: (line: string) => void;
  /** `start`: the CLI the manager started exits, so the supervisor names itself the main process with READY=1. */
  #mainPid: number | null;
  #lastStatus: string | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #failed = false;

  private constructor(socket: string, view: ServiceView, log: (line: string) => void, mainPid: number | null) {
    this.#socket = socket;
    this.#view = view;
    this.#log = log;
    this.#mainPid = mainPid;
  }

  /**
   * A notifier when the manager gave NOTIFY_SOCKET, else null. `mainPid`: send MAINPID= with the first READY=1. The
   * watchdog is armed when WATCHDOG_USEC is set and WATCHDOG_PID is absent, this process, or (mainPid) its parent.
   */
  static fromEnv(
    env: ManagerEnv,
    view: ServiceView,
    log: (line: string) => void,
    options: { mainPid?: boolean } = {},
  ): ManagerNotify | null {
    const socket = env.NOTIFY_SOCKET;
    if (!socket) return null;
    const n = new ManagerNotify(socket, view, log, options.mainPid ? process.pid : null);
    const usec = Number(env.WATCHDOG_USEC);
    // Under `start` the manager's watchdog names the CLI that spawned us (our parent until it exits): MAINPID= hands
    // its pings to us.
    const ours = [process.pid, ...(options.mainPid ? [process.ppid] : [])].map(String);
    const forUs = env.WATCHDOG_PID === undefined || ours.includes(env.WATCHDOG_PID);
    if (forUs && Number.isInteger(usec) && usec > 0) n.#armWatchdog(usec / USEC_PER_MS / PINGS_PER_INTERVAL);
    return n;
  }

  /** Removes the manager's variables from process.env (and returns them). */
  static takeEnv(env: NodeJS.ProcessEnv = process.env): ManagerEnv {
    const out: ManagerEnv = {};
    for (const k of MANAGER_VARS) {
      if (env[k] !== undefined) out[k] = env[k];
      delete env[k];
    }
    return out;
  }

  /** Every worker is ready (the start, or a reload completed): READY=1 with the status line. */
  ready(note?: string): void {
    const status = note ?? this.#view.statusLine();
    const main = this.#mainPid === null ? '' : `MAINPID=${this.#mainPid}\n`;
    this.#mainPid = null;
    this.#lastStatus = status;
    this.#send(`READY=1\n${main}STATUS=${status}`);
  }

  /** A reload begins: RELOADING=1 with CLOCK_MONOTONIC in µs (systemd 253+ waits for it with Type=notify-reload). */
  reloading(): void {
    const status = this.#view.statusLine();
    this.#lastStatus = status;
    this.#send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / NS_PER_USEC}\nSTATUS=${status}`);
  }

  /** A stop begins: STOPPING=1, and no more watchdog pings. */
  stopping(): void {
    this.#disarm();
    const status = this.#view.statusLine();
    this.#lastStatus = status;
    this.#send(`STOPPING=1\nSTATUS=${status}`);
  }

  /** STATUS= when the line differs from the last one sent. */
  status(line = this.#view.statusLine()): void {
    if (line === this.#lastStatus) return;
    this.#lastStatus = line;
    this.#send(`STATUS=${line}`);
  }

  close(): void {
    this.#disarm();
  }

  #armWatchdog(everyMs: number): void {
    // Unreferenced: the pings must never be what keeps the supervisor alive.
    this.#watchdog = setInterval(
      () => {
        if (this.#view.healthy()) this.#send('WATCHDOG=1');
      },
      Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(everyMs))),
    );
    this.#watchdog.unref();
  }

  #disarm(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #send(text: string): void {
    try {
      sdNotify(this.#socket, text);
      if (this.#failed) this.#log(`notify: ${this.#socket} takes messages again`);
      this.#failed = false;
    } catch (e) {
      if (!this.#failed)
        this.#log(`notify: cannot send to the service manager at ${this.#socket}: ${(e as Error).message}; the service goes on`);
      this.#failed = true;
    }
  }
}
