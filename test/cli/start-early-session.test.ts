// `start` spawns its new session before it reads its options (src/cli/early-start.ts) and sends it the order (with the
// log files) when it is made. One it then does not use — bad input, a service already running — must be gone and
// reaped when the command exits: nothing left behind. An order larger than its first send still arrives whole.
// Run in a PID namespace whose init is a shell that reaps nobody, so a session left alive or unreaped stays in /proc.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Sandbox } from '../helpers/sandbox.js';
import { cliPath } from '../helpers/paths.js';
import { cli } from '../helpers/run.js';
import { environ } from '../helpers/proc.js';

const isRoot = process.getuid?.() === 0;
const hasUnshare = spawnSync('sh', ['-c', 'command -v unshare']).status === 0;
const skip = (!isRoot && 'needs root to unshare a PID namespace') || (!hasUnshare && 'unshare(1) is not installed');

const box = new Sandbox();
after(() => box.cleanup());

/** Runs the CLI with args as the only child of the namespace's init, then lists every process left there by name. */
function inNamespace(args: string[]): { code: number; left: string[]; out: string } {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `"${process.execPath}" "${cliPath}" ${quoted} >/dev/null 2>&1; echo "rc=$?"; for p in /proc/[0-9]*; do [ "$p" = /proc/1 ] || [ "$p" = /proc/self ] || cat "$p/comm" 2>/dev/null; done`;
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script], {
    env: box.env(),
    encoding: 'utf8',
    timeout: 20_000,
  });
  const lines = r.stdout.trim().split('\n');
  const code = Number(/^rc=(\d+)$/.exec(lines[0] ?? '')?.[1] ?? -1);
  // The listing's own `cat` shows up as itself.
  return { code, left: lines.slice(1).filter((l) => l !== 'cat'), out: `${r.stdout}${r.stderr}` };
}

test('bad input: exit 2, and the session spawned first is reaped, not left booting', { skip }, () => {
  const r = inNamespace(['start', '--name', 'early-bad', '--workers', 'lots', '--', 'sleep', '1000']);
  assert.equal(r.code, 2, r.out);
  assert.deepEqual(r.left, [], r.out);
});

test('the same with --no-supervise: the intermediate spawned first is reaped', { skip }, () => {
  const r = inNamespace(['start', '--no-supervise', '--name', 'early-bad-ns', '--umask', 'nope', '--', 'sleep', '1000']);
  assert.equal(r.code, 2, r.out);
  assert.deepEqual(r.left, [], r.out);
});

test('a start that succeeds leaves exactly its service: supervisor, guard and worker', { skip }, () => {
  // The namespace ends with its init (the shell): the kernel kills what is left, so nothing outlives the test.
  const r = inNamespace(['start', '--name', 'early-ok', '--start-secs', '0', '--', 'sleep', '1000']);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual([...r.left].sort(), ['node', 'sh', 'sleep'], r.out);
});

test('an order larger than its first send (a 100 KB environment) arrives whole', async () => {
  const big = 'x'.repeat(100_000);
  const r = await cli(['start', '--name', 'big-order', '--env', `BIG=${big}`, '--start-secs', '0', '--', 'sleep', '1000'], {
    env: box.env(),
  });
  const sup = Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1] ?? 0);
  box.track(sup);
  try {
    assert.equal(r.code, 0, r.stderr);
    const status = await cli(['status', 'big-order', '--json'], { env: box.env() });
    const [worker] = JSON.parse(status.stdout).workers as { pid: number }[];
    box.track(worker!.pid);
    assert.ok(environ(worker!.pid).includes(`BIG=${big}`), 'the worker has the whole variable');
  } finally {
    await cli(['stop', 'big-order'], { env: box.env() });
  }
});
