// Who gets signalled: only a process that is provably the service (it holds its own PID file open), and only with a
// signal it declared. A lock anyone can take, a PID anyone can be handed, never make daemonkit signal a stranger.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fixture, run } from '../helpers/run.js';
import { alive, waitFor } from '../helpers/proc.js';
import { Box, isRoot, killStrangers, pidFromFile, sleepMs, stranger, startTime, untouched } from './lib.js';

const box = new Box();
afterEach(() => box.killAll());
after(async () => {
  killStrangers();
  await box.cleanup();
});

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync);
const FLOCK = ['/usr/bin/flock', '/bin/flock'].find(existsSync);

/** Another user holding an exclusive flock on path (what anyone who can read a 0644 file can do); killed by the box. */
async function strangerLock(path: string): Promise<number> {
  chmodSync(box.dir, 0o755);
  const child = spawn(SETPRIV!, ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', '--', FLOCK!, '-x', path, 'sleep', '30'], {
    env: box.env(),
    stdio: 'ignore',
    detached: true,
  });
  child.unref();
  const pid = box.track(child.pid);
  const locked = () =>
    readFileSync('/proc/locks', 'utf8')
      .split('\n')
      .some((l) => l.includes('FLOCK') && l.split(/\s+/)[4] === String(pid));
  assert.ok(await waitFor(locked, 5000), 'the stranger holds the lock');
  return pid;
}

/** TCP sockets of pid listening on 127.0.0.1:9229 (Node's inspector), from /proc/net/tcp. */
function inspectorSockets(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(':240D') && f[3] === '0A' && inodes.has(f[9]!)).length;
}

describe('reopen sends only a signal the target declared', () => {
  test('a library daemon gets SIGUSR1 as its reopen event, and Node never opens the inspector', async () => {
    const pidfile = box.path('lib.pid');
    const reopens = box.path('lib.reopens');
    const r = await run([process.execPath, fixture('library-daemon.mjs')], {
      env: box.env({ FIXTURE_MODE: 'http', FIXTURE_OPTIONS: JSON.stringify({ pidfile }), FIXTURE_REOPENS: reopens }),
    });
    assert.equal(r.code, 0, r.stderr);
    const pid = box.track(pidFromFile(pidfile));
    const reopen = await box.cli(['reopen', '--pidfile', pidfile]);
    assert.equal(reopen.code, 0, reopen.stderr);
    assert.equal(reopen.stdout, `lib: sent SIGUSR1 to pid ${pid}\n`);
    assert.ok(await waitFor(() => existsSync(reopens)), 'the daemon heard its reopen event');
    assert.equal(readFileSync(reopens, 'utf8'), `reopened ${pid}\n`);
    await sleepMs(200);
    assert.ok(alive(pid));
    assert.equal(inspectorSockets(pid), 0, 'no inspector listening on 9229');
  });

  test('a foreign unsupervised program that declared nothing: reopen refuses in one line, exit 1, and it lives on', async () => {
    const r = await box.cli(['start', '--no-supervise', '--name', 'ticker', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const pid = pidFromFile(box.path('ticker.pid'));
    const born = startTime(pid);
    const reopen = await box.cli(['reopen', 'ticker']);
    assert.equal(reopen.code, 1);
    assert.equal(reopen.stdout, '');
    assert.equal(
      reopen.stderr,
      'daemonkit: ticker: no supervisor answered and the program declared no signal for reopen (start it with --reopen-signal SIG); nothing was sent\n',
    );
    await sleepMs(200);
    assert.ok(alive(pid));
    assert.equal(startTime(pid), born);
  });

  test('--reopen-signal USR1 declares it: reopen sends exactly that to the program', async () => {
    const marker = box.path('trapped');
    const script = `trap 'echo usr1 >> ${marker}' USR1; while :; do sleep 0.05; done`;
    const r = await box.cli(['start', '--no-supervise', '--name', 'trap', '--reopen-signal', 'USR1', '--', 'sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    const pid = pidFromFile(box.path('trap.pid'));
    const reopen = await box.cli(['reopen', 'trap']);
    assert.equal(reopen.code, 0, reopen.stderr);
    assert.equal(reopen.stdout, `trap: sent SIGUSR1 to pid ${pid}\n`);
    assert.ok(await waitFor(() => existsSync(marker)), 'the trap ran');
    assert.ok(alive(pid));
  });

  test('--reopen-signal with the supervisor, or naming no signal, is a usage error', async () => {
    const sup = await box.cli(['start', '--name', 'x', '--reopen-signal', 'USR1', '--', 'sleep', '1000']);
    assert.equal(sup.code, 2);
    assert.match(sup.stderr, /^daemonkit: conflicting options: --reopen-signal is for --no-supervise/);
    const bad = await box.cli(['start', '--no-supervise', '--name', 'x', '--reopen-signal', 'USR9', '--', 'sleep', '1000']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--reopen-signal 'USR9'/);
    assert.deepEqual(box.processes(), []);
  });
});

describe('a PID file lock held by someone else proves nothing', { skip: !isRoot() || !SETPRIV || !FLOCK }, () => {
  test('a stranger locks a stale PID file naming a live process: status, stop, reload, reopen touch nobody; start takes over', async () => {
    const r = await box.cli(['start', '--name', 'held', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('held.pid'));
    process.kill(sup, 'SIGKILL');
    assert.ok(await waitFor(() => !existsSync(`/proc/${sup}`), 3000));
    const victim = await stranger();
    writeFileSync(box.path('held.pid'), `${victim}\n`);
    const locker = await strangerLock(box.path('held.pid'));

    const st = await box.cli(['status', 'held']);
    assert.equal(st.code, 1, st.stdout + st.stderr);
    const json = JSON.parse((await box.cli(['status', 'held', '--json'])).stdout);
    assert.equal(json.reason, `not running (stale PID file; its lock is held by pid ${locker} (flock), which is not the service)`);
    const stop = await box.cli(['stop', 'held', '--retry', 'TERM/1/KILL/1']);
    assert.equal(stop.code, 1);
    assert.equal(stop.stderr, 'daemonkit: held is not running (stale PID file; nobody was signalled)\n');
    for (const cmd of ['reload', 'reopen']) {
      const again = await box.cli([cmd, 'held']);
      assert.equal(again.code, 3, `${cmd}: ${again.stdout}${again.stderr}`);
    }
    untouched(victim);

    const start = await box.cli(['start', '--name', 'held', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(start.code, 0, start.stderr);
    const sup2 = pidFromFile(box.path('held.pid'));
    assert.notEqual(sup2, victim);
    assert.equal((await box.cli(['status', 'held'])).code, 0);
    assert.equal((await box.cli(['stop', 'held'])).code, 0);
    untouched(victim);
  });

  test('a daemon whose background child inherited the locked PID file: once it exits, status and start tell the truth', async () => {
    const r = await box.cli(['start', '--no-supervise', '--name', 'ns', '--', 'sh', '-c', 'sleep 600 & exec sleep 1']);
    assert.equal(r.code, 0, r.stderr);
    const pid = pidFromFile(box.path('ns.pid'));
    assert.ok(await waitFor(() => !alive(pid), 5000), 'the daemon itself exited');
    const st = await box.cli(['status', 'ns']);
    assert.notEqual(st.code, 0, st.stdout);
    assert.match(st.stdout, /not running/);
    const stop = await box.cli(['stop', 'ns']);
    assert.equal(stop.code, 1, stop.stdout + stop.stderr);
    const start = await box.cli(['start', '--no-supervise', '--name', 'ns', '--', 'sleep', '1000']);
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await box.cli(['status', 'ns'])).code, 0);
    assert.equal((await box.cli(['stop', 'ns'])).code, 0);
  });
});
