// The few messages that cross between the original, the new session and the daemon: one JSON object a line.
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Normalized } from '../options.js';
import type { PlannedStep } from './step-runner.js';

/** original → new session: what to start. */
export interface SessionOrder {
  kind: 'order';
  options: Normalized;
  daemon: { path: string; argv: string[] };
  /** The daemon speaks the ready protocol (a daemonkit library daemon) instead of being ready when alive. */
  readyProtocol: boolean;
  /** The plan the original made (and `daemonkit plan` prints): the new session and the daemon run their shares of it. */
  steps: PlannedStep[];
}

/** new session → original, and daemon → intermediate. */
export type Report =
  | { kind: 'busy'; pid: number | null }
  | { kind: 'spawned'; pid: number }
  | { kind: 'ready'; pid: number }
  | { kind: 'failed'; pid?: number; message: string; stack?: string; status?: number; statusText?: string; stderrTail?: string }
  | { kind: 'error'; message: string; code?: string; path?: string };

const NEWLINE = 0x0a;

/**
 * The longest report line read from a daemon or a new session, which may run as the service user: past it the sender
 * is stopped. A failure's texts, clipped by sendReport, fit well within it.
 */
export const REPORT_MAX_BYTES = 256 * 1024;
/** How much of each text a failure report carries, in UTF-16 units: each is at most 6 bytes once in JSON. */
const REPORT_TEXT_UNITS = { message: 4096, stack: 16384, stderrTail: 8192 } as const;

/** A report's text, clipped; whatever a daemon put there that is not a string becomes one first. */
const clip = (value: unknown, units: number): string | undefined => {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : String(value);
  return text.length <= units ? text : `${text.slice(0, units)}…`;
};

/** The report with its texts clipped, so that its line fits REPORT_MAX_BYTES whatever the daemon's error said. */
export function clipReport(r: Report): Report {
  if (r.kind === 'error') return { ...r, message: clip(r.message, REPORT_TEXT_UNITS.message)! };
  if (r.kind !== 'failed') return r;
  return {
    ...r,
    message: clip(r.message, REPORT_TEXT_UNITS.message)!,
    stack: clip(r.stack, REPORT_TEXT_UNITS.stack),
    stderrTail: clip(r.stderrTail, REPORT_TEXT_UNITS.stderrTail),
  };
}

/** A cap on one line's bytes (its newline included): past it, reading stops and tooLong is called once. */
export interface LineLimit {
  maxBytes: number;
  tooLong: () => void;
}

/**
 * Splits a byte stream into JSON lines: push() each chunk as it comes, handle() is called once per complete line; a
 * partial line at the end is dropped (its writer died mid-write). Each byte is scanned once: a chunk's pieces are kept
 * as they came and joined only when their newline arrives. After stop() (the handler may call it) nothing more is read.
 */
export function lineSplitter(handle: (value: unknown) => void, limit?: LineLimit): { push(chunk: Buffer): void; stop(): void } {
  let parts: Buffer[] = [];
  let size = 0;
  let stopped = false;
  const stop = () => {
    stopped = true;
    parts = [];
  };
  function push(chunk: Buffer): void {
    if (stopped) return;
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      size += nl - from;
      if (limit && size + 1 > limit.maxBytes) return overflow();
      const piece = chunk.subarray(from, nl);
      const line = parts.length ? Buffer.concat([...parts, piece], size) : piece;
      parts = [];
      size = 0;
      from = nl + 1;
      if (!line.length) continue;
      try {
        handle(JSON.parse(line.toString('utf8')));
      } catch {
        // a line that is not JSON is not ours: ignore it
      }
      // The handler may have stopped us: the rest of the chunk is not ours to read.
      if (stopped) return;
    }
    if (from === chunk.length) return;
    parts.push(chunk.subarray(from));
    size += chunk.length - from;
    // No newline yet and no room left for one: it cannot end within the limit.
    if (limit && size + 1 > limit.maxBytes) overflow();
  }
  function overflow(): void {
    stop();
    limit!.tooLong();
  }
  return { push, stop };
}

/**
 * lineSplitter on a socket's data. Returns a stop function: after it, lines are no longer read (the stream's data is
 * left to whoever reads it, or dropped).
 */
export function onLines(socket: Socket, handle: (value: unknown) => void, limit?: LineLimit): () => void {
  const onData = (chunk: Buffer) => lines.push(chunk);
  const detach = () => socket.removeListener('data', onData);
  const tooLong = limit && { maxBytes: limit.maxBytes, tooLong: () => (detach(), limit.tooLong()) };
  const lines = lineSplitter(handle, tooLong);
  socket.on('data', onData);
  return () => {
    lines.stop();
    detach();
  };
}

/** sendSync of a report, clipped to fit its reader's limit. */
export function sendReport(fd: number, r: Report): void {
  sendSync(fd, clipReport(r));
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
