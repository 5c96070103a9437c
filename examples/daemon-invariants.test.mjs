// What a daemon started with these options looks like, checked in the simulated process model: no fork, no root needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, planErrors, simulate } from 'daemonkit/testing';

const options = { command: [process.execPath, 'server.js'], name: 'web', pidfile: '/run/web.pid', user: 'www-data', workers: 2 };
// Planned as root would start it (user needs root); the plan is the same list `daemonkit plan` prints.
const asRoot = { uid: 0 };

test('the options are valid, and the supervisor takes the PID file before anything else can go wrong', () => {
  assert.deepEqual(planErrors(options, asRoot), []);
  const steps = plan(options, asRoot).steps.map((s) => `${s.role} ${s.step}`);
  assert.ok(steps.indexOf('supervisor pidfile.lock') < steps.indexOf('supervisor spawn-workers'));
});

test('each worker is no session leader, has fds 0-2 only, and runs as www-data; the PID file was taken as root', () => {
  const sim = simulate(plan(options, asRoot), { leakedFds: [7] }); // a careless parent leaks fd 7
  assert.equal(sim.ok, true, sim.violations.map((v) => v.message).join('\n'));
  assert.equal(sim.invariants.notSessionLeader, true);

  for (const worker of sim.daemons) {
    assert.equal(worker.sessionLeader, false);
    assert.equal(worker.ctty, null);
    assert.deepEqual(
      worker.fds.map((f) => f.fd),
      [0, 1, 2],
    );
    assert.notEqual(worker.uid, 0);
  }
  assert.equal(sim.pidfile.lockedBy.role, 'supervisor');
  assert.equal(sim.pidfile.lockedBy.uid, 0);
});

test('a plan without its umask step leaves the daemon with the caller umask, and the model says so', () => {
  const p = plan({ ...options, umask: '027' }, asRoot);
  const sim = simulate({ ...p, steps: p.steps.filter((s) => s.step !== 'umask') });
  assert.equal(sim.invariants.umask, false);
  assert.match(sim.violations[0].message, /has umask 2, expected 27/);
});
