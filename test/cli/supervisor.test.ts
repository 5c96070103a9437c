// The supervised service end to end through dist/cli.js: workers, restarts, stop schedule, reload, LSB status codes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';
import { alive, environ, stat, waitFor } from '../helpers/proc.js';

const box = new Sandbox();
after(() => box.cleanup());
const env = box.env();

interface Worker {
  task: number;
  pid: number;
  state: string;
  restarts: number;
  lastExit: string | null;
}

async function status(
  name: string,
): Promise<{ code: number | null; json: { state: string; pid: number; workers: Worker[]; reason: string | null } }> {
  const r = await cli(['status', name, '--json'], { env });
  return { code: r.code, json: JSON.parse(r.stdout) };
}

async function start(name: string, args: string[], command: string[]) {
  const r = await cli(['start', '--name', name, ...args, '--', ...command], { env });
  const sup = Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { ...r, sup: box.track(sup) };
}

async function trackWorkers(name: string): Promise<Worker[]> {
  const { json } = await status(name);
  for (const w of json.workers) box.track(w.pid);
  return json.workers;
}

describe('supervised start, status and stop', () => {
  test('N workers with distinct task ids, in the supervisor session but not its leaders', async () => {
    const r = await start('web', ['--workers', '3', '--start-secs', '0.2'], ['sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = Number(readFileSync(box.path('web.pid'), 'utf8'));
    assert.match(r.stdout, new RegExp(`started web \\(supervisor pid ${sup}, 3 workers\\)`));
    const workers = await trackWorkers('web');
    assert.deepEqual(
      workers.map((w) => w.task),
      [0, 1, 2],
    );
    assert.equal(new Set(workers.map((w) => w.pid)).size, 3);
    const s = stat(sup);
    assert.equal(s.session, sup, 'the supervisor leads the new session');
    assert.equal(s.ttyNr, 0);
    for (const w of workers) {
      const ws = stat(w.pid);
      assert.equal(w.state, 'running');
      assert.equal(ws.ppid, sup);
      assert.equal(ws.session, sup);
      assert.notEqual(ws.session, w.pid);
      assert.equal(ws.pgrp, w.pid, 'each worker leads its own process group');
      assert.equal(ws.ttyNr, 0);
      assert.ok(environ(w.pid).includes(`DAEMONKIT_TASK_ID=${w.task}`));
      assert.ok(
        !environ(w.pid).some((e) => e.startsWith('DAEMONKIT_') && !e.startsWith('DAEMONKIT_TASK_ID=') && !e.startsWith('DAEMONKIT_HOME=')),
      );
    }
    assert.equal(statSync(box.path('web.sock')).mode & 0o777, 0o600);
    assert.equal((await status('web')).code, 0);
  });

  test('kill -9 of a worker: restarted with the same task id and a new PID', async () => {
    const before = await trackWorkers('web');
    process.kill(before[1]!.pid, 'SIGKILL');
    assert.ok(await waitFor(() => !alive(before[1]!.pid)));
    let after: Worker[] = [];
    for (let i = 0; i < 100; i++) {
      after = (await status('web')).json.workers;
      if (after[1]!.pid && after[1]!.pid !== before[1]!.pid && after[1]!.state === 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const w of after) box.track(w.pid);
    assert.equal(after[1]!.task, 1);
    assert.notEqual(after[1]!.pid, before[1]!.pid);
    assert.equal(after[1]!.restarts, 1);
    assert.equal(after[1]!.lastExit, 'killed by SIGKILL');
    assert.equal(after[0]!.pid, before[0]!.pid);
    assert.equal(after[2]!.pid, before[2]!.pid);
  });

  test('reload replaces every worker PID one at a time, never fewer than N running', async () => {
    const before = await trackWorkers('web');
    const sup = Number(readFileSync(box.path('web.pid'), 'utf8'));
    let min = Infinity;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const kids = readFileSync(`/proc/${sup}/task/${sup}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number)
          .filter(alive);
        min = Math.min(min, kids.length);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const r = await cli(['reload', 'web'], { env });
    sampling = false;
    await sampler;
    assert.equal(r.code, 0, r.stderr);
    const after = await trackWorkers('web');
    for (let i = 0; i < 3; i++) assert.notEqual(after[i]!.pid, before[i]!.pid);
    assert.ok(min >= 3, `at one point only ${min} workers were running`);
    for (const w of before) assert.ok(await waitFor(() => !alive(w.pid)));
  });

  test('stop: exit 0, every process gone, PID file and socket removed; then status 3 and stop 1', async () => {
    const workers = await trackWorkers('web');
    const sup = Number(readFileSync(box.path('web.pid'), 'utf8'));
    const r = await cli(['stop', 'web'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `stopped web (pid ${sup})\n`);
    for (const pid of [sup, ...workers.map((w) => w.pid)]) assert.ok(!alive(pid), `pid ${pid} gone`);
    assert.equal(existsSync(box.path('web.pid')), false);
    assert.equal(existsSync(box.path('web.sock')), false);
    assert.equal((await status('web')).code, 3);
    const again = await cli(['stop', 'web'], { env });
    assert.equal(again.code, 1);
    const ok = await cli(['stop', 'web', '--ok-if-stopped'], { env });
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, 'web is not running\n', '']);
  });
});

describe('restart policy', () => {
  test('a crash loop ends in "failed" with the reason, and status says why', async () => {
    const r = await start(
      'crashy',
      ['--start-secs', '0.1', '--backoff-min', '10ms', '--max-restarts', '3', '--restart-window', '60'],
      ['sh', '-c', 'sleep 0.2; exit 3'],
    );
    assert.equal(r.code, 0, r.stderr);
    const sup = r.sup;
    assert.ok(await waitFor(() => !alive(sup), 10_000), 'the supervisor gave up and exited');
    const s = await status('crashy');
    assert.equal(s.code, 3);
    assert.equal(s.json.state, 'failed');
    assert.match(s.json.reason ?? '', /ended 4 times in 60s \(3 restarts allowed\); last: exited 3/);
    const text = await cli(['status', 'crashy'], { env });
    assert.match(text.stdout, /reason: .*exited 3/);
  });

  test('clean exits are not restarted; when all workers exit 0 the supervisor exits 0 and removes its PID file', async () => {
    const r = await start('oneshot', ['--workers', '2', '--start-secs', '0.1'], ['sh', '-c', 'sleep 0.3; exit 0']);
    assert.equal(r.code, 0, r.stderr);
    const sup = r.sup;
    assert.ok(await waitFor(() => !alive(sup), 5000));
    assert.equal(existsSync(box.path('oneshot.pid')), false);
    const s = await status('oneshot');
    assert.equal(s.code, 3);
    assert.equal(s.json.state, 'stopped');
  });

  test('a worker that dies before it is ready fails the start with its status and stderr', async () => {
    const r = await start('broken', ['--start-secs', '0.5'], ['sh', '-c', 'echo "missing config" >&2; exit 4']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken failed to start: worker 0 \(pid \d+\) exited 4 before it was ready/);
    assert.match(r.stderr, /missing config/);
    assert.equal(existsSync(box.path('broken.pid')), false);
  });
});

describe('stopping hard cases', () => {
  test('the stop schedule escalates to KILL for a worker that ignores TERM', async () => {
    const r = await start('stubborn', ['--start-secs', '0.1'], ['sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done']);
    assert.equal(r.code, 0, r.stderr);
    const workers = await trackWorkers('stubborn');
    const t0 = Date.now();
    const stop = await cli(['stop', 'stubborn', '--retry', 'TERM/1/KILL/5'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(Date.now() - t0 >= 1000, 'TERM was given its full second');
    assert.match(stop.stdout, /1 process needed the stop schedule's later steps/, 'the escalation is reported');
    assert.ok(!alive(workers[0]!.pid));
  });

  test('kill -9 of the supervisor: no worker survives it for more than a second, and the next start works', async () => {
    const r = await start('orphans', ['--workers', '2', '--start-secs', '0.1'], ['sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const workers = await trackWorkers('orphans');
    const sup = Number(readFileSync(box.path('orphans.pid'), 'utf8'));
    process.kill(sup, 'SIGKILL');
    assert.ok(await waitFor(() => workers.every((w) => !alive(w.pid)), 1000), 'workers died with their supervisor');
    const s = await status('orphans');
    assert.equal(s.code, 1, 'dead with a PID file left');
    const again = await start('orphans', ['--start-secs', '0.1'], ['sleep', '1000']);
    assert.equal(again.code, 0, again.stderr);
    await trackWorkers('orphans');
    assert.equal((await cli(['stop', 'orphans'], { env })).code, 0);
  });
});
