// Workers' logs through the supervisor: every line kept, none cut by another worker, across real logrotate runs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, fixture } from '../helpers/run.js';
import { alive, waitFor } from '../helpers/proc.js';
import { cliPath } from '../helpers/paths.js';

const box = new Sandbox();
after(() => box.cleanup());
const env = box.env();
const LOGROTATE = ['/usr/sbin/logrotate', '/sbin/logrotate'].find(existsSync);

test(
  '3 workers writing while logrotate rotates 3 times: every line exactly once, whole, in order per worker',
  { skip: !LOGROTATE && 'logrotate is not installed (apt-get install logrotate)' },
  async () => {
    const workers = 3;
    const lines = 30_000;
    const log = box.path('logger.log');
    const r = await cli(
      [
        'start',
        '--name',
        'logger',
        '--workers',
        String(workers),
        '--start-secs',
        '0.05',
        '--env',
        `LINES=${lines}`,
        '--env',
        'PAUSE_MS=8',
        '--',
        process.execPath,
        fixture('line-writer.mjs'),
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const sup = box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)![1]));

    const conf = box.path('logrotate.conf');
    writeFileSync(
      conf,
      `${log} {\n  rotate 20\n  create 0644\n  missingok\n  postrotate\n    DAEMONKIT_HOME='${box.dir}' '${process.execPath}' '${cliPath}' reopen logger >/dev/null\n  endscript\n}\n`,
      { mode: 0o644 },
    );
    let rotations = 0;
    while (alive(sup) && rotations < 3) {
      await new Promise((res) => setTimeout(res, 250));
      execFileSync(LOGROTATE!, ['-f', '-s', box.path('logrotate.state'), conf], { env });
      rotations++;
    }
    assert.equal(rotations, 3, 'the workers finished before three rotations: make them write longer');
    assert.ok(await waitFor(() => !alive(sup), 30_000), 'every worker exited 0, so the supervisor exited');

    const files = readdirSync(box.dir).filter((f) => /^logger\.log(\.\d+)?$/.test(f));
    assert.ok(files.length >= 4, `rotated files: ${files.join(' ')}`);
    // Oldest first: logger.log.3, .2, .1, then logger.log.
    files.sort((a, b) => (Number(b.split('.')[2] ?? 0) || 0) - (Number(a.split('.')[2] ?? 0) || 0));
    const seen = Array.from({ length: workers }, () => -1);
    let total = 0;
    for (const f of files) {
      for (const line of readFileSync(box.path(f), 'utf8').split('\n')) {
        if (line === '' || /^\d{4}-\d\d-\d\dT[\d:.]+Z daemonkit supervisor\[\d+\]: worker \d \(pid \d+\) exited 0$/.test(line)) continue; // its own notes, whole lines too
        const m = /^task=(\d) seq=(\d+) x{40}$/.exec(line);
        assert.ok(m, `a whole line, not cut by another: ${JSON.stringify(line.slice(0, 120))} in ${f}`);
        const task = Number(m[1]);
        const seq = Number(m[2]);
        // stderr lines (every 10th) share the pipe with stdout, so each worker's lines stay in its order.
        assert.equal(seq, seen[task]! + 1, `worker ${task}: line ${seq} after ${seen[task]} in ${f}`);
        seen[task] = seq;
        total++;
      }
    }
    assert.equal(total, workers * lines, 'no line lost or duplicated');

    const tail = await cli(['logs', 'logger', '-n', '3'], { env });
    assert.equal(tail.code, 0);
    assert.deepEqual(tail.stdout.trimEnd().split('\n'), readFileSync(log, 'utf8').trimEnd().split('\n').slice(-3));
  },
);

test('logs -f keeps following across a rotation and reopen, without a gap or a repeat', async () => {
  const r = await cli(
    [
      'start',
      '--name',
      'ticker',
      '--start-secs',
      '0.05',
      '--',
      'sh',
      '-c',
      'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.01; done',
    ],
    { env },
  );
  assert.equal(r.code, 0, r.stderr);
  box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)![1]));
  const { spawn } = await import('node:child_process');
  const follower = spawn(process.execPath, [cliPath, 'logs', 'ticker', '-n', '0', '-f'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  box.track(follower.pid);
  let out = '';
  follower.stdout.on('data', (d) => (out += d));
  await waitFor(() => out.split('\n').length > 10);
  const { renameSync } = await import('node:fs');
  renameSync(box.path('ticker.log'), box.path('ticker.log.1'));
  assert.equal((await cli(['reopen', 'ticker'], { env })).code, 0);
  const mark = out.length;
  await waitFor(() => out.length > mark && out.slice(mark).split('\n').length > 10);
  follower.kill('SIGINT');
  await new Promise((res) => follower.on('close', res));
  const ticks = out
    .trim()
    .split('\n')
    .map((l) => Number(/^tick (\d+)$/.exec(l)?.[1] ?? NaN));
  assert.ok(ticks.length > 20, out);
  for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i], ticks[i - 1]! + 1, `after tick ${ticks[i - 1]} came ${ticks[i]}`);
  assert.equal((await cli(['stop', 'ticker'], { env })).code, 0);
});

test('logs refuses a log path that its service user replaced with a symlink or a FIFO: one line, at once', async () => {
  const r = await cli(['start', '--name', 'swapped', '--start-secs', '0', '--', 'sleep', '1000'], { env });
  assert.equal(r.code, 0, r.stderr);
  box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)![1]));
  const log = box.path('swapped.log');
  const secret = box.path('secret');
  writeFileSync(secret, 'root only\n', { mode: 0o600 });
  for (const [what, replace] of [
    ['a symbolic link', () => symlinkSync(secret, log)],
    ['a FIFO', () => execFileSync('mkfifo', [log])],
  ] as const) {
    rmSync(log, { force: true });
    replace();
    for (const follow of [[], ['-f']]) {
      const got = await cli(['logs', 'swapped', ...follow], { env, timeoutMs: 5000 });
      assert.equal(got.signal, null, `logs ${follow.join(' ')} on ${what} hung`);
      assert.equal(got.code, 1, `logs ${follow.join(' ')} on ${what}: ${got.stdout}${got.stderr}`);
      assert.equal(got.stdout, '');
      assert.equal(got.stderr, `daemonkit: refusing log file ${log}: it is ${what}\n`);
    }
  }
  assert.equal((await cli(['stop', 'swapped'], { env })).code, 0);
});

test("reopen after a rotation: the supervisor's own stdout and stderr move to the new file, the rotated one is let go", async () => {
  const env = box.env();
  const log = box.path('let-go.log');
  const r = await cli(['start', '--name', 'let-go', '--log', log, '--', 'sleep', '1000'], { env });
  assert.equal(r.code, 0, r.stderr);
  const sup = box.track(Number(readFileSync(box.path('let-go.pid'), 'utf8')));
  try {
    execFileSync('mv', [log, `${log}.1`]);
    assert.equal((await cli(['reopen', 'let-go'], { env })).code, 0);
    for (const fd of [1, 2]) assert.equal(readlinkSync(`/proc/${sup}/fd/${fd}`), log, `fd ${fd}`);
    assert.ok(
      readdirSync(`/proc/${sup}/fd`).every((fd) => readlinkSync(`/proc/${sup}/fd/${fd}`) !== `${log}.1`),
      'no fd of the supervisor holds the rotated file',
    );
  } finally {
    await cli(['stop', 'let-go'], { env });
  }
});
