// The liveness verdicts in the compiled planner: the watchdog deadline, when a health probe is due, failures in a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner as p } from '../../src/core/wasm.js';

const NONE = 0;
const { LIVE_WAIT, LIVE_PROBE, LIVE_WATCHDOG_EXPIRED } = {
  LIVE_WAIT: p.LIVE_WAIT.value,
  LIVE_PROBE: p.LIVE_PROBE.value,
  LIVE_WATCHDOG_EXPIRED: p.LIVE_WATCHDOG_EXPIRED.value,
};

test('the tick is the probe interval or a quarter of the watchdog period, the shorter; nothing armed without either', () => {
  assert.equal(p.livenessTickMs(NONE, NONE), 0);
  assert.equal(p.livenessTickMs(10_000, NONE), 10_000);
  assert.equal(p.livenessTickMs(NONE, 2000), 500);
  assert.equal(p.livenessTickMs(300, 2000), 300);
  assert.equal(p.livenessTickMs(10_000, 2000), 500);
  assert.equal(p.livenessTickMs(NONE, 3), 1, 'never under 1 ms');
  assert.equal(p.livenessTickMs(NONE, 1001), 250, 'whole milliseconds');
});

test('a worker past its watchdog deadline is unhealthy, before any probe is considered', () => {
  assert.equal(p.livenessCheck(1000, 0, 0, false, 1000, NONE), LIVE_WAIT, 'exactly at the deadline is still in time');
  assert.equal(p.livenessCheck(1001, 0, 0, false, 1000, NONE), LIVE_WATCHDOG_EXPIRED);
  assert.equal(p.livenessCheck(1001, 0, 0, false, 1000, 500), LIVE_WATCHDOG_EXPIRED, 'not probed again');
  assert.equal(p.livenessCheck(5000, 0, 0, false, NONE, NONE), LIVE_WAIT, 'no watchdog, no deadline');
});

test('a probe is due once an interval has passed since the last one ended, and never while one runs', () => {
  assert.equal(p.livenessCheck(999, 0, 0, false, NONE, 1000), LIVE_WAIT);
  assert.equal(p.livenessCheck(1000, 0, 0, false, NONE, 1000), LIVE_PROBE);
  assert.equal(p.livenessCheck(5000, 0, 0, true, NONE, 1000), LIVE_WAIT, 'one at a time');
  assert.equal(p.livenessCheck(5000, 4500, 4500, false, 2000, 1000), LIVE_WAIT);
});

test('failures count in a row, a success starts again, and the limit makes the worker unhealthy', () => {
  let failures = 0;
  for (const ok of [false, false, true, false, false]) failures = p.healthFailuresAfter(failures, ok);
  assert.equal(failures, 2);
  assert.equal(p.healthFailed(2, 3), false);
  assert.equal(p.healthFailed(p.healthFailuresAfter(2, false), 3), true);
  assert.equal(p.healthFailed(1, 1), true, '--health-failures 1: the first failure');
});
