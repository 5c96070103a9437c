// The supervisor's open-file limit: it holds a pipe or two a worker, more than a login shell's soft limit of 1024.
import { getrlimit, setrlimit, RLIMIT_NOFILE } from '../sys/resource.js';

/**
 * Raises this process's soft RLIMIT_NOFILE to its hard limit. Node does the same at startup, which is also why the
 * workers get the raised limit: the one the caller had is gone before any of our code runs. This states the need
 * instead of relying on Node's habit.
 */
export function raiseNofile(): void {
  const had = getrlimit(RLIMIT_NOFILE);
  if (had.soft < had.hard) setrlimit(RLIMIT_NOFILE, { soft: had.hard, hard: had.hard });
}
