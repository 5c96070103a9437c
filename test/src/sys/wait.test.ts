import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, waitpid, kill, SysError, WNOHANG } from '../../../src/sys/index.js';
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
    assert.throws(
      () => waitpid(reaped, WNOHANG),
      (err: unknown) => err instanceof SysError && err.code === 'ECHILD' && err.syscall === 'waitpid',
    );
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
