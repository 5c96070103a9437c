// How `start` waits for its verdict: blocked in poll(2) on the session link (no event loop runs meanwhile), so the
// spinner must be drawn between polls, and a session that dies before its verdict must still be reported.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';
import { cliPath } from '../helpers/paths.js';
import { alive, children, pidFromFile, waitFor, workersOf } from '../helpers/proc.js';

const box = new Sandbox();
after(() => box.cleanup());

/** The supervisor's PID from its PID file, once it has written it; 0 before. */
const supervisorOf = (name: string) => pidFromFile(box.path(`${name}.pid`));

/** Ready on the notify socket it inherits, after `seconds`; then it stays. */
const notifyAfter = (seconds: number) => [
  '/bin/sh',
  '-c',
  `sleep ${seconds}; printf READY=1 >&"\${DAEMONKIT_NOTIFY_FD%%:*}"; exec sleep 30`,
];

describe('on a terminal', { skip: spawnSync('sh', ['-c', 'command -v script']).status !== 0 && 'script(1) is not installed' }, () => {
  test('the spinner keeps turning while start waits blocked for a worker that is ready after 0.6 s', async () => {
    const command = [process.execPath, cliPath, 'start', '--name', 'spin', '--ready', 'notify', '--', ...notifyAfter(0.6)];
    const r = spawnSync('script', ['-qec', command.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' '), '/dev/null'], {
      env: box.env({ TERM: 'xterm' }),
      encoding: 'utf8',
      timeout: 20_000,
    });
    box.track(supervisorOf('spin'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /started spin \(supervisor pid \d+, 1 worker\)/);
    // One frame at once, then one each 80 ms: a wait that never ticked would show the first alone.
    const frames = r.stdout.match(/\r\x1b\[2K. starting spin/gu) ?? [];
    assert.ok(frames.length >= 4, `${frames.length} frames in 0.6 s: ${JSON.stringify(r.stdout)}`);
    assert.ok(new Set(frames).size >= 3, 'the frame changes');
    assert.equal((await cli(['stop', 'spin'], { env: box.env() })).code, 0);
  });
});

test('a supervisor killed before its verdict: start says so, exit 1, and leaves no worker behind', async () => {
  const child = spawn(process.execPath, [cliPath, 'start', '--name', 'dies', '--ready', 'notify', '--', ...notifyAfter(30)], {
    env: box.env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  box.track(child.pid);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The supervisor names itself in the PID file once it holds the lock; its worker is its child beside the guard.
  let sup = 0;
  const up = await waitFor(() => {
    sup = box.track(supervisorOf('dies'));
    return sup > 0 && workersOf(sup).length > 0;
  }, 10_000);
  const pids = [sup, ...children(sup)];
  for (const pid of pids) box.track(pid);
  assert.ok(up, 'the supervisor and its worker are up');
  process.kill(sup, 'SIGKILL');
  const timeout = new Promise<string>((resolve) => setTimeout(resolve, 10_000, 'still running').unref());
  assert.equal(await Promise.race([exited, timeout]), 1, stderr);
  assert.match(stderr, /^daemonkit: dies failed to start: the new session ended without a verdict \(killed by SIGKILL\)\n/);
  // The session guard takes the rest of the session down with it.
  assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 10_000), `still alive: ${pids.filter(alive).join(' ')}`);
});
