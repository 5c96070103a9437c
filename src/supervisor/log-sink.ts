// Workers' output, line by line, into the service's log files: whole lines only, reopened on demand, never blocking a worker.
import { closeSync, writeSync } from 'node:fs';
import { nodeNet } from '../core/lazy-net.js';
import { logFileOf, type StdioTarget } from '../core/option-values.js';
import { openLogFile } from '../core/log-file-open.js';
import { dup2 } from '../sys/unistd.js';
import type { FsIdentity } from '../core/as-user.js';
import { LogFileError } from '../errors.js';

/** Output kept in memory while the log cannot be written (disk full, directory gone); the oldest goes first beyond it. */
const PENDING_CAP = 16 * 1024 * 1024;
/** A line longer than this is cut into lines this long that end with CONTINUED, rather than held forever. */
export const MAX_LINE = 64 * 1024;
/** Ends each piece of a cut line but the last: strip it and join the pieces to get the line back. */
export const CONTINUED = ' …[continued]';
const CONTINUED_NL = Buffer.from(`${CONTINUED}\n`);
const NL = Buffer.from('\n');
const RETRY_MS = 1000;

class LogFile {
  fd: number | null = null;
  pending: Buffer[] = [];
  pendingBytes = 0;
  droppedBytes = 0;
  error: string | null = null;
  /** Why the last reopen kept the previous file (a symlink or a FIFO at the path), until one succeeds. */
  refused: string | null = null;
  /** pending[0] is the rest of a block the file has the start of: dropping it would glue that cut line to the next. */
  #headCut = false;
  #retry: NodeJS.Timeout | null = null;

  /** onChange: told each new error text, and null on recovery (a transition, never once per failed write). */
  constructor(
    readonly path: string,
    private readonly onChange: (error: string | null, path: string) => void,
    private readonly serviceUser: FsIdentity | null,
  ) {
    try {
      this.fd = openLogFile(path, serviceUser);
    } catch (e) {
      // Refused at start (a symlink, a FIFO): the start fails, with the refusal as its reason.
      if (e instanceof LogFileError && e.refused) throw e;
      this.fail(e);
    }
  }

  open(): void {
    try {
      this.fd = openLogFile(this.path, this.serviceUser);
    } catch (e) {
      this.fd = null;
      this.fail(e);
    }
  }

  /** A refusal keeps the previous file open and written, and returns what was refused; any other failure is held like a full disk. */
  reopen(): string | null {
    let fd: number;
    try {
      fd = openLogFile(this.path, this.serviceUser);
    } catch (e) {
      if (e instanceof LogFileError && e.refused && this.fd !== null) {
        this.refused = `reopen refused: ${e.short}; still writing the previous file`;
        return this.refused;
      }
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      this.refused = null;
      this.fail(e);
      return null;
    }
    if (this.fd !== null) closeSync(this.fd);
    this.fd = fd;
    this.refused = null;
    this.flush();
    return null;
  }

  write(buf: Buffer): void {
    if (this.pending.length === 0 && this.fd !== null) {
      const n = this.#tryWrite(buf);
      if (n === buf.length) return;
      this.#headCut = n > 0;
      buf = buf.subarray(n);
    }
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    // Oldest first, whole blocks of whole lines; never the rest of a cut one, which the file needs to end that line.
    const keep = () => (this.#headCut ? 2 : 1);
    while (this.pendingBytes > PENDING_CAP && this.pending.length > keep()) {
      const [dropped] = this.pending.splice(keep() - 1, 1);
      this.pendingBytes -= dropped!.length;
      this.droppedBytes += dropped!.length;
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
        this.#headCut ||= n > 0;
        break;
      }
      this.pending.shift();
      this.#headCut = false;
    }
    if (this.pending.length) this.#scheduleRetry();
    else if (this.fd !== null && this.error && !this.error.startsWith('recovered')) {
      this.error = this.droppedBytes ? `recovered; ${this.droppedBytes} bytes were dropped while ${this.path} could not be written` : null;
      this.onChange(null, this.path);
    }
  }

  fail(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    const error = e instanceof LogFileError && e.refused ? e.message : `${this.path}: ${err.code ?? err.message}`;
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

export interface LogSinkOptions {
  /** Who a root supervisor opens the logs as where others can write their directory (openLogFile). */
  serviceUser?: FsIdentity | null;
  /** Prefix each line of workers' output with the time it was read (our own lines always have it). */
  time?: boolean;
}

export class LogSink {
  #files = new Map<string, LogFile>();
  #streams: [LogFile | null, LogFile | null];
  /** Streams that are this process's own (run's default): our lines go straight to fd 1 or 2. */
  #inherited: [boolean, boolean];
  readonly #onChange: (error: string | null, path: string) => void;
  readonly #serviceUser: FsIdentity | null;
  readonly #time: boolean;
  /** Pipes attached before goLive, read from then on (their output waits in the pipe). */
  #waiting: (() => void)[] | null = [];

  /** onChange: a log file started failing (its error) or recovered (null). Throws LogFileError when a log is refused. */
  constructor(
    stdout: StdioTarget,
    stderr: StdioTarget,
    onChange: (error: string | null, path: string) => void = () => {},
    options: LogSinkOptions = {},
  ) {
    this.#onChange = onChange;
    this.#serviceUser = options.serviceUser ?? null;
    this.#time = options.time ?? false;
    this.#streams = [this.#fileFor(stdout), this.#fileFor(stderr)];
    this.#inherited = [stdout.kind === 'inherit', stderr.kind === 'inherit'];
  }

  #fileFor(t: StdioTarget): LogFile | null {
    const path = logFileOf(t);
    if (!path) return null;
    let f = this.#files.get(path);
    if (!f) this.#files.set(path, (f = new LogFile(path, (error, p) => this.#onChange(error, p), this.#serviceUser)));
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
    /** The line begun and not yet ended: never longer than MAX_LINE (longer is written in pieces). */
    let partial: Buffer | null = null;
    const put = (out: Buffer[]) => {
      if (out.length === 0) return;
      const block = out.length === 1 ? out[0]! : Buffer.concat(out);
      // One write of whole lines: another worker's output can only come before or after it.
      file!.write(this.#time ? stamped(block) : block);
    };
    pipe.on('data', (chunk: Buffer) => {
      tail?.(chunk);
      if (!file) return;
      const out: Buffer[] = [];
      let rest = chunk;
      if (partial) {
        const first = chunk.indexOf(10);
        if (first < 0) {
          partial = Buffer.concat([partial, chunk]);
          rest = chunk.subarray(chunk.length);
        } else {
          cutLine(Buffer.concat([partial, chunk.subarray(0, first)]), out);
          partial = null;
          rest = chunk.subarray(first + 1);
        }
      }
      const nl = rest.lastIndexOf(10);
      if (nl >= 0) wholeLines(rest.subarray(0, nl + 1), out);
      if (nl + 1 < rest.length) partial = Buffer.from(rest.subarray(nl + 1));
      while (partial && partial.length > MAX_LINE) {
        const cut = utf8Boundary(partial, MAX_LINE);
        out.push(partial.subarray(0, cut), CONTINUED_NL);
        partial = Buffer.from(partial.subarray(cut));
      }
      put(out);
    });
    pipe.on('error', () => {});
    pipe.on('close', () => {
      if (partial && file) {
        const out: Buffer[] = [];
        cutLine(partial, out);
        put(out);
      }
      partial = null;
      resolve();
    });
  }

  /** One whole line of our own to a stream's file, always with the time, held and retried like workers' output. */
  line(stream: 0 | 1, text: string): void {
    if (this.#inherited[stream]) return writeOwn(stream + 1, `${new Date().toISOString()} ${text.endsWith('\n') ? text : `${text}\n`}`);
    this.#streams[stream]?.write(Buffer.from(`${new Date().toISOString()} ${text.endsWith('\n') ? text : `${text}\n`}`));
  }

  /** Puts the file `stream` is written to (if a file) on fd `target` too: dup2(2). */
  pointAt(stream: 0 | 1, target: number): void {
    const fd = this.#streams[stream]?.fd;
    if (fd !== null && fd !== undefined) dup2(fd, target);
  }

  /** Reopens every log file (after a rotation); returns the first refusal (the previous file kept), or null. */
  reopen(): string | null {
    let refused: string | null = null;
    for (const f of this.#files.values()) refused = f.reopen() ?? refused;
    return refused;
  }

  /** The first log problem, for `status`; null when every log is being written. */
  get error(): string | null {
    for (const f of this.#files.values()) if (f.refused ?? f.error) return f.refused ?? f.error;
    return null;
  }

  close(): void {
    for (const f of this.#files.values()) {
      f.flush();
      f.close();
    }
  }
}

/** Where to cut buf near `at` so a UTF-8 character is not split (at most 3 bytes back; invalid UTF-8 is cut at `at`). */
function utf8Boundary(buf: Buffer, at: number): number {
  for (let back = 0; back < 4; back++) if ((buf[at - back]! & 0xc0) !== 0x80) return at - back;
  return at;
}

/** One line (without its newline) to out: as it is, or cut into pieces of MAX_LINE bytes, each but the last CONTINUED. */
function cutLine(line: Buffer, out: Buffer[]): void {
  while (line.length > MAX_LINE) {
    const cut = utf8Boundary(line, MAX_LINE);
    out.push(line.subarray(0, cut), CONTINUED_NL);
    line = line.subarray(cut);
  }
  out.push(line, NL);
}

/** A block of whole lines (ending with a newline) to out, any line in it over MAX_LINE cut. */
function wholeLines(block: Buffer, out: Buffer[]): void {
  if (block.length <= MAX_LINE + 1) return void out.push(block);
  for (let start = 0; start < block.length;) {
    const nl = block.indexOf(10, start);
    cutLine(block.subarray(start, nl), out);
    start = nl + 1;
  }
}

/** Each line of a block of whole lines with the UTC time it was read in front (ISO-8601, milliseconds). */
function stamped(block: Buffer): Buffer {
  const prefix = Buffer.from(`${new Date().toISOString()} `);
  const parts: Buffer[] = [];
  for (let start = 0; start < block.length;) {
    const nl = block.indexOf(10, start);
    parts.push(prefix, block.subarray(start, nl + 1));
    start = nl + 1;
  }
  return Buffer.concat(parts);
}

/** A line of ours to our own stdout or stderr; a reader gone (EPIPE) or a full pipe loses the line, never the service. */
function writeOwn(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // nobody reads it
  }
}
