// restart, list, reopen, reload by signal, and how the CLI looks on a terminal versus a pipe.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, run } from '../helpers/run.js';
import { alive, waitFor } from '../helpers/proc.js';
import { cliPath } from '../helpers/paths.js';

const box = new Sandbox();
after(() => box.cleanup());
const env = box.env();
const supOf = (stdout: string) => box.track(Number(/supervisor pid (\d+)/.exec(stdout)?.[1] ?? 0));

async function workerPids(name: string): Promise<number[]> {
  const s = JSON.parse((await cli(['status', name, '--json'], { env })).stdout);
  return s.workers.map((w: { pid: number }) => box.track(w.pid));
}

describe('service commands', () => {
  test('restart stops and starts again with the recorded options', async () => {
    const r = await cli(
      ['start', '--name', 'again', '--workers', '2', '--env', 'COLOR=blue', '--start-secs', '0.1', '--', 'sleep', '1000'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const sup1 = supOf(r.stdout);
    const before = await workerPids('again');
    const rr = await cli(['restart', 'again'], { env });
    assert.equal(rr.code, 0, rr.stderr);
    const sup2 = supOf(rr.stdout);
    assert.notEqual(sup2, sup1);
    assert.ok(!alive(sup1));
    const after = await workerPids('again');
    assert.equal(after.length, 2);
    for (const pid of before) assert.ok(!alive(pid));
    assert.ok(readFileSync(`/proc/${after[0]}/environ`, 'utf8').split('\0').includes('COLOR=blue'));
  });

  test('list shows every service in the state directory, --json as an array', async () => {
    writeFileSync(box.path('ghost.pid'), '999999\n');
    const r = await cli(['list', '--json'], { env });
    assert.equal(r.code, 0);
    const list = JSON.parse(r.stdout) as Array<{ name: string; lsb: number; state: string }>;
    const byName = Object.fromEntries(list.map((s) => [s.name, s]));
    assert.equal(byName.again?.lsb, 0);
    assert.equal(byName.ghost?.lsb, 1);
    const text = await cli(['list'], { env });
    assert.match(text.stdout, /^NAME +STATE +PID +WORKERS +UP +NOTE\n/);
    assert.match(text.stdout, /\nagain +running +\d+ +2 /);
    assert.doesNotMatch(text.stdout, /\x1b\[/, 'no escape codes into a pipe');
  });

  test('reopen answers through the control socket', async () => {
    const r = await cli(['reopen', 'again'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'again reopened its logs\n');
  });

  test('--reload signal forwards SIGHUP to the workers instead of replacing them', async () => {
    const script = box.path('hup.sh');
    writeFileSync(script, `#!/bin/sh\ntrap 'echo "hup $DAEMONKIT_TASK_ID" >> ${box.path('hups')}' HUP\nwhile :; do sleep 0.05; done\n`, {
      mode: 0o755,
    });
    const r = await cli(['start', '--name', 'hup', '--workers', '2', '--reload', 'signal', '--start-secs', '0.2', '--', script], { env });
    assert.equal(r.code, 0, r.stderr);
    supOf(r.stdout);
    const before = await workerPids('hup');
    assert.equal((await cli(['reload', 'hup'], { env })).code, 0);
    assert.ok(
      await waitFor(() => {
        try {
          return readFileSync(box.path('hups'), 'utf8').trim().split('\n').sort().join(',') === 'hup 0,hup 1';
        } catch {
          return false;
        }
      }),
    );
    assert.deepEqual(await workerPids('hup'), before);
    assert.equal((await cli(['stop', 'hup'], { env })).code, 0);
  });
});

describe('terminal behaviour', () => {
  test('on a TTY status uses colour; NO_COLOR turns it off; a pipe never gets escape codes', async () => {
    const status = `'${process.execPath}' '${cliPath}' status again`;
    const tty = await run(['/usr/bin/script', '-qec', status, '/dev/null'], { env: { ...env, TERM: 'xterm' } });
    assert.match(tty.stdout, /\x1b\[3\dm(running)/, JSON.stringify(tty.stdout));
    const plainTty = await run(['/usr/bin/script', '-qec', status, '/dev/null'], { env: { ...env, TERM: 'xterm', NO_COLOR: '1' } });
    assert.doesNotMatch(plainTty.stdout, /\x1b\[\d+m/);
    const piped = await cli(['status', 'again'], { env });
    assert.doesNotMatch(piped.stdout, /\x1b/);
    assert.match(piped.stdout, /^again: running \(supervisor pid \d+, up .+\)\n +TASK +PID +STATE +RESTARTS +LAST EXIT +UP\n/);
  });
});

test('a supervisor that no longer answers (SIGSTOPped): status says so with LSB 4, not running unsupervised with 0', async () => {
  const box2 = new Sandbox();
  try {
    const env = box2.env();
    const r = await cli(['start', '--name', 'frozen', '--', 'sleep', '1000'], { env });
    assert.equal(r.code, 0, r.stderr);
    const sup = box2.track(Number(readFileSync(box2.path('frozen.pid'), 'utf8')));
    process.kill(sup, 'SIGSTOP');
    try {
      const s = await cli(['status', 'frozen', '--json'], { env });
      assert.equal(s.code, 4, s.stdout);
      assert.match((JSON.parse(s.stdout) as { reason: string }).reason, /did not answer on .*frozen\.sock within 2s/);
    } finally {
      process.kill(sup, 'SIGCONT');
    }
    assert.equal((await cli(['stop', 'frozen'], { env })).code, 0);
  } finally {
    await box2.cleanup();
  }
});

test('a file planted in the state directory with a terminal escape in its name: list and status show it escaped', async () => {
  const box3 = new Sandbox();
  try {
    writeFileSync(box3.path('esc\x1b[31mRED.pid'), '');
    const env = box3.env({ FORCE_COLOR: '0' });
    const list = await cli(['list'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.doesNotMatch(list.stdout, /\x1b/);
    assert.match(list.stdout, /esc\\x1b\[31mRED/);
  } finally {
    await box3.cleanup();
  }
});
