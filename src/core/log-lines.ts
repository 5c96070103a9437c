// A service's log as lines: the last N of each file, and following them as an async iterator for `logs({ follow })`.
import { followFiles, tailLines, tailLinesTo, type FileEnd } from './log-tail.js';

/** The text split into lines, the final newline ending the last line rather than starting an empty one. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The last n lines of each file, file after file (stdout's log, then stderr's when it is another file). */
export function lastLines(paths: string[], n: number): string[] {
  return paths.flatMap((p) => splitLines(tailLines(p, n)));
}

/**
 * The last n lines, then every line appended, across rotation, until the iterator is returned (a `break` out of
 * `for await`) or the signal aborts. Following starts now, not at the first next(): a line written between this
 * call and the first read is not lost.
 */
export function followLines(paths: string[], n: number, signal?: AbortSignal): AsyncIterableIterator<string> {
  const queue: string[] = [];
  const waiting: ((r: IteratorResult<string>) => void)[] = [];
  let done = false;
  const push = (line: string) => {
    const next = waiting.shift();
    if (next) next({ value: line, done: false });
    else queue.push(line);
  };
  const ends = new Map<string, FileEnd | null>();
  for (const path of paths) {
    const { text, end } = tailLinesTo(path, n);
    // A last line still being written is left to the follower, which passes it on whole once its newline comes.
    const whole = text.slice(0, text.lastIndexOf('\n') + 1);
    const rest = Buffer.byteLength(text) - Buffer.byteLength(whole);
    ends.set(path, end && { ...end, size: end.size - rest });
    for (const line of splitLines(whole)) push(line);
  }
  // Each file followed from where its last lines were read: a line written in between is not lost.
  const following = followFiles(
    paths,
    (chunk) => {
      for (const line of splitLines(chunk)) push(line);
    },
    { startAt: (path) => ends.get(path) ?? null },
  );
  const finish = (): IteratorResult<string> => {
    if (!done) {
      done = true;
      signal?.removeEventListener('abort', onAbort);
      following.stop();
      for (const w of waiting.splice(0)) w({ value: undefined, done: true });
    }
    return { value: undefined, done: true };
  };
  const onAbort = () => {
    finish();
  };
  if (signal?.aborted) finish();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    next() {
      if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    return() {
      queue.length = 0;
      return Promise.resolve(finish());
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
