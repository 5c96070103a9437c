// Faults: workers killed over and over, the supervisor killed, a worker deaf to SIGTERM, a full or vanished log
// directory, stopped workers, workers with children of their own. Checked in /proc: zombies, fds, RSS, orphans.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { alive, stat, waitFor } from '../helpers/proc.js';
import {
  assertConsistent,
  Box,
  children,
  fdCount,
  guardOf,
  isRoot,
  workersOf,
  pidFromFile,
  rssKb,
  sleepMs,
  statusJson,
  taskOf,
  zombieChildren,
} from './lib.js';

const box = new Box();
// A failed test leaves its service running: kill it here so the next test starts clean.
afterEach(() => box.killAll());
after(() => box.cleanup(() => box.unmountAll()));

const KILLS = Number(process.env.DKREL_KILLS ?? 100);

/** Samples the supervisor's children as fast as it can; a zombie still there 100 ms later was not reaped. */
function zombieWatch(sup: number) {
  const first = new Map<number, number>();
  let samples = 0;
  let transient = 0;
  const lingering: number[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      samples++;
      const now = Date.now();
      const zs = zombieChildren(sup);
      for (const z of zs) {
        if (!first.has(z)) {
          first.set(z, now);
          transient++;
        } else if (now - first.get(z)! > 100 && !lingering.includes(z)) lingering.push(z);
      }
      for (const k of first.keys()) if (!zs.includes(k)) first.delete(k);
      await sleepMs(1);
    }
  })();
  return {
    async stop() {
      on = false;
      await done;
      return { samples, transient, lingering: [...lingering] };
    },
  };
}

function workerOf(sup: number, task: number): number | undefined {
  return workersOf(sup).find((c) => taskOf(c) === task);
}

describe('faults', () => {
  test(`kill -9 of each of 2 workers ${KILLS} times: ${KILLS} restarts each, no zombie, fd count and RSS stable`, async () => {
    const r = await box.cli([
      'start',
      '--name',
      'pounded',
      '--workers',
      '2',
      '--start-secs',
      '0.05',
      '--backoff-min',
      '0',
      '--backoff-max',
      '0',
      '--max-restarts',
      '100000',
      '--',
      'sleep',
      '1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(pidFromFile(box.path('pounded.pid')));
    const killOnce = async (task: number) => {
      // A worker between fork and exec shows the supervisor's (empty) environment: wait until it shows its task.
      let old: number | undefined;
      assert.ok(await waitFor(() => (old = workerOf(sup, task)) !== undefined, 3000, 1), `worker ${task} is there`);
      process.kill(old!, 'SIGKILL');
      assert.ok(
        await waitFor(
          () => {
            const now = workerOf(sup, task);
            return now !== undefined && now !== old;
          },
          3000,
          1,
        ),
        `worker ${task} restarted after kill of ${old}`,
      );
      // The killed one was reaped before its replacement was spawned: no zombie may be left at this sample.
      assert.deepEqual(zombieChildren(sup), [], 'no zombie after a restart');
    };
    // Warm up before the baseline: V8 sizes its heap during the first restarts (see RELIABILITY.md).
    for (let i = 0; i < 50; i++) await killOnce(i % 2);
    await sleepMs(300);
    const fd0 = fdCount(sup);
    const rss0 = rssKb(sup);
    const watch = zombieWatch(sup);
    const t0 = Date.now();
    try {
      for (let i = 0; i < 2 * KILLS; i++) await killOnce(i % 2);
    } finally {
      // The watcher's loop would keep this file's process alive after a failure.
      await watch.stop();
    }
    const elapsed = Date.now() - t0;
    const z = await watch.stop();
    await sleepMs(300);
    const fd1 = fdCount(sup);
    const rss1 = rssKb(sup);
    const s = await statusJson(box, 'pounded');
    process.stdout.write(
      `# ${2 * KILLS} kills in ${elapsed} ms; zombie samples ${z.samples}, transient zombies ${z.transient}, lingering ${z.lingering.length}; ` +
        `fds ${fd0} -> ${fd1}; RSS ${rss0} -> ${rss1} kB\n`,
    );
    assert.equal(s.json.state, 'running');
    for (const w of s.json.workers) {
      assert.equal(w.restarts, KILLS + 25, `task ${w.task} restarts (25 of them warm-up)`);
      assert.equal(w.lastExit, 'killed by SIGKILL');
      assert.equal(w.state, 'running');
    }
    assert.deepEqual(z.lingering, [], 'no zombie lingered');
    assert.equal(fd1, fd0, 'the fd count is back where it was');
    // V8 grows its heap over the first few thousand restarts, then stays (heapUsed after a full GC is flat: RELIABILITY.md).
    assert.ok(rss1 - rss0 < 10 * 1024, `RSS grew ${rss1 - rss0} kB`);
    assert.equal((await box.cli(['stop', 'pounded'])).code, 0);
    await assertConsistent(box, 'pounded');
  });

  test('kill -9 of all 300 workers at once, 3 times: all back, no zombie lingers, fd count and RSS stable', async () => {
    const N = 300;
    const r = await box.cli([
      'start',
      '--name',
      'massacre',
      '--workers',
      String(N),
      '--start-secs',
      '0',
      '--backoff-min',
      '0',
      '--max-restarts',
      '100000',
      '--',
      'sleep',
      '1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(pidFromFile(box.path('massacre.pid')));
    // Exec'd already (a fresh child shows the supervisor's argv first); one that just died is left out.
    const runsSleep = (w: number) => {
      try {
        return readFileSync(`/proc/${w}/cmdline`, 'latin1').startsWith('sleep');
      } catch {
        return false;
      }
    };
    const sleepers = () => workersOf(sup).filter(runsSleep);
    assert.ok(await waitFor(() => sleepers().length === N, 10_000), 'all workers up');
    await sleepMs(1500); // the post-start collection and trim
    const fd0 = fdCount(sup);
    const rss0 = rssKb(sup);
    for (let round = 0; round < 3; round++) {
      const old = new Set(sleepers());
      for (const w of old) process.kill(w, 'SIGKILL');
      assert.ok(
        await waitFor(() => {
          const now = sleepers();
          return now.length === N && now.every((w) => !old.has(w));
        }, 20_000),
        `round ${round}: all ${N} back`,
      );
    }
    await sleepMs(1500);
    const fd1 = fdCount(sup);
    const rss1 = rssKb(sup);
    process.stdout.write(`# ${N} workers killed at once, 3 times: fds ${fd0} -> ${fd1}; RSS ${rss0} -> ${rss1} kB\n`);
    assert.deepEqual(zombieChildren(sup), []);
    assert.equal(fd1, fd0, 'the pipes of dead workers are closed');
    // Work per death must not grow with the number of workers: the quadratic version of the fourth session grew 92 MB.
    assert.ok(rss1 - rss0 < 10 * 1024, `RSS grew ${rss1 - rss0} kB`);
    assert.equal((await box.cli(['stop', 'massacre'])).code, 0);
    await assertConsistent(box, 'massacre');
  });

  test('a worker that can no longer be spawned: retried no faster than every 100 ms even with backoff 0, no fd leaks', async () => {
    const prog = box.path('vanishing-sleep');
    copyFileSync('/bin/sleep', prog);
    chmodSync(prog, 0o755);
    const r = await box.cli([
      'start',
      '--name',
      'vanishing',
      '--start-secs',
      '0',
      '--backoff-min',
      '0',
      '--backoff-max',
      '0',
      '--max-restarts',
      '100000',
      '--',
      prog,
      '1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(pidFromFile(box.path('vanishing.pid')));
    await sleepMs(300);
    unlinkSync(prog);
    const t0 = Date.now();
    process.kill(workersOf(sup)[0]!, 'SIGKILL');
    await sleepMs(300);
    const fd0 = fdCount(sup); // the dead worker's pipe is gone by now
    await sleepMs(700);
    const fd1 = fdCount(sup);
    const tries = (readFileSync(box.path('vanishing.log'), 'utf8').match(/cannot spawn/g) ?? []).length;
    const elapsed = Date.now() - t0;
    process.stdout.write(`# ${elapsed} ms of a program that is gone: ${tries} spawn attempts; fds ${fd0} -> ${fd1}\n`);
    // The first try follows the kill at once (backoff 0), each next one at least 100 ms after the one before.
    assert.ok(tries >= 2 && tries <= Math.floor(elapsed / 100) + 1, `${tries} spawn attempts in ${elapsed} ms`);
    assert.equal(fd1, fd0, 'a failed spawn closes both ends of its pipe');
    const s = await statusJson(box, 'vanishing');
    assert.equal(s.json.workers[0]!.lastExit, `could not be spawned: ENOENT: no such file or directory, posix_spawn '${prog}'`);
    assert.equal((await box.cli(['stop', 'vanishing'])).code, 0);
  });

  test('kill -9 of the supervisor: every worker gone within 1 s, the next start needs no cleanup', async () => {
    const r = await box.cli(['start', '--name', 'headless', '--workers', '3', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('headless.pid'));
    const workers = workersOf(sup);
    assert.equal(workers.length, 3);
    const t0 = Date.now();
    process.kill(sup, 'SIGKILL');
    assert.ok(await waitFor(() => workers.every((w) => !alive(w)), 1000, 5), 'workers died with their supervisor');
    process.stdout.write(`# workers gone ${Date.now() - t0} ms after the supervisor's SIGKILL\n`);
    assert.equal((await statusJson(box, 'headless')).code, 1);
    const again = await box.cli(['start', '--name', 'headless', '--workers', '3', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(again.code, 0, again.stderr);
    await assertConsistent(box, 'headless');
    assert.equal((await box.cli(['stop', 'headless'])).code, 0);
    await assertConsistent(box, 'headless');
  });

  test('kill -9 of the supervisor: its session guard kills the workers and everything they forked within 1 s', async () => {
    const r = await box.cli([
      'start',
      '--name',
      'orphanage',
      '--workers',
      '2',
      '--start-secs',
      '0.2',
      '--',
      'sh',
      '-c',
      'sleep 1000 & sleep 1000 & wait',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('orphanage.pid'));
    const guard = guardOf(sup);
    assert.ok(guard, 'the supervisor has a session guard');
    const g = stat(guard);
    assert.notEqual(g.session, sup, 'the guard is outside the session it guards');
    assert.equal(readlinkSync(`/proc/${guard}/cwd`), '/');
    const family = workersOf(sup).flatMap((w) => [w, ...children(w)]);
    assert.equal(family.length, 6);
    const t0 = Date.now();
    process.kill(sup, 'SIGKILL');
    assert.ok(await waitFor(() => family.every((p) => !alive(p)), 1000, 5), `left: ${family.filter(alive).join(' ')}`);
    process.stdout.write(`# workers and their children gone ${Date.now() - t0} ms after the supervisor's SIGKILL\n`);
    assert.ok(await waitFor(() => !alive(guard), 1000), 'the guard exits when it is done');
    assert.equal((await statusJson(box, 'orphanage')).code, 1, 'stale PID file');
    assert.deepEqual(box.processes(), [], 'nothing of the service is left');
  });

  test('a killed session guard is replaced; with supervisor and guard both killed, the next start sweeps the session', async () => {
    // Deaf to SIGTERM: the next start's sweep has to wait for them (its wait once let that start's loop run dry).
    const r = await box.cli(['start', '--name', 'unguarded', '--start-secs', '0.2', '--', 'sh', '-c', 'trap "" TERM; sleep 1000 & wait']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('unguarded.pid'));
    const first = guardOf(sup)!;
    process.kill(first, 'SIGKILL');
    assert.ok(await waitFor(() => (guardOf(sup) ?? first) !== first && alive(guardOf(sup)!), 2000), 'a new guard');
    // Both at once (the guard stopped first so it cannot act): the session's processes stay until the next start.
    const guard = guardOf(sup)!;
    process.kill(guard, 'SIGSTOP');
    const family = workersOf(sup).flatMap((w) => [w, ...children(w)]);
    assert.equal(family.length, 2);
    process.kill(sup, 'SIGKILL');
    process.kill(guard, 'SIGKILL');
    await sleepMs(200);
    assert.ok(family.every(alive), 'with no guard, nothing kills them');
    const again = await box.cli(['start', '--name', 'unguarded', '--start-secs', '0.2', '--', 'sleep', '1000']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(await waitFor(() => family.every((p) => !alive(p)), 2000), `left: ${family.filter(alive).join(' ')}`);
    await assertConsistent(box, 'unguarded');
    assert.equal((await box.cli(['stop', 'unguarded'])).code, 0);
  });

  test('a worker that ignores SIGTERM: stop escalates to SIGKILL on schedule and says so', async () => {
    const r = await box.cli([
      'start',
      '--name',
      'deaf',
      '--workers',
      '2',
      '--start-secs',
      '0.1',
      '--',
      'sh',
      '-c',
      'trap "" TERM; while :; do sleep 0.05; done',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('deaf.pid'));
    const workers = workersOf(sup);
    const t0 = Date.now();
    const stop = await box.cli(['stop', 'deaf', '--retry', 'TERM/1/KILL/5']);
    const took = Date.now() - t0;
    process.stdout.write(`# stop of 2 workers deaf to SIGTERM with TERM/1/KILL/5 took ${took} ms\n`);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(took >= 1000 && took < 4000, `stop took ${took} ms (TERM gets 1 s, then KILL)`);
    for (const w of workers) assert.ok(!alive(w));
    const log = readFileSync(box.path('deaf.log'), 'utf8');
    for (const w of workers) assert.match(log, new RegExp(`pid ${w} still alive 1s after SIGTERM: sending SIGKILL`));
    assert.match(stop.stdout, /^stopped deaf \(pid \d+\)\n  2 processes needed the stop schedule's later steps\n$/);
    await assertConsistent(box, 'deaf');
  });

  test('SIGSTOP/SIGCONT of a worker is not a crash; a stopped worker does not hold up stop', async () => {
    const r = await box.cli(['start', '--name', 'frozen', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('frozen.pid'));
    const [w0] = workersOf(sup);
    process.kill(w0!, 'SIGSTOP');
    assert.ok(await waitFor(() => stat(w0!).state === 'T'));
    await sleepMs(300);
    let s = await statusJson(box, 'frozen');
    assert.ok(
      s.json.workers.some((w) => w.pid === w0 && w.restarts === 0),
      'same worker, not restarted',
    );
    process.kill(w0!, 'SIGCONT');
    assert.ok(await waitFor(() => stat(w0!).state === 'S'));
    s = await statusJson(box, 'frozen');
    assert.ok(s.json.workers.every((w) => w.restarts === 0 && w.state === 'running'));
    process.kill(w0!, 'SIGSTOP');
    const t0 = Date.now();
    const stop = await box.cli(['stop', 'frozen']);
    assert.equal(stop.code, 0, stop.stderr);
    process.stdout.write(`# stop with a SIGSTOPped worker took ${Date.now() - t0} ms\n`);
    assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms`);
    await assertConsistent(box, 'frozen');
  });

  test('a worker with children of its own: stop takes its whole process group, even a child deaf to SIGTERM', async () => {
    const r = await box.cli([
      'start',
      '--name',
      'family',
      '--workers',
      '2',
      '--start-secs',
      '0.2',
      '--retry',
      'TERM/1/KILL/5',
      '--',
      'sh',
      '-c',
      'sleep 1001 & sleep 1002 & sh -c \'trap "" TERM; while :; do sleep 0.05; done\' & wait',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('family.pid'));
    const workers = workersOf(sup);
    const family = workers.flatMap((w) => [w, ...children(w)]);
    assert.ok(family.length >= 8, `workers and their children: ${family.join(' ')}`);
    for (const p of family) assert.equal(stat(p).session, sup);
    const stop = await box.cli(['stop', 'family']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(await waitFor(() => family.every((p) => !alive(p)), 2000), `left: ${family.filter(alive).join(' ')}`);
    await assertConsistent(box, 'family');
  });

  test('a worker that forks a child and exits: the child is stopped when the worker exits, not left for the stop', async () => {
    // Task 0 leaves a child behind and exits 0 (not restarted); task 1 keeps the service up.
    const r = await box.cli([
      'start',
      '--name',
      'leaver',
      '--workers',
      '2',
      '--start-secs',
      '0.2',
      '--',
      'sh',
      '-c',
      'if [ "$DAEMONKIT_TASK_ID" = 0 ]; then sleep 1000 & echo "child $!"; sleep 0.5; exit 0; fi; exec sleep 1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('leaver.pid'));
    assert.ok(await waitFor(() => workersOf(sup).length === 1, 3000), 'task 0 exited');
    const child = Number(/child (\d+)/.exec(readFileSync(box.path('leaver.log'), 'utf8'))?.[1]);
    assert.ok(child > 0, 'the worker named its child');
    assert.ok(await waitFor(() => !alive(child), 3000), `orphan ${child} outlived the worker that forked it`);
    // Logged right after the signal: the child may be seen gone a moment before the line is written.
    const said = () => /left 1 process in its group: sent SIGTERM/.test(readFileSync(box.path('leaver.log'), 'utf8'));
    assert.ok(await waitFor(said, 3000), 'the supervisor said what it stopped');
    const stop = await box.cli(['stop', 'leaver']);
    assert.equal(stop.code, 0, stop.stderr);
    await assertConsistent(box, 'leaver');
  });
});

describe('log faults', { skip: !isRoot() && 'mounting a small tmpfs needs root' }, () => {
  // One line a 20 ms to the log, and, once written, to a side file outside it: what the side file has, the log must have.
  const writer = (side: string) => [
    'sh',
    '-c',
    `i=0; while :; do echo "p=$$ s=$i ${'y'.repeat(60)}"; echo "p=$$ s=$i" >> '${side}'; i=$((i+1)); sleep 0.02; done`,
  ];
  const keys = (text: string) =>
    text
      .split('\n')
      .map((l) => /^(p=\d+ s=\d+)/.exec(l)?.[1])
      .filter((k): k is string => !!k);

  test('the log disk fills up: supervision goes on, status shows the error, workers never block, nothing lost', async () => {
    const dir = box.smallDisk('small', '256k');
    const log = `${dir}/full.log`;
    const side = box.path('full.side');
    const r = await box.cli([
      'start',
      '--name',
      'full',
      '--log',
      log,
      '--start-secs',
      '0.1',
      '--backoff-min',
      '50ms',
      '--',
      ...writer(side),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('full.pid'));
    assert.ok(await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').length > 500, 5000));
    // Fill the disk.
    const filler = `${dir}/filler`;
    box.fillDisk(filler);
    let s = await statusJson(box, 'full');
    assert.ok(
      await waitFor(
        () => {
          void statusJson(box, 'full').then((x) => (s = x));
          return /ENOSPC/.test(s.json.logError ?? '');
        },
        5000,
        200,
      ),
      `status shows the log error: ${JSON.stringify(s.json.logError)}`,
    );
    const text = await box.cli(['status', 'full']);
    assert.match(text.stdout, /log error: .*full\.log: ENOSPC/);
    // The error of last resort: once, in the kernel log (journald and rsyslog collect it; dmesg shows it).
    const kmsg = (what: string) =>
      execFileSync('dmesg', { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes(`daemonkit[${sup}]: full: ${what}`));
    assert.ok(await waitFor(() => kmsg('cannot write the log').length === 1, 3000), 'the kernel log has the error');
    assert.match(kmsg('cannot write the log')[0]!, /full\.log: ENOSPC; holding its lines/);
    // The worker is not blocked: it keeps writing (the side file grows) while nothing reaches the log.
    const sideBefore = keys(readFileSync(side, 'utf8')).length;
    await sleepMs(1000);
    const sideAfter = keys(readFileSync(side, 'utf8')).length;
    assert.ok(sideAfter - sideBefore >= 10, `the worker went on writing (${sideAfter - sideBefore} lines in 1 s)`);
    // And supervision goes on: a killed worker is restarted while the disk is full.
    const w = workersOf(sup)[0]!;
    process.kill(w, 'SIGKILL');
    assert.ok(await waitFor(() => workersOf(sup).length === 1 && workersOf(sup)[0] !== w, 3000), 'restarted');
    await sleepMs(300);
    assert.ok(alive(sup), 'the supervisor lives on with its own lines held');
    // Space comes back: logging resumes, the error clears, every line held meanwhile is written.
    unlinkSync(filler);
    assert.ok(
      await waitFor(
        () => {
          void statusJson(box, 'full').then((x) => (s = x));
          return s.json.logError === null;
        },
        5000,
        200,
      ),
      `the error cleared: ${JSON.stringify(s.json.logError)}`,
    );
    assert.equal(kmsg('cannot write the log').length, 1, 'said once, not once per failed write');
    assert.ok(await waitFor(() => kmsg(`writing ${log} again`).length === 1, 3000), 'the kernel log has the recovery');
    const stop = await box.cli(['stop', 'full']);
    assert.equal(stop.code, 0, stop.stderr);
    const logged = keys(readFileSync(log, 'utf8'));
    const written = keys(readFileSync(side, 'utf8'));
    const have = new Set(logged);
    const lost = written.filter((k) => !have.has(k));
    process.stdout.write(`# disk full: ${written.length} lines written, ${logged.length} logged, ${lost.length} lost\n`);
    assert.deepEqual(lost, [], 'no line lost');
    assert.equal(new Set(logged).size, logged.length, 'no line duplicated');
    // The supervisor's own lines from the full period were held too, and are in the log in order.
    // Our own lines start with their UTC time.
    const own = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z daemonkit supervisor\\[${sup}\\]: `).test(l));
    const at = (re: RegExp) => own.findIndex((l) => re.test(l));
    assert.ok(at(/cannot write the log: .*ENOSPC/) >= 0, own.join('\n'));
    assert.ok(at(new RegExp(`worker 0 \\(pid ${w}\\) killed by SIGKILL`)) > at(/cannot write the log/), own.join('\n'));
    assert.ok(at(/writing .* again/) > at(/killed by SIGKILL/), own.join('\n'));
    await assertConsistent(box, 'full');
  });

  test('beyond 16 MiB held, the oldest output is dropped and counted; the newest is written once space returns', async () => {
    const dir = box.smallDisk('cap', '24m');
    const log = `${dir}/cap.log`;
    const go = box.path('cap.go');
    const done = box.path('cap.done');
    // 300,000 numbered lines of 98 bytes (29.4 MB), all at once once told to, then nothing.
    const LINES = 300_000;
    const LINE_BYTES = 98;
    const r = await box.cli([
      'start',
      '--name',
      'cap',
      '--log',
      log,
      '--start-secs',
      '0',
      '--',
      'sh',
      '-c',
      `while [ ! -e '${go}' ]; do sleep 0.05; done; seq -f 'line %06g ${'x'.repeat(85)}' 1 ${LINES}; : > '${done}'; exec sleep 1000`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const filler = `${dir}/filler`;
    box.fillDisk(filler);
    // Room for two pages: the first block of lines is cut in the middle of a line, the rest is held.
    truncateSync(filler, statSync(filler).size - 2 * 4096);
    writeFileSync(go, '');
    assert.ok(await waitFor(() => existsSync(done), 30_000), 'the worker wrote all its lines without blocking');
    let s = await statusJson(box, 'cap');
    assert.match(s.json.logError ?? '', /ENOSPC/);
    unlinkSync(filler);
    const recovered = async () => {
      s = await statusJson(box, 'cap');
      return /^recovered; \d+ bytes were dropped/.test(s.json.logError ?? '');
    };
    let ok = false;
    for (let i = 0; i < 50 && !(ok = await recovered()); i++) await sleepMs(200);
    assert.ok(ok, `status says what was dropped: ${JSON.stringify(s.json.logError)}`);
    const dropped = Number(/(\d+) bytes were dropped/.exec(s.json.logError!)![1]);
    const text = readFileSync(log, 'utf8');
    // Every line whole: a line cut by the full disk is finished, never glued to the next one kept.
    const broken = text.split('\n').filter((l) => l !== '' && !/^line \d{6} x{85}$/.test(l) && !/daemonkit supervisor\[\d+\]/.test(l));
    assert.deepEqual(
      broken.map((l) => l.slice(0, 40)),
      [],
      'no line glued to another',
    );
    const kept = text
      .split('\n')
      .map((l) => /^line (\d{6}) x{85}$/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    // What is kept is what fit before the disk was full (from line 1), then the newest output, whole lines, in order
    // and without a gap, up to the last line.
    const cut = kept.findIndex((n, i) => i > 0 && n !== kept[i - 1]! + 1);
    const [head, tail] = cut < 0 ? [[], kept] : [kept.slice(0, cut), kept.slice(cut)];
    assert.deepEqual(
      head,
      head.map((_, i) => i + 1),
      'what fit first, from line 1',
    );
    assert.equal(tail.at(-1), LINES);
    assert.deepEqual(
      tail.map((n, i) => n - i),
      tail.map(() => tail[0]!),
      'a contiguous tail',
    );
    const keptBytes = tail.length * LINE_BYTES;
    const HELD = 16 * 1024 * 1024;
    assert.ok(keptBytes <= HELD && keptBytes > HELD - 1024 * 1024, `about 16 MiB kept: ${keptBytes} bytes`);
    // Every dropped line is counted; the rest of the count is the supervisor's own held lines, which are short.
    const missing = (LINES - kept.length) * LINE_BYTES;
    assert.ok(dropped >= missing && dropped < missing + 4096, `dropped ${dropped} bytes, ${missing} of them the worker's`);
    const stop = await box.cli(['stop', 'cap']);
    assert.equal(stop.code, 0, stop.stderr);
  });

  test('the log directory vanishes and comes back: reopen reports it, lines are held, then written', async () => {
    const dir = box.path('logs');
    mkdirSync(dir);
    const log = `${dir}/gone.log`;
    const side = box.path('gone.side');
    const r = await box.cli(['start', '--name', 'gone', '--log', log, '--start-secs', '0.1', '--', ...writer(side)]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').length > 200, 5000));
    renameSync(dir, `${dir}.away`);
    const reopen = await box.cli(['reopen', 'gone']);
    assert.equal(reopen.code, 0, reopen.stderr);
    const s = await statusJson(box, 'gone');
    assert.match(s.json.logError ?? '', /gone\.log: ENOENT/);
    await sleepMs(500);
    renameSync(`${dir}.away`, dir);
    assert.ok(
      await waitFor(
        () => {
          const written = keys(readFileSync(side, 'utf8'));
          return (
            readFileSync(log, 'utf8').includes(`${written[written.length - 5]}\n`) ||
            readFileSync(log, 'utf8').includes(`${written[written.length - 5]} `)
          );
        },
        5000,
        100,
      ),
      'logging resumed',
    );
    const stop = await box.cli(['stop', 'gone']);
    assert.equal(stop.code, 0, stop.stderr);
    const have = new Set(keys(readFileSync(log, 'utf8')));
    const lost = keys(readFileSync(side, 'utf8')).filter((k) => !have.has(k));
    assert.deepEqual(lost, [], 'no line lost');
    await assertConsistent(box, 'gone');
  });
});
