// daemonkit/testing: plan() is `daemonkit plan --json`, simulate() catches a broken plan, SupervisorModel gives up on a
// crash loop and says why, all without a process of the service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import {
  plan,
  planErrors,
  simulate,
  stepOrderError,
  SupervisorModel,
  UnhandledStepError,
  UsageError,
  type DaemonPlan,
  type ModelAction,
  type PlanOptions,
} from '../../src/testing.js';

const home = mkdtempSync(join(tmpdir(), 'daemonkit-testing-'));
process.on('exit', () => rmSync(home, { recursive: true, force: true }));
const pidfile = join(home, 'app.pid');
const www = {
  uid: Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' })),
  gid: Number(execFileSync('id', ['-g', 'www-data'], { encoding: 'utf8' })),
};

/** The CLI's plan for these flags, from a caller that is a plain process (stdin not a socket, no systemd). */
function cliPlan(flags: string[]): unknown {
  const env: NodeJS.ProcessEnv = { ...process.env, DAEMONKIT_HOME: home };
  delete env.INVOCATION_ID;
  delete env.NOTIFY_SOCKET;
  return JSON.parse(
    execFileSync(process.execPath, [cliPath, 'plan', '--json', ...flags], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

function withoutExtras(p: DaemonPlan): unknown {
  const { options: _options, caller: _caller, ...printed } = p;
  return JSON.parse(JSON.stringify(printed));
}

test('plan() is what `daemonkit plan --json` prints, supervised and not', () => {
  const supervised = plan({ command: ['/bin/sleep', '1000'], pidfile, user: 'www-data', home }, { uid: 0 });
  assert.deepEqual(withoutExtras(supervised), cliPlan(['--pidfile', pidfile, '--user', 'www-data', '--', '/bin/sleep', '1000']));
  assert.ok(supervised.steps.some((s) => s.role === 'supervisor' && s.step === 'spawn-workers'));
  const plain = plan({ command: ['/bin/sleep', '1000'], supervise: false, umask: '027', home });
  assert.deepEqual(withoutExtras(plain), cliPlan(['--no-supervise', '--umask', '027', '--', '/bin/sleep', '1000']));
  assert.ok(plain.steps.some((s) => s.role === 'intermediate' && s.step === 'spawn-daemon'));
  assert.equal(plain.options.umask, 0o027);
});

test("plan() without a command is daemonize()'s: the script reports ready itself, and does not fork under systemd", () => {
  const p = plan({ pidfile });
  assert.equal(p.detach, true);
  assert.ok(p.steps.some((s) => s.role === 'daemon' && s.step === 'ready'));
  assert.equal(
    p.steps.some((s) => s.role === 'supervisor'),
    false,
  );
  const inPlace = plan({ pidfile }, { systemdInvocation: true });
  assert.equal(inPlace.detach, false);
  assert.match(inPlace.skipReason!, /systemd/);
  assert.equal(
    inPlace.steps.some((s) => s.step === 'spawn-session'),
    false,
  );
});

test('plan() throws the UsageError start() would; planErrors() lists it instead', () => {
  assert.throws(
    () => plan({ umask: '999' }),
    (e) => e instanceof UsageError && e.option === 'umask',
  );
  assert.deepEqual(planErrors({ pidfile }), []);
  assert.deepEqual(planErrors({ command: ['/bin/sleep', '1'], workers: 4, home }), []);
  const [bad] = planErrors({ umask: '999' });
  assert.equal(bad!.kind, 'usage');
  assert.equal(bad!.option, 'umask');
  assert.match(bad!.message, /^invalid umask '999'/);
  assert.match(planErrors({ pidFile: pidfile } as object)[0]!.message, /unknown option 'pidFile' \(did you mean 'pidfile'\?\)/);
  // daemonize() is never supervised: its options do not include the supervisor's.
  assert.match(planErrors({ workers: 2 } as PlanOptions)[0]!.message, /unknown option 'workers'/);
  const conflicts = planErrors({ command: ['/bin/sleep', '1'], supervise: false, workers: 2, restart: 'always', home });
  assert.deepEqual(conflicts, [
    { kind: 'usage', option: 'workers', value: null, message: 'conflicting options: workers needs the supervisor, not supervise: false' },
    { kind: 'usage', option: 'restart', value: null, message: 'conflicting options: restart needs the supervisor, not supervise: false' },
  ]);
  assert.match(planErrors({ user: 'www-data' }, { uid: 1000 })[0]!.message, /needs root/);
  assert.deepEqual(planErrors({ user: 'www-data' }, { uid: 0 }), []);
});

test('planErrors() goes on past an option nothing else is checked against, and ends at one that is (command, chroot, backoffMax)', () => {
  const all = planErrors({ command: ['/bin/sleep', '1'], umask: '999', workers: 'lots', pidFile: pidfile } as object as PlanOptions);
  assert.deepEqual(
    all.map((e) => [e.option, e.value]),
    [
      ['pidFile', null],
      ['umask', '999'],
      ['workers', 'lots'],
    ],
  );
  // Which checks apply depends on the command: past a bad one nothing more is said.
  assert.deepEqual(
    planErrors({ command: 'sleep 1', umask: '999' } as object as PlanOptions).map((e) => e.option),
    ['command'],
  );
  // Nor past one that others are checked against: without the jail, cwd would be looked for on the host.
  const jail = planErrors({ command: ['/bin/sleep', '1'], chroot: '/nonexistent-jail', cwd: '/nonexistent-dir', umask: '999' });
  assert.deepEqual(
    jail.map((e) => e.option),
    ['chroot'],
  );
  // backoffMax is checked against backoffMin: the list ends at it (left out, its default would be checked next).
  assert.deepEqual(
    planErrors({ command: ['/bin/sleep', '1'], backoffMin: '30s', backoffMax: '20s', umask: '999' }).map((e) => [e.option, e.value]),
    [
      ['umask', '999'],
      ['backoffMax', '20s'],
    ],
  );
  // An error in what the caller did not write but caused (a name from the command, too long beside a long home) is
  // listed after the ones before it.
  assert.deepEqual(
    planErrors({ command: ['/bin/sleep', '1'], umask: '999', home: `/tmp/${'x'.repeat(120)}` }).map((e) => e.option),
    ['umask', 'name'],
  );
});

test('simulate(): a supervised service run as root has workers that are no session leaders, hold fds 0-2 only, and drop to www-data after the PID file is taken', () => {
  const p = plan({ command: ['/bin/sleep', '1000'], pidfile, user: 'www-data', workers: 3, home }, { uid: 0 });
  const sim = simulate(p, { leakedFds: [7, 42] });
  assert.deepEqual(sim.violations, []);
  assert.equal(sim.ok, true);
  assert.ok(Object.values(sim.invariants).every(Boolean));
  const supervisor = sim.processes.find((q) => q.role === 'supervisor')!;
  assert.equal(supervisor.sessionLeader, true);
  assert.equal(sim.daemons.length, 3);
  for (const d of sim.daemons) {
    assert.equal(d.sessionLeader, false);
    assert.equal(d.sid, supervisor.sid);
    assert.equal(d.groupLeader, true);
    assert.equal(d.ctty, null);
    assert.deepEqual(
      d.fds.map((f) => f.fd),
      [0, 1, 2],
    );
    assert.deepEqual([d.uid, d.gid], [www.uid, www.gid]);
    assert.equal(d.cwd, '/');
    assert.equal(d.umask, 0o022);
  }
  assert.deepEqual(sim.pidfile.lockedBy, { pid: supervisor.pid, role: 'supervisor', uid: 0, gid: 0 });
  assert.equal(sim.pidfile.content, supervisor.pid);
});

test('simulate(): an unsupervised daemon holds the PID file as fd 3 and nothing the caller leaked', () => {
  const sim = simulate(plan({ command: ['/bin/sleep', '1000'], supervise: false, pidfile, home }), { leakedFds: [5] });
  assert.equal(sim.ok, true);
  const [d] = sim.daemons;
  assert.deepEqual(
    d!.fds.map((f) => [f.fd, f.file]),
    [
      [0, '/dev/null'],
      [1, `file:${join(home, 'sleep.log')}`],
      [2, `file:${join(home, 'sleep.log')}`],
      [3, 'pidfile'],
    ],
  );
  assert.equal(d!.ppid, 1);
  assert.equal(sim.processes.find((q) => q.role === 'intermediate')!.alive, false);
  assert.equal(sim.pidfile.content, d!.pid);
});

test('simulate(): a broken plan breaks the invariants it should, by name', () => {
  const p = plan({ command: ['/bin/sleep', '1000'], supervise: false, pidfile, user: 'www-data', umask: '027', home }, { uid: 0 });
  assert.equal(simulate(p).ok, true);

  const noUmask = simulate({ ...p, steps: p.steps.filter((s) => s.step !== 'umask') });
  assert.equal(noUmask.ok, false);
  assert.equal(noUmask.invariants.umask, false);
  assert.equal(noUmask.invariants.notSessionLeader, true);
  assert.deepEqual(
    noUmask.violations.map((v) => v.invariant),
    ['umask'],
  );
  assert.equal(noUmask.violations[0]!.pid, noUmask.daemons[0]!.pid);
  assert.equal(noUmask.stepOrder, null);

  const keepsRoot = simulate({ ...p, steps: p.steps.filter((s) => s.step !== 'setuid') });
  assert.equal(keepsRoot.invariants.idsDropped, false);
  assert.equal(keepsRoot.daemons[0]!.uid, 0);

  // The PID file taken after the drop: the planner's rule says so, even where the model's table looks fine.
  const lock = p.steps.find((s) => s.step === 'pidfile.lock')!;
  const rest = p.steps.filter((s) => s !== lock);
  const setuid = rest.findIndex((s) => s.step === 'setuid');
  const lateLock = simulate({ ...p, steps: [...rest.slice(0, setuid + 1), lock, ...rest.slice(setuid + 1)] });
  assert.equal(lateLock.ok, false);
  assert.equal(lateLock.stepOrder, 'the PID file must be taken before privileges are dropped');
  assert.equal(lateLock.pidfile.lockedBy!.uid, www.uid);

  const inOriginal = { ...p, steps: p.steps.map((s) => (s.step === 'chdir' ? { ...s, role: 'original' as const } : s)) };
  assert.throws(
    () => simulate(inOriginal),
    (e) => e instanceof UnhandledStepError && e.step === 'chdir',
  );
});

test('stepOrderError() names the first rule a list of steps breaks', () => {
  const p = plan({ pidfile });
  assert.equal(stepOrderError(p.steps), null);
  assert.equal(stepOrderError([...p.steps, { role: 'daemon', step: 'fly' }]), "unknown step 'fly'");
  assert.match(
    stepOrderError([
      { role: 'original', step: 'pidfile.lock' },
      { role: 'original', step: 'pidfile.write' },
      ...p.steps.filter((s) => !s.step.startsWith('pidfile.')),
    ])!,
    /PID file/,
  );
});

const kinds = (actions: ModelAction[]) => actions.map((a) => a.kind);

test('SupervisorModel: with maxRestarts 5 in 30 s, the sixth crash in a row gives up, says why and exits 1', () => {
  const model = new SupervisorModel(
    { maxRestarts: 5, restartWindow: '30s', backoffMin: '1s', backoffMax: '1s', startSecs: '0.5s' },
    { firstPid: 500 },
  );
  assert.deepEqual(model.start(), [
    { kind: 'spawn', task: 0 },
    { kind: 'arm-timer', id: 1, ms: 500 },
  ]);
  assert.deepEqual(
    model.workers.map((w) => [w.task, w.pid, w.state]),
    [[0, 500, 'starting']],
  );
  assert.deepEqual(model.advance(500), [{ kind: 'ready' }]);
  let last: ModelAction[] = [];
  let crashes = 0;
  while (model.state === 'running') {
    last = model.exit(0, { code: 1 }, model.now + 200);
    crashes++;
    if (model.state !== 'running') break;
    const respawn = model.advance(1000);
    assert.deepEqual(respawn[0], { kind: 'spawn', task: 0 }, `crash ${crashes}: restarted after the backoff`);
    assert.equal(model.workers[0]!.pid, 500 + crashes);
  }
  assert.equal(crashes, 6);
  assert.ok(model.now < 30_000);
  assert.deepEqual(
    last.find((a) => a.kind === 'give-up'),
    { kind: 'give-up', reason: 'crash-loop' },
  );
  assert.deepEqual(last.at(-1), { kind: 'exit', code: 1 });
  assert.equal(model.state, 'failed');
  assert.equal(model.exitCode, 1);
  assert.match(model.failure!, /ended 6 times in 30s \(5 restarts allowed\); last: exited 1/);
  assert.deepEqual(
    model.workers.map((w) => [w.state, w.restarts, w.lastExit]),
    [['failed', 5, 'exited 1']],
  );
  assert.deepEqual(model.timers, []);
  model.destroy();
});

test('SupervisorModel: a stop signals each worker group, escalates on the virtual clock, and exits 0 once all are gone', () => {
  const model = new SupervisorModel({ workers: 2, startSecs: 1 });
  model.start();
  model.advance(1000);
  const [a, b] = model.pids;
  assert.deepEqual(model.stop(), [
    { kind: 'signal', pid: a, signal: 'SIGTERM', group: true },
    { kind: 'signal', pid: b, signal: 'SIGTERM', group: true },
    { kind: 'arm-timer', id: 3, ms: 10_000 },
  ]);
  assert.deepEqual(kinds(model.exit(0, { signal: 'SIGTERM' })), ['reaped']);
  assert.deepEqual(model.advance(9_999), []);
  const escalation = model.advance(1);
  assert.deepEqual(escalation.slice(0, 2), [
    { kind: 'escalate', pid: b, step: 1, signal: 'SIGKILL', after: { signal: 'SIGTERM', ms: 10_000 } },
    { kind: 'signal', pid: b, signal: 'SIGKILL', group: true },
  ]);
  assert.equal(model.now, 11_000);
  assert.deepEqual(model.exit({ pid: b! }, { signal: 'KILL' }).at(-1), { kind: 'exit', code: 0 });
  assert.equal(model.state, 'exited');
  assert.deepEqual(
    model.history.filter((h) => h.action.kind === 'signal').map((h) => h.at),
    [1000, 1000, 11_000],
  );
  model.destroy();
});

test('SupervisorModel: a rolling reload replaces each worker once its successor is ready', () => {
  const model = new SupervisorModel({ workers: 2, startSecs: '1s' });
  model.start();
  model.advance(1000);
  const old = model.pids;
  assert.deepEqual(model.reload(), [
    { kind: 'spawn', task: 0 },
    { kind: 'arm-timer', id: 3, ms: 1000 },
  ]);
  assert.deepEqual(model.advance(1000).slice(0, 1), [{ kind: 'signal', pid: old[0], signal: 'SIGTERM', group: true }]);
  assert.deepEqual(kinds(model.exit({ pid: old[0]! }, { signal: 'SIGTERM' })).slice(0, 3), ['reaped', 'cancel-timer', 'spawn']);
  model.advance(1000);
  assert.ok(kinds(model.exit({ pid: old[1]! }, { signal: 'SIGTERM' })).includes('reloaded'));
  assert.equal(model.state, 'running');
  assert.ok(model.workers.every((w) => w.state === 'running' && !old.includes(w.pid!)));
  model.destroy();
});

test('SupervisorModel refuses what the supervisor would: unknown options, bad values, a worker with no process', () => {
  assert.throws(
    () => new SupervisorModel({ maxRestart: 3 } as object),
    (e) => e instanceof UsageError && /did you mean 'maxRestarts'/.test(e.message),
  );
  assert.throws(
    () => new SupervisorModel({ pidfile } as object),
    (e) => e instanceof UsageError && /unknown option 'pidfile'/.test(e.message),
  );
  assert.throws(
    () => new SupervisorModel({ restart: 'sometimes' }),
    (e) => e instanceof UsageError && e.option === 'restart',
  );
  const model = new SupervisorModel({ backoffMin: '5s', backoffMax: '5s' });
  model.start();
  model.advance(200);
  model.exit(0, { code: 3 });
  assert.equal(model.workers[0]!.state, 'backoff');
  assert.throws(() => model.exit(0, { code: 1 }), /worker 0 has no process now \(backoff\)/);
  assert.throws(() => model.exit(1, { code: 1 }), /no worker 1/);
  assert.throws(() => model.exit({ pid: 4242 }, { code: 1 }), /pid 4242 is not a live process/);
  assert.throws(() => model.advance(-1), RangeError);
  assert.throws(
    () => model.exit(0, { signal: 'SIGNOPE' }),
    (e) => e instanceof UsageError,
  );
  model.destroy();
});

test('every example in the README\'s "Testing your daemon" is, whole, the file under examples/ it names', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Testing your daemon'),
    readme.indexOf('\n## ', readme.indexOf('## Testing your daemon') + 1),
  );
  const blocks = [...section.matchAll(/\[`(examples\/[\w.-]+)`\]\([^)]*\):\n\n```js\n([\s\S]*?)```/g)];
  assert.ok(blocks.length >= 2, 'the section shows the examples');
  assert.equal(section.split('```js').length - 1, blocks.length, 'every code block names its file');
  for (const [, file, code] of blocks) assert.equal(code, readFileSync(join(repoRoot, file!), 'utf8'), file);
});

test("SupervisorModel with ready: 'notify': a worker is ready when ready() says so, and a start times out without it", () => {
  const model = new SupervisorModel({ workers: 2, ready: 'notify', readyTimeout: '5s' });
  model.start();
  assert.equal(model.state, 'starting');
  model.ready(0);
  assert.equal(model.state, 'starting', 'one of two');
  model.ready({ pid: model.workers[1]!.pid! });
  assert.equal(model.state, 'running');

  const late = new SupervisorModel({ ready: 'notify', readyTimeout: '5s' });
  late.start();
  const actions = late.advance(5000);
  assert.ok(
    actions.some((a) => a.kind === 'signal'),
    JSON.stringify(actions),
  );
  assert.match(late.failure ?? '', /worker 0 was not ready/);
  late.destroy();
  model.destroy();
});

test('SupervisorModel: unhealthy() restarts a ready worker with the stop schedule; failSpawns() makes spawns fail', () => {
  const model = new SupervisorModel({ retry: 'TERM/3/KILL/1', startSecs: 0 });
  model.start();
  model.advance(0);
  const [pid] = model.pids;
  assert.deepEqual(model.unhealthy(0)[0], { kind: 'signal', pid, signal: 'SIGTERM', group: true });
  model.destroy();

  // At start, a spawn that fails fails the start, naming the error.
  const atStart = new SupervisorModel({ startSecs: 0 });
  atStart.failSpawns('EMFILE');
  atStart.start();
  assert.deepEqual(atStart.pids, [], 'the failed spawn has no process');
  assert.match(atStart.failure ?? '', /EMFILE/);
  assert.throws(() => atStart.failSpawns('ENOPE'), /unknown errno 'ENOPE'/);
  atStart.destroy();

  // Later, a restart whose spawn fails is tried again after the backoff.
  const later = new SupervisorModel({ startSecs: 0, backoffMin: '1s', backoffMax: '1s' });
  later.start();
  later.advance(0);
  later.failSpawns('EMFILE');
  later.exit(0, { code: 1 }, 10_000);
  later.advance(1000);
  assert.deepEqual(later.pids, [], `the restart's spawn failed: ${later.failure}`);
  later.advance(60_000);
  assert.equal(later.pids.length, 1, `a later spawn went through: ${later.failure}`);
  later.destroy();
});
