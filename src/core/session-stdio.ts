// session-stdio: the new session was spawned on /dev/null before its options were read; the original sends the log
// files it opened (openLogFile) with the order, and they become the session's stdio here, before any other step.
import { closeSync } from 'node:fs';
import type { Normalized } from '../options.js';
import { logFileOf } from './option-values.js';
import { sessionLogPaths } from './plan.js';
import { dup2 } from '../sys/unistd.js';

/** The most fds an order can carry: one log file per stdio stream. */
export const MAX_ORDER_FDS = 3;

/** Puts the received log files (in sessionLogPaths order) on fds 0-2 as the options say, then closes the copies. */
export function takeSessionStdio(o: Normalized, received: readonly number[]): void {
  const paths = sessionLogPaths(o);
  try {
    if (received.length !== paths.length)
      throw new Error(`the order came with ${received.length} log file(s); its options name ${paths.length}`);
    o.stdio.forEach((t, fd) => {
      const path = logFileOf(t);
      if (path) dup2(received[paths.indexOf(path)]!, fd);
    });
  } finally {
    for (const fd of received) closeSync(fd);
  }
}
