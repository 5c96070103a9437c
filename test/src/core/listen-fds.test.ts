// listenFds() in a real worker: a Node child started through the LISTEN_PID exec step, a listening socket at fd 3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listenFds } from '../../../src/core/listen-fds.js';
import { bindListeners, closeListeners } from '../../../src/core/listen-sockets.js';
import { parseListenSpec } from '../../../src/core/listen-spec.js';
import { planFds } from '../../../src/core/plan.js';
import { spawnPlanned } from '../../../src/core/spawner.js';
import { activationSpawn, listenerFdTargets } from '../../../src/core/socket-activation.js';
import { kill, SIGKILL } from '../../../src/sys/signal.js';
import { waitpid } from '../../../src/sys/wait.js';

const CHILD = 'DK_LISTEN_FDS_CHILD';
const O_CLOEXEC = 0o2000000;

/** The flags field of /proc/self/fdinfo/N, octal. */
function fdFlags(fd: number): number {
  return parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
}

if (process.env[CHILD] === 'serve') {
  // The worker: what it was given, then an HTTP server on the inherited socket that answers with that report.
  const seenPid = process.env.LISTEN_PID;
  const fds = listenFds();
  const report = {
    pid: process.pid,
    seenPid,
    fds,
    again: listenFds(),
    envAfter: ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'].filter((k) => k in process.env),
    cloexec: fds.map((f) => (fdFlags(f.fd) & O_CLOEXEC) !== 0),
    grandchild: spawnSync('/bin/sh', ['-c', 'echo "${LISTEN_PID-unset} ${LISTEN_FDS-unset}"'], { encoding: 'utf8' }).stdout.trim(),
  };
  const server = createServer((_req, res) => {
    res.setHeader('connection', 'close');
    res.end(JSON.stringify(report));
    server.close();
  }).listen({ fd: fds[0]!.fd });
} else if (process.env[CHILD] === 'other-pid') {
  const fds = listenFds();
  process.stdout.write(JSON.stringify({ fds, envAfter: ['LISTEN_PID', 'LISTEN_FDS'].filter((k) => k in process.env) }));
} else {
  const bundle = fileURLToPath(import.meta.url);
  const childEnv = (scenario: string) =>
    Object.entries({ ...process.env, [CHILD]: scenario })
      .filter(([k]) => k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS')
      .map(([k, v]) => `${k}=${v}`);

  function fetchText(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d)).on('end', () => resolve(body));
      }).on('error', reject);
    });
  }

  test('a Node worker started through the exec step finds its socket at fd 3 with LISTEN_PID = its own PID, and serves HTTP on it', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dk-listenfds-'));
    const listeners = bindListeners([parseListenSpec('web=tcp:127.0.0.1:0'), parseListenSpec(`unix:${join(dir, 'admin.sock')}`)]);
    let pid: number | undefined;
    t.after(() => {
      if (pid !== undefined && kill(pid, SIGKILL)) waitpid(pid);
      closeListeners(listeners);
      rmSync(dir, { recursive: true, force: true });
    });
    const request = activationSpawn(
      { path: process.execPath, argv: ['node', bundle], env: [...childEnv('serve'), 'LISTEN_PID=1'] },
      listeners,
    );
    pid = spawnPlanned({
      ...request,
      fds: planFds([[0, { kind: 'null' }], [1, { kind: 'inherit' }], [2, { kind: 'inherit' }], ...listenerFdTargets(listeners)]),
    });
    // The kernel queues the connection until the worker accepts: no waiting for it to be up.
    const report = JSON.parse(await fetchText(listeners[0]!.port!));
    assert.equal(report.pid, pid); // sh exec'd node: same process
    assert.equal(report.seenPid, String(pid));
    assert.deepEqual(report.fds, [
      { name: 'web', fd: 3 },
      { name: 'unix', fd: 4 },
    ]);
    assert.deepEqual(report.again, report.fds);
    assert.deepEqual(report.envAfter, []);
    assert.deepEqual(report.cloexec, [true, true]);
    assert.equal(report.grandchild, 'unset unset');
    const exited = waitpid(pid);
    pid = undefined;
    assert.equal(exited?.status, 0);
  });

  test('a worker whose LISTEN_PID is another process gets no sockets, and the variables are still removed', (t) => {
    const [l] = bindListeners([parseListenSpec('tcp:127.0.0.1:0')]);
    t.after(() => closeListeners([l!]));
    const r = spawnSync(process.execPath, [bundle], {
      env: {
        ...Object.fromEntries(childEnv('other-pid').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
        LISTEN_PID: String(process.pid),
        LISTEN_FDS: '1',
        LISTEN_FDNAMES: 'tcp',
      },
      stdio: ['ignore', 'pipe', 'inherit', l!.fd],
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.stdout), { fds: [], envAfter: [] });
  });

  test('listenFds in this process (no LISTEN_PID) is empty', () => {
    assert.deepEqual(listenFds(), []);
  });
}
