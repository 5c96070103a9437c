// The library's service control end to end: start, status, reload, reopen, logs, stop as functions, checked against
// the kernel (/proc/PID/stat, the files themselves) rather than against daemonkit's own account.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { alive, children, pidFromFile, stat, waitFor, workersOf } from '../helpers/proc.js';
import { poll } from '../helpers/poll.mjs';
import { list, logs, reload, reopen, start, status, stop } from '../../src/core/service-api.js';
import { AlreadyRunningError, NotRunningError, StartError, UnknownServiceError, UsageError } from '../../src/errors.js';
import { OPTION_KEYS, parseOption } from '../../src/core/option-table.js';

const box = new Sandbox();
after(() => box.cleanup());
const home = box.dir;

// A worker that says who it is, and says so again on each SIGHUP (reload: 'signal' sends it one).
const WORKER = ['/bin/sh', '-c', 'trap \'echo "hup $$"\' HUP; echo "started $$"; while :; do sleep 0.05; done'];

describe('a supervised service controlled through the API', () => {
  const log = box.path('svc.log');
  let sup = 0;
  let worker = 0;

  before(async () => {
    const started = await start({ name: 'svc', command: WORKER, home, reload: 'signal', startSecs: 0.1 });
    sup = box.track(started.pid);
    assert.deepEqual(started, { name: 'svc', pid: sup, supervised: true, workers: 1, pidfile: box.path('svc.pid'), alreadyRunning: false });
  });

  test('status: LSB 0, the supervisor is the session leader of its worker, as /proc says', async () => {
    const s = await status('svc', { home });
    assert.equal(s.lsb, 0);
    assert.equal(s.state, 'running');
    assert.equal(s.running, true);
    assert.equal(s.supervised, true);
    assert.equal(s.pid, sup);
    assert.equal(s.pidfile, box.path('svc.pid'));
    assert.equal(readFileSync(s.pidfile, 'utf8'), `${sup}\n`);
    assert.equal(stat(sup).session, sup, 'the supervisor leads its session');
    assert.equal(s.workers.length, 1);
    const [w] = s.workers;
    worker = box.track(w!.pid);
    const { task, pid, state, restarts, lastExit } = w!;
    assert.deepEqual({ task, pid, state, restarts, lastExit }, { task: 0, pid: worker, state: 'running', restarts: 0, lastExit: null });
    assert.equal(stat(worker).ppid, sup);
    assert.equal(stat(worker).session, sup);
    assert.equal(s.restarts, 0);
    assert.deepEqual(s.command, WORKER);
  });

  test('start again: AlreadyRunningError with the PID; with okIfRunning, a result saying so', async () => {
    await assert.rejects(
      start({ name: 'svc', command: WORKER, home }),
      (e) => e instanceof AlreadyRunningError && e.pid === sup && e.code === 'EALREADY',
    );
    const again = await start({ name: 'svc', command: WORKER, home, okIfRunning: true });
    assert.equal(again.alreadyRunning, true);
    assert.equal(again.pid, sup);
    // The running service's shape, not the one this call asked for.
    const asked = await start({ name: 'svc', command: WORKER, home, okIfRunning: true, workers: 3 });
    assert.deepEqual(
      { pid: asked.pid, supervised: asked.supervised, workers: asked.workers, alreadyRunning: asked.alreadyRunning },
      { pid: sup, supervised: true, workers: 1, alreadyRunning: true },
    );
  });

  test('logs: the last lines as an array, without newlines', async () => {
    const lines = await poll(async () => {
      const got = await logs('svc', { home, lines: 10 });
      return got.includes(`started ${worker}`) ? got : null;
    });
    assert.ok(lines, readFileSync(log, 'utf8'));
    assert.ok(lines.every((l) => !l.includes('\n')));
    assert.deepEqual(await logs('svc', { home, lines: 0 }), []);
  });

  test('logs follow: the iterator yields a line the worker writes after it began (here on reload)', async () => {
    const following = logs('svc', { home, lines: 0, follow: true });
    try {
      const result = await reload('svc', { home });
      assert.equal(result.via, 'supervisor');
      for await (const line of following) if (line.includes(`hup ${worker}`)) break;
    } finally {
      await following.return?.();
    }
    assert.ok(alive(worker), 'reload: signal keeps the worker');
  });

  test('reopen: after the log is renamed away, new lines go to a new file at the old path', async () => {
    renameSync(log, `${log}.1`);
    const result = await reopen('svc', { home });
    assert.equal(result.via, 'supervisor');
    assert.ok(existsSync(log), 'reopen created the log again');
    await reload('svc', { home });
    assert.ok(await waitFor(() => readFileSync(log, 'utf8').includes(`hup ${worker}`)), readFileSync(log, 'utf8'));
    const rotated = readFileSync(`${log}.1`, 'utf8');
    assert.equal(rotated.split('\n').filter((l) => l.includes(`hup ${worker}`)).length, 1, rotated);
  });

  test('list: the service, with the same report as status', async () => {
    const all = await list({ home });
    assert.deepEqual(
      all.map((s) => [s.name, s.lsb, s.pid]),
      [['svc', 0, sup]],
    );
  });

  test('stop: stopped, and the kernel agrees; then status LSB 3, stop again "not-running", reload NotRunningError', async () => {
    const stopped = await stop('svc', { home });
    assert.deepEqual(stopped, { kind: 'stopped', pid: sup, note: stopped.kind === 'stopped' ? stopped.note : undefined, name: 'svc' });
    assert.ok(await waitFor(() => !alive(sup) && !alive(worker)));
    const s = await status('svc', { home });
    assert.equal(s.lsb, 3);
    assert.equal(s.running, false);
    assert.equal(s.state, 'stopped');
    assert.equal(s.pid, null);
    assert.deepEqual(await stop('svc', { home }), { kind: 'not-running', stale: false, name: 'svc' });
    await assert.rejects(reload('svc', { home }), (e) => e instanceof NotRunningError && e.code === 'ENOTRUNNING' && e.service === 'svc');
    await assert.rejects(reopen({ pidfile: box.path('svc.pid') }, { home }), NotRunningError);
  });
});

describe('bad input is a UsageError naming the option, and leaves nothing behind', () => {
  const empty = new Sandbox();
  after(() => empty.cleanup());
  const home = empty.dir;
  const named = (option: string, value?: string) => (e: unknown) =>
    e instanceof UsageError && e.code === 'EUSAGE' && e.option === option && (value === undefined || e.message.includes(value));

  test('start', async () => {
    await assert.rejects(start({ command: ['/bin/sleep', '9'], home, readyTimeout: 'soon' }), named('readyTimeout', "'soon'"));
    await assert.rejects(
      start({ command: ['/bin/sleep', '9'], home, pidFile: 'x' } as never),
      (e) => named('pidFile')(e) && /did you mean 'pidfile'/.test((e as Error).message),
    );
    await assert.rejects(start({ command: ['/bin/sleep', '9'], home, stateDir: home } as never), named('stateDir'));
    await assert.rejects(start({ command: ['/bin/sleep', '9'], home, supervise: false, workers: 2 }), named('workers'));
    await assert.rejects(start({ command: ['no-such-program-here'], home }), named('command'));
    await assert.rejects(start({ command: ['/bin/sleep', '9'], home: '' }), named('home'));
    await assert.rejects(start({ home } as never), named('command'));
  });

  test('the service commands', async () => {
    await assert.rejects(status('../etc', { home }), named('name', "'../etc'"));
    await assert.rejects(stop('x', { home, retry: 'TERM/soon' }), named('retry', "'TERM/soon'"));
    await assert.rejects(logs('x', { home, lines: -1 }), named('lines', "'-1'"));
    assert.throws(() => logs('x', { home, lines: -1, follow: true }), named('lines'));
    await assert.rejects(stop({ pidfile: '' }, { home }), named('pidfile'));
    // A mistyped or misplaced key in the target is named, with what was meant.
    await assert.rejects(status({ pidFile: '/run/x.pid' } as never, { home }), (e) =>
      /unknown key 'pidFile' \(did you mean 'pidfile'\?\)/.test((e as Error).message),
    );
    await assert.rejects(status({ pidfile: '/run/x.pid', home } as never), (e) =>
      /unknown key 'home': home goes in the options, the second argument/.test((e as Error).message),
    );
  });

  test('a name never started: UnknownServiceError for status and logs, naming the state directory', async () => {
    await assert.rejects(
      status('nosuch', { home }),
      (e) => e instanceof UnknownServiceError && e.code === 'ENOSERVICE' && e.message === `no service named nosuch in ${home}`,
    );
    await assert.rejects(logs('nosuch', { home }), UnknownServiceError);
    assert.deepEqual(await list({ home }), []);
  });

  test('nothing was created', () => {
    assert.deepEqual(readdirSync(home), []);
  });
});

test('every duration option counts a number as seconds and takes a unit in a string, as the CLI does', () => {
  const context = { naming: 'library' as const, base: '/' };
  // An option is a duration when it reads '10ms' as 10 (milliseconds, the normalized unit).
  const durations = OPTION_KEYS.filter((key) => {
    try {
      return parseOption(key, '10ms' as never, context) === 10;
    } catch {
      return false;
    }
  });
  for (const key of ['readyTimeout', 'startSecs', 'backoffMin', 'backoffMax', 'minUptime', 'restartWindow'])
    assert.ok(durations.includes(key as never), key);
  for (const key of durations) {
    assert.equal(parseOption(key, 2 as never, context), 2000, `${key}: 2 is two seconds`);
    assert.equal(parseOption(key, '2' as never, context), 2000, `${key}: '2' is two seconds`);
    assert.equal(parseOption(key, '1.5s' as never, context), 1500, key);
    assert.equal(parseOption(key, '250ms' as never, context), 250, key);
  }
});

test('a supervisor killed before its verdict: start() rejects saying so (the event-loop wait, as the CLI says it)', async (t) => {
  const own = new Sandbox();
  t.after(() => own.cleanup());
  const never = ['/bin/sh', '-c', 'exec sleep 30'];
  // Settled either way at once, so a failed assertion below leaves no rejection unhandled.
  const outcome = start({ name: 'dies', command: never, home: own.dir, ready: 'notify' }).then(
    () => null,
    (e: unknown) => e,
  );
  let sup = 0;
  const up = await waitFor(() => {
    sup = own.track(pidFromFile(own.path('dies.pid')));
    return sup > 0 && workersOf(sup).length > 0;
  }, 10_000);
  for (const pid of children(sup)) own.track(pid);
  assert.ok(up, 'the supervisor and its worker are up');
  process.kill(sup, 'SIGKILL');
  const e = await outcome;
  assert.ok(e instanceof StartError && /the new session ended without a verdict \(killed by SIGKILL\)/.test(e.message), String(e));
});
