// `daemonkit run`: the supervisor in the foreground. Exit status is the service's; signals; --forward; --name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cliPath } from '../helpers/paths.js';
import { cli } from '../helpers/run.js';
import { alive, poll, stat, waitFor } from '../helpers/proc.js';

const box = new Sandbox('daemonkit-run-');
after(() => box.cleanup());

interface Running {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runFg(args: string[]): Running {
  const child = spawn(process.execPath, [cliPath, 'run', ...args], { env: box.env(), stdio: ['ignore', 'pipe', 'pipe'] });
  box.track(child.pid);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out: () => text, exit };
}

/** The worker pids of a run supervisor: its children in /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('every worker exiting cleanly is exit 0; its output is on our stdout, in this very process', async () => {
  const r = runFg([
    '--workers',
    '2',
    '--restart',
    'never',
    '--start-secs',
    '0.1',
    '--',
    'sh',
    '-c',
    'echo out-$DAEMONKIT_TASK_ID; sleep 0.3',
  ]);
  assert.deepEqual(await r.exit, { code: 0, signal: null });
  assert.match(r.out(), /out-0/);
  assert.match(r.out(), /out-1/);
});

test('a worker failing before it is ready is exit 1 with its status said', async () => {
  const r = runFg(['--restart', 'never', '--', 'sh', '-c', 'exit 3']);
  assert.equal((await r.exit).code, 1);
  assert.match(r.out(), /exited 3/);
});

test('SIGTERM stops the workers and exits 128+15; --exit-map 143=0 maps it; SIGINT is 130', async () => {
  for (const [signal, extra, expected] of [
    ['SIGTERM', [], 143],
    ['SIGTERM', ['--exit-map', '143=0'], 0],
    ['SIGINT', [], 130],
  ] as const) {
    const r = runFg([...extra, '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000']);
    const workers = await poll(() => (childrenOf(r.child.pid!).length === 2 ? childrenOf(r.child.pid!) : null));
    assert.ok(workers, r.out());
    await new Promise((res) => setTimeout(res, 300)); // ready
    r.child.kill(signal);
    assert.deepEqual(await r.exit, { code: expected, signal: null }, r.out());
    assert.ok(
      workers.every((pid) => !alive(pid)),
      'the workers are gone',
    );
  }
});

test("--forward USR2 passes the signal to each worker's process group; run survives it", async () => {
  const marker = box.path('usr2');
  const r = runFg([
    '--forward',
    'USR2',
    '--start-secs',
    '0.1',
    '--',
    'sh',
    '-c',
    `trap 'echo got >> ${marker}' USR2; while :; do sleep 0.05; done`,
  ]);
  await poll(() => childrenOf(r.child.pid!).length === 1 || null);
  await new Promise((res) => setTimeout(res, 300));
  r.child.kill('SIGUSR2');
  assert.ok(
    await waitFor(() => {
      try {
        return readFileSync(marker, 'utf8').includes('got');
      } catch {
        return false;
      }
    }, 5000),
    r.out(),
  );
  assert.ok(alive(r.child.pid!));
  r.child.kill('SIGTERM');
  assert.equal((await r.exit).code, 143);
});

test('--forward refuses a signal run answers itself', async () => {
  const r = await cli(['run', '--forward', 'HUP', '--', 'sleep', '1'], { env: box.env() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--forward/);
});

test('with --name: status, reload and stop work as for a started service; stop exits run 0', async () => {
  const r = runFg(['--name', 'fg', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000']);
  assert.ok(await waitFor(async () => (await cli(['status', 'fg'], { env: box.env() })).code === 0, 10000), r.out());
  const st = await cli(['status', 'fg', '--json'], { env: box.env() });
  assert.match(st.stdout, new RegExp(`"pid":${r.child.pid}\\b`));
  assert.equal(childrenOf(r.child.pid!).length, 2);
  assert.equal((await cli(['reload', 'fg'], { env: box.env() })).code, 0);
  // Its output is run's own stdout and stderr, its manager's to keep: logs says where, not "/dev/null".
  const logs = await cli(['logs', 'fg'], { env: box.env() });
  assert.equal(logs.code, 2);
  assert.match(logs.stderr, /^daemonkit: fg has no log file \(its output goes to run's own stdout and stderr: .*journalctl/);
  assert.equal((await cli(['stop', 'fg'], { env: box.env() })).code, 0);
  assert.deepEqual(await r.exit, { code: 0, signal: null });
});

test("plan --foreground shows run's steps: the supervisor, no new session", async () => {
  const r = await cli(['plan', '--foreground', '--name', 'p', '--listen', 'tcp:0', '--', 'sleep', '1'], { env: box.env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /supervisor +bind-sockets .*when started with LISTEN_FDS for it/);
  // Without --log, the workers write to run's own stdout and stderr: nothing is piped.
  assert.match(r.stdout, /spawn-workers .*output straight to the supervisor's own stdout and stderr/);
  const logged = await cli(['plan', '--foreground', '--log', box.path('p.log'), '--', 'sleep', '1'], { env: box.env() });
  assert.match(logged.stdout, /spawn-workers .*output piped to the log/);
  // Without --name run keeps no file: no control socket either, and the plan does not claim one.
  assert.doesNotMatch(logged.stdout, /control-socket|\.sock\b/);
  assert.doesNotMatch(r.stdout, /spawn-session|session-guard|await-ready/);
});

test('restart of a run service is refused in one line (exit 2): its manager restarts it; it keeps running', async () => {
  const r = runFg(['--name', 'fg-restart', '--start-secs', '0.1', '--', 'sleep', '1000']);
  assert.ok(await waitFor(async () => (await cli(['status', 'fg-restart'], { env: box.env() })).code === 0, 10000), r.out());
  const [worker] = childrenOf(r.child.pid!);
  const refused = await cli(['restart', 'fg-restart'], { env: box.env() });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /^daemonkit: fg-restart runs in the foreground \(daemonkit run\): restart it through what started it .*\n$/);
  assert.ok(alive(r.child.pid!) && alive(worker!), 'nothing was stopped');
  r.child.kill('SIGTERM');
  assert.equal((await r.exit).code, 143);
  // Ended, it is still not restarted detached: the record says who runs it.
  assert.equal((await cli(['restart', 'fg-restart'], { env: box.env() })).code, 2);
  assert.equal(readFileSync(box.path('fg-restart.json'), 'utf8').includes('"startedBy":"run"'), true);
});

test('run that is not a session leader still stops what each crashed worker left in its group', { timeout: 30_000 }, async () => {
  // A sleep of its own length, to be found in /proc whoever its parent is now.
  const mark = '1001.4242';
  const leftovers = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${mark}\0`;
        } catch {
          return false;
        }
      })
      .map(Number);
  const r = runFg([
    '--backoff-min',
    '0.1',
    '--backoff-max',
    '0.2',
    '--max-restarts',
    '50',
    '--',
    'sh',
    '-c',
    `sleep ${mark} & sleep 0.3; exit 1`,
  ]);
  try {
    assert.notEqual(stat(r.child.pid!).session, r.child.pid, 'run is not a session leader here');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // Each crash leaves a sleep; each is stopped with the worker's group: the live worker's own, and at most one going.
    assert.ok(leftovers().length <= 2, `left: ${leftovers().length}`);
    r.child.kill('SIGTERM');
    await r.exit;
    assert.ok(await waitFor(() => leftovers().length === 0, 5000), `left after run's exit: ${leftovers().length}`);
  } finally {
    for (const pid of leftovers()) process.kill(pid, 'SIGKILL');
  }
});
