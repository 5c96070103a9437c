import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { listenUnix, socketpair } from '../../../src/sys/socket.js';
import { SysError } from '../../../src/sys/errors.js';
import { tempDir } from '../../helpers/sandbox.js';

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
