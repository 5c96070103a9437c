// A service's logs: the last lines of a file, and following it like `tail -F` across logrotate's rename and copytruncate.
import { closeSync, fstatSync, readSync, realpathSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { openLogForReading } from './log-file-open.js';

const CHUNK = 64 * 1024;
const NL = 0x0a;
// A tick reads at most this much before yielding, so a huge backlog does not freeze the terminal.
const TICK_BUDGET = 4 * 1024 * 1024;
// A "line" longer than this is passed on in pieces: a log without newlines must not grow our memory forever.
const MAX_PENDING = 1024 * 1024;

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** Reads len bytes at position unless the file ends first; returns how many it got. */
function readAt(fd: number, buf: Buffer, len: number, position: number): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Where a read of a file stopped: the file (device and inode) and the offset. */
export interface FileEnd {
  dev: number;
  ino: number;
  size: number;
}

/**
 * The last n lines of a file, byte for byte (a final newline kept, a last line without one included),
 * read backwards from the end in chunks. A missing file or n <= 0 gives ''.
 */
export function tailLines(path: string, n: number): string {
  return tailLinesTo(path, n).text;
}

/** tailLines, with where it stopped (null: no file), so that following it can start there and lose no line. */
export function tailLinesTo(path: string, n: number): { text: string; end: FileEnd | null } {
  const want = Math.floor(n);
  let fd: number;
  try {
    fd = openLogForReading(path);
  } catch (err) {
    if (isMissing(err)) return { text: '', end: null };
    throw err;
  }
  try {
    const st = fstatSync(fd);
    const size = st.size;
    const stop = { dev: st.dev, ino: st.ino, size };
    if (!(want > 0)) return { text: '', end: stop };
    const chunks: Buffer[] = [];
    let seen = 0;
    let end = size;
    while (end > 0) {
      const from = Math.max(0, end - CHUNK);
      const buf = Buffer.allocUnsafe(end - from);
      const got = readAt(fd, buf, buf.length, from);
      // The file shrank under us: what we have is still a suffix of what it was.
      const data = got === buf.length ? buf : buf.subarray(0, got);
      // The file's own trailing newline ends its last line; it does not start an empty one.
      let i = from + data.length === size ? data.length - 2 : data.length - 1;
      let cut = -1;
      while (i >= 0) {
        const at = data.lastIndexOf(NL, i);
        if (at < 0) break;
        if (++seen === want) {
          cut = at + 1;
          break;
        }
        i = at - 1;
      }
      if (cut >= 0) {
        chunks.unshift(data.subarray(cut));
        break;
      }
      chunks.unshift(data);
      end = from;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), end: stop };
  } finally {
    closeSync(fd);
  }
}

export interface FollowOptions {
  /** Start at the current end of the file (tail -f) rather than its beginning. Default true. A file that appears later is read from its start. */
  fromEnd?: boolean;
  /** The fallback poll, in ms, behind fs.watch on the directory. Default 250. */
  pollMs?: number;
  /** Told about errors other than "missing" (EACCES on a freshly created file, ...); following goes on and retries. */
  onError?: (err: Error) => void;
  /** Where an earlier read of each path stopped (tailLinesTo): the same file is followed from there, not from its end. */
  startAt?: (path: string) => FileEnd | null;
}

export interface Following {
  stop(): void;
}

const sameFile = (a: Stats, b: Stats): boolean => a.ino === b.ino && a.dev === b.dev;

class Follower implements Following {
  readonly #path: string;
  readonly #base: string;
  readonly #dir: string;
  readonly #onData: (chunk: string) => void;
  readonly #onError: ((err: Error) => void) | undefined;
  #fd: number | null = null;
  #pos = 0;
  #pending: Buffer = Buffer.alloc(0);
  #buf = Buffer.allocUnsafe(CHUNK);
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout;
  #scheduled = false;
  #stopped = false;

  constructor(path: string, onData: (chunk: string) => void, opts: FollowOptions) {
    this.#path = path;
    this.#base = basename(path);
    this.#dir = dirname(resolve(path));
    this.#onData = onData;
    this.#onError = opts.onError;
    // Opened synchronously so that `tailLines(); followFile()` in one tick leaves no gap between them.
    try {
      this.#fd = openLogForReading(path);
      const st = fstatSync(this.#fd);
      const read = opts.startAt?.(path);
      // Read up to there already: on from it, unless the file is another one (rotated) or shorter (truncated) now.
      if (read && read.dev === st.dev && read.ino === st.ino && read.size <= st.size) this.#pos = read.size;
      else if (opts.fromEnd ?? true) this.#pos = st.size;
    } catch (err) {
      if (!isMissing(err)) this.#report(err);
    }
    this.#watch();
    // Referenced on purpose: a follow is what keeps `logs -f` running until stop().
    this.#timer = setInterval(() => this.#tick(), opts.pollMs ?? 250);
    this.#schedule();
  }

  stop(): void {
    if (this.#stopped) return;
    clearInterval(this.#timer);
    this.#watcher?.close();
    this.#watcher = null;
    // Whatever was written before stop() is still delivered, the unfinished last line included.
    this.#tick(Infinity);
    this.#stopped = true;
    this.#flushPartial();
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #report(err: unknown): void {
    this.#onError?.(err instanceof Error ? err : new Error(String(err)));
  }

  #watch(): void {
    if (this.#watcher) return;
    try {
      this.#watcher = watch(this.#dir, { persistent: true }, (_event, name) => {
        if (!name || name === this.#base) this.#schedule();
      });
      this.#watcher.on('error', () => {
        // The directory went away: the poll keeps going and watches again once it is back.
        this.#watcher?.close();
        this.#watcher = null;
      });
    } catch {
      this.#watcher = null;
    }
  }

  // A burst of inotify events (one per write) becomes one read.
  #schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#tick();
    });
  }

  #tick(budget = TICK_BUDGET): void {
    if (this.#stopped) return;
    try {
      this.#step(budget);
    } catch (err) {
      this.#report(err);
    }
    if (!this.#watcher && budget !== Infinity) this.#watch();
  }

  #step(budget: number): void {
    if (this.#fd === null) {
      try {
        this.#fd = openLogForReading(this.#path);
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      this.#pos = 0;
    }
    // Bounded: each turn either returns or moves to a newer file; a rotation storm cannot loop us forever.
    for (let turn = 0; turn < 8; turn++) {
      if (!this.#drain(budget)) return this.#schedule();
      const fd = this.#fd!;
      const current = fstatSync(fd);
      let named: Stats;
      try {
        named = statSync(this.#path);
      } catch (err) {
        // Renamed away and not yet recreated: keep reading the old file, the writer may still be on it.
        if (isMissing(err)) return;
        throw err;
      }
      if (sameFile(named, current)) {
        if (current.size < this.#pos) {
          // copytruncate: the file shrank. The unfinished line's rest went with the copy, so it is dropped.
          this.#pos = 0;
          this.#pending = Buffer.alloc(0);
          continue;
        }
        return;
      }
      let next: number;
      try {
        next = openLogForReading(this.#path);
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      const nextStat = fstatSync(next);
      if (sameFile(nextStat, current) || nextStat.size === 0) {
        // A new but empty file: the writer has not reopened yet and may still append to the old one, so stay there.
        closeSync(next);
        if (sameFile(nextStat, current)) continue;
        return;
      }
      // The new file has bytes, so the (single) writer is done with the old one: read the old one to its end, then switch.
      if (!this.#drain(Infinity)) return this.#schedule();
      this.#flushPartial();
      closeSync(fd);
      this.#fd = next;
      this.#pos = 0;
    }
    this.#schedule();
  }

  /** Reads the current file from #pos; true when it reached the end, false when the budget ran out first. */
  #drain(budget: number): boolean {
    const fd = this.#fd!;
    let read = 0;
    for (;;) {
      if (read >= budget) return false;
      const n = readSync(fd, this.#buf, 0, CHUNK, this.#pos);
      if (n === 0) return true;
      this.#pos += n;
      read += n;
      this.#push(this.#buf.subarray(0, n));
    }
  }

  #push(data: Buffer): void {
    const last = data.lastIndexOf(NL);
    if (last < 0) {
      this.#pending = Buffer.concat([this.#pending, data]);
      if (this.#pending.length > MAX_PENDING) this.#flushPartial();
      return;
    }
    // Split on the byte 0x0a: it never occurs inside a UTF-8 sequence, so every piece decodes whole.
    const lines = this.#pending.length ? Buffer.concat([this.#pending, data.subarray(0, last + 1)]) : data.subarray(0, last + 1);
    this.#pending = Buffer.from(data.subarray(last + 1));
    this.#onData(lines.toString('utf8'));
  }

  #flushPartial(): void {
    if (this.#pending.length === 0) return;
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    this.#onData(rest.toString('utf8') + '\n');
  }
}

/**
 * Follows a file like `tail -F`: passes on whole lines as they are appended; survives rename rotation (the old
 * file is read to its end, then the new one from its start), copytruncate (restart at 0) and the file missing for a while.
 */
export function followFile(path: string, onData: (chunk: string) => void, opts: FollowOptions = {}): Following {
  return new Follower(path, onData, opts);
}

/** Follows several files (a service's stdout and stderr logs); the same file named twice is followed once. */
export function followFiles(paths: string[], onData: (chunk: string, path: string) => void, opts: FollowOptions = {}): Following {
  const unique = new Map<string, string>();
  for (const p of paths) {
    let key: string;
    try {
      key = realpathSync(p);
    } catch {
      key = resolve(p);
    }
    if (!unique.has(key)) unique.set(key, p);
  }
  const followers = [...unique.values()].map((p) => followFile(p, (chunk) => onData(chunk, p), opts));
  return {
    stop() {
      for (const f of followers) f.stop();
    },
  };
}
