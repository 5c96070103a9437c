// forkProcesses() end to end: a real script (test/fixtures/fork-server.mjs) forks workers; the kernel is the witness.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { Sandbox } from '../helpers/sandbox.js';
import { repoRoot } from '../helpers/paths.js';
import { fixture, run } from '../helpers/run.js';
import { alive, environ, stat, waitFor } from '../helpers/proc.js';
import { NotifySocket } from '../../src/core/notify-socket.js';
import { forkProcesses } from '../../src/core/fork-processes.js';

const box = new Sandbox();
after(() => box.cleanup());

/** READY=1 datagrams by sender PID: a foreground parent tells its NOTIFY_SOCKET once every worker is ready. */
const readyFrom = new Set<number>();
const notifyPath = `@daemonkit-test-fork-${process.pid}-${randomBytes(4).toString('hex')}`;
const notify = NotifySocket.open(notifyPath, { onMessage: (m) => m.fields.READY === '1' && readyFrom.add(m.pid) });
after(() => notify.close());

interface Parent {
  pid: number;
  dir: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

let runs = 0;

function startParent(n: number, options: object, extraEnv: Record<string, string> = {}): Parent {
  const dir = box.path(`run-${runs++}`);
  mkdirSync(dir);
  const env = box.env({ FORK_DIR: dir, FORK_N: String(n), FORK_OPTIONS: JSON.stringify(options), NOTIFY_SOCKET: notifyPath, ...extraEnv });
  const child = spawn(process.execPath, [fixture('fork-server.mjs')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { pid: box.track(child.pid), dir, child, exited };
}

/** Task id → the PIDs that reported it, in the order their files appeared (each tracked for cleanup). */
function workers(dir: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const f of readdirSync(dir)) {
    const m = /^worker-(\d+)-(\d+)$/.exec(f);
    if (!m) continue;
    const pid = Number(m[2]);
    if (alive(pid)) box.track(pid);
    out.set(Number(m[1]), [...(out.get(Number(m[1])) ?? []), pid]);
  }
  return out;
}

/** A script of the test's own in a fresh directory, with forkProcesses (from dist) and node:fs imported: both paths. */
function forkScript(name: string, body: (dir: string) => string): { dir: string; script: string } {
  const dir = box.path(name);
  mkdirSync(dir);
  const script = join(dir, `${name}.mjs`);
  const imports = `import { existsSync, writeFileSync } from 'node:fs';\nimport { forkProcesses } from ${JSON.stringify(join(repoRoot, 'dist', 'index.js'))};\n`;
  writeFileSync(script, imports + body(dir));
  return { dir, script };
}

function report(dir: string, task: number, pid: number): { id: number; taskId: number; pid: number; port: number | null } {
  return JSON.parse(readFileSync(join(dir, `worker-${task}-${pid}`), 'utf8'));
}

async function waitReady(p: Parent, n: number): Promise<number[]> {
  assert.ok(await waitFor(() => readyFrom.has(p.pid) && workers(p.dir).size === n, 10_000), `parent ${p.pid} ready with ${n} workers`);
  return [...workers(p.dir)].sort(([a], [b]) => a - b).map(([, pids]) => pids.at(-1)!);
}

function fetchOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/once', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('forkProcesses(4) with a shared socket', () => {
  let p: Parent;
  let pids: number[] = [];

  before(async () => {
    p = startParent(4, { listen: ['tcp:127.0.0.1:0'], ready: 'notify', backoffMin: '10ms' });
    pids = await waitReady(p, 4);
  });

  test('task ids 0..3, each a child of the parent in its own process group, DAEMONKIT_TASK_ID in its environment', () => {
    assert.equal(pids.length, 4);
    pids.forEach((pid, task) => {
      assert.equal(report(p.dir, task, pid).taskId, task);
      const s = stat(pid);
      assert.equal(s.ppid, p.pid);
      assert.equal(s.pgrp, pid, 'own process group');
      assert.ok(environ(pid).includes(`DAEMONKIT_TASK_ID=${task}`));
    });
  });

  test("the workers' NOTIFY_SOCKET is a 0600 socket file in the parent's own 0700 directory, not an abstract name anyone can reach", () => {
    const path = environ(pids[0]!)
      .find((e) => e.startsWith('NOTIFY_SOCKET='))!
      .slice('NOTIFY_SOCKET='.length);
    assert.ok(path.startsWith('/'), path);
    assert.ok(lstatSync(path).isSocket());
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    assert.equal(lstatSync(dirname(path)).mode & 0o777, 0o700);
  });

  test('each worker also holds a socket of its own to it at fd 4, after the listener, as DAEMONKIT_NOTIFY_FD names it', () => {
    const inodes = pids.map((pid) => {
      const entry = environ(pid).find((e) => e.startsWith('DAEMONKIT_NOTIFY_FD='));
      assert.ok(entry, `worker ${pid} has DAEMONKIT_NOTIFY_FD`);
      const [fd, ino] = entry.slice('DAEMONKIT_NOTIFY_FD='.length).split(':');
      assert.equal(fd, '4');
      assert.equal(readlinkSync(`/proc/${pid}/fd/4`), `socket:[${ino}]`);
      return ino;
    });
    assert.equal(new Set(inodes).size, pids.length, 'one per worker');
  });

  test('every worker holds the same listening socket at fd 3, and all 4 answer HTTP on its one port', async () => {
    const sockets = new Set(pids.map((pid) => readlinkSync(`/proc/${pid}/fd/3`)));
    assert.equal(sockets.size, 1);
    assert.match([...sockets][0]!, /^socket:\[\d+\]$/);
    const port = report(p.dir, 0, pids[0]!).port!;
    assert.ok(port > 0);
    // Each /once answer closes that worker's server, so four answers come from four different workers.
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push((await fetchOnce(port)).trim());
    assert.deepEqual(answers.map((a) => Number(a.split(' ')[0])).sort(), [0, 1, 2, 3]);
    assert.deepEqual(answers.map((a) => Number(a.split(' ')[1])).sort(), [...pids].sort());
  });

  test('kill -9 of worker 2 gives a new PID with task id 2; the others keep theirs', async () => {
    const old = pids[2]!;
    process.kill(old, 'SIGKILL');
    assert.ok(await waitFor(() => (workers(p.dir).get(2) ?? []).length === 2, 10_000), 'worker 2 restarted');
    const fresh = workers(p.dir).get(2)!.at(-1)!;
    assert.notEqual(fresh, old);
    assert.ok(alive(fresh));
    assert.equal(report(p.dir, 2, fresh).taskId, 2);
    assert.equal(stat(fresh).ppid, p.pid);
    for (const task of [0, 1, 3]) assert.deepEqual(workers(p.dir).get(task), [pids[task]]);
    pids[2] = fresh;
  });

  test('SIGHUP to the parent replaces every worker, one at a time, keeping task ids and the socket', async () => {
    // Worker 2 was restarted after the /once requests closed the others' servers: it still holds the socket at fd 3.
    const socket = readlinkSync(`/proc/${pids[2]}/fd/3`);
    p.child.kill('SIGHUP');
    const replaced = () => [0, 1, 2, 3].every((task) => (workers(p.dir).get(task) ?? []).some((pid) => !pids.includes(pid) && alive(pid)));
    assert.ok(await waitFor(() => replaced() && pids.every((pid) => !alive(pid)), 10_000), 'every worker replaced, the old ones gone');
    const fresh = [0, 1, 2, 3].map((task) => workers(p.dir).get(task)!.at(-1)!);
    fresh.forEach((pid, task) => {
      assert.equal(report(p.dir, task, pid).taskId, task);
      assert.equal(stat(pid).ppid, p.pid);
      assert.equal(readlinkSync(`/proc/${pid}/fd/3`), socket, 'the same listening socket');
    });
    pids = fresh;
  });

  test('SIGTERM to the parent stops every worker with the stop schedule, then it exits 0; no process is left', async () => {
    p.child.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 0, r.stderr);
    for (const pid of pids) assert.ok(!existsSync(`/proc/${pid}`) || !alive(pid), `worker ${pid} gone`);
  });
});

test('a clean exit is not restarted; the parent exits 0 once every worker has exited cleanly', async () => {
  const p = startParent(2, { backoffMin: '10ms', backoffMax: '20ms' });
  const [first0, first1] = await waitReady(p, 2);
  writeFileSync(join(p.dir, 'exit-1'), '0');
  assert.ok(await waitFor(() => !alive(first1!), 5000));
  // A crash in the meantime is restarted: by the time its replacement runs, a restart of worker 1 would have too.
  process.kill(first0!, 'SIGKILL');
  assert.ok(await waitFor(() => (workers(p.dir).get(0) ?? []).length === 2, 10_000), 'worker 0 restarted');
  assert.deepEqual(workers(p.dir).get(1), [first1]);
  writeFileSync(join(p.dir, 'exit-0'), '0');
  const r = await p.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(workers(p.dir).get(1), [first1], 'worker 1 never came back');
});

test("a program that inherited a task id (a supervisor's worker, or its child) still forks its own workers", async () => {
  const p = startParent(2, {}, { DAEMONKIT_TASK_ID: '0' });
  const pids = await waitReady(p, 2);
  assert.ok(!pids.includes(p.pid), 'the parent took the task id it inherited and forked nothing');
  for (const pid of pids) assert.equal(stat(pid).ppid, p.pid);
  process.kill(p.pid, 'SIGTERM');
  assert.equal((await p.exited).code, 0);
});

test("tornado's rule from the first moment: a worker's early clean exit ends only it, an early crash is restarted", async () => {
  // Task 0 exits 0 at once; task 1 crashes at once on its first run only; task 2 stays. Each live copy leaves a file.
  const { dir, script } = forkScript(
    'early',
    (dir) => `const id = await forkProcesses(3, { backoffMin: '10ms', backoffMax: '20ms' });
if (id === 0) process.exit(0);
if (id === 1 && !existsSync(${JSON.stringify(join(dir, 'crashed'))})) {
  writeFileSync(${JSON.stringify(join(dir, 'crashed'))}, '');
  process.exit(1);
}
writeFileSync(${JSON.stringify(dir)} + '/worker-' + id + '-' + process.pid, '{}');
setInterval(() => {}, 1e9);
`,
  );
  const child = spawn(process.execPath, [script], { env: box.env(), stdio: ['ignore', 'ignore', 'pipe'] });
  const parent = box.track(child.pid);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  assert.ok(await waitFor(() => workers(dir).has(1) && workers(dir).has(2), 10_000), `workers 1 and 2 up: ${stderr}`);
  assert.ok(alive(parent), `the parent gave up: ${stderr}`);
  assert.equal(workers(dir).has(0), false);
  process.kill(parent, 'SIGTERM');
  assert.equal(await exited, 0, stderr);
});

test('the parent SIGKILLed (the OOM killer): its workers die with it, none is left holding the port', async () => {
  const p = startParent(2, { listen: 'tcp:127.0.0.1:0' });
  const pids = await waitReady(p, 2);
  process.kill(p.pid, 'SIGKILL');
  // Not p.exited: that waits for the parent's stderr to close, and workers left running would hold it open.
  try {
    assert.ok(await waitFor(() => pids.every((pid) => !alive(pid)), 5000), `workers left: ${pids.filter(alive).join(' ')}`);
  } finally {
    await box.killAll();
  }
});

test("the parent's process.exit(): each worker still finishes its own SIGTERM handler", async () => {
  const { dir, script } = forkScript(
    'graceful',
    (dir) => `// The parent's own code ends it 500 ms in (a worker runs this file too, but forkProcesses() marks it).
if (!process.env.DAEMONKIT_FORK_PARENT) setTimeout(() => process.exit(3), 500);
const id = await forkProcesses(2);
writeFileSync(${JSON.stringify(dir)} + '/worker-' + id + '-' + process.pid, '{}');
process.on('SIGTERM', () => setTimeout(() => {
  writeFileSync(${JSON.stringify(dir)} + '/done-' + id, '');
  process.exit(0);
}, 300));
setInterval(() => {}, 1e9);
`,
  );
  const child = spawn(process.execPath, [script], { env: box.env(), stdio: 'ignore' });
  box.track(child.pid);
  assert.ok(await waitFor(() => workers(dir).size === 2, 10_000), 'both workers up');
  assert.ok(await waitFor(() => existsSync(join(dir, 'done-0')) && existsSync(join(dir, 'done-1')), 5000), readdirSync(dir).join(' '));
});

test('more than maxRestarts restarts: the parent stops and exits 1 with "too many worker restarts, giving up"', async () => {
  const p = startParent(2, { maxRestarts: 3, backoffMin: '10ms', backoffMax: '20ms' });
  const first = await waitReady(p, 2);
  writeFileSync(join(p.dir, 'crash-all'), '');
  const r = await p.exited;
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /daemonkit: too many worker restarts, giving up: workers ended 4 times \(3 restarts allowed\); last: worker \d exited 1\n/,
  );
  // Exactly maxRestarts restarts happened: 2 first workers + 3 replacements reported (a replacement may exit before it reports).
  const reported = [...workers(p.dir).values()].flat();
  assert.ok(reported.length >= first.length && reported.length <= first.length + 3, `${reported.length} workers reported`);
  for (const pid of reported) assert.ok(!alive(pid), `worker ${pid} gone`);
});

test('daemonize() then forkProcesses(): the original exits 0 once every worker is ready; SIGTERM stops them all', async () => {
  const dir = box.path('daemon');
  mkdirSync(dir);
  const pidfile = join(dir, 'app.pid');
  const r = await run([process.execPath, fixture('fork-server.mjs')], {
    env: box.env({
      FORK_DIR: dir,
      FORK_N: '3',
      FORK_OPTIONS: JSON.stringify({ ready: 'notify' }),
      FORK_DAEMONIZE: JSON.stringify({ pidfile, log: join(dir, 'app.log') }),
    }),
  });
  assert.equal(r.code, 0, r.stderr);
  const parent = box.track(Number(readFileSync(pidfile, 'utf8')));
  // Ready means every worker said so: all three have reported by the time the original exited.
  const pids = [...workers(dir)].sort(([a], [b]) => a - b).map(([, list]) => list.at(-1)!);
  assert.equal(pids.length, 3);
  for (const pid of pids) assert.equal(stat(pid).ppid, parent);
  assert.notEqual(stat(parent).session, stat(process.pid).session, 'the parent is detached');
  process.kill(parent, 'SIGTERM');
  assert.ok(await waitFor(() => !alive(parent) && pids.every((pid) => !alive(pid)), 10_000), 'parent and workers gone');
  assert.ok(!existsSync(pidfile), 'PID file removed');
});

describe('bad options are a UsageError naming the option, before anything is spawned', () => {
  const cases: Array<[string, object, RegExp]> = [
    ['maxRestarts', { maxRestarts: -1 }, /^invalid maxRestarts '-1'/],
    ['restart', { restart: 'sometimes' }, /^invalid restart 'sometimes': expected on-failure, always or never/],
    ['backoffMin', { backoffMin: 'soon' }, /^invalid backoffMin 'soon'/],
    ['backoffMax', { backoffMin: '2s', backoffMax: '1s' }, /^invalid backoffMax '1s': less than backoffMin/],
    ['ready', { ready: 'tcp:8080' }, /^invalid ready 'tcp:8080': forkProcesses\(\) takes notify or alive:DURATION/],
    ['listen', { listen: ['tcp:99999'] }, /^invalid listen 'tcp:99999'/],
    ['stopSchedule', { stopSchedule: 'TERM/x' }, /^invalid stopSchedule 'TERM\/x'/],
    ['retry', { retry: 'NOPE/1' }, /^invalid retry 'NOPE\/1'/],
    ['env', { env: ['NOEQUALS'] }, /^invalid env 'NOEQUALS'/],
    ['an unknown key', { maxRestart: 3 }, /^unknown option 'maxRestart' \(did you mean 'maxRestarts'\?\)/],
  ];
  for (const [what, options, message] of cases) {
    test(what, async () => {
      await assert.rejects(forkProcesses(2, options, null), (e: Error) => e.name === 'UsageError' && message.test(e.message));
    });
  }
  test('n must be a whole number', async () => {
    await assert.rejects(forkProcesses(1.5, {}, null), /^UsageError: invalid n '1.5': not a whole number/);
  });
});

test("daemonize() then forkProcesses(): a worker dying before it is ready makes the original exit 1 with that worker's end", async () => {
  const dir = box.path('daemon-fails');
  mkdirSync(dir);
  writeFileSync(join(dir, 'crash-all'), '');
  const pidfile = join(dir, 'app.pid');
  const r = await run([process.execPath, fixture('fork-server.mjs')], {
    env: box.env({
      FORK_DIR: dir,
      FORK_N: '2',
      FORK_OPTIONS: JSON.stringify({ ready: 'notify' }),
      FORK_DAEMONIZE: JSON.stringify({ pidfile, log: join(dir, 'app.log') }),
    }),
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^daemonkit: worker \d exited 1 before it was ready\n/);
  assert.ok(await waitFor(() => !existsSync(pidfile), 5000), 'the daemon is gone with its PID file');
});

test('in a forkProcesses() worker, taskId() called before daemonize() leaves daemonize() the worker path', () => {
  // dist/index.js answers taskId() itself and loads dist/library.js for daemonize(): both must read the same marker,
  // which the first reader removes from the environment. pidfile 5 is invalid: only the worker path ignores it.
  const script = `const d = require(${JSON.stringify(join(repoRoot, 'dist', 'index.js'))});
const task = d.taskId();
d.daemonize({ pidfile: 5 }).then(() => console.log('worker', task), (e) => console.log('daemonized:', e.message));`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...box.env(), DAEMONKIT_TASK_ID: '1', DAEMONKIT_FORK_PARENT: String(process.pid) },
    encoding: 'utf8',
  });
  assert.equal(r.stdout.trim(), 'worker 1', r.stderr);
});

test("a listen spec that cannot be bound rejects with daemonkit's exported ListenError (ELISTEN), the system error as cause", () => {
  const index = join(repoRoot, 'dist', 'index.js');
  const script = `const d = require(${JSON.stringify(index)});
const s = require('node:net').createServer().listen(0, '127.0.0.1', () => {
  d.forkProcesses(2, { listen: 'tcp:127.0.0.1:' + s.address().port }).catch((e) => {
    console.log(JSON.stringify({ listenError: e instanceof d.ListenError, code: e.code, cause: e.cause?.code }));
    process.exit(0);
  });
});`;
  const r = spawnSync(process.execPath, ['-e', script], { env: box.env(), encoding: 'utf8', timeout: 10_000 });
  assert.deepEqual(JSON.parse(r.stdout), { listenError: true, code: 'ELISTEN', cause: 'EADDRINUSE' }, r.stderr);
});

test("in a worker, forkProcesses() resolves with the task id without loading dist/library.js (a restart's cost)", () => {
  const index = join(repoRoot, 'dist', 'index.js');
  const script = `const d = require(${JSON.stringify(index)});
d.forkProcesses(4, { listen: 'tcp:127.0.0.1:0' }).then((task) =>
  console.log(JSON.stringify({ task, library: Object.keys(require.cache).some((f) => f.endsWith('/library.js')) })));`;
  const worker = spawnSync(process.execPath, ['-e', script], {
    env: { ...box.env(), DAEMONKIT_TASK_ID: '2', DAEMONKIT_FORK_PARENT: String(process.pid) },
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.deepEqual(JSON.parse(worker.stdout), { task: 2, library: false }, worker.stderr);
  // The parent's path loads it, so the check above can fail (n = 1.5 is refused at once: nothing is forked).
  const parent = spawnSync(
    process.execPath,
    ['-e', script.replace('forkProcesses(4', 'forkProcesses(1.5').replace(').then(', ').catch(() => 0).then(')],
    { env: box.env(), encoding: 'utf8', timeout: 10_000 },
  );
  assert.deepEqual(JSON.parse(parent.stdout), { task: 0, library: true }, parent.stderr);
});
