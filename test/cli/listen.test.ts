// --listen end to end: the supervisor binds once, every worker gets the sockets at fds 3.. with LISTEN_*, and a start
// whose socket cannot be had fails with one line naming the option, leaving nothing behind.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { get } from 'node:http';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { Box } from '../reliability/lib.js';
import { fixture } from '../helpers/run.js';
import { alive, children, environ, isCloexec, waitFor } from '../helpers/proc.js';
import { freePort } from '../helpers/net.js';

const box = new Box('daemonkit-listen-');
after(() => box.cleanup());

/** The supervisor's PID from start's output, tracked for cleanup. */
function supervisorOf(stdout: string): number {
  return box.track(Number(/supervisor pid (\d+)/.exec(stdout)?.[1] ?? 0));
}

/** The socket inode an fd of pid refers to ("socket:[123]"), or null. */
function socketOf(pid: number, fd: number): string | null {
  try {
    const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    return link.startsWith('socket:') ? link : null;
  } catch {
    return null;
  }
}

/** Every socket fd of pid (socket:[inode]), by number. */
function socketFds(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    const s = socketOf(pid, Number(name));
    if (s) out.set(Number(name), s);
  }
  return out;
}

function getJson(port: number): Promise<{ pid: number; activation: { pid: string; fds: string; names: string }; env: string | null }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

/** Nothing of a failed start is left: no process of this box, no PID file, no control socket. */
async function assertNothingLeft(name: string): Promise<void> {
  assert.ok(await waitFor(() => box.processes().length === 0, 5000), `processes left: ${box.processes().join(' ')}`);
  assert.equal(existsSync(box.path(`${name}.pid`)), false, 'no PID file');
  assert.equal(existsSync(box.path(`${name}.sock`)), false, 'no control socket');
}

describe('--listen: sockets the workers share', () => {
  test('two workers get the same sockets at fds 3 and 4 with LISTEN_FDS, LISTEN_FDNAMES and their own LISTEN_PID', async () => {
    const port = await freePort();
    const sock = box.path('api.sock');
    const r = await box.cli([
      'start',
      '--name',
      'pair',
      '--workers',
      '2',
      '--start-secs',
      '0.3',
      '--listen',
      `tcp:127.0.0.1:${port}`,
      '--listen',
      `api=unix:${sock}`,
      '--umask',
      '027',
      '--',
      process.execPath,
      fixture('http-worker.mjs'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = supervisorOf(r.stdout);
    const workers = children(sup).filter((pid) => environ(pid).some((e) => e.startsWith('DAEMONKIT_TASK_ID=')));
    assert.equal(workers.length, 2);
    for (const w of workers) box.track(w);
    // The supervisor holds each socket once, close-on-exec; each worker holds the very same sockets at 3 and 4.
    const supSockets = socketFds(sup);
    for (const w of workers) {
      const tcp = socketOf(w, 3);
      const unix = socketOf(w, 4);
      assert.ok(tcp && unix, `worker ${w} has sockets at 3 and 4`);
      for (const [fd, inode] of supSockets)
        if (inode === tcp || inode === unix) assert.ok(isCloexec(fd, sup), `supervisor fd ${fd} close-on-exec`);
      assert.ok([...supSockets.values()].includes(tcp!) && [...supSockets.values()].includes(unix!), "the supervisor's own sockets");
      assert.deepEqual([...socketFds(w).keys()].sort(), [3, 4], "no other socket (the control socket stays the supervisor's)");
    }
    assert.equal(socketOf(workers[0]!, 3), socketOf(workers[1]!, 3));
    // The program saw the protocol's variables, LISTEN_PID its own PID; listenFds() cleared them.
    const answer = await getJson(port);
    assert.ok(workers.includes(answer.pid), `answered by a worker: ${answer.pid}`);
    assert.deepEqual(answer.activation, { pid: String(answer.pid), fds: '2', names: `tcp:api` });
    assert.equal(answer.env, null);
    // The unix socket: the file exists with the umask's mode, and answers.
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o750);
    const stop = await box.cli(['stop', 'pair']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(existsSync(sock), false, 'the socket file goes with the service');
    for (const pid of [sup, ...workers]) assert.equal(alive(pid), false);
  });

  test('a restarted worker gets the same socket again: the supervisor bound it once', async () => {
    const port = await freePort();
    const r = await box.cli([
      'start',
      '--name',
      'again',
      '--start-secs',
      '0.2',
      '--listen',
      `tcp:127.0.0.1:${port}`,
      '--',
      process.execPath,
      fixture('http-worker.mjs'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = supervisorOf(r.stdout);
    const [first] = children(sup).filter((pid) => environ(pid).some((e) => e.startsWith('DAEMONKIT_TASK_ID=')));
    box.track(first);
    const inode = socketOf(first!, 3);
    process.kill(first!, 'SIGKILL');
    let next = 0;
    assert.ok(
      await waitFor(() => {
        next = children(sup).find((pid) => pid !== first && environ(pid).some((e) => e.startsWith('DAEMONKIT_TASK_ID='))) ?? 0;
        return next !== 0 && socketOf(next, 3) !== null;
      }, 5000),
    );
    box.track(next);
    assert.equal(socketOf(next, 3), inode);
    assert.ok(await waitFor(async () => (await getJson(port).catch(() => null))?.pid === next, 5000), 'the new worker serves');
    assert.equal((await box.cli(['stop', 'again'])).code, 0);
  });

  test(
    'as root with --user nobody: a port below 1024 bound before the drop, the socket file owned by nobody, LISTEN_PID through setpriv',
    { skip: process.getuid!() !== 0 && 'needs root' },
    async () => {
      let port = 0;
      for (let p = 900; p < 1000 && !port; p++) {
        const probe = createServer();
        if (await new Promise<boolean>((r) => probe.once('error', () => r(false)).listen(p, '127.0.0.1', () => r(true)))) port = p;
        await new Promise((r) => (probe.listening ? probe.close(r) : r(null)));
      }
      assert.ok(port, 'a free port below 1024');
      const sock = box.path('priv.sock');
      const r = await box.cli([
        'start',
        '--name',
        'priv',
        '--user',
        'nobody',
        '--start-secs',
        '0.2',
        '--listen',
        `tcp:127.0.0.1:${port}`,
        '--listen',
        `unix:${sock}`,
        '--',
        'sleep',
        '1000',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const sup = supervisorOf(r.stdout);
      const [w] = children(sup).filter((pid) => environ(pid).some((e) => e.startsWith('DAEMONKIT_TASK_ID=')));
      box.track(w);
      assert.equal(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${w}/status`, 'utf8'))?.[1], '65534');
      assert.ok(
        environ(w!).includes(`LISTEN_PID=${w}`),
        environ(w!)
          .filter((e) => e.startsWith('LISTEN_'))
          .join(' '),
      );
      assert.ok(environ(w!).includes('LISTEN_FDS=2'));
      assert.ok(socketOf(w!, 3) && socketOf(w!, 4));
      assert.equal(statSync(sock).uid, 65534);
      const stop = await box.cli(['stop', 'priv']);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(existsSync(sock), false);
    },
  );

  test('plan shows the bind-sockets step in the supervisor, before the workers', async () => {
    const r = await box.cli(['plan', '--listen', 'tcp:8080', '--listen', 'admin=unix:/run/x.sock', '--', 'sleep', '1']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const at = (step: string) => lines.findIndex((l) => new RegExp(`supervisor +${step} `).test(l));
    assert.ok(at('bind-sockets') > 0, r.stdout);
    assert.ok(at('bind-sockets') > at('pidfile\\.lock') && at('bind-sockets') < at('spawn-workers'), r.stdout);
    assert.match(lines[at('bind-sockets')]!, /tcp:8080, unix:\/run\/x\.sock .*fds 3\.\.4 .*LISTEN_FDNAMES=tcp:admin/);
  });
});

describe('--listen: a start that cannot have its sockets', () => {
  test('a bad spec: exit 2, one line naming the option, nothing started', async () => {
    for (const spec of ['tcp:99999', 'udp:53', 'tcp:localhost:80', 'bad name=tcp:80']) {
      const r = await box.cli(['start', '--name', 'bad', '--listen', spec, '--', 'sleep', '1000']);
      assert.equal(r.code, 2, `${spec}: ${r.stderr}`);
      assert.match(r.stderr, /^daemonkit: invalid --listen '[^\n]*': [^\n]+\n$/, spec);
      assert.equal(r.stdout, '');
    }
    const twice = await box.cli(['start', '--name', 'bad', '--listen', 'tcp:8080', '--listen', 'tcp:8080', '--', 'sleep', '1000']);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /invalid --listen 'tcp:8080': tcp:8080 is given twice/);
    const unsupervised = await box.cli(['start', '--no-supervise', '--name', 'bad', '--listen', 'tcp:8080', '--', 'sleep', '1000']);
    assert.equal(unsupervised.code, 2);
    assert.match(unsupervised.stderr, /--listen needs the supervisor/);
    await assertNothingLeft('bad');
    assert.equal(existsSync(box.path('bad.log')), false, 'no log');
    assert.equal(existsSync(box.path('bad.json')), false, 'no record');
  });

  test('a port in use: exit 1 with "--listen tcp:HOST:PORT: address already in use", nothing left', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const r = await box.cli(['start', '--name', 'inuse', '--workers', '2', '--listen', `tcp:127.0.0.1:${port}`, '--', 'sleep', '1000']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `daemonkit: inuse failed to start: --listen tcp:127.0.0.1:${port}: address already in use\n`);
      await assertNothingLeft('inuse');
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  test('one good socket and one bad: the good one is closed and its file removed too', async () => {
    const good = box.path('good.sock');
    const r = await box.cli([
      'start',
      '--name',
      'half',
      '--listen',
      `unix:${good}`,
      '--listen',
      `unix:${box.path('missing/dir/x.sock')}`,
      '--',
      'sleep',
      '1000',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `daemonkit: half failed to start: --listen unix:${box.path('missing/dir/x.sock')}: directory ${box.path('missing/dir')} does not exist\n`,
    );
    assert.equal(existsSync(good), false, 'the socket bound first is removed');
    await assertNothingLeft('half');
  });

  test("a program gone by the time of a reload is a spawn error naming ENOENT, not the exec step's exit 127", async () => {
    const prog = box.path('vanishing');
    copyFileSync('/bin/sleep', prog);
    chmodSync(prog, 0o755);
    const r = await box.cli([
      'start',
      '--name',
      'gone',
      '--start-secs',
      '0.2',
      '--listen',
      `tcp:127.0.0.1:${await freePort()}`,
      '--',
      prog,
      '1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    supervisorOf(r.stdout);
    unlinkSync(prog);
    const reload = await box.cli(['reload', 'gone']);
    assert.equal(reload.code, 1);
    assert.equal(
      reload.stderr,
      `daemonkit: gone: reload failed: the new worker 0 could not be spawned: ENOENT: no such file or directory, access '${prog}'; the old workers keep running\n`,
    );
    assert.equal((await box.cli(['stop', 'gone'])).code, 0);
  });

  test('a second start of a running service is busy before it binds anything', async () => {
    const port = await freePort();
    const args = [
      'start',
      '--name',
      'once',
      '--start-secs',
      '0.2',
      '--listen',
      `tcp:127.0.0.1:${port}`,
      '--',
      process.execPath,
      fixture('http-worker.mjs'),
    ];
    const r = await box.cli(args);
    assert.equal(r.code, 0, r.stderr);
    const sup = supervisorOf(r.stdout);
    const again = await box.cli(args);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);
    assert.doesNotMatch(again.stderr, /address already in use/);
    assert.equal(Number(readFileSync(box.path('once.pid'), 'utf8')), sup);
    assert.equal((await box.cli(['stop', 'once'])).code, 0);
  });
});
