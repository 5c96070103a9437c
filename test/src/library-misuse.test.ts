// daemonize() used wrongly: a misspelled option, a second call, a call from a worker_thread, stdin a socket.
// Each case runs a real Node program in its own directory; everything it caused is killed afterwards (by its tag).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Box } from '../reliability/lib.js';
import { fixture, run, type Ran } from '../helpers/run.js';
import { alive, waitFor } from '../helpers/proc.js';

const boxes: Box[] = [];
afterEach(async () => {
  for (const box of boxes.splice(0)) await box.cleanup();
});

function newBox(): Box {
  const box = new Box('daemonkit-misuse-');
  boxes.push(box);
  return box;
}

function runCase(box: Box, which: string, options: object, extra: Record<string, string> = {}): Promise<Ran> {
  return run([process.execPath, fixture('library-misuse.mjs')], {
    env: box.env({ FIXTURE_CASE: which, FIXTURE_OPTIONS: JSON.stringify(options), FIXTURE_REPORT: box.path('report.json'), ...extra }),
    timeoutMs: 10_000,
  });
}

/** Like run(), but stdin is a pipe Node makes (a socketpair), as a deploy script's spawn with stdio 'pipe' gives. */
function runWithSocketStdin(box: Box, which: string, options: object): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const env = box.env({ FIXTURE_CASE: which, FIXTURE_OPTIONS: JSON.stringify(options), FIXTURE_REPORT: box.path('report.json') });
    const child = spawn(process.execPath, [fixture('library-misuse.mjs')], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function reportOf(box: Box): Record<string, unknown> {
  return JSON.parse(readFileSync(box.path('report.json'), 'utf8')) as Record<string, unknown>;
}

test('a misspelled option key (pidFile) is a UsageError naming the key and the closest valid one; nothing starts', async () => {
  const box = newBox();
  const r = await runCase(box, 'options', { pidFile: box.path('app.pid') });
  assert.equal(r.code, 3, `it must not daemonize: ${r.stderr}`);
  assert.deepEqual(reportOf(box).error, {
    name: 'UsageError',
    message: "unknown option 'pidFile' (did you mean 'pidfile'?)",
    code: 'EUSAGE',
  });
  assert.deepEqual(box.processes(), []);
  assert.deepEqual(readdirSync(box.dir), ['report.json']);
});

test('an option of the CLI only (workers) and a key nothing resembles are refused too', async () => {
  const box = newBox();
  const workers = await runCase(box, 'options', { workers: 2 });
  assert.equal(workers.code, 3);
  assert.match(String((reportOf(box).error as { message: string }).message), /^unknown option 'workers'/);
  const odd = await runCase(box, 'options', { zzzzzzzz: 1 });
  assert.equal(odd.code, 3);
  assert.equal((reportOf(box).error as { message: string }).message, "unknown option 'zzzzzzzz'");
});

test('daemonize() called twice in the daemon returns the same promise and the same handle; the start succeeds', async () => {
  const box = newBox();
  const pidfile = box.path('twice.pid');
  const r = await runCase(box, 'twice', { pidfile, stderr: box.path('twice.err') });
  assert.equal(r.code, 0, `${r.stderr}\n${existsSync(box.path('twice.err')) ? readFileSync(box.path('twice.err'), 'utf8') : ''}`);
  const rep = reportOf(box);
  assert.equal(rep.samePromise, true);
  assert.equal(rep.sameHandle, true);
  const pid = box.track(Number(readFileSync(pidfile, 'utf8')));
  assert.equal(pid, rep.pid);
  assert.ok(alive(pid));
  assert.equal(box.processes().length, 1, 'one daemon, nothing else');
});

test('daemonize() from a worker_thread is refused with a UsageError; no daemon is started', async () => {
  const box = newBox();
  const r = await runCase(box, 'worker-thread', { pidfile: box.path('w.pid') });
  assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
  const error = reportOf(box).error as { name: string; message: string };
  assert.equal(error.name, 'UsageError');
  assert.match(error.message, /worker_thread/);
  assert.match(error.message, /main thread/);
  assert.deepEqual(box.processes(), []);
  assert.equal(existsSync(box.path('w.pid')), false);
});

test('stdin a socket (spawned with pipes): it does not detach and says so on stderr in one line', async () => {
  const box = newBox();
  const r = await runWithSocketStdin(box, 'in-place', { pidfile: box.path('s.pid') });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(reportOf(box).detached, false);
  assert.equal(r.stderr, 'daemonkit: not detaching: stdin is a socket; pass forceDetach: true\n');
});

test('stdin a socket with forceDetach: it detaches and says nothing', async () => {
  const box = newBox();
  const pidfile = box.path('f.pid');
  const r = await runWithSocketStdin(box, 'in-place', { pidfile, forceDetach: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(await waitFor(() => existsSync(box.path('report.json'))));
  assert.equal(reportOf(box).detached, true);
  box.track(Number(readFileSync(pidfile, 'utf8')));
});

test('started by systemd (INVOCATION_ID): not detaching is what was asked, so nothing is said', async () => {
  const box = newBox();
  const r = await runCase(box, 'in-place', { pidfile: box.path('sd.pid') }, { INVOCATION_ID: '0123456789abcdef' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(reportOf(box).detached, false);
  assert.equal(r.stderr, '');
});
