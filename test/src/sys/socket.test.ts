import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { listenUnix, recvWithFds, sendWithFds, socketpair } from '../../../src/sys/socket.js';
import { SysError } from '../../../src/sys/errors.js';
import { tempDir } from '../../helpers/sandbox.js';

const O_CLOEXEC = 0o2000000;

test('listenUnix: a client connects before anyone accepts, and net.Server adopting the fd answers it', async (t) => {
  const dir = tempDir(t, 'dk-sock-');
  const path = join(dir, 'ctl.sock');
  const fd = listenUnix(path, 8);
  assert.ok(statSync(path).isSocket());
  const client = createConnection(path);
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.write('ping\n');
  const server = createServer((conn) => conn.once('data', (d) => conn.end(`pong ${d}`))).listen({ fd });
  const answer = await new Promise<string>((resolve) => {
    let got = '';
    client.on('data', (d) => (got += d)).on('end', () => resolve(got));
  });
  server.close();
  assert.equal(answer, 'pong ping\n');
});

test('listenUnix: bind errors carry errno, syscall and path, and leak no fd', () => {
  const [probe] = socketpair();
  closeSync(probe); // the lowest free fd: a leaked socket would take it
  const path = '/nonexistent-dir/ctl.sock';
  assert.throws(
    () => listenUnix(path, 8),
    (e: unknown) => e instanceof SysError && e.code === 'ENOENT' && e.syscall === 'bind' && e.path === path,
  );
  const [again, other] = socketpair();
  assert.equal(again, probe);
  closeSync(again);
  closeSync(other);
});

test('sendWithFds / recvWithFds: the fds arrive as new close-on-exec descriptors of the same files, with the bytes', (t) => {
  const dir = tempDir(t, 'dk-rights-');
  const [a, b] = socketpair();
  const files = ['one', 'two'].map((n) => openSync(join(dir, n), 'w'));
  try {
    assert.equal(sendWithFds(a, Buffer.from('order\n'), files), 6);
    const got = recvWithFds(b, 64, 3)!;
    assert.equal(got.data.toString(), 'order\n');
    assert.equal(got.fdsTruncated, false);
    assert.equal(got.fds.length, 2);
    got.fds.forEach((fd, i) => {
      assert.ok(!files.includes(fd), 'a new descriptor');
      assert.equal(fstatSync(fd).ino, fstatSync(files[i]!).ino, 'the same file');
      const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      assert.ok(flags & O_CLOEXEC, `close-on-exec: flags 0${flags.toString(8)}`);
      closeSync(fd);
    });
  } finally {
    for (const fd of [a, b, ...files]) closeSync(fd);
  }
});

test('recvWithFds: more fds than room is flagged (MSG_CTRUNC), and the ones that did not fit are not installed', (t) => {
  const dir = tempDir(t, 'dk-rights-');
  const [a, b] = socketpair();
  const files = ['1', '2', '3'].map((n) => openSync(join(dir, n), 'w'));
  try {
    sendWithFds(a, Buffer.from('x'), files);
    const before = readdirSync('/proc/self/fd').length;
    const got = recvWithFds(b, 64, 1)!;
    assert.equal(got.fdsTruncated, true);
    assert.equal(got.fds.length, 1);
    assert.equal(readdirSync('/proc/self/fd').length, before + 1, 'only the one that fit is open here');
    closeSync(got.fds[0]!);
    closeSync(a);
    assert.equal(recvWithFds(b, 64, 1)!.data.length, 0, 'end of file once the sender is gone');
  } finally {
    for (const fd of [b, ...files]) closeSync(fd);
  }
});
