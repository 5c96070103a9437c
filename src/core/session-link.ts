// The new session's end of the socket pair to the original: take the one order (and the log files sent with it), send
// the reports and the verdict. All synchronous on a blocking socket: a start's critical path needs neither the event
// loop nor node:net.
import { closeSync } from 'node:fs';
import { sendReport, type Report, type SessionOrder } from './messages.js';
import { SESSION_READY_FD } from './plan.js';
import { MAX_ORDER_FDS } from './session-stdio.js';
import { pollReadable } from '../sys/pidfd.js';
import { recvWithFds } from '../sys/socket.js';
import { exitNow } from '../sys/unistd.js';

export interface SessionLink {
  /** The log files that came with the order, for session-stdio: handed out once. */
  takeFds(): number[];
  /** A report before the verdict ('spawned'). An original that is gone is not our error: it stops listening. */
  send(message: Report): void;
  /** The verdict: sent, then our end closed. */
  close(message: Report): void;
  /** The verdict, then exit with code (nothing of ours is left to flush: every write here is synchronous). */
  finish(message: Report, exitCode: number): void;
}

export function errorReport(e: unknown): Report {
  const err = e as NodeJS.ErrnoException;
  return { kind: 'error', message: err.message, code: err.code, path: err.path };
}

/** The first line on fd and the fds sent with it, or null at end of file (the original died before it wrote one). */
function readOrder(fd: number): { line: string; fds: number[] } | null {
  const chunks: Buffer[] = [];
  let size = 0;
  const fds: number[] = [];
  const fail = () => {
    for (const f of fds) closeSync(f);
    return null;
  };
  for (;;) {
    let got;
    try {
      got = recvWithFds(fd, ORDER_READ_BYTES, MAX_ORDER_FDS);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EINTR') return fail();
      continue;
    }
    if (got === null) {
      pollReadable(fd, -1);
      continue;
    }
    fds.push(...got.fds);
    // More fds than an order carries: not from an original of ours.
    if (got.fdsTruncated || fds.length > MAX_ORDER_FDS) return fail();
    if (got.data.length === 0) return fail();
    const nl = got.data.indexOf(10);
    chunks.push(nl < 0 ? got.data : got.data.subarray(0, nl));
    size += nl < 0 ? got.data.length : nl;
    // Past what any order holds (its environment and argv could not be exec'd anyway): not from an original of ours.
    if (size > MAX_ORDER_BYTES) return fail();
    if (nl >= 0) return { line: Buffer.concat(chunks).toString('utf8'), fds };
  }
}

const ORDER_READ_BYTES = 64 * 1024;
/** The largest order read: far above Linux's limit on what one execve may carry (the worker's env and argv). */
const MAX_ORDER_BYTES = 16 * 1024 * 1024;

/** Calls run with the order the original sends on fd 3; without one (the original is gone) exits 1. */
export function receiveOrder(run: (order: SessionOrder, link: SessionLink) => void): void {
  const fd = SESSION_READY_FD;
  let order: SessionOrder | null = null;
  const got = readOrder(fd);
  try {
    order = got === null ? null : (JSON.parse(got.line) as SessionOrder);
  } catch {
    // not JSON: not from an original of ours
  }
  if (order?.kind !== 'order') exitNow(1);
  let fds = got!.fds;
  let gone = false; // EPIPE: the original stopped listening
  let closed = false;
  const send = (message: Report) => {
    if (gone || closed) return;
    try {
      sendReport(fd, message);
    } catch {
      gone = true;
    }
  };
  const close = (message: Report) => {
    send(message);
    if (!closed) closeSync(fd);
    closed = true;
  };
  const takeFds = () => {
    const taken = fds;
    fds = [];
    return taken;
  };
  run(order, { takeFds, send, close, finish: (message, exitCode) => (close(message), exitNow(exitCode)) });
}
