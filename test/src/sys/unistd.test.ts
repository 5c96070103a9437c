import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawn, waitpid, getsid, getpgid, getppid, setsid, chroot, SysError } from '../../../src/sys/index.js';
import { killAndReap, scenarioJson } from './support.js';

const bundle = fileURLToPath(import.meta.url);

// Child-node scenario: setsid() in a process that does not lead a group, then again as leader.
if (process.env.DK_SYS_CHILD === 'setsid') {
  const before = { sid: getsid(0), pgid: getpgid(0) };
  const sid = setsid();
  let again = '';
  try {
    setsid();
  } catch (err) {
    again = (err as SysError).code;
  }
  process.stdout.write(JSON.stringify({ pid: process.pid, before, sid, after: { sid: getsid(0), pgid: getpgid(0) }, again }));
} else {
  const statOfSelf = () => {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const [, ppid, pgid, sid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { ppid, pgid, sid };
  };

  test('getsid, getpgid and getppid of ourselves match /proc/self/stat', () => {
    const self = statOfSelf();
    assert.equal(getsid(0), self.sid);
    assert.equal(getsid(process.pid), self.sid);
    assert.equal(getpgid(0), self.pgid);
    assert.equal(getpgid(process.pid), self.pgid);
    assert.equal(getppid(), self.ppid);
    assert.equal(getppid(), process.ppid);
  });

  test('getsid and getpgid of spawned children', () => {
    let leader: number | undefined;
    let member: number | undefined;
    try {
      leader = spawn({ path: '/bin/sleep', argv: ['sleep', '10'], env: [], setsid: true });
      member = spawn({ path: '/bin/sleep', argv: ['sleep', '10'], env: [], pgroup: 0 });
      assert.equal(getsid(leader), leader);
      assert.equal(getpgid(leader), leader);
      assert.equal(getsid(member), getsid(0));
      assert.equal(getpgid(member), member);
    } finally {
      killAndReap(leader);
      killAndReap(member);
    }
  });

  test('getsid and getpgid of a reaped child throw ESRCH', () => {
    const pid = spawn({ path: '/bin/true', argv: ['true'], env: [] });
    waitpid(pid);
    assert.throws(() => getsid(pid), { name: 'SysError', code: 'ESRCH', syscall: 'getsid' });
    assert.throws(() => getpgid(pid), { code: 'ESRCH', syscall: 'getpgid' });
  });

  test('setsid in a child node: a new session led by itself; a second call fails EPERM', () => {
    const r = scenarioJson<{ pid: number; before: { sid: number }; sid: number; after: { sid: number; pgid: number }; again: string }>(
      bundle,
      'setsid',
    );
    assert.notEqual(r.before.sid, r.pid);
    assert.equal(r.sid, r.pid);
    assert.deepEqual(r.after, { sid: r.pid, pgid: r.pid });
    assert.equal(r.again, 'EPERM');
  });

  test('chroot errors carry the path', () => {
    assert.throws(
      () => chroot('/nonexistent/daemonkit-root'),
      (err: unknown) =>
        err instanceof SysError &&
        err.code === 'ENOENT' &&
        err.path === '/nonexistent/daemonkit-root' &&
        err.message === "ENOENT: no such file or directory, chroot '/nonexistent/daemonkit-root'",
    );
    assert.throws(() => chroot('/tmp\0/x'), TypeError);
  });
}
