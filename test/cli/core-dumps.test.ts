// --core-dumps: off (the default) sets RLIMIT_CORE to 0, soft and hard, for the daemon, its workers and the supervisor;
// on leaves the limit the caller had. Read back from /proc/PID/limits.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, run } from '../helpers/run.js';
import { cliPath } from '../helpers/paths.js';
import { alive } from '../helpers/proc.js';
import { planner } from '../../src/core/wasm.js';
import { normalize } from '../../src/options.js';
import { buildPlan } from '../../src/core/plan.js';
import { simulate } from '../../src/sim/process-model.js';

const box = new Sandbox();
after(() => box.cleanup());

/** "soft hard" of "Max core file size" in /proc/PID/limits. */
function coreLimit(pid: number): string {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max core file size'));
  assert.ok(line, `no core line in /proc/${pid}/limits`);
  return line.slice('Max core file size'.length).trim().split(/\s+/).slice(0, 2).join(' ');
}

/** The CLI run with core dumps allowed in the caller (as `ulimit -c unlimited` in a shell), so "on" is visible. */
function startWithCoresAllowed(args: string[]) {
  return run(['sh', '-c', 'ulimit -c unlimited && exec "$0" "$@"', process.execPath, cliPath, 'start', ...args], { env: box.env() });
}

async function workerPid(name: string): Promise<number> {
  const s = await cli(['status', name, '--json'], { env: box.env() });
  const pid = (JSON.parse(s.stdout) as { workers: { pid: number }[] }).workers[0]?.pid ?? 0;
  assert.ok(pid > 0, s.stdout);
  return box.track(pid);
}

const started: string[] = [];
afterEach(async () => {
  for (const name of started.splice(0)) await cli(['stop', name], { env: box.env() });
});

describe('supervised', () => {
  test('default: the supervisor and its worker have no core dumps (0 soft and hard)', async () => {
    const r = await startWithCoresAllowed(['--name', 'sup-off', '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    started.push('sup-off');
    const supervisor = box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    const worker = await workerPid('sup-off');
    assert.equal(coreLimit(supervisor), '0 0');
    assert.equal(coreLimit(worker), '0 0');
  });

  test('--core-dumps on: the worker keeps the limit it inherited', async () => {
    const r = await startWithCoresAllowed(['--name', 'sup-on', '--core-dumps', 'on', '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    started.push('sup-on');
    box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    assert.equal(coreLimit(await workerPid('sup-on')), 'unlimited unlimited');
  });
});

describe('--no-supervise', () => {
  for (const [value, expected] of [
    [undefined, '0 0'],
    ['off', '0 0'],
    ['on', 'unlimited unlimited'],
  ] as const) {
    test(`${value === undefined ? 'default' : `--core-dumps ${value}`}: the daemon's core limit is ${expected}`, async () => {
      const name = `ns-${value ?? 'default'}`;
      const r = await startWithCoresAllowed([
        '--no-supervise',
        '--name',
        name,
        ...(value ? ['--core-dumps', value] : []),
        '--',
        'sleep',
        '30',
      ]);
      assert.equal(r.code, 0, r.stderr);
      started.push(name);
      const pid = box.track(Number(/\(pid (\d+)\)/.exec(r.stdout)?.[1]));
      assert.ok(alive(pid));
      assert.equal(coreLimit(pid), expected);
    });
  }
});

test('a value other than on or off: exit 2, one line naming the option', async () => {
  const r = await cli(['start', '--core-dumps', 'maybe', '--', 'sleep', '1'], { env: box.env() });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "daemonkit: invalid --core-dumps 'maybe': expected on or off\n");
});

test('help states the default and why; the plan shows the step', async () => {
  const h = await cli(['start', '--help']);
  assert.match(h.stdout, /--core-dumps on\|off .*default off.*secrets/s);
  const p = await cli(['plan', '--', 'sleep', '1'], { env: box.env() });
  assert.match(p.stdout, /supervisor\s+no-core-dumps\s+setrlimit RLIMIT_CORE 0/);
  const ns = await cli(['plan', '--no-supervise', '--', 'sleep', '1'], { env: box.env() });
  assert.match(ns.stdout, /intermediate\s+no-core-dumps\s+setrlimit RLIMIT_CORE 0/);
  const on = await cli(['plan', '--core-dumps', 'on', '--', 'sleep', '1'], { env: box.env() });
  assert.doesNotMatch(on.stdout, /core-dumps/);
});

test('the planner: with no-core-dumps every option and context gives a plan that keeps every rule, the step before any spawn', () => {
  const p = planner;
  const bits = [p.OPT_SUPERVISE, p.OPT_PIDFILE, p.OPT_CHROOT, p.OPT_USER, p.OPT_GROUP, p.OPT_FORCE_DETACH, p.OPT_READY_PROTOCOL].map(
    (g) => g.value,
  );
  for (let i = 0; i < 1 << bits.length; i++) {
    const options = bits.reduce((acc, bit, j) => (i & (1 << j) ? acc | bit : acc), p.OPT_NO_CORE_DUMPS.value);
    for (let context = 0; context < 32; context++) {
      const plan = p.planSteps(options, context);
      assert.equal(p.stepOrderError(plan), '');
      const steps = Array.from(
        plan.filter((_, k) => k % 2 === 1),
        (s) => p.stepName(s),
      );
      assert.equal(steps.filter((s) => s === 'no-core-dumps').length, 1, steps.join(' '));
    }
  }
  // A plan that spawns before limiting is refused.
  const bad = Int32Array.from([
    p.ROLE_ORIGINAL.value,
    p.STEP_OPEN_READY_PIPE.value,
    p.ROLE_ORIGINAL.value,
    p.STEP_SPAWN_SESSION.value,
    p.ROLE_INTERMEDIATE.value,
    p.STEP_UMASK.value,
    p.ROLE_INTERMEDIATE.value,
    p.STEP_CHDIR.value,
    p.ROLE_INTERMEDIATE.value,
    p.STEP_SPAWN_DAEMON.value,
    p.ROLE_INTERMEDIATE.value,
    p.STEP_NO_CORE_DUMPS.value,
  ]);
  assert.match(p.stepOrderError(bad), /core limit must be set before the daemon is spawned/);
});

test('the simulated process model: every daemon and worker ends up unable to dump core unless asked', () => {
  for (const supervise of [true, false]) {
    for (const coreDumps of [undefined, 'on']) {
      const o = normalize({ command: ['/bin/sleep', '1'], supervise, stateDir: box.dir, coreDumps }, 'library');
      const sim = simulate(
        buildPlan(o, { parentIsInit: false, systemdInvocation: false, notifySocket: false, stdinIsSocket: false, supervisedWorker: false }),
        o,
      );
      assert.deepEqual(sim.violations, []);
      assert.ok(sim.daemons.length > 0);
      for (const d of sim.daemons) assert.equal(d.coreDumps, coreDumps === 'on', `supervise ${supervise}, coreDumps ${coreDumps}`);
    }
  }
});
