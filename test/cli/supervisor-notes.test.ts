// What the supervisor says in the log about its workers' ends, and what the CLI says of a name it never saw.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';

const box = new Sandbox();
after(() => box.cleanup());
const env = box.env();

async function workerPids(name: string): Promise<number[]> {
  const s = JSON.parse((await cli(['status', name, '--json'], { env })).stdout);
  return s.workers.map((w: { pid: number }) => box.track(w.pid));
}

describe('supervisor notes in the log', () => {
  test('a rolling reload says "replaced", not "killed by SIGTERM"; a stop logs each worker\'s final exit', async () => {
    const r = await cli(['start', '--name', 'notes', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000'], { env });
    assert.equal(r.code, 0, r.stderr);
    box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    const old = await workerPids('notes');
    assert.equal((await cli(['reload', 'notes'], { env })).code, 0);
    const fresh = await workerPids('notes');
    assert.equal((await cli(['stop', 'notes'], { env })).code, 0);
    const log = readFileSync(box.path('notes.log'), 'utf8');
    for (const [task, pid] of old.entries()) {
      assert.match(log, new RegExp(`reload: replaced worker ${task} \\(pid ${pid}\\)\\n`));
      assert.doesNotMatch(log, new RegExp(`\\(pid ${pid}\\) killed by SIGTERM`));
    }
    for (const [task, pid] of fresh.entries()) assert.match(log, new RegExp(`stop: worker ${task} \\(pid ${pid}\\) killed by SIGTERM\\n`));
  });
});

describe('a name never started here', () => {
  test('status: LSB 4 and "no service named"; logs: exit 1; a stopped one is LSB 3', async () => {
    const st = await cli(['status', 'nosuch'], { env });
    assert.equal(st.code, 4);
    assert.equal(st.stdout, '');
    assert.equal(st.stderr, `daemonkit: no service named nosuch in ${box.dir}\n`);
    const logs = await cli(['logs', 'nosuch'], { env });
    assert.equal(logs.code, 1);
    assert.equal(logs.stderr, `daemonkit: no service named nosuch in ${box.dir}\n`);
    const r = await cli(['start', '--name', 'was', '--start-secs', '0.1', '--', 'sleep', '1000'], { env });
    assert.equal(r.code, 0, r.stderr);
    box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    assert.equal((await cli(['stop', 'was'], { env })).code, 0);
    assert.equal((await cli(['status', 'was'], { env })).code, 3);
  });
});
