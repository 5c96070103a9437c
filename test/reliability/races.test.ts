// Races: many starts of one name at once, stop against start, stop during a backoff, reloads during a crash loop and
// on top of each other. Each ends in a state `status` and /proc agree on, with no orphaned worker.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { run } from '../helpers/run.js';
import { cliPath } from '../helpers/paths.js';
import { alive, waitFor } from '../helpers/proc.js';
import { assertConsistent, Box, children, workersOf, pidFromFile, sleepMs, statusJson, guardOf } from './lib.js';

const box = new Box();
// A failed test leaves its service running: kill it here so the next test starts clean.
afterEach(() => box.killAll());
after(async () => {
  await box.cleanup();
});

const STARTS = Number(process.env.DKREL_STARTS ?? 50);

describe('races', () => {
  test(`${STARTS} simultaneous starts of one name: one supervisor, one exit 0, the rest "already running (pid N)"`, async () => {
    // Every start process loads, then waits at a barrier, so they all reach the PID file check in the same instant.
    const gate = box.path('gate');
    const barrier = box.path('barrier.mjs');
    writeFileSync(
      barrier,
      `import { existsSync, writeFileSync } from 'node:fs';\n` +
        `writeFileSync(${JSON.stringify(box.path('at-gate.'))} + process.pid, '');\n` +
        `const sab = new Int32Array(new SharedArrayBuffer(4));\n` +
        `while (!existsSync(${JSON.stringify(gate)})) Atomics.wait(sab, 0, 0, 2);\n`,
    );
    const env = box.env();
    // Watch the new sessions that reach the lock race: supervisors (children of the start processes) seen alive.
    const supervisorsSeen = new Set<number>();
    const starters: number[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const s of starters) for (const c of children(s)) supervisorsSeen.add(c);
        await sleepMs(2);
      }
    })();
    const runs = Array.from({ length: STARTS }, () =>
      run(
        [
          process.execPath,
          '--import',
          barrier,
          cliPath,
          'start',
          '--name',
          'one',
          '--workers',
          '2',
          '--start-secs',
          '0.3',
          '--',
          'sleep',
          '1000',
        ],
        { env, timeoutMs: 60_000 },
      ),
    );
    assert.ok(
      await waitFor(() => readdirSync(box.dir).filter((f) => f.startsWith('at-gate.')).length === STARTS, 30_000),
      'every start reached the barrier',
    );
    starters.push(
      ...readdirSync(box.dir)
        .filter((f) => f.startsWith('at-gate.'))
        .map((f) => Number(f.slice(8))),
    );
    writeFileSync(gate, '');
    const results = await Promise.all(runs);
    watching = false;
    await watcher;

    const sup = box.track(pidFromFile(box.path('one.pid')));
    const winners = results.filter((r) => r.code === 0);
    assert.equal(winners.length, 1, results.map((r) => `${r.code} ${r.stderr}`).join(''));
    assert.equal(winners[0]!.stdout, `started one (supervisor pid ${sup}, 2 workers)\n`);
    const losers = results.filter((r) => r.code !== 0);
    assert.equal(losers.length, STARTS - 1);
    for (const r of losers) {
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `daemonkit: one already running (pid ${sup})\n`);
    }
    // Exactly one supervisor: the only process of ours that is not one of its workers or its guard.
    const { workers } = await assertConsistent(box, 'one');
    assert.equal(workers.length, 2);
    assert.deepEqual(
      box.processes().filter((p) => !workers.includes(p) && p !== guardOf(sup)),
      [sup],
    );
    // How many of them got as far as a supervisor of their own (the flock race, not just the early check).
    process.stdout.write(`# ${supervisorsSeen.size} of ${STARTS} starts spawned a supervisor that raced for the lock\n`);
    assert.ok(supervisorsSeen.size >= 2, `the race reached the lock (${supervisorsSeen.size} supervisors seen)`);

    const stop = await box.cli(['stop', 'one']);
    assert.equal(stop.code, 0, stop.stderr);
    await assertConsistent(box, 'one');
  });

  test('stop and start racing, 12 rounds: the end state is whatever won, and status agrees with /proc', async () => {
    const start = () => box.cli(['start', '--name', 'flip', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000']);
    const first = await start();
    assert.equal(first.code, 0, first.stderr);
    const outcomes: string[] = [];
    for (let round = 0; round < 12; round++) {
      const skew = (round % 4) * 40;
      const [stop, again] = await Promise.all([box.cli(['stop', 'flip']), sleepMs(skew).then(start)]);
      assert.ok([0, 1].includes(stop.code!), `stop: ${stop.code} ${stop.stderr}`);
      assert.ok([0, 1].includes(again.code!), `start: ${again.code} ${again.stderr}`);
      if (again.code === 1) assert.match(again.stderr, /already running \(pid \d+\)|failed to start/);
      const end = await assertConsistent(box, 'flip');
      outcomes.push(`${stop.code}/${again.code}/${end.running ? 'up' : 'down'}`);
      if (!end.running) assert.equal((await start()).code, 0);
    }
    process.stdout.write(`# stop/start outcomes (stop exit/start exit/end): ${outcomes.join(' ')}\n`);
    assert.equal((await box.cli(['stop', 'flip'])).code, 0);
    await assertConsistent(box, 'flip');
  });

  test('stop during a worker backoff: prompt, the pending restart never happens', async () => {
    const r = await box.cli([
      'start',
      '--name',
      'backoff',
      '--workers',
      '2',
      '--start-secs',
      '0.1',
      '--backoff-min',
      '5s',
      '--',
      'sleep',
      '1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(pidFromFile(box.path('backoff.pid')));
    const before = (await statusJson(box, 'backoff')).json.workers;
    process.kill(before[0]!.pid, 'SIGKILL');
    assert.ok(await waitFor(() => workersOf(sup).length === 1, 3000));
    const during = (await statusJson(box, 'backoff')).json.workers;
    assert.equal(during[0]!.state, 'backoff');
    const t0 = Date.now();
    const stop = await box.cli(['stop', 'backoff']);
    assert.equal(stop.code, 0, stop.stderr);
    const took = Date.now() - t0;
    process.stdout.write(`# stop during a 5 s backoff took ${took} ms\n`);
    assert.ok(took < 3000, `stop took ${took} ms: it waited for the backoff`);
    await assertConsistent(box, 'backoff');
    await sleepMs(300);
    assert.deepEqual(box.processes(), [], 'nothing respawned after the stop');
  });

  test('reloads during a crash loop: each answers, the loop goes on, stop leaves nothing', async () => {
    // Task 1 crashes 0.3 s after each start; task 0 is healthy.
    const r = await box.cli([
      'start',
      '--name',
      'loop',
      '--workers',
      '2',
      '--start-secs',
      '0.1',
      '--backoff-min',
      '20ms',
      '--backoff-max',
      '100ms',
      '--max-restarts',
      '1000',
      '--',
      'sh',
      '-c',
      'if [ "$DAEMONKIT_TASK_ID" = 1 ]; then sleep 0.3; exit 3; fi; exec sleep 1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(pidFromFile(box.path('loop.pid')));
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [a, b] = await Promise.all([
        box.cli(['reload', 'loop'], {}, 30_000),
        sleepMs(i * 50).then(() => box.cli(['reload', 'loop'], {}, 30_000)),
      ]);
      for (const x of [a, b]) {
        assert.ok(
          x.code === 0 || (x.code === 1 && /reload failed: the new worker 1 exited 3/.test(x.stderr)),
          `reload: ${x.code} ${x.stdout}${x.stderr}`,
        );
        answers.push(String(x.code));
      }
    }
    process.stdout.write(`# reload exits during the crash loop: ${answers.join(' ')}\n`);
    assert.ok(alive(sup), 'the supervisor is still there');
    // A crash during a reload is taken over by the replacement (not a restart): the loop shows once reloads stop.
    const mid = (await statusJson(box, 'loop')).json.workers[1]!.restarts;
    await sleepMs(1200);
    const s = await statusJson(box, 'loop');
    assert.equal(s.code, 0);
    assert.ok(s.json.workers[1]!.restarts >= mid + 2, `task 1 kept crashing and restarting (${mid} -> ${s.json.workers[1]!.restarts})`);
    // Every live child is a worker status knows about, or the crashing one between its exit and its restart.
    const known = new Set(s.json.workers.map((w) => w.pid));
    for (const c of workersOf(sup))
      assert.ok(known.has(c) || !alive(c) || (await waitFor(() => !alive(c), 1000)), `child ${c} not in status`);
    const stop = await box.cli(['stop', 'loop']);
    assert.equal(stop.code, 0, stop.stderr);
    await assertConsistent(box, 'loop');
  });

  test('two reloads at once: both exit 0, every worker replaced exactly once per pass, no extra process', async () => {
    const r = await box.cli(['start', '--name', 'twice', '--workers', '3', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(pidFromFile(box.path('twice.pid')));
    const before = (await statusJson(box, 'twice')).json.workers.map((w) => w.pid);
    const [a, b] = await Promise.all([box.cli(['reload', 'twice'], {}, 30_000), box.cli(['reload', 'twice'], {}, 30_000)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const { workers } = await assertConsistent(box, 'twice');
    assert.equal(workers.length, 3);
    for (const p of before) assert.ok(!workers.includes(p) && !alive(p), `old worker ${p} replaced and gone`);
    assert.equal(workersOf(sup).length, 3);
    assert.equal((await box.cli(['stop', 'twice'])).code, 0);
    await assertConsistent(box, 'twice');
    assert.equal(existsSync(box.path('twice.pid')), false);
    assert.equal(readFileSync(box.path('twice.json'), 'utf8').includes('"exitCode":0'), true);
  });
});
