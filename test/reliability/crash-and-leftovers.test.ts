// A crash loop ends, status never calls a service with no worker up "running", and nothing a worker forked outlives
// it: not after its own exit, not after a stop schedule that ran out.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { alive, stat, waitFor } from '../helpers/proc.js';
import { allPids, Box, pidFromFile, sleepMs, statusJson, workersOf } from './lib.js';

const box = new Box();
afterEach(() => box.killAll());
after(() => box.cleanup());

function sessionMembers(session: number, argv: string): number[] {
  return allPids().filter((pid) => {
    try {
      return stat(pid).session === session && stat(pid).state !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8') === argv;
    } catch {
      return false;
    }
  });
}

describe('crash loops', () => {
  test('a worker failing faster than --min-uptime is given up on after --max-restarts, however the backoff spreads it', async () => {
    const r = await box.cli([
      'start',
      '--name',
      'loop',
      '--start-secs',
      '0.1',
      '--max-restarts',
      '3',
      '--restart-window',
      '1s',
      '--',
      'sh',
      '-c',
      'sleep 0.3; exit 1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('loop.pid'));
    assert.ok(await waitFor(() => !alive(sup), 15_000), 'the supervisor gave up and exited');
    const { code, json } = await statusJson(box, 'loop');
    assert.equal(code, 3);
    assert.equal(json.state, 'failed');
    assert.equal(json.reason, 'worker 0 failed 4 times in a row without staying up 10s; last: exited 1');
  });

  test('status while the only worker is backing off: "restarting", LSB 150, never "running" with 0', async () => {
    const r = await box.cli([
      'start',
      '--name',
      'backoff',
      '--start-secs',
      '0.1',
      '--backoff-min',
      '5s',
      '--',
      'sh',
      '-c',
      'sleep 0.3; exit 1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('backoff.pid'));
    assert.ok(await waitFor(() => workersOf(sup).length === 0, 3000), 'the worker exited');
    await sleepMs(100);
    const { code, json } = await statusJson(box, 'backoff');
    assert.equal(code, 150);
    assert.equal(json.state, 'restarting');
    assert.match(json.reason!, /^no worker is up \(worker 0 backoff, last exited 1\)$/);
    const text = await box.cli(['status', 'backoff']);
    assert.equal(text.code, 150);
    assert.match(text.stdout, /^backoff: restarting \(supervisor pid \d+/);
    assert.equal((await box.cli(['stop', 'backoff'])).code, 0);
  });
});

describe('leftovers', () => {
  test('children of a crash-looping worker are stopped with it, not piled up', async () => {
    const script = 'for i in 1 2 3 4 5; do sleep 1000 & done; sleep 0.3; exit 1';
    const r = await box.cli([
      'start',
      '--name',
      'forks',
      '--start-secs',
      '0.1',
      '--backoff-min',
      '100ms',
      '--backoff-max',
      '200ms',
      '--max-restarts',
      '1000',
      '--restart-window',
      '1s',
      '--',
      'sh',
      '-c',
      script,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('forks.pid'));
    await sleepMs(3000);
    const { json } = await statusJson(box, 'forks');
    assert.ok(json.workers[0]!.restarts >= 4, `restarted ${json.workers[0]!.restarts} times`);
    const sleeps = sessionMembers(sup, 'sleep\u00001000\u0000');
    // One generation's five (the live worker's) plus at most the one being stopped.
    assert.ok(sleeps.length <= 10, `${sleeps.length} sleeps in the session after ${json.workers[0]!.restarts} restarts`);
    assert.equal((await box.cli(['stop', 'forks'])).code, 0);
    assert.deepEqual(sessionMembers(sup, 'sleep\u00001000\u0000'), []);
  });

  test("a live worker's children are its own, not leftovers: status counts none while it runs", async () => {
    const r = await box.cli([
      'start',
      '--name',
      'parent',
      '--start-secs',
      '0',
      '--',
      'sh',
      '-c',
      'sleep 1000 & sleep 1000 & exec sleep 1001',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('parent.pid'));
    assert.ok(await waitFor(() => sessionMembers(sup, 'sleep\u00001000\u0000').length === 2), 'both children run');
    assert.equal((await statusJson(box, 'parent')).json.leftovers ?? 0, 0);
    const text = await box.cli(['status', 'parent']);
    assert.doesNotMatch(text.stdout, /leftovers/);
    const plain = await box.cli(['start', '--name', 'plain', '--start-secs', '0', '--', 'sleep', '1000']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal((await statusJson(box, 'plain')).json.leftovers ?? 0, 0);
    for (const name of ['parent', 'plain']) assert.equal((await box.cli(['stop', name])).code, 0);
  });

  /** A worker deaf to SIGTERM, and a stop whose TERM/1 runs out: the supervisor exits, the worker lives on. */
  async function outlivedStop(name: string): Promise<{ sup: number; worker: number }> {
    const deaf = "trap '' TERM; while :; do sleep 0.1; done";
    const r = await box.cli(['start', '--name', name, '--start-secs', '0.1', '--', 'sh', '-c', deaf]);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path(`${name}.pid`));
    const [worker] = workersOf(sup);
    const stop = await box.cli(['stop', name, '--retry', 'TERM/1']);
    assert.equal(stop.code, 2, stop.stdout + stop.stderr);
    assert.ok(await waitFor(() => !alive(sup), 5000), 'the supervisor exited');
    assert.ok(alive(worker!), 'the deaf worker outlived the schedule');
    return { sup, worker: worker! };
  }

  test('a stop schedule that runs out keeps the PID file: status says who is left, and the next start stops them first', async () => {
    const { sup, worker } = await outlivedStop('deaf');
    assert.equal(pidFromFile(box.path('deaf.pid')), sup, 'the PID file stays while its session lives');
    const { code, json } = await statusJson(box, 'deaf');
    assert.equal(code, 1);
    assert.match(json.reason!, new RegExp(`process(es)? of its session still alive \\(pid [^)]*\\b${worker}\\b`));
    const again = await box.cli(['start', '--name', 'deaf', '--start-secs', '0.1', '--retry', 'TERM/1/KILL/1', '--', 'sleep', '1000']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(await waitFor(() => !alive(worker), 3000), 'the next start stopped what was left');
    assert.equal((await box.cli(['stop', 'deaf'])).code, 0);
  });

  test('after a stop schedule ran out, a second stop with a harder schedule stops what is left and clears the PID file', async () => {
    const { worker } = await outlivedStop('deaf2');
    const text = await box.cli(['status', 'deaf2']);
    assert.match(text.stdout, new RegExp(`still alive \\(pid [^)]*\\b${worker}\\b`), 'plain status names them too');
    const again = await box.cli(['stop', 'deaf2', '--retry', 'TERM/0.5/KILL/2']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /left in its session/);
    assert.ok(!alive(worker), 'the leftover worker is gone');
    assert.equal((await statusJson(box, 'deaf2')).code, 3, 'stopped, no stale PID file');
  });
});
