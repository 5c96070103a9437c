// The simulator runs bind-sockets and the worker fd plan with listeners: each worker holds them at fds 3.., nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize } from '../../../src/options.js';
import { buildPlan, FD_PLANS, type DetachContext } from '../../../src/core/plan.js';
import { simulate } from '../../../src/sim/process-model.js';

const attached: DetachContext = {
  parentIsInit: false,
  systemdInvocation: false,
  notifySocket: false,
  stdinIsSocket: false,
  supervisedWorker: false,
};
const root = mkdtempSync(join(tmpdir(), 'daemonkit-sim-listen-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'bin'));
writeFileSync(join(root, 'bin', 'sleep'), '#!/bin/sh\n', { mode: 0o755 });

const listen = ['web=tcp:127.0.0.1:8080', `unix:${join(root, 'app.sock')}`];

for (const [label, extra] of [
  ['plain', {}],
  ['chroot, user, pidfile', { chroot: root, cwd: '/', user: 'nobody', group: 'nogroup', pidfile: join(root, 'l.pid') }],
] as const) {
  test(`supervised with --listen, ${label}: bind-sockets runs in the supervisor and every worker holds the sockets at fds 3, 4`, () => {
    const o = normalize({ ...extra, command: ['/bin/sleep', '1000'], supervise: true, workers: 3, stateDir: root, listen }, 'library');
    const plan = buildPlan(o, attached);
    const steps = plan.steps.map((s) => `${s.role}:${s.step}`);
    assert.ok(steps.includes('supervisor:bind-sockets'), steps.join(' '));
    const r = simulate(plan, o, { leakedFds: [7, 8, 9], cloexecFds: [301] });
    assert.deepEqual(r.violations, []);
    assert.equal(r.daemons.length, 3);
    for (const d of r.daemons) {
      assert.deepEqual([...d.fds.keys()].sort(), [0, 1, 2, 3, 4]);
      assert.equal(d.fds.get(3)!.object, 'listener:tcp:127.0.0.1:8080');
      assert.equal(d.fds.get(4)!.object, `listener:unix:${join(root, 'app.sock')}`);
    }
    const sup = r.processes.find((p) => p.role === 'supervisor')!;
    assert.ok(
      [...sup.fds.values()].filter((f) => f.object.startsWith('listener:')).every((f) => f.cloexec),
      'close-on-exec in the supervisor',
    );
  });
}

test('a worker fd plan that drops the listeners is caught', () => {
  const o = normalize({ command: ['/bin/sleep', '1000'], supervise: true, workers: 2, stateDir: root, listen }, 'library');
  const r = simulate(buildPlan(o, attached), o, { fdPlans: { worker: (out, err) => FD_PLANS.worker(out, err) } });
  assert.ok(
    r.violations.some((v) => /does not hold tcp:127.0.0.1:8080 as fd 3/.test(v)),
    r.violations.join('\n'),
  );
});

test('without --listen, or unsupervised, there is no bind-sockets step', () => {
  const plain = normalize({ command: ['/bin/sleep', '1000'], supervise: true, stateDir: root }, 'library');
  assert.ok(!buildPlan(plain, attached).steps.some((s) => s.step === 'bind-sockets'));
  const unsupervised = normalize({ command: ['/bin/sleep', '1000'], supervise: false, stateDir: root, listen }, 'library');
  assert.ok(!buildPlan(unsupervised, attached).steps.some((s) => s.step === 'bind-sockets'));
});
