// --ready MODE end to end: `start` exits 0 only once every worker is ready by the mode (READY=1 on the service's
// NOTIFY_SOCKET, a TCP probe, a command), and 1 naming the worker that is not.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, fixture } from '../helpers/run.js';
import { alive, environ, fds, status, waitFor } from '../helpers/proc.js';
import { repoRoot } from '../helpers/paths.js';
import { freePort } from '../helpers/net.js';

const box = new Sandbox();
after(() => box.cleanup());

interface Worker {
  task: number;
  pid: number;
  state: string;
  ready: boolean;
  probe: { ok: boolean; text: string; at: number } | null;
}

const WORKER = [process.execPath, fixture('ready-worker.mjs')];
const env = (extra: Record<string, string> = {}) => box.env({ FIXTURE_DIR: box.dir, ...extra });

const readyMarkers = () =>
  readdirSync(box.dir)
    .filter((f) => f.startsWith('ready-'))
    .map((f) => Number(f.slice('ready-'.length)));

async function start(name: string, args: string[], command: string[], extra: Record<string, string> = {}) {
  const before = new Set(readyMarkers());
  const r = await cli(['start', '--name', name, ...args, '--', ...command], { env: env(extra) });
  box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1] ?? 0));
  // What this start's workers had written when it returned: their ready markers.
  return { ...r, markers: readyMarkers().filter((pid) => !before.has(pid)) };
}

async function workers(name: string): Promise<Worker[]> {
  const r = await cli(['status', name, '--json'], { env: env() });
  const list = JSON.parse(r.stdout).workers as Worker[];
  for (const w of list) box.track(w.pid);
  return list;
}

async function stop(name: string): Promise<void> {
  const r = await cli(['stop', name], { env: env() });
  assert.equal(r.code, 0, r.stderr);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

/** The NOTIFY_SOCKET a worker was given. */
const notifySocketOf = (pid: number) =>
  environ(pid)
    .find((e) => e.startsWith('NOTIFY_SOCKET='))!
    .slice('NOTIFY_SOCKET='.length);

const hasSystemdNotify = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v systemd-notify'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
})();

describe('--ready notify', () => {
  test('start waits for READY=1 from every worker (library notify()), which gets our NOTIFY_SOCKET and not the one above', async () => {
    // A systemd above the CLI: its NOTIFY_SOCKET and WATCHDOG_USEC are the supervisor's, never the workers'.
    const r = await start('nt', ['--workers', '2', '--ready', 'notify', '--ready-timeout', '10'], WORKER, {
      FIXTURE_NOTIFY: '1',
      FIXTURE_DELAY_MS: '700',
      NOTIFY_SOCKET: '/run/systemd/notify',
      WATCHDOG_USEC: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    const list = await workers('nt');
    assert.deepEqual(
      list.map((w) => [w.task, w.state, w.ready]),
      [
        [0, 'running', true],
        [1, 'running', true],
      ],
    );
    // Both workers were ready (their markers written just before READY=1) when start returned.
    assert.deepEqual([...r.markers].sort(), list.map((w) => w.pid).sort());
    const socket = box.path('nt.notify');
    assert.ok(lstatSync(socket).isSocket());
    assert.equal(lstatSync(socket).mode & 0o777, 0o600, 'root and the workers only');
    for (const w of list) {
      const e = environ(w.pid);
      assert.ok(e.includes(`NOTIFY_SOCKET=${socket}`), e.join(' '));
      assert.ok(!e.some((v) => v.startsWith('WATCHDOG_')), "the watchdog of the systemd above is not the worker's");
      assert.match(w.probe?.text ?? '', /^notify: READY=1, STATUS=task \d serving$/);
    }
    const text = await cli(['status', 'nt'], { env: env() });
    assert.match(text.stdout, /TASK +PID +STATE +READY/);
    assert.match(text.stdout, /running +yes/);
    await stop('nt');
    assert.equal(existsSync(socket), false, 'the notify socket goes with the service');
  });

  test(
    "systemd-notify --ready from a worker's shell counts for that worker",
    { skip: !hasSystemdNotify && 'no systemd-notify' },
    async () => {
      const r = await start(
        'sn',
        ['--ready', 'notify', '--ready-timeout', '10'],
        ['sh', '-c', `sleep 0.5; touch ${box.path('ready-$$')}; systemd-notify --ready; exec sleep 1000`],
      );
      assert.equal(r.code, 0, r.stderr);
      const [w] = await workers('sn');
      assert.equal(w!.ready, true);
      assert.deepEqual(r.markers, [w!.pid]);
      await stop('sn');
    },
  );

  test("a rolling reload waits for each replacement's READY=1; one that never sends it leaves the old worker serving", async () => {
    const r = await start('rl', ['--workers', '2', '--ready', 'notify', '--ready-timeout', '1'], WORKER, {
      FIXTURE_NOTIFY: '1',
      FIXTURE_DELAY_MS: '200',
    });
    assert.equal(r.code, 0, r.stderr);
    const first = (await workers('rl')).map((w) => w.pid);
    const ok = await cli(['reload', 'rl'], { env: env() });
    assert.equal(ok.code, 0, ok.stderr);
    const second = await workers('rl');
    assert.deepEqual(
      second.map((w) => [w.task, w.ready]),
      [
        [0, true],
        [1, true],
      ],
    );
    for (const pid of first) assert.ok(!second.some((w) => w.pid === pid) && (await waitFor(() => !alive(pid))));
    writeFileSync(box.path('hold-ready'), '');
    try {
      const failed = await cli(['reload', 'rl'], { env: env() });
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /reload failed: the new worker 0 was not ready in time; the old workers keep running/);
      const third = await workers('rl');
      assert.deepEqual(
        third.map((w) => w.pid),
        second.map((w) => w.pid),
      );
      for (const w of third) assert.ok(alive(w.pid));
    } finally {
      rmSync(box.path('hold-ready'));
    }
    await stop('rl');
  });

  test('a worker may write READY=1 to DAEMONKIT_NOTIFY_FD (a shell printf): a socket of its own, after the listeners', async () => {
    const port = await freePort();
    // dash expands the fd of a >& redirection; one printf is one write(2), so one datagram.
    const script = `fd=\${DAEMONKIT_NOTIFY_FD%%:*}; sleep 0.3; touch ${box.path('ready-$$')}; printf 'READY=1\\nSTATUS=by fd' >&"$fd"; exec sleep 1000`;
    const r = await start(
      'nf',
      ['--workers', '2', '--listen', `tcp:127.0.0.1:${port}`, '--ready', 'notify', '--ready-timeout', '10'],
      ['sh', '-c', script],
    );
    assert.equal(r.code, 0, r.stderr);
    const list = await workers('nf');
    assert.deepEqual([...r.markers].sort(), list.map((w) => w.pid).sort(), 'start returned once both had written');
    const inodes = list.map((w) => {
      assert.equal(w.probe?.text, 'notify: READY=1, STATUS=by fd');
      const entry = environ(w.pid).find((e) => e.startsWith('DAEMONKIT_NOTIFY_FD='));
      const [fd, ino] = entry!.slice('DAEMONKIT_NOTIFY_FD='.length).split(':').map(Number);
      assert.equal(fd, 4, 'fd 3 is the listener (LISTEN_FDS=1), the notify socket comes after it');
      const open = fds(w.pid);
      assert.match(open.get(3)!, /^socket:\[\d+\]$/);
      assert.equal(open.get(4), `socket:[${ino}]`, 'the fd is the socket the variable names');
      assert.equal(open.has(5), false, 'nothing else passed');
      return ino;
    });
    assert.notEqual(inodes[0], inodes[1], 'one sender per worker');
    await stop('nf');
  });

  test(
    '--user: READY=1 reaches the supervisor though the worker cannot enter the state directory',
    { skip: process.getuid?.() !== 0 && 'needs root for --user' },
    async () => {
      assert.equal(lstatSync(box.dir).mode & 0o777, 0o700, 'the state directory is closed to others');
      // As a umask of 077 would have made it: start must open it to the workers again (0711).
      if (existsSync('/run/daemonkit')) chmodSync('/run/daemonkit', 0o700);
      // The path, not the fd the supervisor passed: what a program without daemonkit's notify() uses.
      const notifyAsNobody = `delete process.env.DAEMONKIT_NOTIFY_FD; require(${JSON.stringify(`${repoRoot}/dist/index.js`)}).notify('READY=1'); setInterval(() => {}, 1e9)`;
      const r = await start(
        'nu',
        ['--user', 'nobody', '--ready', 'notify', '--ready-timeout', '10'],
        [process.execPath, '-e', notifyAsNobody],
      );
      assert.equal(r.code, 0, r.stderr);
      const [w] = await workers('nu');
      assert.equal(status(w!.pid).Uid.split('\t')[0], '65534', 'the worker runs as nobody');
      // It was given the descriptor too (fd 3: no listeners), though this test uses the path.
      const [fd, ino] = environ(w!.pid)
        .find((e) => e.startsWith('DAEMONKIT_NOTIFY_FD='))!
        .slice('DAEMONKIT_NOTIFY_FD='.length)
        .split(':');
      assert.equal(fds(w!.pid).get(Number(fd)), `socket:[${ino}]`);
      assert.match(w!.probe?.text ?? '', /^notify: READY=1/);
      // Not in the state directory nobody cannot enter: in root's /run/daemonkit, a file only nobody (and root) can use.
      const path = notifySocketOf(w!.pid);
      assert.match(path, /^\/run\/daemonkit\/notify-[0-9a-f]{16}$/);
      const st = lstatSync(path);
      assert.ok(st.isSocket());
      assert.deepEqual([st.uid, st.mode & 0o777], [65534, 0o600]);
      const dir = lstatSync('/run/daemonkit');
      assert.deepEqual([dir.uid, dir.mode & 0o777], [0, 0o711], 'passable, not listable or writable by others');
      await stop('nu');
      assert.equal(existsSync(path), false, 'the socket goes with the service');
    },
  );

  test('a worker that never sends READY=1: start exits 1 after --ready-timeout naming it, nothing left', async () => {
    const r = await start('silent', ['--workers', '2', '--ready', 'notify', '--ready-timeout', '1'], WORKER, { FIXTURE_NOTIFY: 'never' });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /silent failed to start: worker 0 was not ready within 1s \(no READY=1 on NOTIFY_SOCKET .*silent\.notify\)/);
    const sup = Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1] ?? 0);
    if (sup) assert.ok(await waitFor(() => !alive(sup)));
    assert.equal(existsSync(box.path('silent.pid')), false);
  });
});

describe('status while a start waits', () => {
  test('no worker ready yet: status says starting with LSB 150 (no worker up), never running with 0', async () => {
    const starting = start('waiting', ['--ready', 'notify', '--ready-timeout', '20'], WORKER, { FIXTURE_NOTIFY: 'never' });
    try {
      const pidfile = box.path('waiting.pid');
      assert.ok(await waitFor(() => existsSync(pidfile) && readFileSync(pidfile, 'utf8').trim() !== '', 10_000), 'the supervisor is up');
      box.track(Number(readFileSync(pidfile, 'utf8')));
      const ws = await waitFor(async () => (await workers('waiting')).length === 1, 10_000);
      assert.ok(ws, 'the worker is spawned');
      const s = await cli(['status', 'waiting', '--json'], { env: env() });
      const json = JSON.parse(s.stdout) as { lsb: number; state: string };
      assert.equal(s.code, 150, s.stdout);
      assert.equal(json.lsb, 150);
      assert.equal(json.state, 'starting');
    } finally {
      await cli(['stop', 'waiting'], { env: env() });
      await starting;
    }
  });
});

describe('--ready probes', () => {
  test("a failed rolling reload: status keeps the serving worker's own last probe, not its failed replacement's", async () => {
    const hold = box.path('hold-exec');
    const r = await start('keep', ['--ready', `exec:test ! -e ${hold}`, '--ready-timeout', '2'], ['sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const [before] = await workers('keep');
    assert.equal(before!.probe?.ok, true);
    writeFileSync(hold, '');
    try {
      const failed = await cli(['reload', 'keep'], { env: env() });
      assert.equal(failed.code, 1, failed.stdout);
      const [after] = await workers('keep');
      assert.equal(after!.pid, before!.pid, 'the old worker serves on');
      assert.equal(after!.probe?.ok, true, `shown: ${JSON.stringify(after!.probe)}`);
    } finally {
      rmSync(hold);
    }
    await stop('keep');
  });

  test('tcp: start returns once the worker listens (late), not before', async () => {
    const port = await freePort();
    const r = await start('late', ['--ready', `tcp:${port}`, '--ready-timeout', '10'], WORKER, {
      FIXTURE_PORT: String(port),
      FIXTURE_DELAY_MS: '800',
    });
    assert.equal(r.code, 0, r.stderr);
    const [w] = await workers('late');
    assert.deepEqual(
      r.markers.filter((p) => p === w!.pid),
      [w!.pid],
      'the server was listening when start returned',
    );
    assert.ok(await accepts(port));
    assert.equal(w!.ready, true);
    assert.equal(w!.probe?.ok, true);
    assert.equal(w!.probe?.text, `tcp 127.0.0.1:${port}: connected`);
    await stop('late');
  });

  test('tcp: nothing ever listens: exit 1 with the last probe result', async () => {
    const port = await freePort();
    const r = await start('deaf', ['--ready', `tcp:127.0.0.1:${port}`, '--ready-timeout', '1'], ['sleep', '1000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`worker 0 was not ready within 1s \\(last probe: tcp 127\\.0\\.0\\.1:${port}: ECONNREFUSED\\)`));
  });

  test("exec: ready when the command exits 0, run with the worker's task id and pid", async () => {
    const check = `test -e ${box.dir}/ready-$MAINPID && test "$DAEMONKIT_TASK_ID" -ge 0`;
    const r = await start('ex', ['--workers', '2', '--ready', `exec:${check}`, '--ready-timeout', '10'], WORKER, {
      FIXTURE_DELAY_MS: '600',
    });
    assert.equal(r.code, 0, r.stderr);
    const list = await workers('ex');
    assert.deepEqual(
      list.map((w) => w.ready),
      [true, true],
    );
    for (const w of list) assert.ok(r.markers.includes(w.pid));
    assert.match(list[0]!.probe?.text ?? '', /^exec test -e .*: exited 0$/);
    await stop('ex');
  });

  test('a bad mode is one line naming the option and the value, exit 2', async () => {
    for (const [mode, why] of [
      ['tcp:0', 'port must be from 1 to 65535'],
      ['udp:53', 'expected alive:DURATION'],
      ['exec:', 'expected exec:COMMAND'],
    ]) {
      const r = await cli(['start', '--name', 'bad', '--ready', mode!, '--', 'sleep', '1'], { env: env() });
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(`invalid --ready '${mode}': ${why}`), r.stderr);
    }
    assert.equal(existsSync(box.path('bad.pid')), false);
  });

  test('--chroot with --ready notify or --watchdog is refused: the chrooted worker could not reach the socket', async () => {
    for (const extra of [
      ['--ready', 'notify'],
      ['--watchdog', '5s'],
    ]) {
      const r = await cli(['start', '--name', 'chrooted', '--chroot', '/', ...extra, '--', 'sleep', '1'], { env: env() });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^daemonkit: invalid --chroot '\/': workers in a chroot cannot reach the notify socket/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test("--start-secs stays alive:DURATION's alias", async () => {
    const r = await cli(['plan', '--ready', 'alive:1s', '--start-secs', '1', '--', 'sleep', '1'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const bad = await cli(['start', '--ready', 'notify', '--start-secs', '1', '--', 'sleep', '1'], { env: env() });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /conflicting options: --start-secs/);
  });
});
