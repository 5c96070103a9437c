// `daemonkit run` as PID 1 of a real PID namespace (unshare), and as a child subreaper outside one: orphans are reaped,
// no zombie stays, the signals PID 1 ignores do not kill it, and SIGTERM ends it and everything it leaves.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Box } from '../reliability/lib.js';
import { cliPath } from '../helpers/paths.js';
import { allPids, alive, children, cmdline, poll, statOrNull, waitFor } from '../helpers/proc.js';

const environ = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
};

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const isRoot = process.getuid?.() === 0;
const noNamespace = (!isRoot && 'needs root to unshare a PID namespace') || (!has('unshare') && 'unshare(1) is not installed');

const box = new Box('daemonkit-pid1-');
after(() => box.cleanup());

interface Started {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(argv: string[]): Started {
  const child = spawn(argv[0]!, argv.slice(1), { env: box.env(), stdio: ['ignore', 'pipe', 'pipe'] });
  box.track(child.pid);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out: () => text, exit };
}

/** pid and every descendant, each tracked for cleanup (the namespace's processes as the parent namespace numbers them). */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...children(out[i]!));
  for (const p of out) box.track(p);
  return out;
}

const zombies = (pids: number[]) => pids.filter((p) => statOrNull(p)?.state === 'Z');
const isSleep = (pid: number, arg: string) => cmdline(pid).join(' ') === `sleep ${arg}`;

/** The namespace's init: unshare --fork's only child. */
async function initOf(unshare: number): Promise<number> {
  const init = await poll(() => children(unshare)[0] ?? null);
  assert.ok(init, 'unshare forked the namespace init');
  return box.track(init);
}

/** Sends a signal the way a process inside the container would: from the namespace, to its PID 1. */
function killFromInside(init: number, signal: string): void {
  execFileSync('nsenter', ['-t', String(init), '-p', '-m', 'kill', `-${signal}`, '1'], { stdio: 'pipe' });
}

test(
  'as PID 1: orphans the workers leave are reparented to run and reaped, no zombie stays',
  { skip: noNamespace, timeout: 30_000 },
  async () => {
    // Each subshell exits at once, so its sleep is an orphan: the kernel reparents it to the namespace's init.
    const worker = '(sleep 0.4 &) ; (sleep 0.6 &) ; exec sleep 1000';
    const r = start([
      'unshare',
      '--pid',
      '--fork',
      '--mount-proc',
      process.execPath,
      cliPath,
      'run',
      '--workers',
      '2',
      '--start-secs',
      '0.1',
      '--',
      'sh',
      '-c',
      worker,
    ]);
    const init = await initOf(r.child.pid!);
    // Seen as init's children: the orphans were reparented to run, not to a worker.
    const orphans = await poll(
      () => {
        const found = tree(init).filter((p) => statOrNull(p)?.ppid === init && (isSleep(p, '0.4') || isSleep(p, '0.6')));
        return found.length === 4 ? found : null;
      },
      { timeoutMs: 10_000 },
    );
    assert.ok(orphans, `four orphans reparented to init ${init}: ${r.out()}`);
    assert.equal(readFileSync(`/proc/${init}/status`, 'utf8').match(/^NSpid:\s+\d+\s+(\d+)$/m)?.[1], '1', 'run is PID 1 in its namespace');
    // Once the orphans have exited, nothing in init's tree stays a zombie (an unreaped orphan would, forever).
    assert.ok(await waitFor(() => orphans.every((p) => !alive(p)), 5000), 'the orphans exited');
    assert.ok(await waitFor(() => zombies(tree(init)).length === 0, 5000), `zombies left: ${zombies(tree(init))}`);
    assert.ok(
      orphans.every((p) => statOrNull(p) === null),
      'each orphan was reaped: its /proc entry is gone',
    );
    assert.equal(children(init).length, 2, 'the two workers are still there');
    // The host's SIGKILL to a namespace's init ends every process in it.
    process.kill(init, 'SIGKILL');
    await r.exit;
  },
);

test(
  'as PID 1: SIGUSR2, SIGPIPE and SIGQUIT do not kill it; SIGTERM ends it with 143 and leaves no process',
  { skip: noNamespace || (!has('nsenter') && 'nsenter(1) is not installed'), timeout: 30_000 },
  async () => {
    const marker = box.path('orphan-got-term');
    // An orphan in a session of its own: no process group signal reaches it, only run's stop of what is left at exit.
    const orphan = `(setsid sh -c 'trap "echo term > ${marker}; exit 0" TERM; while :; do sleep 0.05; done' &) ;`;
    const r = start([
      'unshare',
      '--pid',
      '--fork',
      '--mount-proc',
      process.execPath,
      cliPath,
      'run',
      '--workers',
      '2',
      '--start-secs',
      '0.1',
      '--retry',
      'TERM/5/KILL/2',
      '--',
      'sh',
      '-c',
      `${orphan} exec sleep 1000`,
    ]);
    const init = await initOf(r.child.pid!);
    // Ready: both workers and both orphans running.
    const pids = await poll(
      () => {
        tree(init);
        const direct = children(init);
        return direct.length === 4 ? direct : null;
      },
      { timeoutMs: 10_000 },
    );
    assert.ok(pids, `workers and orphans under init: ${r.out()}`);
    await new Promise((res) => setTimeout(res, 300));

    // What a user in the container sends: the kernel drops a signal PID 1 has no handler for.
    for (const signal of ['USR2', 'PIPE', 'QUIT']) killFromInside(init, signal);
    // From the parent namespace, too: only SIGKILL and SIGSTOP are forced on a namespace's init.
    for (const signal of ['SIGUSR2', 'SIGPIPE', 'SIGQUIT'] as const) process.kill(init, signal);
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(alive(init), `run survived: ${r.out()}`);
    assert.ok(
      pids.every((p) => alive(p)),
      'so did its workers and the orphans',
    );

    // As `docker stop` sends it: from the host. A handled signal is delivered to a namespace's init.
    process.kill(init, 'SIGTERM');
    assert.deepEqual(await r.exit, { code: 143, signal: null }, `unshare passes on run's status: ${r.out()}`);
    // The orphan got the schedule's SIGTERM from run (not only the kernel's SIGKILL when PID 1 exits).
    assert.equal(existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '', 'term', r.out());
    assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 5000), `left: ${pids.filter((p) => alive(p))}`);
  },
);

test(
  '--subreaper outside a namespace: a double-forked orphan is reparented to run and reaped when it exits',
  { timeout: 20_000 },
  async () => {
    const r = start([
      process.execPath,
      cliPath,
      'run',
      '--subreaper',
      '--start-secs',
      '0.1',
      '--',
      'sh',
      '-c',
      '(sleep 0.5 &) ; exec sleep 1000',
    ]);
    const run = r.child.pid!;
    const orphan = await poll(() => tree(run).find((p) => isSleep(p, '0.5')) ?? null);
    assert.ok(orphan, r.out());
    assert.equal(statOrNull(orphan)?.ppid, run, "the orphan is run's child now, not init's");
    assert.ok(await waitFor(() => !alive(orphan), 5000));
    assert.ok(await waitFor(() => statOrNull(orphan) === null, 5000), `orphan ${orphan} left a zombie: ${statOrNull(orphan)?.state}`);
    assert.deepEqual(zombies(children(run)), []);
    r.child.kill('SIGTERM');
    assert.equal((await r.exit).code, 143, r.out());
  },
);

test('without --subreaper the same orphan goes to init (or the nearest subreaper), not to run', { timeout: 20_000 }, async () => {
  const r = start([process.execPath, cliPath, 'run', '--start-secs', '0.1', '--', 'sh', '-c', '(sleep 0.5 &) ; exec sleep 1000']);
  const run = r.child.pid!;
  // Out of run's tree the moment its subshell exits: found by the tag its environment carries.
  const orphan = await poll(() => allPids().find((p) => isSleep(p, '0.5') && environ(p).includes(box.tag)) ?? null);
  assert.ok(orphan, r.out());
  box.track(orphan);
  assert.notEqual(statOrNull(orphan)?.ppid, run);
  r.child.kill('SIGTERM');
  assert.equal((await r.exit).code, 143, r.out());
});
