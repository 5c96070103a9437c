// The new session's end of the socket pair to the original: take the one order, send the reports and the verdict.
// All synchronous on a blocking socket: a start's critical path needs neither the event loop nor node:net.
import { closeSync, readSync } from 'node:fs';
import { sendSync, type Report, type SessionOrder } from './messages.js';
import { SESSION_READY_FD } from './plan.js';
import { pollReadable } from '../sys/pidfd.js';
import { exitNow } from '../sys/unistd.js';

export interface SessionLink {
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

/** The first line on fd, or null at end of file (the original died before it wrote one). */
function readLine(fd: number): string | null {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') pollReadable(fd, -1);
      else if (code !== 'EINTR') return null;
      continue;
    }
    if (n === 0) return null;
    const nl = buf.subarray(0, n).indexOf(10);
    chunks.push(Buffer.from(buf.subarray(0, nl < 0 ? n : nl)));
    if (nl >= 0) return Buffer.concat(chunks).toString('utf8');
  }
}

/** Calls run with the order the original sends on fd 3; without one (the original is gone) exits 1. */
export function receiveOrder(run: (order: SessionOrder, link: SessionLink) => void): void {
  const fd = SESSION_READY_FD;
  let order: SessionOrder | null = null;
  try {
    const line = readLine(fd);
    order = line === null ? null : (JSON.parse(line) as SessionOrder);
  } catch {
    // not JSON: not from an original of ours
  }
  if (order?.kind !== 'order') exitNow(1);
  let gone = false; // EPIPE: the original stopped listening
  let closed = false;
  const send = (message: Report) => {
    if (gone || closed) return;
    try {
      sendSync(fd, message);
    } catch {
      gone = true;
    }
  };
  const close = (message: Report) => {
    send(message);
    if (!closed) closeSync(fd);
    closed = true;
  };
  run(order, { send, close, finish: (message, exitCode) => (close(message), exitNow(exitCode)) });
}
