import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, waitpid, killGroup, flock, LOCK_EX, LOCK_SH, LOCK_NB, LOCK_UN } from '../../../src/sys/index.js';
import { pollSync } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/sandbox.js';
import { killAndReap, exitOf, SIG } from './support.js';

const env = ['PATH=/usr/bin:/bin'];

test('flock: two open file descriptions of one file contend; shared locks coexist', (t) => {
  const file = join(tempDir(t), 'lock');
  const a = openSync(file, 'w');
  const b = openSync(file, 'r');
  try {
    assert.equal(flock(a, LOCK_EX | LOCK_NB), true);
    assert.equal(flock(b, LOCK_EX | LOCK_NB), false);
    assert.equal(flock(b, LOCK_SH | LOCK_NB), false);
    assert.equal(flock(a, LOCK_UN), true);
    assert.equal(flock(b, LOCK_SH | LOCK_NB), true);
    assert.equal(flock(a, LOCK_SH | LOCK_NB), true);
    assert.equal(flock(a, LOCK_EX | LOCK_NB), false);
  } finally {
    closeSync(a);
    closeSync(b);
  }
});

test('flock against another process: busy while it holds the lock, free once it is gone', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'lock');
  const ready = join(dir, 'ready');
  const fd = openSync(file, 'w');
  let pid: number | undefined;
  try {
    // flock(1) takes the lock, then its shell (which inherits the lock) reports and sleeps.
    pid = spawn({
      path: '/usr/bin/flock',
      argv: ['flock', '-n', file, '-c', `echo locked > '${ready}'; exec sleep 10`],
      env,
      pgroup: 0,
    });
    assert.ok(
      pollSync(() => existsSync(ready) && readFileSync(ready, 'utf8') === 'locked\n'),
      'the child took the lock',
    );
    assert.equal(flock(fd, LOCK_EX | LOCK_NB), false);
    killGroup(pid, SIG.SIGKILL);
    assert.equal(exitOf(waitpid(pid)!.status), -SIG.SIGKILL);
    pid = undefined;
    // The lock goes with the last holder (the sleep, which init reaps).
    assert.ok(
      pollSync(() => flock(fd, LOCK_EX | LOCK_NB)),
      'the lock is free once the holders are gone',
    );
  } finally {
    if (pid !== undefined) killGroup(pid, SIG.SIGKILL);
    killAndReap(pid);
    closeSync(fd);
  }
});

test('flock held by us makes flock(1) -n fail in a child', (t) => {
  const file = join(tempDir(t), 'lock');
  const fd = openSync(file, 'w');
  let pid: number | undefined;
  try {
    assert.equal(flock(fd, LOCK_EX), true);
    pid = spawn({ path: '/usr/bin/flock', argv: ['flock', '-n', '-E', '75', file, 'true'], env });
    assert.equal(exitOf(waitpid(pid)!.status), 75);
    pid = undefined;
  } finally {
    killAndReap(pid);
    closeSync(fd);
  }
});

test('flock on a bad fd throws SysError EBADF', () => {
  assert.throws(() => flock(987654, LOCK_EX | LOCK_NB), { name: 'SysError', code: 'EBADF', syscall: 'flock' });
});
