// A worker and its pipes: spawned with the plan's fds, its output carried to the log sink, its tail kept for a report.
import { closeSync } from 'node:fs';
import { logFileOf, type Normalized } from '../options.js';
import { FD_PLANS } from '../core/plan.js';
import { spawnPlanned } from '../core/spawner.js';
import type { DaemonSpawn } from '../core/daemon-steps.js';
import { pipe } from '../sys/unistd.js';
import type { LogSink } from './log-sink.js';

const TAIL_BYTES = 4096;
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
 * Spawns task `task` in its own process group. `keepTail()` says whether its output is still wanted for a start
 * failure's report (only until the original has its verdict).
 */
export function spawnWorker(o: Normalized, spawn: DaemonSpawn, task: number, sink: LogSink, keepTail: () => boolean): { pid: number; worker: Worker } {
  // One pipe for both streams when they share a file, so a worker's stdout and stderr stay in the order it wrote them.
  const out1 = logFileOf(o.stdio[1]);
  const shared = out1 !== null && out1 === logFileOf(o.stdio[2]);
  const out = pipe();
  let err = out;
  let pid: number;
  try {
    if (!shared) err = pipe();
    const { path, argv, env } = spawn;
    pid = spawnPlanned({ path, argv, env: [...env, `DAEMONKIT_TASK_ID=${task}`], fds: FD_PLANS.worker(out[1], err[1]), ownGroup: true });
  } catch (e) {
    // Not spawned: nobody will ever write to these pipes, so their read ends go too.
    for (const fd of new Set([out[0], err[0]])) closeSync(fd);
    throw e;
  } finally {
    closeSync(out[1]);
    if (err !== out) closeSync(err[1]);
  }
  const worker: Worker = { task, tail: NO_TAIL, drained: Promise.resolve() };
  const onChunk = (chunk: Buffer) => {
    if (keepTail()) worker.tail = Buffer.concat([worker.tail, chunk]).subarray(-TAIL_BYTES);
  };
  const streams = [sink.attach(out[0], 0, onChunk)];
  if (!shared) streams.push(sink.attach(err[0], 1, onChunk));
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
