// A worker's side of forkProcesses(): its task id, and whether its parent is a forkProcesses() parent.

/** The task id, as the CLI's supervisor passes it to its workers too. */
export const TASK_ID_VAR = 'DAEMONKIT_TASK_ID';
/** Set by a forkProcesses() parent to its own PID: daemonize() in such a worker takes nothing (the parent holds it all). */
export const FORK_PARENT_VAR = 'DAEMONKIT_FORK_PARENT';

type WorkerFacts = { task: number | null; forked: boolean };
/**
 * Kept on the process, not in this module: dist/index.js (taskId) and dist/library.js (daemonize) each carry a copy of
 * this file, and the first to read removes the parent's marker from the environment.
 */
const FACTS = Symbol.for('daemonkit.forkWorker');
const slot = process as unknown as { [FACTS]?: WorkerFacts };

function read(): WorkerFacts {
  const known = slot[FACTS];
  if (known) return known;
  const text = process.env[TASK_ID_VAR];
  const task = text !== undefined && /^\d{1,4}$/.test(text) ? Number(text) : null;
  // A marker inherited from further up (a worker's own child) is not ours: only our parent's PID counts.
  const forked = task !== null && process.env[FORK_PARENT_VAR] === String(process.ppid);
  // Not passed on: a child of this worker is not a worker of that parent.
  delete process.env[FORK_PARENT_VAR];
  return (slot[FACTS] = { task, forked });
}

/** This worker's task id (0..n-1, kept across restarts), or null outside a worker. */
export function taskId(): number | null {
  return read().task;
}

/** Whether this process is a worker spawned by forkProcesses() (not by the CLI's supervisor). */
export function isForkWorker(): boolean {
  return read().forked;
}
