// Reports are clipped to fit their reader's limit, whatever a daemon put in them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clipReport, REPORT_MAX_BYTES, type Report } from '../../../src/core/messages.js';

test('a failure report fits the limit, even with long texts in the characters JSON escapes longest', () => {
  const worst = '\u0001'.repeat(REPORT_MAX_BYTES);
  const r = clipReport({ kind: 'failed', message: worst, stack: worst, stderrTail: worst });
  assert.ok(Buffer.byteLength(`${JSON.stringify(r)}\n`) <= REPORT_MAX_BYTES);
  assert.ok(r.kind === 'failed' && r.message.endsWith('…'));
});

test('a text that is not a string (a daemon sent {} as its message) becomes one instead of failing the link', () => {
  const r = clipReport({ kind: 'failed', message: {} } as unknown as Report);
  assert.deepEqual(r, { kind: 'failed', message: '[object Object]', stack: undefined, stderrTail: undefined });
});
