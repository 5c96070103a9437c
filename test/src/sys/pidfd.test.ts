import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, waitpid, kill, pidfdOpen, pollReadable, waitReadable } from '../../../src/sys/index.js';
import { isCloexec, pollSync } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/sandbox.js';
import { killAndReap, exitOf, SIG } from './support.js';

const sh = (script: string) => spawn({ path: '/bin/sh', argv: ['sh', '-c', script], env: ['PATH=/usr/bin:/bin'] });

test('a pidfd becomes readable when the process exits', () => {
  let pid: number | undefined = sh('exec sleep 10');
  let fd: number | null = null;
  try {
    fd = pidfdOpen(pid);
    assert.ok(fd !== null && fd > 2);
    assert.equal(isCloexec(fd), true);
    assert.equal(pollReadable(fd, 0), false);
    assert.equal(pollReadable(fd, 20), false);
    kill(pid, SIG.SIGTERM);
    assert.equal(pollReadable(fd, 2000), true);
    assert.equal(exitOf(waitpid(pid)!.status), -SIG.SIGTERM);
    pid = undefined;
  } finally {
    killAndReap(pid);
    if (fd !== null) closeSync(fd);
  }
});

test('waitReadable waits on a worker thread while the event loop runs', async () => {
  let pid: number | undefined = sh('sleep 0.2');
  let fd: number | null = null;
  try {
    fd = pidfdOpen(pid)!;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const readable = await waitReadable(fd, 5000).finally(() => clearInterval(timer));
    assert.equal(readable, true);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} timer ticks meanwhile`);
    assert.equal(exitOf(waitpid(pid)!.status), 0);
    pid = undefined;
    assert.equal(await waitReadable(fd, 0), true, 'stays readable');
  } finally {
    killAndReap(pid);
    if (fd !== null) closeSync(fd);
  }
});

test('waitReadable resolves false at its timeout', async () => {
  let pid: number | undefined = sh('exec sleep 10');
  let fd: number | null = null;
  try {
    fd = pidfdOpen(pid)!;
    const start = performance.now();
    assert.equal(await waitReadable(fd, 50), false);
    assert.ok(performance.now() - start >= 45);
  } finally {
    killAndReap(pid);
    if (fd !== null) closeSync(fd);
  }
});

test('a pidfd waits on a process that is not our child', (t) => {
  const pidFile = join(tempDir(t), 'pid');
  // The shell leaves a background sleep behind and exits: the sleep is then init's child, not ours.
  const middle = sh(`sleep 0.2 & echo $! > '${pidFile}'`);
  assert.equal(exitOf(waitpid(middle)!.status), 0);
  assert.ok(pollSync(() => readFileSync(pidFile, 'utf8').trim() !== ''));
  const orphan = Number(readFileSync(pidFile, 'utf8'));
  const fd = pidfdOpen(orphan);
  if (fd === null) return; // already gone: nothing to wait for
  try {
    assert.throws(() => waitpid(orphan), { code: 'ECHILD' });
    assert.equal(pollReadable(fd, 2000), true);
  } finally {
    closeSync(fd);
  }
});

test('pidfdOpen of a reaped pid is null; poll on a closed fd throws EBADF', () => {
  const pid = sh('exit 0');
  waitpid(pid);
  assert.equal(pidfdOpen(pid), null);
  const fd = openSync('/dev/null', 'r');
  closeSync(fd);
  assert.throws(() => pollReadable(fd, 0), { name: 'SysError', code: 'EBADF', syscall: 'poll' });
  assert.throws(() => pidfdOpen(-3), { name: 'SysError', code: 'EINVAL', syscall: 'pidfd_open' });
  assert.throws(() => pollReadable(0, -2), RangeError);
});
