// What a command loads on its way: Node's child_process (which brings node:net and the stream stack) only for `unit`,
// node:net only to talk to a supervisor. Each is milliseconds of compile on every invocation that does not need it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, fixture } from '../helpers/run.js';

const box = new Sandbox();
after(() => box.cleanup());

/** The CLI with the require reporter preloaded: its output, and the heavy built-ins it required. */
async function loads(args: string[]): Promise<{ code: number | null; stdout: string; required: string[] }> {
  const r = await cli(args, { env: box.env({ NODE_OPTIONS: `--require ${fixture('report-requires.cjs')}` }) });
  const required = [...r.stderr.matchAll(/^required (\S+)$/gm)].map((m) => m[1]!);
  return { code: r.code, stdout: r.stdout, required };
}

test('plan, list, the status of a stopped service and start load neither child_process nor net', async () => {
  for (const args of [['plan', '--', 'true'], ['list'], ['status', 'never-started']]) {
    assert.deepEqual((await loads(args)).required, [], args.join(' '));
  }
  const started = await loads(['start', '--name', 'loads', '--start-secs', '0', '--', 'sleep', '1000']);
  box.track(Number(/supervisor pid (\d+)/.exec(started.stdout)?.[1] ?? 0));
  assert.equal(started.code, 0, started.stdout);
  assert.deepEqual(started.required, []);
  // The reporter works: a command that talks to the supervisor does load node:net.
  const stopped = await loads(['stop', 'loads']);
  assert.equal(stopped.code, 0);
  assert.deepEqual(stopped.required, ['node:net']);
});
