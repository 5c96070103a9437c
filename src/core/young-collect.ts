// V8 empties its young generation when it fills, and a start's CLI fills it just as its verdict arrives: that
// collection then lies between the verdict and the exit, on every start's critical path. The CLI waits idle for tens of
// milliseconds before the verdict, so it has the collection there instead (figures: bench/RESULTS.md, readiness).

/** Elements of each short-lived array: 64 KiB, under the size V8 gives large objects a space of their own. */
const STEP_ELEMENTS = 8 * 1024;
/** At most this many arrays (16 MiB, V8's largest young generation): a collection comes long before. */
const MAX_STEPS = 256;

/** Holds the latest array only, so that each one dies at the next and none is optimized away. */
const latest: unknown[] = [null];

/**
 * Allocates short-lived arrays until V8 has collected its young generation once, which shows as the heap's used size
 * going down; true when it did. Without --expose-gc (the CLI runs with no V8 flags, which would reject its code cache)
 * allocating is the way to ask for it.
 */
export function collectYoungGeneration(): boolean {
  let used = process.memoryUsage().heapUsed;
  try {
    for (let i = 0; i < MAX_STEPS; i++) {
      latest[0] = new Array(STEP_ELEMENTS);
      const now = process.memoryUsage().heapUsed;
      if (now < used) return true;
      used = now;
    }
    return false;
  } finally {
    latest[0] = null;
  }
}
