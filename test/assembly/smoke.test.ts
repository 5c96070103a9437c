import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';

test('planner loads from the compiled wasm', () => {
  assert.equal(planner.parseUmask('abc'), 3);
});
