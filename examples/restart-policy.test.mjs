// A restart policy tested on the supervisor's own state machine, with a virtual clock: no process, no waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisorModel } from 'daemonkit/testing';

test('a worker that keeps crashing is given up on within 30 seconds, and the supervisor says why', () => {
  const model = new SupervisorModel({ maxRestarts: 5, restartWindow: '30s', backoffMin: '1s', backoffMax: '1s', startSecs: '0.5s' });
  model.start(); // spawns worker 0 (a simulated pid) and arms its start timer
  model.advance(500); // alive 0.5 s: ready

  let actions = [];
  while (model.state === 'running') {
    actions = model.exit(0, { code: 1 }, model.now + 200); // worker 0 crashes 0.2 s after each start
    model.advance(1000); // the backoff runs out: it is spawned again
  }

  assert.deepEqual(
    actions.find((a) => a.kind === 'give-up'),
    { kind: 'give-up', reason: 'crash-loop' },
  );
  assert.deepEqual(actions.at(-1), { kind: 'exit', code: 1 });
  assert.match(model.failure, /worker 0 ended 6 times in 30s \(5 restarts allowed\); last: exited 1/);
  assert.ok(model.now < 30_000);
});

test('a worker that ignores SIGTERM gets SIGKILL 10 seconds into a stop', () => {
  const model = new SupervisorModel({ retry: 'TERM/10/KILL/5' });
  model.start();
  model.advance(200);
  const [pid] = model.pids;

  assert.deepEqual(model.stop()[0], { kind: 'signal', pid, signal: 'SIGTERM', group: true });
  const later = model.advance(10_000);
  assert.deepEqual(
    later.find((a) => a.kind === 'signal'),
    { kind: 'signal', pid, signal: 'SIGKILL', group: true },
  );

  assert.deepEqual(model.exit(0, { signal: 'SIGKILL' }).at(-1), { kind: 'exit', code: 0 });
});
