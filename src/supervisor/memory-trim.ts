// Hands the supervisor's free memory back to the kernel once a burst of work is over.
import { mallocTrim } from '../sys/malloc.js';
import { monotonicMs } from '../sys/time.js';

const TRIM_QUIET_MS = 1000;
const TRIM_MAX_WAIT_MS = 10_000;
/** V8's full collection, when the supervisor runs with --expose-gc (start.ts): frees Buffers' native memory before the trim. */
const fullGc = (globalThis as { gc?: () => void }).gc;

/**
 * Once a burst of work (start, restarts, control requests) has been quiet for a second (at most TRIM_MAX_WAIT_MS
 * under steady work), run a full V8 collection and hand malloc's free pages back to the kernel. Buffers read from
 * workers' pipes stay in malloc's heap until V8 collects their objects, which its young-generation passes miss once
 * they are promoted, so without the full collection anonymous memory creeps up (soak figures: RELIABILITY.md). Not
 * inside a burst: a collection there slows it. One-shot and unref'd: idle arms nothing.
 */
export class MemoryTrim {
  #timer: NodeJS.Timeout | null = null;
  #lastWork = 0;

  /** Work happened now: trim once it has been quiet for a while. */
  soon(): void {
    this.#lastWork = monotonicMs();
    if (this.#timer) return;
    const armed = this.#lastWork;
    const check = () => {
      const quiet = monotonicMs() - this.#lastWork;
      if (quiet < TRIM_QUIET_MS && monotonicMs() - armed < TRIM_MAX_WAIT_MS) {
        this.#timer = setTimeout(check, TRIM_QUIET_MS - quiet).unref();
        return;
      }
      this.#timer = null;
      fullGc?.();
      mallocTrim();
    };
    this.#timer = setTimeout(check, TRIM_QUIET_MS).unref();
  }
}
