// The plan is the code: every step the planner can give a role has exactly one handler in that role's table, every
// handler is some plan's step, and the runner refuses a step it has no handler for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../../src/core/wasm.js';
import { plannedSteps, type Role } from '../../../src/core/plan.js';
import { runSteps, UnhandledStepError, type PlannedStep, type StepTable } from '../../../src/core/step-runner.js';
import { ORIGINAL_STEPS } from '../../../src/core/start.js';
import { Intermediate } from '../../../src/intermediate/steps.js';
import { SupervisorRuntime } from '../../../src/supervisor/runtime.js';
import { DAEMON_STEPS } from '../../../src/core/daemon-steps.js';
import { SIM_STEPS } from '../../../src/sim/process-model.js';

/** Every subset of a mask's bits. */
function subsets(mask: number): number[] {
  const bits = Array.from({ length: 31 }, (_, i) => 1 << i).filter((b) => (mask & b) !== 0);
  return Array.from({ length: 1 << bits.length }, (_, i) => bits.reduce((acc, bit, j) => (i & (1 << j) ? acc | bit : acc), 0));
}

const OPTIONS = subsets(planner.OPT_ALL.value);
const CONTEXTS = subsets(planner.CTX_ALL.value);
const PLANS = OPTIONS.flatMap((o) => CONTEXTS.map((c) => ({ o, c, steps: plannedSteps(o, c) })));

const RUNTIME: Record<Role, StepTable<never>> = {
  original: ORIGINAL_STEPS,
  intermediate: Intermediate.STEPS,
  supervisor: SupervisorRuntime.STEPS,
  daemon: DAEMON_STEPS,
};

test('the planner is asked every combination of its option flags and context bits', () => {
  assert.equal(OPTIONS.length, 2048);
  assert.equal(CONTEXTS.length, 32);
  // Every named flag is in the masks: a flag added to assembly/steps.ts but not to OPT_ALL would go untested here.
  const named = (prefix: string) => {
    const values: number[] = [];
    // for..in: the wasm's globals are on the exports' prototype.
    for (const k in planner)
      if (k.startsWith(prefix) && !k.endsWith('_ALL')) values.push((planner as unknown as Record<string, { value: number }>)[k]!.value);
    assert.ok(values.length >= 5, prefix);
    return values;
  };
  assert.equal(
    named('OPT_').reduce((a, b) => a | b, 0),
    planner.OPT_ALL.value,
  );
  assert.equal(
    named('CTX_').reduce((a, b) => a | b, 0),
    planner.CTX_ALL.value,
  );
});

for (const [name, tables] of [
  ['runtime', RUNTIME],
  ['simulator', SIM_STEPS],
] as const) {
  test(`every step of every plan has exactly one handler in its role's ${name} table, and every handler is used`, () => {
    const used: Record<Role, Set<string>> = { original: new Set(), intermediate: new Set(), supervisor: new Set(), daemon: new Set() };
    for (const { o, c, steps } of PLANS) {
      for (const { role, step } of steps) {
        assert.ok(Object.hasOwn(tables[role], step), `options ${o} context ${c}: the ${role} has no handler for ${step}`);
        used[role].add(step);
      }
    }
    for (const role of Object.keys(used) as Role[]) {
      assert.deepEqual(Object.keys(tables[role]).sort(), [...used[role]].sort(), `the ${role}'s ${name} table and its steps in the plans`);
    }
  });
}

test("every step the wasm names is some role's step in some plan", () => {
  const planned = new Set(PLANS.flatMap((p) => p.steps.map((s) => s.step)));
  for (let s = planner.STEP_FIRST.value; s <= planner.STEP_LAST.value; s++)
    assert.ok(planned.has(planner.stepName(s)), planner.stepName(s));
  assert.equal(planned.size, planner.STEP_LAST.value - planner.STEP_FIRST.value + 1);
});

const plan: PlannedStep[] = [
  { role: 'original', step: 'a' },
  { role: 'daemon', step: 'x' },
  { role: 'original', step: 'b' },
  { role: 'original', step: 'c' },
];

test("the runner runs the role's steps in the plan's order, and only that role's", () => {
  const ran: string[] = [];
  const table = {
    a: () => void ran.push('a'),
    b: () => void ran.push('b'),
    c: () => void ran.push('c'),
    unused: () => void ran.push('unused'),
  };
  assert.equal(runSteps(plan, 'original', table, null), undefined, 'synchronous handlers: a synchronous run');
  assert.deepEqual(ran, ['a', 'b', 'c']);
});

test('the runner waits for a step that returns a promise before the next', async () => {
  const ran: string[] = [];
  const table: StepTable<null> = {
    a: () => void ran.push('a'),
    b: () => new Promise<void>((resolve) => setTimeout(() => (ran.push('b'), resolve()), 5)),
    c: () => void ran.push('c'),
  };
  const pending = runSteps(plan, 'original', table, null);
  assert.deepEqual(ran, ['a']);
  await pending;
  assert.deepEqual(ran, ['a', 'b', 'c']);
});

test('a step without a handler is an UnhandledStepError, thrown before any step runs', () => {
  const ran: string[] = [];
  const table = { a: () => void ran.push('a'), c: () => void ran.push('c') };
  assert.throws(
    () => runSteps(plan, 'original', table, null),
    (e) =>
      e instanceof UnhandledStepError &&
      e.code === 'ENOSTEPHANDLER' &&
      e.role === 'original' &&
      e.step === 'b' &&
      /original.*b/.test(e.message),
  );
  assert.deepEqual(ran, []);
  // A name inherited from Object.prototype is no handler either.
  assert.throws(() => runSteps([{ role: 'daemon', step: 'toString' }], 'daemon', {}, null), UnhandledStepError);
});

test("a handler's error ends the run: later steps do not run", () => {
  const ran: string[] = [];
  const table = {
    a: () => {
      throw new Error('chroot /srv/jail: EACCES');
    },
    b: () => void ran.push('b'),
    c: () => void ran.push('c'),
  };
  assert.throws(() => runSteps(plan, 'original', table, null), /EACCES/);
  assert.deepEqual(ran, []);
});
