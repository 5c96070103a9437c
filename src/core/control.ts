// The supervisor's control socket: one JSON request a line, one JSON answer a line, mode 0600.
import { chmodSync, unlinkSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { onLines } from './messages.js';
import { nodeNet } from './lazy-net.js';
import { listenUnix } from '../sys/socket.js';
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
  // The socket file must never exist with wider permissions, not even between bind and chmod.
  const old = process.umask(0o177);
  try {
    const fd = listenUnix(path, 511);
    chmodSync(path, 0o600);
    return fd;
  } finally {
    process.umask(old);
  }
}

/** Answers the clients of a socket from bindControl, queued ones first. */
export function serveControl(fd: number, handle: (req: ControlRequest, reply: Reply) => void): Server {
  const server = nodeNet().createServer((conn: Socket) => {
    conn.on('error', () => {});
    onLines(conn, (value) => {
      const req = value as ControlRequest;
      handle(req, (answer) => {
        if (!conn.destroyed) conn.end(`${JSON.stringify(answer)}\n`);
      });
    });
  });
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
    onLines(conn, (v) => finish(v as ControlAnswer));
    conn.on('close', () => finish(null));
  });
}
