// The new session's end of the socket pair to the original: take the one order, send the one verdict.
import { Socket } from 'node:net';
import { onLines, type Report, type SessionOrder } from './messages.js';
import { SESSION_READY_FD } from './plan.js';

export interface SessionLink {
  socket: Socket;
  /** Sends the verdict and exits with code once it is written (or after 2 s, if the original is gone). */
  finish(message: Report, exitCode: number): void;
}

export function errorReport(e: unknown): Report {
  const err = e as NodeJS.ErrnoException;
  return { kind: 'error', message: err.message, code: err.code, path: err.path };
}

/** Calls run once, with the order the original sends on fd 3. */
export function receiveOrder(run: (order: SessionOrder, link: SessionLink) => void): void {
  const socket = new Socket({ fd: SESSION_READY_FD, readable: true, writable: true });
  let finished = false;
  const link: SessionLink = {
    socket,
    finish(message, exitCode) {
      if (finished) return;
      finished = true;
      socket.end(`${JSON.stringify(message)}\n`, () => process.exit(exitCode));
      setTimeout(() => process.exit(exitCode), 2000).unref();
    },
  };
  socket.on('error', () => {});
  let started = false;
  onLines(socket, (m) => {
    const order = m as SessionOrder;
    if (started || order.kind !== 'order') return;
    started = true;
    run(order, link);
  });
}
