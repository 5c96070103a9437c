// tornado's fork_processes() for Node: the parent re-runs this script n times and supervises the copies in-process with
// the CLI supervisor's wasm machine; each copy gets its task id. Every decision (restart, backoff, give up, stop
// escalation, rolling reload) comes from the machine's actions: this file only carries them out.
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SUN_PATH_MAX } from '../sys/un.js';
import { planner } from './wasm.js';
import { SupervisorMachine, type Action } from './supervisor-machine.js';
import { planFds, type FdAction } from './plan.js';
import { spawnPlanned } from './spawner.js';
import { bindListeners, closeListeners, type Listener } from './listen-sockets.js';
import { ACTIVATION_VARS, activationSpawn, listenerFdTargets, notifyChildFd, type SpawnRequest } from './socket-activation.js';
import { NotifySocket, notifyPassing } from './notify-socket.js';
import { NOTIFY_FD_VAR, sdNotify } from './notify.js';
import { idsOf } from './proc-scan.js';
import { escalationText, MachineTimers, sendSignal, signalLeftovers, spawnTask } from './machine-effects.js';
import { parseForkOptions, type ForkConfig, type ForkOptions } from './fork-options.js';
import { FORK_PARENT_VAR, isForkWorker, TASK_ID_VAR, taskId } from './fork-worker.js';
import { MARKER_PREFIX, type StdioTarget } from './option-values.js';
import type { Daemon } from './daemon-handle.js';
import { killGroup, SIGTERM } from '../sys/signal.js';
import { waitpid, WNOHANG } from '../sys/wait.js';
import { SETPRIV } from './daemon-steps.js';
import { monotonicMs } from '../sys/time.js';

/** The notify socket's private directory (mkdtemp, 0700) and its file in it. */
const NOTIFY_DIR_PREFIX = 'daemonkit-fork-';
const NOTIFY_FILE = 'notify';
/** mkdtemp's six characters and the separators around them. */
const MKDTEMP_SUFFIX_BYTES = 8;

/** The temporary directory, absolute (a relative NOTIFY_SOCKET is refused by sd_notify), or /tmp if its path is too long for the socket's. */
function notifyDirBase(): string {
  const base = resolve(tmpdir());
  const length = Buffer.byteLength(join(base, NOTIFY_DIR_PREFIX)) + MKDTEMP_SUFFIX_BYTES + NOTIFY_FILE.length;
  return length < SUN_PATH_MAX ? base : '/tmp';
}

export type { ForkOptions } from './fork-options.js';
export { taskId } from './fork-worker.js';

/** tornado's words when it raises, followed by the machine's account of the last failure. */
export const GAVE_UP = 'too many worker restarts, giving up';
/** A referenced timer keeps the event loop alive while we wait for children (docs/DESIGN.md, fact 8). */
const KEEP_ALIVE_MS = 2 ** 30;
const NOTIFY_VAR = 'NOTIFY_SOCKET';
/** Inherited variables a worker must not see: daemonkit's markers, our notify socket's and the sockets' own. */
const NOT_INHERITED = (k: string) =>
  k.startsWith(MARKER_PREFIX) || k === NOTIFY_VAR || k === NOTIFY_FD_VAR || (ACTIVATION_VARS as readonly string[]).includes(k);

const now = monotonicMs;

function say(line: string): void {
  process.stderr.write(`daemonkit: ${line}\n`);
}

/** The parent: owns the machine, the workers' spawns, the shared sockets and the notify socket. */
class ForkParent {
  readonly #machine: SupervisorMachine;
  readonly #listeners: Listener[];
  readonly #spawn: SpawnRequest;
  readonly #targets: Array<[number, StdioTarget]>;
  readonly #fds: FdAction[];
  readonly #daemon: Daemon | null;
  /** systemd's (or a test's) NOTIFY_SOCKET when this parent is not a daemonize() daemon: told READY=1 like one. */
  readonly #manager: string | null;
  readonly #session: number;
  #notify: NotifySocket | null = null;
  /** The private directory the notify socket lives in. */
  #notifyDir: string | null = null;
  readonly #timers = new MachineTimers();
  #keepAlive: NodeJS.Timeout | null = null;
  #reapPending: NodeJS.Immediate | null = null;
  #gaveUp = false;
  #ready = false;
  #exiting = false;

  constructor(config: ForkConfig, daemon: Daemon | null) {
    this.#daemon = daemon;
    this.#manager = daemon ? null : process.env[NOTIFY_VAR] || null;
    this.#session = idsOf(process.pid)?.session ?? -1;
    this.#machine = new SupervisorMachine(config.machine);
    // Bound before any worker exists, kept across every restart and reload; a bind failure rejects forkProcesses().
    this.#listeners = bindListeners(config.listen);
    const env = Object.entries(process.env)
      .filter(([k, v]) => v !== undefined && !NOT_INHERITED(k))
      .map(([k, v]) => `${k}=${v}`);
    for (const [k, v] of config.env) env.push(`${k}=${v}`);
    env.push(`${FORK_PARENT_VAR}=${process.pid}`);
    if (config.notify) {
      // A socket file in a directory of our own (0700): only we and our workers, the same user, can send to it.
      let dir: string | null = null;
      try {
        dir = mkdtempSync(join(notifyDirBase(), NOTIFY_DIR_PREFIX));
        this.#notify = NotifySocket.open(join(dir, NOTIFY_FILE), { onMessage: (m) => this.#onNotify(m.pid, m.fields) });
      } catch (e) {
        if (dir) rmSync(dir, { recursive: true, force: true });
        closeListeners(this.#listeners);
        throw e;
      }
      this.#notifyDir = dir;
      env.push(`${NOTIFY_VAR}=${this.#notify.path}`);
    }
    // The same script again, as daemonize() re-runs it.
    const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
    this.#spawn = activationSpawn(diesWithParent({ path: process.execPath, argv, env }), this.#listeners);
    // stdio shared with the parent (dup2 onto itself: Node marks 0-2 close-on-exec, fact 7), the sockets at 3.., nothing else.
    const inherit: StdioTarget = { kind: 'inherit' };
    this.#targets = [[0, inherit], [1, inherit], [2, inherit], ...listenerFdTargets(this.#listeners)];
    this.#fds = planFds(this.#targets);
  }

  start(): void {
    if (this.#daemon) this.#daemon.on('stop', () => {}); // its default (exit at once) would orphan the workers
    process.on('SIGCHLD', () => this.#reapSoon());
    process.on('SIGTERM', () => this.#apply(this.#machine.stop(now())));
    process.on('SIGINT', () => this.#apply(this.#machine.stop(now())));
    process.on('SIGHUP', () => this.#apply(this.#machine.reload(now())));
    // Last resort when user code in the parent calls process.exit() or throws: the workers' groups are not left running.
    process.on('exit', () => {
      if (this.#exiting) return;
      for (const pid of this.#machine.pids) killGroup(pid, SIGTERM);
      if (this.#notifyDir) rmSync(this.#notifyDir, { recursive: true, force: true });
    });
    this.#keepAlive = setInterval(() => {}, KEEP_ALIVE_MS);
    this.#apply(this.#machine.start(now()));
  }

  /** A worker with its task id and, with a notify socket, a sender of its own after the listeners (DAEMONKIT_NOTIFY_FD). */
  #spawnWorker(task: number): number {
    const { path, argv, env } = this.#spawn;
    const childFd = notifyChildFd(this.#listeners);
    const sender = notifyPassing(this.#notify, childFd);
    try {
      const fds = sender ? planFds([...this.#targets, [childFd, { kind: 'fd', fd: sender.fd }]]) : this.#fds;
      const own = [`${TASK_ID_VAR}=${task}`, ...(sender ? [sender.env] : [])];
      return spawnPlanned({ path, argv, env: [...env, ...own], fds, ownGroup: true });
    } finally {
      if (sender) closeSync(sender.fd);
    }
  }

  /** A datagram on our notify socket: READY=1 counts only from a worker's current process (the kernel vouches for its PID). */
  #onNotify(pid: number, fields: Record<string, string>): void {
    if (fields.READY !== '1' || !this.#machine.pids.includes(pid)) return;
    this.#apply(this.#machine.ready(now(), pid));
  }

  /** One scan per loop turn however many SIGCHLDs came; waitpid per worker PID, never waitpid(-1) (fact 4). */
  #reapSoon(): void {
    this.#reapPending ??= setImmediate(() => {
      this.#reapPending = null;
      for (const pid of this.#machine.pids) {
        let r;
        try {
          r = waitpid(pid, WNOHANG);
        } catch {
          continue; // not our child (any more)
        }
        if (r) this.#apply(this.#machine.exited(now(), pid, r.status), r.status);
      }
    });
  }

  /** Carries out the machine's actions in order; `status` is the wait status of the exit they answer, if one. */
  #apply(actions: Action[], status = 0): void {
    const m = this.#machine;
    for (const act of actions) {
      switch (act.kind) {
        case 'spawn':
          this.#apply(
            spawnTask(
              m,
              now,
              act.task,
              (task) => this.#spawnWorker(task),
              (why) => say(`worker ${act.task}: cannot spawn ${process.execPath}: ${why}`),
            ),
          );
          break;
        case 'signal':
          sendSignal(act);
          break;
        case 'escalate':
          say(escalationText(act));
          break;
        case 'arm-timer':
          this.#timers.arm(act.id, act.ms, () => this.#apply(m.timer(now(), act.id)));
          break;
        case 'cancel-timer':
          this.#timers.cancel(act.id);
          break;
        case 'ready':
          this.#ready = true;
          this.#tellReady();
          break;
        case 'give-up':
          this.#gaveUp = act.reason === 'crash-loop';
          break;
        case 'exit':
          this.#exit(act.code);
          break;
        case 'reload-failed':
          say(
            `reload failed: the new worker ${act.task} ${act.status === null ? 'was not ready in time' : `${planner.describeWaitStatus(act.status)} before it was ready`}; the old workers keep running`,
          );
          break;
        case 'reaped':
          if (act.cause === 'exited' && !planner.waitSucceeded(status))
            say(`worker ${act.task} (pid ${act.pid}) ${planner.describeWaitStatus(status)}`);
          break;
        case 'signal-leftovers':
          this.#apply(m.leftoversSignalled(now(), act.pgid, act.step, signalLeftovers(act.pgid, act.signal, act.step, this.#session)));
          break;
        case 'start-failed':
        case 'reloaded':
          break;
      }
    }
  }

  /** Every worker was ready once: a daemonize() daemon's original exits 0 now; a manager (systemd) hears READY=1. */
  #tellReady(): void {
    if (this.#daemon) this.#daemon.ready();
    else if (this.#manager) {
      try {
        sdNotify(this.#manager, `READY=1\nMAINPID=${process.pid}\n`);
      } catch (e) {
        say(`cannot tell ${NOTIFY_VAR} ${this.#manager} ready: ${(e as Error).message}`);
      }
    }
  }

  #exit(code: number): never {
    this.#exiting = true;
    this.#timers.cancelAll();
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#notify?.close();
    if (this.#notifyDir) rmSync(this.#notifyDir, { recursive: true, force: true });
    closeListeners(this.#listeners);
    const failure = this.#machine.failure;
    const message = failure === null ? null : this.#gaveUp ? `${GAVE_UP}: ${failure}` : failure;
    if (message !== null && code !== 0) say(message);
    // A daemon not yet ready tells its original why (it exits 1 there); once ready, the machine's code is ours.
    if (this.#daemon && !this.#ready && code !== 0) {
      // The message is the whole story: a stack through this file would only be noise in the original's report.
      const text = message ?? `the workers' parent exited with ${code}`;
      this.#daemon.fail(Object.assign(new Error(text), { stack: text }));
    }
    process.exit(code);
  }
}

/** The first call's promise: a second call (in the parent, or a worker) gets the same answer. */
let forked: Promise<number> | null = null;

/**
 * The worker's spawn through `setpriv --pdeathsig TERM` (util-linux), which asks the kernel to signal it when this parent
 * dies (prctl(2) PR_SET_PDEATHSIG, kept across the exec): a parent SIGKILLed has no session guard, and its workers
 * would run on holding the port. TERM, as the parent's own exit path sends: a worker's handler still finishes.
 * Without setpriv, as it is.
 */
function diesWithParent(request: SpawnRequest): SpawnRequest {
  if (!SETPRIV) return request;
  return { ...request, path: SETPRIV, argv: [SETPRIV, '--pdeathsig', 'TERM', '--', request.path, ...request.argv.slice(1)] };
}

/**
 * In the parent: spawns n copies of this script (n <= 0 or omitted: one per CPU) and supervises them; never resolves
 * (the process exits 0 once every worker exited cleanly, 1 on giving up). In a worker: resolves at once with its task
 * id. `daemon`: the handle of a daemonize() call made before, whose ready() waits for every worker.
 */
export function forkProcesses(n: number | null | undefined, options: ForkOptions, daemon: Promise<Daemon> | null): Promise<number> {
  if (forked) return forked;
  // A copy this process's parent forked; a task id inherited from further up (our supervisor's) makes no copy of us.
  if (isForkWorker()) return (forked = Promise.resolve(taskId()!));
  let config: ForkConfig;
  try {
    config = parseForkOptions(n, options, daemon !== null);
  } catch (e) {
    return Promise.reject(e);
  }
  forked = (async () => {
    const handle = daemon ? await daemon : null;
    new ForkParent(config, handle).start();
    return new Promise<number>(() => {});
  })();
  return forked;
}
