// A worker and its pipes: spawned with the plan's fds, its output carried to the log sink, its tail kept for a report.
import { accessSync, closeSync, constants as fsConstants } from 'node:fs';
import type { Normalized } from '../options.js';
import { logFileOf } from '../core/option-values.js';
import { FD_PLANS } from '../core/plan.js';
import { spawnPlanned } from '../core/spawner.js';
import type { DaemonSpawn } from '../core/daemon-steps.js';
import { activationSpawn, notifyChildFd } from '../core/socket-activation.js';
import { notifyPassing, type NotifySocket } from '../core/notify-socket.js';
import { TASK_ID_VAR } from '../core/fork-worker.js';
import type { Listener } from '../core/listen-sockets.js';
import { pipe } from '../sys/unistd.js';
import { sysError } from '../sys/errors.js';
import type { LogSink } from './log-sink.js';

const TAIL_BYTES = 4096;
const STDOUT = 1;
const STDERR = 2;
const NO_TAIL = Buffer.alloc(0);
/** Lines of a failed start's output quoted to the original. */
const TAIL_LINES = 20;

export interface Worker {
  task: number;
  tail: Buffer;
  /** Resolves when every pipe of this worker has closed (its output is all in the log). */
  drained: Promise<void>;
}

/**
 * The shell of the exec step runs any path, so a program it could not exec would be its exit 127: checked first, so
 * the failure stays a spawn error (errno and all) as without the step.
 */
function checkExecutable(path: string): void {
  try {
    accessSync(path, fsConstants.X_OK);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).errno;
    throw typeof errno === 'number' ? sysError(-errno, 'access', path) : e;
  }
}

/**
 * Spawns task `task` in its own process group, with the listening sockets (if any) as fds 3.. and LISTEN_FDS,
 * LISTEN_FDNAMES and LISTEN_PID, and a notify sender of its own after them (DAEMONKIT_NOTIFY_FD) when there is a
 * notify socket. `keepTail()` says whether its output is still wanted for a start failure's report
 * (only until the original has its verdict).
 */
export function spawnWorker(
  o: Normalized,
  spawn: DaemonSpawn,
  task: number,
  sink: LogSink,
  keepTail: () => boolean,
  listeners: readonly Listener[] = [],
  notify: NotifySocket | null = null,
): { pid: number; worker: Worker } {
  if (listeners.length > 0) checkExecutable(spawn.path);
  // One pipe for both streams when they share a file, so a worker's stdout and stderr stay in the order it wrote them.
  const out1 = logFileOf(o.stdio[1]);
  const shared = out1 !== null && out1 === logFileOf(o.stdio[2]);
  // `run`'s default: the worker writes to our own stdout/stderr itself, with no pipe and no copy in between.
  const inherit = [o.stdio[1].kind === 'inherit', o.stdio[2].kind === 'inherit'];
  const out: [number, number] = inherit[0] ? [-1, STDOUT] : pipe();
  let err = out;
  let sender: { fd: number; env: string } | null = null;
  let pid: number;
  try {
    if (inherit[1]) err = [-1, STDERR];
    else if (!shared || inherit[0]) err = pipe();
    sender = notifyPassing(notify, notifyChildFd(listeners));
    const own = [`${TASK_ID_VAR}=${task}`, ...(sender ? [sender.env] : [])];
    // Outermost, so its `exec` hands its PID to setpriv (--user), which execs the program in place: the same PID.
    const { path, argv, env } = activationSpawn({ path: spawn.path, argv: spawn.argv, env: [...spawn.env, ...own] }, listeners);
    const fds = FD_PLANS.worker(out[1], err[1], listeners, sender?.fd ?? null);
    pid = spawnPlanned({ path, argv, env, fds, ownGroup: true });
  } catch (e) {
    // Not spawned: nobody will ever write to these pipes, so their read ends go too.
    for (const fd of new Set([out[0], err[0]])) if (fd >= 0) closeSync(fd);
    throw e;
  } finally {
    if (sender) closeSync(sender.fd);
    if (!inherit[0]) closeSync(out[1]);
    if (err !== out && !inherit[1]) closeSync(err[1]);
  }
  const worker: Worker = { task, tail: NO_TAIL, drained: Promise.resolve() };
  const onChunk = (chunk: Buffer) => {
    if (keepTail()) worker.tail = Buffer.concat([worker.tail, chunk]).subarray(-TAIL_BYTES);
  };
  const streams: Promise<void>[] = [];
  if (!inherit[0]) streams.push(sink.attach(out[0], 0, onChunk));
  if (err !== out && !inherit[1]) streams.push(sink.attach(err[0], 1, onChunk));
  worker.drained = Promise.all(streams).then(() => undefined);
  return { pid, worker };
}

/** The verdict is out: tails are no longer wanted. */
export function dropTail(worker: Worker): void {
  worker.tail = NO_TAIL;
}

/** The last lines a worker wrote, for a failed start's report. */
export function tailText(worker: Worker | undefined): string | undefined {
  if (!worker || worker.tail.length === 0) return undefined;
  return worker.tail.toString('utf8').split('\n').slice(-TAIL_LINES).join('\n').trimEnd();
}
