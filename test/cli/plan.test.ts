// `daemonkit plan` as a user runs it: the plan text and JSON, help, and one-line usage errors with exit 2.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, run } from '../helpers/run.js';
import { cliPath } from '../helpers/paths.js';

const box = new Sandbox();
after(() => box.cleanup());

test('plan prints one step a line with the process that runs it, and creates nothing', async () => {
  const r = await cli(
    ['plan', '--no-supervise', '--pidfile', box.path('app.pid'), '--log', box.path('app.log'), '--umask', '027', '--', 'sleep', '10'],
    { env: box.env() },
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const steps = lines.filter((l) => /^\s*\d+\s/.test(l)).map((l) => l.trim().split(/\s+/).slice(1, 3).join(' '));
  assert.deepEqual(steps, [
    'original ready-pipe',
    'original spawn-session',
    'intermediate session-stdio',
    'intermediate umask',
    'intermediate no-core-dumps',
    'intermediate pidfile.lock',
    'intermediate chdir',
    'intermediate spawn-daemon',
    'intermediate pidfile.write',
    'daemon exec',
    'intermediate report-exit',
    'original await-ready',
  ]);
  assert.match(r.stdout, /umask 0027 \(files 0640, dirs 0750\)/);
  assert.match(r.stdout, /fds of the daemon: +fd 0 kept; fd 1 kept; fd 2 kept; fd 3 = the locked PID file; close fds >= 4/);
  assert.deepEqual(readdirSync(box.dir), []);
});

test('plan --json is the same plan as data', async () => {
  const r = await cli(['plan', '--json', '--user', 'nobody', '--', 'sleep', '10'], { env: box.env() });
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.detach, true);
  const order = plan.steps.map((s: { role: string; step: string }) => `${s.role}:${s.step}`);
  assert.ok(order.indexOf('supervisor:pidfile.lock') < order.indexOf('supervisor:spawn-workers'));
  assert.ok(order.indexOf('supervisor:spawn-workers') < order.indexOf('daemon:setgroups'));
  assert.ok(order.indexOf('daemon:setgroups') < order.indexOf('daemon:setgid'));
  assert.ok(order.indexOf('daemon:setgid') < order.indexOf('daemon:setuid'));
  assert.ok(order.indexOf('daemon:setuid') < order.indexOf('daemon:exec'));
  assert.ok(plan.sessionFds.some((a: { op: string; fd: number }) => a.op === 'closefrom' && a.fd === 4));
});

test('--help for the CLI and for each command', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Commands:[\s\S]*plan/);
  for (const cmd of ['plan', 'start']) {
    const h = await cli([cmd, '--help']);
    assert.equal(h.code, 0, cmd);
    assert.match(h.stdout, new RegExp(`Usage: daemonkit ${cmd}`));
    assert.match(h.stdout, /--umask MASK/);
  }
});

test('a reader that went away (| head) ends the CLI quietly with 0, as SIGPIPE would', async () => {
  // The pipe's reader (true) is gone before the CLI writes: `daemonkit plan --json | head -c 0`, made certain.
  const r = await run([
    'sh',
    '-c',
    'exec 3>&1; { sleep 0.3; "$0" "$1" plan --json -- sleep 1; echo "status $?" >&3; } | true',
    process.execPath,
    cliPath,
  ]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'status 0\n');
});

const bad: Array<[string[], string]> = [
  [['plan', '--umask', '999', '--', 'sleep', '1'], "invalid --umask '999': '9' is not an octal digit"],
  [['plan', '--umask', '0o1000', '--', 'sleep', '1'], "invalid --umask '0o1000'"],
  [['plan', '--umask', 'u=rwz', '--', 'sleep', '1'], "invalid --umask 'u=rwz'"],
  [['plan', '--umask', '', '--', 'sleep', '1'], "invalid --umask ''"],
  [['plan', '--cwd', '/no/such/dir', '--', 'sleep', '1'], "invalid --cwd '/no/such/dir': no such directory"],
  [['plan', '--cwd', '/etc/passwd', '--', 'sleep', '1'], "invalid --cwd '/etc/passwd': not a directory"],
  [['plan', '--user', 'no-such-user-xyz', '--', 'sleep', '1'], "invalid --user 'no-such-user-xyz': no such user"],
  [['plan', '--group', 'no-such-group-xyz', '--', 'sleep', '1'], "invalid --group 'no-such-group-xyz': no such group"],
  [['plan', '--ready-timeout', 'soon', '--', 'sleep', '1'], "invalid --ready-timeout 'soon'"],
  [['plan', '--ready-timeout', '0', '--', 'sleep', '1'], "invalid --ready-timeout '0': must be more than 0"],
  [['plan', '--start-secs=-1', '--', 'sleep', '1'], "invalid --start-secs '-1'"],
  [
    ['plan', '--start-secs', '-1', '--', 'sleep', '1'],
    "invalid --start-secs '-1': a value starting with '-' must be written --start-secs=-1",
  ],
  [['plan', '--env', 'NOEQUALS', '--', 'sleep', '1'], "invalid --env 'NOEQUALS': expected KEY=VALUE"],
  [['plan', '--env', '1BAD=x', '--', 'sleep', '1'], "invalid --env '1BAD=x'"],
  [['plan', '--env', 'DAEMONKIT_ROLE=daemon', '--', 'sleep', '1'], "invalid --env 'DAEMONKIT_ROLE=daemon'"],
  [['plan', '--name', 'a/b', '--', 'sleep', '1'], "invalid --name 'a/b'"],
  [['plan', '--name', '..', '--', 'sleep', '1'], "invalid --name '..'"],
  [['plan', '--name', 'x'.repeat(300), '--', 'sleep', '1'], 'longer than 100 characters (300)'],
  [['plan', '--name', 'a\u0001b', '--', 'sleep', '1'], "invalid --name 'a\\x01b'"],
  [['plan', '--log', 'x.log', '--stdout', 'y.log', '--', 'sleep', '1'], 'conflicting options: --log sets both streams'],
  [['plan', '--bogus', '--', 'sleep', '1'], "unknown option '--bogus'"],
  [['plan', '--umask'], "option '--umask' needs a value"],
  [['plan', 'sleep', '1'], "missing '--' and the program to run (did you mean: daemonkit plan -- sleep 1?)"],
  [['plan', '--'], "missing command: give it after '--'"],
  [['plan', '--', '/no/such/bin'], "command '/no/such/bin' does not exist"],
  [['frobnicate'], "unknown command 'frobnicate'"],
];

for (const [args, message] of bad) {
  test(`bad input: ${JSON.stringify(args).slice(0, 70)} → exit 2, one line`, async () => {
    const r = await cli(args, { env: box.env() });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`);
    assert.ok(r.stderr.startsWith('daemonkit: '), r.stderr);
    assert.ok(r.stderr.includes(message), `${JSON.stringify(r.stderr)} should include ${JSON.stringify(message)}`);
  });
}

test("plan --foreground takes run's own options and refuses start's; plan without it the reverse", async () => {
  const fg = await cli(['plan', '--foreground', '--exit-map', '1=0', '--', 'true']);
  assert.equal(fg.code, 0, fg.stderr);
  const noSup = await cli(['plan', '--foreground', '--no-supervise', '--', 'true']);
  assert.equal(noSup.code, 2, noSup.stdout);
  assert.match(noSup.stderr, /^daemonkit: --no-supervise is not an option of daemonkit run\n$/);
  const start = await cli(['plan', '--exit-map', '1=0', '--', 'true']);
  assert.equal(start.code, 2, start.stdout);
  assert.match(start.stderr, /^daemonkit: --exit-map is not an option of daemonkit start \(it is run's: plan --foreground\)\n$/);
});
