// The supervisor's control socket: one JSON request a line, one JSON answer a line, mode 0600.
import { unlinkSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { onLines } from './messages.js';
import { nodeNet } from './lazy-net.js';
import { listenUnix } from '../sys/socket.js';
import type { ServiceStatus } from './service-files.js';

export type ControlRequest = { cmd: 'status' } | { cmd: 'stop'; schedule?: number[] } | { cmd: 'reload' } | { cmd: 'reopen' };

export interface ControlAnswer {
  ok: boolean;
  status?: ServiceStatus;
  exitCode?: number;
  message?: string;
  error?: string;
}

export type Reply = (answer: ControlAnswer) => void;

/**
 * Listens at path (replacing a dead supervisor's leftover socket: we hold the PID file lock, so it is ours), at once
 * and without node:net: from here on a client's connect succeeds and waits in the kernel's queue for serveControl.
 */
export function bindControl(path: string): number {
  try {
    unlinkSync(path);
  } catch {
    // none left behind
  }
  // bind(2) makes the file 0600 under this umask: it never exists wider, and no chmod by path (which a symlink swapped
  // in would redirect) is needed.
  const old = process.umask(0o177);
  try {
    return listenUnix(path, 511);
  } finally {
    process.umask(old);
  }
}

/** The longest request line, its newline included: a real request is under 100 bytes. */
export const CONTROL_MAX_REQUEST = 4096;
/** Clients served at once; Node closes any more at connect (server.maxConnections). */
export const CONTROL_MAX_CLIENTS = 64;
/** From its connect, a client has this long to send its request line; waiting for the answer (a stop) has no limit. */
export const CONTROL_REQUEST_MS = 3000;
/** After refusing a request, how long the connection stays (unread) so the client can read why before it is closed. */
const CONTROL_LINGER_MS = 1000;
/** The largest answer a client reads: a status of 1,024 workers is a few hundred KB. */
export const CONTROL_MAX_ANSWER = 16 * 1024 * 1024;

/** The most numbers a stop's schedule may carry: far more signal/seconds pairs than any --retry holds. */
export const CONTROL_MAX_SCHEDULE = 64;

/** A request as the wire carries it, checked before anything is made of it; throws why it is not one. */
export function controlRequest(value: unknown): ControlRequest {
  const req = (typeof value === 'object' && value !== null ? value : {}) as { cmd?: unknown; schedule?: unknown };
  switch (req.cmd) {
    case 'status':
    case 'reload':
    case 'reopen':
      return { cmd: req.cmd };
    case 'stop': {
      const { schedule } = req;
      if (schedule === undefined) return { cmd: 'stop' };
      const fits = Array.isArray(schedule) && schedule.length <= CONTROL_MAX_SCHEDULE && schedule.every(Number.isSafeInteger);
      if (!fits) throw new Error(`a stop schedule is a list of at most ${CONTROL_MAX_SCHEDULE} integers`);
      return { cmd: 'stop', schedule: schedule as number[] };
    }
    default:
      throw new Error(`unknown request ${JSON.stringify(req.cmd) ?? 'undefined'}`);
  }
}

/** Answers the clients of a socket from bindControl, queued ones first: one request a connection, one answer. */
export function serveControl(fd: number, handle: (req: ControlRequest, reply: Reply) => void): Server {
  const server = nodeNet().createServer((conn: Socket) => {
    conn.on('error', () => {});
    const deadline = setTimeout(() => conn.destroy(), CONTROL_REQUEST_MS).unref();
    conn.on('close', () => clearTimeout(deadline));
    const stop = onLines(
      conn,
      (value) => {
        stop();
        clearTimeout(deadline);
        // Nothing more is read from this client: whatever it sends now waits in the kernel, not in our memory.
        conn.pause();
        const reply: Reply = (answer) => {
          if (!conn.destroyed) conn.end(`${JSON.stringify(answer)}\n`, () => conn.destroy());
        };
        try {
          handle(controlRequest(value), reply);
        } catch (e) {
          // A request of the wrong shape (null, a number): answered, so the paused connection is not left open.
          reply({ ok: false, error: `bad request: ${(e as Error).message}` });
        }
      },
      {
        maxBytes: CONTROL_MAX_REQUEST,
        tooLong: () => {
          clearTimeout(deadline);
          conn.pause();
          const answer: ControlAnswer = { ok: false, error: `request too large (limit ${CONTROL_MAX_REQUEST} bytes)` };
          conn.end(`${JSON.stringify(answer)}\n`);
          setTimeout(() => conn.destroy(), CONTROL_LINGER_MS).unref();
        },
      },
    );
  });
  server.maxConnections = CONTROL_MAX_CLIENTS;
  return server.listen({ fd });
}

/** Asks the supervisor; null when nobody answers (no socket, refused, or no answer within timeoutMs). */
export function askControl(path: string, req: ControlRequest, timeoutMs: number): Promise<ControlAnswer | null | { denied: true }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: ControlAnswer | null | { denied: true }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(v);
    };
    const conn = nodeNet().createConnection(path);
    const timer = setTimeout(() => finish(null), timeoutMs);
    conn.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'EACCES' ? { denied: true } : null));
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    // An answer past the cap is not one a supervisor sends: treat it as no answer.
    onLines(conn, (v) => finish(v as ControlAnswer), { maxBytes: CONTROL_MAX_ANSWER, tooLong: () => finish(null) });
    conn.on('close', () => finish(null));
  });
}
