// Workers' output, line by line, into the service's log files: whole lines only, reopened on demand, never blocking a worker.
import { closeSync, openSync, writeSync } from 'node:fs';
import { nodeNet } from './lazy-net.js';
import { logFileOf, type StdioTarget } from '../options.js';

/** Output kept in memory while the log cannot be written (disk full, directory gone); the oldest goes first beyond it. */
const PENDING_CAP = 16 * 1024 * 1024;
/** A "line" longer than this is written as it is rather than held forever. */
const MAX_LINE = 64 * 1024;
const RETRY_MS = 1000;

class LogFile {
  fd: number | null = null;
  pending: Buffer[] = [];
  pendingBytes = 0;
  droppedBytes = 0;
  error: string | null = null;
  #retry: NodeJS.Timeout | null = null;

  /** onChange: told each new error text, and null on recovery (a transition, never once per failed write). */
  constructor(
    readonly path: string,
    private readonly onChange: (error: string | null, path: string) => void,
  ) {
    this.open();
  }

  open(): void {
    try {
      this.fd = openSync(this.path, 'a', 0o644);
    } catch (e) {
      this.fd = null;
      this.fail(e);
    }
  }

  reopen(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.open();
    this.flush();
  }

  write(buf: Buffer): void {
    if (this.pending.length === 0 && this.fd !== null) {
      const n = this.#tryWrite(buf);
      if (n === buf.length) return;
      buf = buf.subarray(n);
    }
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    while (this.pendingBytes > PENDING_CAP && this.pending.length > 1) {
      const dropped = this.pending.shift()!;
      this.pendingBytes -= dropped.length;
      this.droppedBytes += dropped.length;
    }
    this.#scheduleRetry();
  }

  flush(): void {
    if (this.fd === null) this.open();
    while (this.pending.length && this.fd !== null) {
      const head = this.pending[0]!;
      const n = this.#tryWrite(head);
      this.pendingBytes -= n;
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        break;
      }
      this.pending.shift();
    }
    if (this.pending.length) this.#scheduleRetry();
    else if (this.fd !== null && this.error && !this.error.startsWith('recovered')) {
      this.error = this.droppedBytes ? `recovered; ${this.droppedBytes} bytes were dropped while ${this.path} could not be written` : null;
      this.onChange(null, this.path);
    }
  }

  fail(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    const error = `${this.path}: ${err.code ?? err.message}`;
    if (error === this.error) return;
    this.error = error;
    this.onChange(error, this.path);
  }

  /** How much of buf reached the file before an error (ENOSPC, EIO...), which is recorded for status. */
  #tryWrite(buf: Buffer): number {
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd!, buf, off);
    } catch (e) {
      this.fail(e);
    }
    return off;
  }

  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.flush();
    }, RETRY_MS);
  }

  close(): void {
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export class LogSink {
  #files = new Map<string, LogFile>();
  #streams: [LogFile | null, LogFile | null];
  readonly #onChange: (error: string | null, path: string) => void;
  /** Pipes attached before goLive, read from then on (their output waits in the pipe). */
  #waiting: (() => void)[] | null = [];

  /** onChange: a log file started failing (its error) or recovered (null). */
  constructor(stdout: StdioTarget, stderr: StdioTarget, onChange: (error: string | null, path: string) => void = () => {}) {
    this.#onChange = onChange;
    this.#streams = [this.#fileFor(stdout), this.#fileFor(stderr)];
  }

  #fileFor(t: StdioTarget): LogFile | null {
    const path = logFileOf(t);
    if (!path) return null;
    let f = this.#files.get(path);
    if (!f) this.#files.set(path, (f = new LogFile(path, (error, p) => this.#onChange(error, p))));
    return f;
  }

  /**
   * Reads a worker's pipe and passes on whole lines. `tail` keeps the last bytes for a start failure's report.
   * Resolves when the pipe closes (every writer gone), after the last partial line is written.
   */
  attach(readFd: number, stream: 0 | 1, tail?: (chunk: Buffer) => void): Promise<void> {
    return new Promise((resolve) => {
      const read = () => this.#read(readFd, stream, resolve, tail);
      if (this.#waiting) this.#waiting.push(read);
      else read();
    });
  }

  /** Starts reading the pipes attached so far, and every later one at once. */
  goLive(): void {
    const waiting = this.#waiting ?? [];
    this.#waiting = null;
    for (const read of waiting) read();
  }

  #read(readFd: number, stream: 0 | 1, resolve: () => void, tail?: (chunk: Buffer) => void): void {
    const file = this.#streams[stream];
    const pipe = new (nodeNet().Socket)({ fd: readFd, readable: true, writable: false });
    let partial: Buffer | null = null;
    pipe.on('data', (chunk: Buffer) => {
      tail?.(chunk);
      if (!file) return;
      const nl = chunk.lastIndexOf(10);
      if (nl < 0) {
        partial = partial ? Buffer.concat([partial, chunk]) : chunk;
        if (partial.length > MAX_LINE) {
          file.write(partial);
          partial = null;
        }
        return;
      }
      const whole = chunk.subarray(0, nl + 1);
      file.write(partial ? Buffer.concat([partial, whole]) : whole);
      partial = nl + 1 < chunk.length ? Buffer.from(chunk.subarray(nl + 1)) : null;
    });
    pipe.on('error', () => {});
    pipe.on('close', () => {
      if (partial && file) file.write(Buffer.concat([partial, Buffer.from('\n')]));
      partial = null;
      resolve();
    });
  }

  /** One whole line of our own to a stream's file, held and retried like workers' output when it cannot be written. */
  line(stream: 0 | 1, text: string): void {
    this.#streams[stream]?.write(Buffer.from(text.endsWith('\n') ? text : `${text}\n`));
  }

  reopen(): void {
    for (const f of this.#files.values()) f.reopen();
  }

  /** The first log problem, for `status`; null when every log is being written. */
  get error(): string | null {
    for (const f of this.#files.values()) if (f.error) return f.error;
    return null;
  }

  close(): void {
    for (const f of this.#files.values()) {
      f.flush();
      f.close();
    }
  }
}
