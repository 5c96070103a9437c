import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, waitpid, kill, killGroup, sigset, WNOHANG } from '../../../src/sys/index.js';
import { killAndReap, exitOf, SIG } from './support.js';

const sleeper = (opts: { pgroup?: number } = {}) => spawn({ path: '/bin/sleep', argv: ['sleep', '10'], env: [], ...opts });

test('kill: true while the process exists, false once it is reaped', () => {
  let pid: number | undefined = sleeper();
  try {
    assert.equal(kill(pid, 0), true);
    assert.equal(kill(pid, SIG.SIGTERM), true);
    assert.equal(exitOf(waitpid(pid)!.status), -SIG.SIGTERM);
    const reaped = pid;
    pid = undefined;
    assert.equal(kill(reaped, 0), false);
    assert.equal(kill(reaped, SIG.SIGTERM), false);
  } finally {
    killAndReap(pid);
  }
});

test('kill refuses pid 0, -1 and other non-positive or fractional pids', () => {
  for (const pid of [0, -1, -42, 1.5, NaN]) assert.throws(() => kill(pid, 0), RangeError, `pid ${pid}`);
});

test('killGroup signals every member of a group; refuses pgid 0 and 1 (kill(-1) means everyone)', () => {
  let pid: number | undefined = sleeper({ pgroup: 0 });
  try {
    assert.equal(killGroup(pid, SIG.SIGTERM), true);
    assert.equal(exitOf(waitpid(pid)!.status), -SIG.SIGTERM);
    const gone = pid;
    pid = undefined;
    assert.equal(killGroup(gone, 0), false);
  } finally {
    killAndReap(pid);
  }
  for (const pgid of [0, 1, -5]) assert.throws(() => killGroup(pgid, 0), RangeError, `pgid ${pgid}`);
});

test('kill with an invalid signal throws SysError EINVAL', () => {
  let pid: number | undefined = sleeper();
  try {
    assert.throws(() => kill(pid!, 999), { name: 'SysError', code: 'EINVAL', syscall: 'kill' });
    assert.equal(waitpid(pid, WNOHANG), null);
  } finally {
    killAndReap(pid);
  }
});

test('sigset lays signals out as glibc does, including 32, 33 and 64', () => {
  const set = sigset([1, 32, 33, 64]);
  assert.equal(set.length, 128);
  assert.equal(set.readBigUInt64LE(0), (1n << 0n) | (1n << 31n) | (1n << 32n) | (1n << 63n));
  assert.throws(() => sigset([0]), RangeError);
  assert.throws(() => sigset([65]), RangeError);
});
