// The supervisor's control socket: one JSON request a line, one JSON answer a line, mode 0600.
import { chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { onLines } from './messages.js';
import type { ServiceStatus } from './service-files.js';

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'stop'; schedule?: number[] }
  | { cmd: 'reload' }
  | { cmd: 'reopen' };

export interface ControlAnswer {
  ok: boolean;
  status?: ServiceStatus;
  exitCode?: number;
  message?: string;
  error?: string;
}

export type Reply = (answer: ControlAnswer) => void;

/** Listens at path (replacing a dead supervisor's leftover socket: we hold the PID file lock, so it is ours). */
export function listenControl(path: string, handle: (req: ControlRequest, reply: Reply) => void): Promise<Server> {
  try {
    unlinkSync(path);
  } catch {
    // none left behind
  }
  const server = createServer((conn: Socket) => {
    conn.on('error', () => {});
    onLines(conn, (value) => {
      const req = value as ControlRequest;
      handle(req, (answer) => {
        if (!conn.destroyed) conn.end(`${JSON.stringify(answer)}\n`);
      });
    });
  });
  return new Promise((resolve, reject) => {
    // The socket file must never exist with wider permissions, not even between bind and chmod.
    const old = process.umask(0o177);
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
    process.umask(old);
  });
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
    const conn = createConnection(path);
    const timer = setTimeout(() => finish(null), timeoutMs);
    conn.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'EACCES' ? { denied: true } : null));
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    onLines(conn, (v) => finish(v as ControlAnswer));
    conn.on('close', () => finish(null));
  });
}
