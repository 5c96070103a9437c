import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, waitpid, waitpidAsync, kill, SysError, WNOHANG } from '../../../src/sys/index.js';
import { killAndReap, exitOf, SIG } from './support.js';

const sh = (script: string) => spawn({ path: '/bin/sh', argv: ['sh', '-c', script], env: [] });

test('waitpid WNOHANG: null while the child runs, then its status once killed', () => {
  let pid: number | undefined = sh('exec sleep 10');
  try {
    assert.equal(waitpid(pid, WNOHANG), null);
    assert.equal(kill(pid, SIG.SIGTERM), true);
    const result = waitpid(pid);
    const reaped = pid;
    pid = undefined;
    assert.deepEqual(result && { pid: result.pid, signal: exitOf(result.status) }, { pid: reaped, signal: -SIG.SIGTERM });
    assert.throws(() => waitpid(reaped, WNOHANG), (err: unknown) => err instanceof SysError && err.code === 'ECHILD' && err.syscall === 'waitpid');
  } finally {
    killAndReap(pid);
  }
});

test('waitpid returns the exit code in the raw status', () => {
  const pid = sh('exit 7');
  const result = waitpid(pid);
  assert.equal(result?.pid, pid);
  assert.equal(exitOf(result!.status), 7);
});

test('waitpid of a pid that is not our child throws ECHILD', () => {
  assert.throws(() => waitpid(1, WNOHANG), { code: 'ECHILD', errno: -10 });
});

test('waitpidAsync blocks a worker thread, not the event loop', async () => {
  let pid: number | undefined = sh('sleep 0.2; exit 3');
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const result = await waitpidAsync(pid).finally(() => clearInterval(timer));
    pid = undefined;
    assert.equal(exitOf(result.status), 3);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} timer ticks meanwhile`);
  } finally {
    killAndReap(pid);
  }
});

test('waitpidAsync with WNOHANG resolves null while running; errors reject with SysError', async () => {
  let pid: number | undefined = sh('exec sleep 10');
  try {
    assert.equal(await waitpidAsync(pid, WNOHANG), null);
    kill(pid, SIG.SIGKILL);
    const result = await waitpidAsync(pid, 0);
    const reaped = pid;
    pid = undefined;
    assert.equal(exitOf(result!.status), -SIG.SIGKILL);
    await assert.rejects(waitpidAsync(reaped), { name: 'SysError', code: 'ECHILD', syscall: 'waitpid' });
  } finally {
    killAndReap(pid);
  }
});
