// Socket activation from the manager above: `run` started with LISTEN_FDS/LISTEN_PID (systemd-socket-activate, or a
// harness doing what a .socket unit does) serves on the sockets it was passed, never binding its own.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { get } from 'node:http';
import { Box } from '../reliability/lib.js';
import { cliPath } from '../helpers/paths.js';
import { fixture } from '../helpers/run.js';
import { alive, children, poll, waitFor } from '../helpers/proc.js';
import { freePort } from '../helpers/net.js';
import { parseListenSpec } from '../../src/core/listen-spec.js';
import { bindListeners, closeListeners, type Listener } from '../../src/core/listen-sockets.js';
import { withListenPid } from '../../src/core/socket-activation.js';
import { spawn } from '../../src/sys/spawn.js';
import { O_APPEND, O_CREAT, O_WRONLY } from '../../src/sys/fcntl.js';
import { waitpid, WNOHANG } from '../../src/sys/wait.js';
import { kill, SIGTERM } from '../../src/sys/signal.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const box = new Box('daemonkit-activate-');
after(() => box.cleanup());

const LOG_MODE = 0o600;
/** wait(2)'s status word: the low 7 bits are the terminating signal (0: exited), the next byte the exit code. */
const SIGNAL_BITS = 0x7f;
const exitCode = (status: number) => ((status & SIGNAL_BITS) === 0 ? (status >> 8) & 0xff : null);
const termSignal = (status: number) => ((status & SIGNAL_BITS) === 0 ? null : status & SIGNAL_BITS);

interface Answer {
  pid: number;
  activation: { pid: string; fds: string; names: string };
  fds: Array<{ name: string; fd: number }>;
}

function getJson(port: number, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body) as Answer));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer on port ${port} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** "socket:[inode]" of fd in pid ('self' for this process). */
const socketOf = (pid: number | 'self', fd: number) => readlinkSync(`/proc/${pid}/fd/${fd}`);

/** The workers of a run: its children running the fixture, tracked. */
async function workersOf(run: number, n: number): Promise<number[]> {
  const ws = await poll(
    () => {
      const c = children(run).filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('http-worker'));
      return c.length === n ? c : null;
    },
    { timeoutMs: 10_000 },
  );
  assert.ok(ws, `${n} workers under ${run}`);
  for (const w of ws) box.track(w);
  return ws;
}

test(
  'under systemd-socket-activate: run serves on the socket it was passed, named by --fdname',
  { skip: !has('systemd-socket-activate') && 'systemd-socket-activate is not installed', timeout: 30_000 },
  async () => {
    const port = await freePort();
    const argv = [
      '-l',
      `127.0.0.1:${port}`,
      '--fdname=web',
      '-E',
      `DAEMONKIT_HOME=${box.dir}`,
      '-E',
      `DKREL_BOX=${box.dir}`,
      process.execPath,
      cliPath,
      'run',
      '--name',
      'activated',
      '--workers',
      '2',
      '--start-secs',
      '0.2',
      '--listen',
      `web=tcp:127.0.0.1:${port}`,
      '--',
      process.execPath,
      fixture('http-worker.mjs'),
    ];
    const child = spawnChild('systemd-socket-activate', argv, { env: box.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = box.track(child.pid);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // The activator holds the listening socket at fd 3 before anything of ours runs; it execs run on the first
    // connection, so run is this very process, and a bind of its own to the port would be EADDRINUSE.
    assert.ok(await waitFor(() => /Listening on/.test(out)), out);
    const passed = socketOf(pid, 3);
    const first = getJson(port, 10_000);
    const workers = await workersOf(pid, 2);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /cli\.js\0run\0/, "the activator exec'd run");
    const answer = await first;
    assert.ok(workers.includes(answer.pid), `answered by a worker: ${JSON.stringify(answer)}`);
    assert.equal(answer.activation.names, 'web');
    assert.equal(answer.activation.fds, '1');
    for (const w of workers) assert.equal(socketOf(w, 3), passed, `worker ${w}'s fd 3 is the activator's socket`);
    assert.equal(socketOf(pid, 3), passed, 'run keeps the passed socket');
    child.kill('SIGTERM');
    assert.equal(await exit, 143, out);
  },
);

/**
 * What a .socket unit does, from this process: the sockets bound here stay open here (so the port is taken: a bind
 * by run would fail), passed at fds 3.. with LISTEN_FDS/LISTEN_FDNAMES, and LISTEN_PID set by the exec step.
 */
function activate(passed: Listener[], names: string, args: string[], log: string): number {
  const request = withListenPid({ path: process.execPath, argv: ['node', cliPath, 'run', ...args], env: [] });
  const env = Object.entries(box.env()).map(([k, v]) => `${k}=${v}`);
  const pid = spawn({
    path: request.path,
    argv: request.argv,
    env: [...env, `LISTEN_FDS=${passed.length}`, `LISTEN_FDNAMES=${names}`],
    fileActions: [
      { op: 'open', fd: 1, path: log, flags: O_WRONLY | O_CREAT | O_APPEND, mode: LOG_MODE },
      { op: 'dup2', fd: 1, newfd: 2 },
      ...passed.map((l, i) => ({ op: 'dup2' as const, fd: l.fd, newfd: 3 + i })),
    ],
  });
  return box.track(pid);
}

/** Waits for our posix_spawned child to exit and returns its decoded status. */
async function reap(pid: number): Promise<{ code: number | null; signal: number | null }> {
  const r = await poll(() => waitpid(pid, WNOHANG), { timeoutMs: 15_000 });
  assert.ok(r, `pid ${pid} exited`);
  return { code: exitCode(r.status), signal: termSignal(r.status) };
}

test(
  'LISTEN_FDS from a harness: each --listen NAME takes the passed socket of that name, whatever its position',
  { timeout: 30_000 },
  async () => {
    const [api, web] = bindListeners([parseListenSpec('tcp:127.0.0.1:0'), parseListenSpec('tcp:127.0.0.1:0')]) as [Listener, Listener];
    const log = box.path('harness.log');
    let pid = 0;
    try {
      // Passed in the other order than run's --listen: fd 3 is web, fd 4 is api.
      pid = activate(
        [web, api],
        'web:api',
        [
          '--name',
          'harness',
          '--workers',
          '2',
          '--start-secs',
          '0.2',
          '--listen',
          `api=tcp:127.0.0.1:${api.port}`,
          '--listen',
          `web=tcp:127.0.0.1:${web.port}`,
          '--',
          process.execPath,
          fixture('http-worker.mjs'),
        ],
        log,
      );
      const workers = await workersOf(pid, 2);
      // The fixture serves its first socket, api: answered on api's port means api's socket went first.
      const answer = await getJson(api.port!);
      assert.ok(workers.includes(answer.pid), readFileSync(log, 'utf8'));
      assert.equal(answer.activation.names, 'api:web');
      for (const w of workers) {
        assert.equal(socketOf(w, 3), socketOf('self', api.fd), `worker ${w}: fd 3 is the api socket this harness bound`);
        assert.equal(socketOf(w, 4), socketOf('self', web.fd), `worker ${w}: fd 4 is the web socket`);
      }
      assert.ok(kill(pid, SIGTERM));
      assert.deepEqual(await reap(pid), { code: 143, signal: null }, readFileSync(log, 'utf8'));
      pid = 0;
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      if (pid) await reap(pid);
      closeListeners([api, web]);
    }
  },
);

test('LISTEN_FDS without a socket for every --listen: the start fails naming the one missing', { timeout: 30_000 }, async () => {
  const [other] = bindListeners([parseListenSpec('tcp:127.0.0.1:0')]) as [Listener];
  const log = box.path('missing.log');
  try {
    const pid = activate(
      [other],
      'other',
      [
        '--start-secs',
        '0.2',
        '--listen',
        `api=tcp:127.0.0.1:${await freePort()}`,
        '--listen',
        'web=tcp:127.0.0.1:0',
        '--',
        'sleep',
        '1000',
      ],
      log,
    );
    assert.deepEqual(await reap(pid), { code: 1, signal: null });
    assert.match(
      readFileSync(log, 'utf8'),
      /^daemonkit: --listen tcp:127\.0\.0\.1:0: the service manager passed no socket named web, and none unnamed is left \(LISTEN_FDNAMES=other\)$/m,
    );
  } finally {
    closeListeners([other]);
  }
});
