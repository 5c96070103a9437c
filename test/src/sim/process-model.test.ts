import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize, type StartOptions } from '../../../src/options.js';
import { buildPlan, FD_PLANS, type DetachContext, type FdAction } from '../../../src/core/plan.js';
import { UnhandledStepError } from '../../../src/core/step-runner.js';
import { simulate } from '../../../src/sim/process-model.js';

const attached: DetachContext = {
  parentIsInit: false,
  systemdInvocation: false,
  notifySocket: false,
  stdinIsSocket: false,
  supervisedWorker: false,
};
const leaked = Array.from({ length: 298 }, (_, i) => i + 3);
const root = mkdtempSync(join(tmpdir(), 'daemonkit-sim-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
// The command is resolved inside the chroot, so the jail needs its own /bin/sleep.
mkdirSync(join(root, 'bin'));
writeFileSync(join(root, 'bin', 'sleep'), '#!/bin/sh\n', { mode: 0o755 });

const variants: Array<[string, Partial<StartOptions>]> = [
  ['nothing', {}],
  ['pidfile', { pidfile: join(root, 'x.pid') }],
  ['logs', { log: join(root, 'x.log') }],
  ['split logs', { stdout: join(root, 'out.log'), stderr: join(root, 'err.log') }],
  ['cwd + umask', { cwd: root, umask: '027' }],
  ['user', { user: 'nobody', pidfile: join(root, 'x.pid') }],
  ['user + group', { user: 'nobody', group: 'nogroup' }],
  ['chroot', { chroot: root, cwd: '/', pidfile: join(root, 'y.pid') }],
  [
    'everything',
    {
      chroot: root,
      cwd: '/',
      pidfile: join(root, 'z.pid'),
      user: 'nobody',
      group: 'nogroup',
      log: join(root, 'z.log'),
      umask: 'u=rwx,g=rx,o=',
    },
  ],
];

// The library daemonizes itself without a supervisor: a supervised daemon is always a command.
const kinds: Array<[boolean, string[] | undefined]> = [
  [false, undefined],
  [false, ['/bin/sleep', '1000']],
  [true, ['/bin/sleep', '1000']],
];

for (const [supervise, command] of kinds)
  for (const [label, extra] of variants) {
    test(`${supervise ? 'supervised' : 'unsupervised'} ${command ? 'command' : 'library'} daemon, ${label}: every invariant holds`, () => {
      const o = normalize({ ...extra, command, supervise, workers: 3, stateDir: root }, 'library');
      const plan = buildPlan(o, attached);
      const r = simulate(plan, o, { leakedFds: leaked, cloexecFds: [301, 302, 303] });
      assert.deepEqual(r.violations, []);
      assert.equal(r.daemons.length, supervise ? 3 : 1);
      for (const d of r.daemons) {
        assert.notEqual(d.sid, d.pid);
        assert.equal(d.ctty, null);
        assert.equal(d.umask, o.umask);
      }
    });
  }

test('an already-detached library process does not fork and still takes its PID file once', () => {
  const o = normalize({ pidfile: join(root, 'in-place.pid') }, 'library');
  const plan = buildPlan(o, { ...attached, systemdInvocation: true });
  assert.equal(plan.detach, false);
  const r = simulate(plan, o);
  assert.deepEqual(r.violations, []);
  assert.equal(r.processes.length, 1);
  assert.equal(r.pidfile.opens, 1);
});

test('a supervised plan leaves one session guard: its own session, cwd /, stdio only, outside any chroot', () => {
  const o = normalize(
    { pidfile: join(root, 'g.pid'), chroot: root, cwd: '/', workers: 3, supervise: true, stateDir: root, command: ['/bin/sleep', '1'] },
    'library',
  );
  const plan = buildPlan(o, attached);
  const r = simulate(plan, o);
  assert.deepEqual(r.violations, []);
  const guards = r.processes.filter((p) => p.role === 'guard');
  assert.equal(guards.length, 1);
  const [g] = guards;
  const sup = r.processes.find((p) => p.role === 'supervisor')!;
  assert.equal(g!.sid, g!.pid);
  assert.notEqual(g!.sid, sup.sid);
  assert.equal(g!.cwd, '/');
  assert.equal(g!.root, '/');
  assert.deepEqual([...g!.fds.keys()].sort(), [0, 1, 2]);
  const unguarded = { ...plan, steps: plan.steps.filter((s) => s.step !== 'session-guard') };
  assert.ok(simulate(unguarded, o).violations.some((v) => /0 session guards/.test(v)));
  // The supervisor stays outside the jail (root runs nothing it holds); each worker is inside.
  assert.equal(sup.root, '/');
  for (const d of r.daemons) assert.equal(d.root, root);
  assert.ok(!plan.steps.some((s) => s.role === 'supervisor' && s.step === 'chroot'));
});

test('the model catches broken plans', () => {
  const o = normalize({ pidfile: join(root, 'b.pid'), command: ['/bin/sleep', '1'] }, 'library');
  const good = buildPlan(o, attached);

  // The runtime's fd plans, each with its closefrom dropped: either spawn's closefrom alone keeps the leak out;
  // without both, the model must see fd 7 arrive.
  const without = (op: FdAction['op']) => (list: FdAction[]) => list.filter((a) => a.op !== op);
  const session =
    (strip: (l: FdAction[]) => FdAction[]) =>
    (...a: Parameters<typeof FD_PLANS.sessionSpawn>) =>
      strip(FD_PLANS.sessionSpawn(...a));
  const daemon =
    (strip: (l: FdAction[]) => FdAction[]) =>
    (...a: Parameters<typeof FD_PLANS.daemon>) =>
      strip(FD_PLANS.daemon(...a));
  assert.deepEqual(simulate(good, o, { leakedFds: [7], fdPlans: { sessionSpawn: session(without('closefrom')) } }).violations, []);
  assert.deepEqual(simulate(good, o, { leakedFds: [7], fdPlans: { daemon: daemon(without('closefrom')) } }).violations, []);
  const noClosefrom = { sessionSpawn: session(without('closefrom')), daemon: daemon(without('closefrom')) };
  assert.ok(simulate(good, o, { leakedFds: [7], fdPlans: noClosefrom }).violations.some((v) => /inherited fd 7/.test(v)));

  assert.ok(
    simulate(good, o, { fdPlans: { sessionSpawn: session(without('open')) } }).violations.some((v) => /terminal|fd 0 closed/.test(v)),
  );

  // A step given to a role whose table has no handler for it is refused before anything runs, as in the runtime.
  const lockInOriginal = { ...good, steps: good.steps.map((s) => (s.step === 'pidfile.lock' ? { ...s, role: 'original' as const } : s)) };
  assert.throws(
    () => simulate(lockInOriginal, o),
    (e) => e instanceof UnhandledStepError && e.role === 'original' && e.step === 'pidfile.lock',
  );

  const noSecondFork = { ...good, steps: good.steps.filter((s) => s.step !== 'spawn-daemon') };
  assert.ok(simulate(noSecondFork, o).violations.includes('no daemon was started'));

  const chdirFirst = normalize({ chroot: root, cwd: '/', command: ['/bin/sleep', '1'] }, 'library');
  const p2 = buildPlan(chdirFirst, attached);
  const i = p2.steps.findIndex((s) => s.step === 'chroot');
  const swapped = [...p2.steps];
  [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
  assert.ok(simulate({ ...p2, steps: swapped }, chdirFirst).violations.some((v) => /chdir ran before chroot/.test(v)));
});
