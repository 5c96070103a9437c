// The fd plan with fds above 1023: a supervisor of 1,024 workers holds two pipes each, so the fds it hands a worker
// go far past the default soft RLIMIT_NOFILE; only the kernel's own ceiling bounds them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';
import { planFds } from '../../src/core/plan.js';

const NULL = 1;
const FROM = 4;
const DUP2 = 2;
const CLOSEFROM = 4;
/** fs.nr_open's default: no RLIMIT_NOFILE goes past it unless an administrator raised it. */
const NR_OPEN = 1 << 20;

const planError = (targets: number[], preserve: number[] = []) => planner.fdPlanError(Int32Array.from(targets), Int32Array.from(preserve));

function plan(targets: number[], preserve: number[] = []): number[][] {
  const flat = Array.from(planner.planFds(Int32Array.from(targets), Int32Array.from(preserve)));
  const out: number[][] = [];
  for (let i = 0; i < flat.length; i += 4) out.push(flat.slice(i, i + 4));
  return out;
}

test("a worker's pipes at fds 1024 and above become its stdout and stderr", () => {
  for (const high of [1024, 2047, 5000, 65_535, NR_OPEN - 1]) {
    assert.equal(planError([0, NULL, 0, 1, FROM, high, 2, FROM, high - 1]), '', String(high));
    assert.deepEqual(plan([0, NULL, 0, 1, FROM, high, 2, FROM, high - 1]), [
      [DUP2, high, 1, 0],
      [DUP2, high - 1, 2, 0],
      [1, 0, NULL, -1],
      [CLOSEFROM, 3, 0, 0],
    ]);
  }
});

test('a preserved fd above 1023 is kept, every fd below it closed', () => {
  assert.equal(planError([0, NULL, 0], [1500]), '');
  const actions = plan([0, NULL, 0], [1500]);
  assert.deepEqual(actions[0], [DUP2, 1500, 1500, 0]);
  assert.equal(actions.filter(([op]) => op === 3).length, 1499);
  assert.deepEqual(actions.at(-1), [CLOSEFROM, 1501, 0, 0]);
});

test("past the kernel's ceiling the plan is refused with the reason", () => {
  assert.equal(planError([1, FROM, NR_OPEN]), `fd 1: source fd ${NR_OPEN} is above ${NR_OPEN - 1}`);
  assert.equal(planError([], [NR_OPEN]), `preserved fd ${NR_OPEN} is above ${NR_OPEN - 1}`);
  assert.equal(planError([NR_OPEN, NULL, 0]), `target fd ${NR_OPEN} is above ${NR_OPEN - 1}`);
});

test("the host side throws the wasm's reason for a plan it refused", () => {
  assert.throws(
    () =>
      planFds([
        [1, { kind: 'null' }],
        [1, { kind: 'fd', fd: 3000 }],
      ]),
    { message: 'bad fd plan: fd 1 is a target twice' },
  );
});

test('the host side turns the planned actions for high fds into dup2s', () => {
  assert.deepEqual(
    planFds([
      [0, { kind: 'null' }],
      [1, { kind: 'fd', fd: 3000 }],
      [2, { kind: 'fd', fd: 3001 }],
    ]),
    [
      { op: 'dup2', fd: 3000, newfd: 1 },
      { op: 'dup2', fd: 3001, newfd: 2 },
      { op: 'open', fd: 0, path: '/dev/null', mode: 'null' },
      { op: 'closefrom', fd: 3 },
    ],
  );
});
