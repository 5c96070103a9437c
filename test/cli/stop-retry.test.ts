// `stop --retry` on an unsupervised daemon: the schedule given is the one walked (no TERM it did not name), and
// `forever` repeats its pair until the daemon is gone. Without --retry, stop walks the one the service was started with.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';
import { alive, waitFor } from '../helpers/proc.js';

const box = new Sandbox();
after(() => box.cleanup());
const env = box.env();

/** A program that notes every TERM and USR2 it gets in `log`, ignores TERM, and exits on the `exitOn`th USR2. */
function stubborn(name: string, exitOn: number): { script: string; log: string } {
  const script = box.path(`${name}.sh`);
  const log = box.path(`${name}.signals`);
  writeFileSync(
    script,
    `#!/bin/sh
n=0
trap 'echo TERM >> ${log}' TERM
trap 'echo USR2 >> ${log}; n=$((n + 1)); [ $n -ge ${exitOn} ] && exit 0' USR2
echo up > ${log}
while :; do sleep 0.05; done
`,
    { mode: 0o755 },
  );
  return { script, log };
}

async function startUnsupervised(name: string, script: string, args: string[] = []): Promise<{ pidfile: string; pid: number }> {
  const pidfile = box.path(`${name}.pid`);
  const r = await cli(['start', '--no-supervise', '--pidfile', pidfile, '--start-secs', '0.2', ...args, '--', script], { env });
  assert.equal(r.code, 0, r.stderr);
  const pid = box.track(Number(readFileSync(pidfile, 'utf8').trim()));
  assert.ok(await waitFor(() => readFileSync(box.path(`${name}.signals`), 'utf8').includes('up'), 5000), 'the program is up');
  return { pidfile, pid };
}

describe('stop --retry on an unsupervised daemon', () => {
  test('USR2/1/KILL/1 sends USR2, never TERM', async () => {
    const { script, log } = stubborn('usr2', 1);
    const { pidfile, pid } = await startUnsupervised('usr2', script);
    const r = await cli(['stop', '--pidfile', pidfile, '--retry', 'USR2/1/KILL/1'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!alive(pid), 'the daemon is gone');
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['up', 'USR2']);
  });

  test('USR2/0.2/forever repeats USR2 until the daemon exits (here on the third)', async () => {
    const { script, log } = stubborn('forever', 3);
    const { pidfile, pid } = await startUnsupervised('forever', script);
    const r = await cli(['stop', '--pidfile', pidfile, '--retry', 'USR2/0.2/forever'], { env, timeoutMs: 10_000 });
    assert.equal(r.code, 0, `${r.stderr} (signal ${r.signal})`);
    assert.ok(!alive(pid), 'the daemon is gone');
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['up', 'USR2', 'USR2', 'USR2']);
  });
});

describe("stop without --retry walks the service's own --retry", () => {
  test('unsupervised, started with --retry USR2/1/KILL/1: stop sends USR2, never TERM', async () => {
    const { script, log } = stubborn('own-u', 1);
    const { pidfile, pid } = await startUnsupervised('own-u', script, ['--retry', 'USR2/1/KILL/1']);
    const r = await cli(['stop', '--pidfile', pidfile], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!alive(pid), 'the daemon is gone');
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['up', 'USR2']);
  });

  test('supervised (--name), started with --retry USR2/1/KILL/1: the worker gets USR2, never TERM', async () => {
    const { script, log } = stubborn('own-s', 1);
    const r = await cli(['start', '--name', 'own-s', '--retry', 'USR2/1/KILL/1', '--start-secs', '0.2', '--', script], { env });
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(Number(readFileSync(box.path('own-s.pid'), 'utf8').trim()));
    assert.ok(await waitFor(() => readFileSync(log, 'utf8').includes('up'), 5000), 'the worker is up');
    const s = await cli(['stop', 'own-s'], { env });
    assert.equal(s.code, 0, s.stderr);
    assert.ok(!alive(sup), 'the supervisor is gone');
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['up', 'USR2']);
  });
});
