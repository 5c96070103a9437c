// The one wait-until helper for test/, bench/ and scripts/ (plain ESM so those run it without a build; types in poll.d.mts).

const sab = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for ms (fractions work): for synchronous polling, free of event-loop jitter. */
export function sleepSync(ms) {
  Atomics.wait(sab, 0, 0, ms);
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on a monotonic clock. */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

const STEP_MS = 10;
const TIMEOUT_MS = 5000;

/**
 * Calls cond() (which may return a promise) every stepMs until it gives a truthy value, then returns that value;
 * null once timeoutMs has passed. cond is always called once more after the deadline, so a slow step cannot starve it.
 */
export async function poll(cond, { stepMs = STEP_MS, timeoutMs = TIMEOUT_MS } = {}) {
  const end = now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (now() > end) return null;
    await sleep(stepMs);
  }
}

/** poll, blocking the thread between calls: for conditions that must be seen at once, or code with no event loop. */
export function pollSync(cond, { stepMs = STEP_MS, timeoutMs = TIMEOUT_MS } = {}) {
  const end = now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (now() > end) return null;
    sleepSync(stepMs);
  }
}

/** poll for tests: whether cond() came true within timeoutMs. */
export async function waitFor(cond, timeoutMs = TIMEOUT_MS, stepMs = STEP_MS) {
  return (await poll(cond, { stepMs, timeoutMs })) !== null;
}
