// Liveness end to end: a worker that stops answering its --health probe, or stops its --watchdog pings, is restarted
// (a new PID, the same task id) by the supervisor.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, fixture } from '../helpers/run.js';
import { alive, environ, stat, waitFor } from '../helpers/proc.js';
import { freePort } from '../helpers/net.js';

const box = new Sandbox();
after(() => box.cleanup());

interface Worker {
  task: number;
  pid: number;
  state: string;
  ready: boolean;
  restarts: number;
  probe: { ok: boolean; text: string; at: number } | null;
}

const WORKER = [process.execPath, fixture('ready-worker.mjs')];
const env = (extra: Record<string, string> = {}) => box.env({ FIXTURE_DIR: box.dir, ...extra });

async function start(name: string, args: string[], extra: Record<string, string>): Promise<number> {
  const r = await cli(['start', '--name', name, ...args, '--', ...WORKER], { env: env(extra) });
  assert.equal(r.code, 0, r.stderr);
  return box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1] ?? 0));
}

async function workers(name: string): Promise<Worker[]> {
  const r = await cli(['status', name, '--json'], { env: env() });
  const list = JSON.parse(r.stdout).workers as Worker[];
  for (const w of list) box.track(w.pid);
  return list;
}

/** Waits until task 0 runs (ready) under a PID other than `old`; returns it. */
async function replaced(name: string, old: number): Promise<Worker> {
  let now: Worker | undefined;
  assert.ok(
    await waitFor(
      async () => {
        now = (await workers(name))[0];
        return Boolean(now && now.pid && now.pid !== old && now.ready);
      },
      15_000,
      100,
    ),
    `task 0 still ${JSON.stringify(now)}`,
  );
  return now!;
}

describe('liveness', () => {
  test('--health http: a worker whose health endpoint stops answering is restarted after N failures', async () => {
    const port = await freePort();
    const sup = await start(
      'hh',
      [
        '--ready',
        `tcp:${port}`,
        '--health',
        `http://127.0.0.1:${port}/health`,
        '--health-interval',
        '200ms',
        '--health-timeout',
        '300ms',
        '--health-failures',
        '2',
      ],
      { FIXTURE_PORT: String(port) },
    );
    const [before] = await workers('hh');
    assert.equal(before!.ready, true);
    // Healthy: probed and left alone.
    assert.ok(
      await waitFor(async () => (await workers('hh'))[0]!.probe?.text === `health http http://127.0.0.1:${port}/health: 200`, 5000, 100),
    );
    writeFileSync(box.path(`sick-${before!.pid}`), '');
    const now = await replaced('hh', before!.pid);
    assert.equal(now.task, 0);
    assert.equal(now.restarts, 1);
    assert.ok(await waitFor(() => !alive(before!.pid)), 'the wedged worker is gone');
    assert.equal(stat(now.pid).ppid, sup);
    assert.ok(environ(now.pid).includes('DAEMONKIT_TASK_ID=0'));
    const log = (await cli(['logs', 'hh', '-n', '50'], { env: env() })).stdout;
    assert.match(
      log,
      new RegExp(
        `worker 0 \\(pid ${before!.pid}\\) is unhealthy: 2 health probes failed in a row; last: http http://127\\.0\\.0\\.1:${port}/health: no answer within 0\\.3s`,
      ),
    );
    assert.equal((await cli(['stop', 'hh'], { env: env() })).code, 0);
  });

  test('--watchdog: a worker that stops sending WATCHDOG=1 is restarted', async () => {
    const sup = await start('wd', ['--ready', 'notify', '--watchdog', '600ms'], { FIXTURE_NOTIFY: '1', FIXTURE_WATCHDOG_MS: '100' });
    const [before] = await workers('wd');
    assert.ok(environ(before!.pid).includes('WATCHDOG_USEC=600000'));
    // Pinging: still the same process well past the deadline.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await workers('wd'))[0]!.pid, before!.pid);
    writeFileSync(box.path(`sick-${before!.pid}`), '');
    const now = await replaced('wd', before!.pid);
    assert.equal(now.task, 0);
    assert.equal(now.restarts, 1);
    assert.equal(stat(now.pid).ppid, sup);
    assert.equal((await cli(['stop', 'wd'], { env: env() })).code, 0);
  });
});
