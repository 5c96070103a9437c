import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  spawn,
  posixSpawn,
  waitpid,
  setCloexec,
  SpawnAttributes,
  FileActions,
  SysError,
  POSIX_SPAWN_SETSIGMASK,
  O_RDONLY,
  O_WRONLY,
  O_CREAT,
} from '../../../src/sys/index.js';
import { isCloexec, stat } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/sandbox.js';
import { blockSignals, spawnReport, killAndReap, exitOf, SIG, scenarioJson, type Report } from './support.js';

const bundle = fileURLToPath(import.meta.url);
const bit = (sig: number) => 1n << BigInt(sig - 1);

// Child-node scenario: block SIGHUP and SIGUSR2 in our own main thread (node ignores SIGPIPE and
// SIGXFSZ itself), then report what a spawned shell inherits with and without resetSignals.
if (process.env.DK_SYS_CHILD === 'signals') {
  const dir = process.env.DK_SYS_DIR!;
  blockSignals([SIG.SIGHUP, SIG.SIGUSR2]);
  const kept = spawnReport(dir);
  const reset = spawnReport(dir, { resetSignals: true });
  const show = (r: Report) => ({ sigBlk: r.sigBlk.toString(), sigIgn: r.sigIgn.toString() });
  process.stdout.write(JSON.stringify({ kept: show(kept), reset: show(reset) }));
} else {
  test('setsid: the child leads a new session and group, with no controlling tty', (t) => {
    const r = spawnReport(tempDir(t), { setsid: true });
    assert.equal(r.sid, r.pid);
    assert.equal(r.pgid, r.pid);
    assert.equal(r.ttyNr, 0);
    assert.equal(r.ppid, process.pid);
    assert.equal(exitOf(r.status), 0);
  });

  test('pgroup 0: a group of its own in our session; no options: our group', (t) => {
    const dir = tempDir(t);
    const self = stat(process.pid);
    const own = spawnReport(dir, { pgroup: 0 });
    assert.equal(own.pgid, own.pid);
    assert.equal(own.sid, self.session);
    const plain = spawnReport(dir);
    assert.equal(plain.pgid, self.pgrp);
    assert.notEqual(plain.pgid, plain.pid);
    assert.equal(plain.sid, self.session);
  });

  test('argv and env reach the child exactly', (t) => {
    const r = spawnReport(tempDir(t));
    assert.equal(r.arg, 'the-arg');
    assert.equal(r.env, 'the-env');
  });

  test('without resetSignals an ignored signal stays ignored across exec (node ignores SIGPIPE)', (t) => {
    const r = spawnReport(tempDir(t));
    assert.equal(r.sigIgn & bit(SIG.SIGPIPE), bit(SIG.SIGPIPE));
  });

  test('resetSignals: SigBlk 0 and SigIgn 0 though the spawning process blocks and ignores signals', (t) => {
    const dir = tempDir(t);
    type Masks = { sigBlk: string; sigIgn: string };
    const { kept, reset } = scenarioJson<{ kept: Masks; reset: Masks }>(bundle, 'signals', { DK_SYS_DIR: dir });
    assert.equal(BigInt(kept.sigBlk), bit(SIG.SIGHUP) | bit(SIG.SIGUSR2));
    assert.equal(BigInt(kept.sigIgn) & bit(SIG.SIGPIPE), bit(SIG.SIGPIPE));
    assert.equal(BigInt(reset.sigBlk), 0n);
    assert.equal(BigInt(reset.sigIgn), 0n);
  });

  test('glibc leaves its reserved signals 32 and 33 ignored unless the SETSIGDEF set names them', (t) => {
    const dir = tempDir(t);
    const reserved = bit(32) | bit(33);
    assert.equal(spawnReport(dir).sigIgn & reserved, reserved);
    assert.equal(spawnReport(dir, { resetSignals: true }).sigIgn & reserved, 0n);
  });

  test('SpawnAttributes.setSigmask blocks exactly the given signals in the child', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'mask.txt');
    const attrs = new SpawnAttributes();
    const actions = new FileActions();
    let pid: number | undefined;
    try {
      attrs.setSigmask([SIG.SIGTERM, 40]);
      attrs.setFlags(POSIX_SPAWN_SETSIGMASK);
      actions.addOpen(1, out, O_WRONLY | O_CREAT, 0o600);
      // A builtin, not grep: dash clears the mask in the children it forks.
      const script = 'while read -r k v; do [ "$k" = SigBlk: ] && echo "$v"; done < /proc/self/status; true';
      pid = posixSpawn('/bin/sh', ['sh', '-c', script], [], actions, attrs);
      assert.equal(exitOf(waitpid(pid)!.status), 0);
      pid = undefined;
    } finally {
      killAndReap(pid);
      actions.destroy();
      attrs.destroy();
    }
    const mask = BigInt('0x' + readFileSync(out, 'utf8').trim());
    assert.equal(mask, bit(SIG.SIGTERM) | bit(40));
  });

  test('closefrom(3) leaves only 0-2 though we hold extra fds without close-on-exec', (t) => {
    const dir = tempDir(t);
    const extra = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
    try {
      for (const fd of extra) {
        setCloexec(fd, false);
        assert.equal(isCloexec(fd), false);
      }
      const leaky = spawnReport(dir);
      for (const fd of extra) assert.ok(leaky.fds.includes(fd), `fd ${fd} is inherited without closefrom`);
      const closed = spawnReport(dir, {}, [{ op: 'closefrom', fd: 3 }]);
      assert.deepEqual(closed.fds, [0, 1, 2]);
    } finally {
      for (const fd of extra) closeSync(fd);
    }
  });

  test('dup2(fd, fd) lets a close-on-exec fd survive exec', (t) => {
    const dir = tempDir(t);
    const fd = openSync('/dev/null', 'r'); // node opens everything close-on-exec
    try {
      assert.equal(isCloexec(fd), true);
      assert.ok(!spawnReport(dir).fds.includes(fd));
      const kept = spawnReport(dir, {}, [
        { op: 'dup2', fd, newfd: fd },
        { op: 'closefrom', fd: fd + 1 },
      ]);
      assert.ok(kept.fds.includes(fd));
      assert.equal(isCloexec(fd), true, 'the parent keeps its flag');
    } finally {
      closeSync(fd);
    }
  });

  test('close and chdir file actions', (t) => {
    const dir = tempDir(t);
    const r = spawnReport(dir, {}, [
      { op: 'chdir', path: dir },
      { op: 'close', fd: 2 },
    ]);
    assert.equal(r.pwd, dir);
    assert.ok(!r.fds.includes(2));
  });

  test('exec failure throws SysError ENOENT naming the path', () => {
    assert.throws(
      () => spawn({ path: '/nonexistent/daemonkit-x', argv: ['x'], env: [] }),
      (err: unknown) => {
        assert.ok(err instanceof SysError);
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.errno, -2);
        assert.equal(err.syscall, 'posix_spawn');
        assert.equal(err.path, '/nonexistent/daemonkit-x');
        assert.equal(err.message, "ENOENT: no such file or directory, posix_spawn '/nonexistent/daemonkit-x'");
        return true;
      },
    );
  });

  test('a file action failing in the child fails the spawn, reported like an exec failure', () => {
    assert.throws(
      () =>
        spawn({
          path: '/bin/true',
          argv: ['true'],
          env: [],
          fileActions: [{ op: 'open', fd: 1, path: '/nonexistent/dir/file', flags: O_RDONLY, mode: 0 }],
        }),
      { name: 'SysError', code: 'ENOENT', syscall: 'posix_spawn', path: '/bin/true' },
    );
  });

  test('setsid with pgroup fails: glibc calls setpgid after setsid (EPERM)', () => {
    assert.throws(() => spawn({ path: '/bin/true', argv: ['true'], env: [], setsid: true, pgroup: 0 }), {
      code: 'EPERM',
      syscall: 'posix_spawn',
    });
  });

  test('a preparation error names the libc function; native objects are freed once', () => {
    const actions = new FileActions();
    try {
      assert.throws(() => actions.addDup2(-1, 3), { code: 'EBADF', syscall: 'posix_spawn_file_actions_adddup2' });
    } finally {
      actions.destroy();
      actions.destroy();
    }
    assert.throws(() => actions.addClose(3), /used after destroy/);
  });

  test('strings with NUL bytes are refused before reaching libc', () => {
    assert.throws(() => spawn({ path: '/bin/true\0x', argv: ['true'], env: [] }), TypeError);
    assert.throws(() => spawn({ path: '/bin/true', argv: ['a\0b'], env: [] }), TypeError);
  });
}
