// The few messages that cross between the original, the new session and the daemon: one JSON object a line.
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Normalized } from '../options.js';

/** original → new session: what to start. */
export interface SessionOrder {
  kind: 'order';
  options: Normalized;
  daemon: { path: string; argv: string[] };
  /** The daemon speaks the ready protocol (a daemonkit library daemon) instead of being ready when alive. */
  readyProtocol: boolean;
}

/** new session → original, and daemon → intermediate. */
export type Report =
  | { kind: 'busy'; pid: number | null }
  | { kind: 'spawned'; pid: number }
  | { kind: 'ready'; pid: number }
  | { kind: 'failed'; pid?: number; message: string; stack?: string; status?: number; statusText?: string; stderrTail?: string }
  | { kind: 'error'; message: string; code?: string; path?: string };

/** Calls back once per complete line; a partial line at EOF is dropped (its writer died mid-write). */
export function onLines(socket: Socket, handle: (value: unknown) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      try {
        handle(JSON.parse(line));
      } catch {
        // a line that is not JSON is not ours: ignore it
      }
    }
  });
}

/** Writes one message synchronously: safe in 'exit' and uncaught-exception hooks, where nothing async runs. */
export function sendSync(fd: number, message: object): void {
  const data = Buffer.from(`${JSON.stringify(message)}\n`);
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
  }
}
