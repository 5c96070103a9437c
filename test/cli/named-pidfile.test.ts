// A named service started with --pidfile elsewhere is still found by its name, and leaves nothing beside that file.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';
import { alive } from '../helpers/proc.js';

const box = new Sandbox();
after(() => box.cleanup());
const state = box.path('state');
const env = box.env({ DAEMONKIT_HOME: state });

describe('--pidfile with --name', () => {
  test('status, list, restart and stop find it by name; its socket and record live in the state directory', async () => {
    const run = box.path('run');
    mkdirSync(run);
    const pidfile = `${run}/web-custom.pid`;
    const r = await cli(['start', '--name', 'web', '--pidfile', pidfile, '--start-secs', '0.1', '--', 'sleep', '1000'], { env });
    assert.equal(r.code, 0, r.stderr);
    box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    assert.deepEqual(readdirSync(run), ['web-custom.pid']);
    const st = await cli(['status', 'web', '--json'], { env });
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.equal(JSON.parse(st.stdout).pidfile, pidfile);
    const list = await cli(['list', '--json'], { env });
    assert.deepEqual(
      JSON.parse(list.stdout).map((s: { name: string; state: string }) => [s.name, s.state]),
      [['web', 'running']],
    );
    const byFile = await cli(['status', '--pidfile', pidfile], { env });
    assert.equal(byFile.code, 0);
    assert.match(byFile.stdout, /^web: running/);
    const restarted = await cli(['restart', 'web'], { env });
    assert.equal(restarted.code, 0, restarted.stderr);
    const sup = box.track(Number(/supervisor pid (\d+)/.exec(restarted.stdout)?.[1]));
    const stop = await cli(['stop', 'web'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!alive(sup));
    assert.deepEqual(readdirSync(run), [], 'nothing left beside the PID file');
    assert.equal((await cli(['status', 'web'], { env })).code, 3);
  });

  test("a relative --pidfile is resolved once against the caller's directory and leaves no record there", async () => {
    const here = box.path('here');
    mkdirSync(here);
    const r = await cli(['start', '--name', 'rel', '--pidfile', 'rel.pid', '--start-secs', '0.1', '--', 'sleep', '1000'], {
      env,
      cwd: here,
    });
    assert.equal(r.code, 0, r.stderr);
    box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    const st = await cli(['status', 'rel', '--json'], { env });
    assert.equal(JSON.parse(st.stdout).pidfile, `${here}/rel.pid`);
    assert.equal((await cli(['stop', 'rel'], { env })).code, 0);
    assert.deepEqual(readdirSync(here), []);
    assert.ok(existsSync(`${state}/rel.json`));
  });
});
