// `daemonkit start --no-supervise` driven like a user would, checked against /proc.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';
import { alive, cwd, environ, fds, stat, status, waitFor } from '../helpers/proc.js';

const box = new Sandbox();
after(() => box.cleanup());

const pidOf = (file: string) => box.track(Number(readFileSync(file, 'utf8')));

describe('start --no-supervise -- sleep', () => {
  test('a classic daemon: own session not led, no tty, cwd, umask, stdio, exactly fds 0-3, clean signals, asked env', async () => {
    const pidfile = box.path('sleep.pid');
    const log = box.path('sleep.log');
    const r = await cli(
      [
        'start',
        '--no-supervise',
        '--pidfile',
        pidfile,
        '--log',
        log,
        '--cwd',
        box.dir,
        '--umask',
        'u=rwx,g=rx,o=',
        '--clear-env',
        '--env',
        'GREETING=hi there',
        '--',
        'sleep',
        '1000',
      ],
      { env: box.env({ SECRET_TOKEN: 'x' }) },
    );
    assert.equal(r.code, 0, r.stderr);
    const pid = pidOf(pidfile);
    assert.match(r.stdout, new RegExp(`^started sleep \\(pid ${pid}\\)\\n$`));
    const s = stat(pid);
    assert.equal(s.comm, 'sleep');
    assert.notEqual(s.session, pid);
    assert.notEqual(s.session, stat(process.pid).session);
    assert.equal(s.ttyNr, 0);
    assert.equal(cwd(pid), box.dir);
    const st = status(pid);
    assert.equal(st.Umask, '0027');
    assert.equal(st.SigBlk, '0000000000000000');
    assert.equal(st.SigIgn, '0000000000000000');
    assert.deepEqual(
      [...fds(pid)],
      [
        [0, '/dev/null'],
        [1, log],
        [2, log],
        [3, pidfile],
      ],
    );
    const env = environ(pid);
    assert.ok(env.includes('GREETING=hi there'));
    assert.ok(!env.some((e) => e.startsWith('SECRET_TOKEN=')), '--clear-env dropped the rest');
    assert.ok(!env.some((e) => e.startsWith('DAEMONKIT_')), 'no daemonkit marker');
    assert.deepEqual(
      env.map((e) => e.split('=')[0]).sort(),
      ['GREETING', 'HOME', 'LANG', 'PATH'].filter((k) => k === 'GREETING' || process.env[k] !== undefined).sort(),
    );
  });

  test('defaults need no flags: state in $DAEMONKIT_HOME, cwd /, umask 022, output to NAME.log', async () => {
    const r = await cli(['start', '--no-supervise', '--name', 'plain', '--', 'sh', '-c', 'echo hello; exec sleep 1000'], {
      env: box.env(),
    });
    assert.equal(r.code, 0, r.stderr);
    const pid = pidOf(box.path('plain.pid'));
    assert.equal(cwd(pid), '/');
    assert.equal(status(pid).Umask, '0022');
    assert.ok(await waitFor(() => readFileSync(box.path('plain.log'), 'utf8').includes('hello')));
  });

  test('a second start of a running service: "already running (pid N)", exit 1; exit 0 with --ok-if-running', async () => {
    const env = box.env();
    assert.equal((await cli(['start', '--no-supervise', '--name', 'twice', '--', 'sleep', '1000'], { env })).code, 0);
    const pid = pidOf(box.path('twice.pid'));
    const again = await cli(['start', '--no-supervise', '--name', 'twice', '--', 'sleep', '1000'], { env });
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `daemonkit: twice already running (pid ${pid})\n`);
    // Asked to be fine with it: said on stdout, not as an error.
    const ok = await cli(['start', '--no-supervise', '--name', 'twice', '--ok-if-running', '--', 'sleep', '1000'], { env });
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, `twice already running (pid ${pid})\n`, '']);
  });

  test('concurrent starts with one PID file: exactly one wins, the rest name its PID', async () => {
    const env = box.env();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => cli(['start', '--no-supervise', '--name', 'race', '--', 'sleep', '1000'], { env })),
    );
    const pid = pidOf(box.path('race.pid'));
    assert.equal(results.filter((r) => r.code === 0).length, 1, results.map((r) => r.stderr).join(''));
    for (const r of results.filter((x) => x.code !== 0)) assert.equal(r.stderr, `daemonkit: race already running (pid ${pid})\n`);
    const sleeps = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p) && alive(Number(p)))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u00001000\u0000' && fds(Number(p)).get(3) === box.path('race.pid');
        } catch {
          return false;
        }
      });
    assert.deepEqual(sleeps.map(Number), [pid]);
  });

  test('a stopped program whose short-lived child still held the PID file lock: the file goes, status says stopped', async () => {
    const env = box.env();
    const r = await cli(['start', '--no-supervise', '--name', 'forking', '--', 'sh', '-c', 'while :; do sleep 0.2; done'], { env });
    assert.equal(r.code, 0, r.stderr);
    box.track(pidOf(box.path('forking.pid')));
    const stop = await cli(['stop', 'forking'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(existsSync(box.path('forking.pid')), false, 'no PID file left');
    assert.equal((await cli(['status', 'forking'], { env })).code, 3);
  });

  test('a stale PID file naming a live unrelated process: start succeeds and that process is never signalled', async () => {
    const stranger = spawn('sleep', ['1000'], { stdio: 'ignore' });
    box.track(stranger.pid);
    writeFileSync(box.path('stale.pid'), `${stranger.pid}\n`);
    const r = await cli(['start', '--no-supervise', '--name', 'stale', '--', 'sleep', '1000'], { env: box.env() });
    assert.equal(r.code, 0, r.stderr);
    const pid = pidOf(box.path('stale.pid'));
    assert.notEqual(pid, stranger.pid);
    assert.ok(alive(stranger.pid!));
    stranger.kill('SIGKILL');
  });
});

describe('start --no-supervise failures', () => {
  test('a program that exits before --start-secs: exit 1 with its decoded status and stderr tail, nothing left', async () => {
    const r = await cli(
      ['start', '--no-supervise', '--name', 'crash', '--start-secs', '0.5', '--', 'sh', '-c', 'echo "cannot bind :80" >&2; exit 3'],
      { env: box.env() },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /crash failed to start: .*exited 3 before it was ready/);
    assert.match(r.stderr, /cannot bind :80/);
    assert.equal(existsSync(box.path('crash.pid')), false);
  });

  test('a program killed by a signal before ready: the signal is named', async () => {
    const r = await cli(['start', '--no-supervise', '--name', 'killed', '--', 'sh', '-c', 'kill -SEGV $$'], { env: box.env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /killed by SIGSEGV/);
  });

  test('a missing command, a non-executable file, a nonexistent cwd: exit 2 with the path named', async (t) => {
    const own = new Sandbox();
    t.after(() => own.cleanup());
    const env = own.env();
    const missing = await cli(['start', '--no-supervise', '--', '/no/such/program'], { env });
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, "daemonkit: command '/no/such/program' does not exist\n");
    const notExec = box.path('not-exec.sh');
    writeFileSync(notExec, '#!/bin/sh\n');
    chmodSync(notExec, 0o644);
    const ne = await cli(['start', '--no-supervise', '--', notExec], { env });
    assert.equal(ne.code, 2);
    assert.equal(ne.stderr, `daemonkit: command '${notExec}' is not executable\n`);
    const notFound = await cli(['start', '--no-supervise', '--', 'no-such-program-xyz'], { env });
    assert.equal(notFound.code, 2);
    assert.match(notFound.stderr, /command 'no-such-program-xyz' not found in PATH/);
    const badCwd = await cli(['start', '--no-supervise', '--cwd', '/no/such/dir', '--', 'sleep', '1'], { env });
    assert.equal(badCwd.code, 2);
    assert.equal(badCwd.stderr, "daemonkit: invalid --cwd '/no/such/dir': no such directory\n");
    assert.deepEqual(readdirSync(own.dir), [], 'nothing created in the state directory');
  });

  test('an unwritable log path: exit 1 naming it, no PID file', async () => {
    const r = await cli(['start', '--no-supervise', '--name', 'nolog', '--log', '/proc/daemonkit.log', '--', 'sleep', '1'], {
      env: box.env(),
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open log file \/proc\/daemonkit\.log/);
    assert.equal(existsSync(box.path('nolog.pid')), false);
  });

  test('a symlink planted at the PID file path is refused and its target untouched', async () => {
    const target = box.path('precious');
    writeFileSync(target, 'keep me\n');
    const { symlinkSync } = await import('node:fs');
    symlinkSync(target, box.path('planted.pid'));
    const r = await cli(['start', '--no-supervise', '--name', 'planted', '--', 'sleep', '1000'], { env: box.env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /symbolic link/);
    assert.equal(readFileSync(target, 'utf8'), 'keep me\n');
  });
});
