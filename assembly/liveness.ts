// Liveness of a ready worker: the --watchdog deadline, when a --health probe is due, and when failed probes make it
// unhealthy. The host keeps the clock and the per-worker numbers and runs the probes; every verdict is here.

/** Nothing to do about the worker now. */
export const LIVE_WAIT: i32 = 0;
/** A health probe is due. */
export const LIVE_PROBE: i32 = 1;
/** No WATCHDOG=1 within the --watchdog period: the worker is unhealthy. */
export const LIVE_WATCHDOG_EXPIRED: i32 = 2;

/** How many times per watchdog period its deadline is checked: a silent worker is caught within 1.25 periods. */
const WATCHDOG_CHECKS: f64 = 4;

/**
 * How often the host looks at its ready workers: the probe interval or a quarter of the watchdog period, the
 * shorter; 0 when neither is configured (0 means "none" for both), so nothing is armed and nothing wakes up.
 */
export function livenessTickMs(healthIntervalMs: f64, watchdogMs: f64): f64 {
  let tick: f64 = 0;
  if (healthIntervalMs > 0) tick = healthIntervalMs;
  if (watchdogMs > 0) {
    const part = Math.max(1, Math.floor(watchdogMs / WATCHDOG_CHECKS));
    tick = tick > 0 ? Math.min(tick, part) : part;
  }
  return tick;
}

/**
 * What to do about one ready worker at nowMs: its watchdog deadline started at sinceMs (its last ping, or when it was
 * first seen ready), its last probe ended at lastProbeMs, and probing says one is running. The watchdog comes first:
 * a worker past its deadline is not probed again.
 */
export function livenessCheck(nowMs: f64, sinceMs: f64, lastProbeMs: f64, probing: bool, watchdogMs: f64, healthIntervalMs: f64): i32 {
  if (watchdogMs > 0 && nowMs - sinceMs > watchdogMs) return LIVE_WATCHDOG_EXPIRED;
  if (healthIntervalMs > 0 && !probing && nowMs - lastProbeMs >= healthIntervalMs) return LIVE_PROBE;
  return LIVE_WAIT;
}

/** Failed probes in a row after one more result: a success starts the count again. */
export function healthFailuresAfter(failures: i32, ok: bool): i32 {
  return ok ? 0 : failures + 1;
}

/** Whether that many failed probes in a row (--health-failures is the limit) make the worker unhealthy. */
export function healthFailed(failures: i32, limit: i32): bool {
  return failures >= limit;
}
