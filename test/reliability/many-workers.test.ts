// The top of --workers' range (1..1024), started the way a login shell starts it: soft RLIMIT_NOFILE 1024. The
// supervisor needs a pipe or two per worker, so its soft limit is the hard one (Node raises it at startup, and so do
// we); its workers inherit that, as every child of a Node process does.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { run } from '../helpers/run.js';
import { cliPath } from '../helpers/paths.js';
import { alive, waitFor } from '../helpers/proc.js';
import { Box, pidFromFile, workersOf } from './lib.js';

const box = new Box();
afterEach(() => box.killAll());
after(() => box.cleanup());

const WORKERS = 1024;
/** A login shell's soft RLIMIT_NOFILE, and the most select() can watch. */
const SHELL_SOFT_LIMIT = 1024;

/** [soft, hard] "Max open files" from /proc/PID/limits. */
function nofile(pid: number): [number, number] {
  const row = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = row.slice('Max open files'.length).trim().split(/\s+/);
  return [Number(soft), Number(hard)];
}

const hard = nofile(process.pid)[1];
// Two pipes a worker with separate --stdout and --stderr, plus Node's own: the hard limit must allow that much.
const skip = hard < 3 * WORKERS ? `the hard RLIMIT_NOFILE (${hard}) is below ${3 * WORKERS}` : false;

/** The CLI as a login shell runs it: soft limit 1024, the hard limit untouched (or both set to `limit`). */
function cliFromShell(args: string[], limit = `-Sn ${SHELL_SOFT_LIMIT}`) {
  const argv = ['sh', '-c', `ulimit ${limit} && exec "$0" "$@"`, process.execPath, cliPath, ...args];
  return run(argv, { env: box.env(), timeoutMs: 60_000 });
}

async function startAndStop(name: string, extra: string[]): Promise<void> {
  const r = await cliFromShell([
    'start',
    '--name',
    name,
    '--workers',
    String(WORKERS),
    '--start-secs',
    '0.5',
    ...extra,
    '--',
    'sleep',
    '1000',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `started ${name} (supervisor pid ${pidFromFile(box.path(`${name}.pid`))}, ${WORKERS} workers)\n`);
  const sup = box.track(pidFromFile(box.path(`${name}.pid`)));
  const workers = workersOf(sup);
  assert.equal(workers.length, WORKERS, `${workers.length} live workers in /proc`);
  assert.deepEqual(nofile(sup), [hard, hard], "the supervisor's soft limit is raised to the hard one");
  for (const w of [workers[0]!, workers[WORKERS - 1]!]) assert.deepEqual(nofile(w), [hard, hard], `worker ${w}'s limit`);
  const st = await run([process.execPath, cliPath, 'status', name, '--json'], { env: box.env() });
  const json = JSON.parse(st.stdout) as { state: string; workers: { pid: number }[] };
  assert.equal(json.state, 'running');
  assert.equal(json.workers.filter((w) => w.pid && alive(w.pid)).length, WORKERS);
  const stop = await run([process.execPath, cliPath, 'stop', name], { env: box.env(), timeoutMs: 60_000 });
  assert.equal(stop.code, 0, stop.stderr);
  assert.ok(await waitFor(() => workers.every((w) => !alive(w)), 5000), 'every worker gone after stop');
  assert.ok(!alive(sup), 'the supervisor gone');
  assert.ok(!existsSync(box.path(`${name}.pid`)), 'no PID file left');
}

describe('1024 workers from a shell with a soft limit of 1024 open files', { skip }, () => {
  test('one log for both streams (a pipe a worker): all start, all stop', () => startAndStop('many', []));

  test('separate --stdout and --stderr (two pipes a worker): all start, all stop', () =>
    startAndStop('many2', ['--stdout', box.path('many2.out'), '--stderr', box.path('many2.err')]));
});

describe('more workers than the hard limit allows', () => {
  test('the spawn that fails is reported as what it is, in the same words by start, status and list', async () => {
    const r = await cliFromShell(['start', '--name', 'emfile', '--workers', String(WORKERS), '--', 'sleep', '1000'], '-n 300');
    assert.equal(r.code, 1, r.stderr);
    const m = /^daemonkit: emfile failed to start: (could not spawn worker \d+: EMFILE: too many open files, pipe2?)\n$/.exec(r.stderr);
    assert.ok(m, r.stderr);
    const st = await run([process.execPath, cliPath, 'status', 'emfile', '--json'], { env: box.env() });
    assert.equal(JSON.parse(st.stdout).reason, m[1]);
    const list = await run([process.execPath, cliPath, 'list'], { env: box.env() });
    assert.ok(list.stdout.includes(m[1]!), list.stdout);
    assert.doesNotMatch(r.stderr + st.stdout + list.stdout, /pid 0|errno \d|exited 126/);
    assert.ok(await waitFor(() => box.processes().length === 0, 5000), `left running: ${box.processes().join(' ')}`);
  });
});
