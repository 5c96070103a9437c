// time.h: the monotonic clock. process.hrtime reads clock_gettime(2) CLOCK_MONOTONIC without loading perf_hooks,
// whose ten internal modules cost a Node process several ms at startup.

/** clock_gettime(CLOCK_MONOTONIC) in milliseconds: never jumps with the wall clock. */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}
