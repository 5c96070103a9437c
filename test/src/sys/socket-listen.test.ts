import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  inetPton,
  parseInetAddress,
  sockaddrIn,
  sockaddrIn6,
} from '../../../src/sys/inet.js';
import {
  AF_UNIX,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  bind,
  connect,
  getsockname,
  listen,
  setsockoptInt,
  socket,
  unixAddress,
} from '../../../src/sys/socket.js';
import { SysError } from '../../../src/sys/errors.js';

const HAS_IPV6 = existsSync('/proc/net/if_inet6');

function tcpListener(family: typeof AF_INET | typeof AF_INET6, host: string, port: number, v6only?: number): number {
  const fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC);
  setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (v6only !== undefined) setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
  const bytes = inetPton(family, host)!;
  bind(fd, family === AF_INET ? sockaddrIn(bytes, port) : sockaddrIn6(bytes, port));
  listen(fd, 16);
  return fd;
}

/** Connects to host:port; resolves 'connected' or the error code. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = createConnection({ host, port });
    c.once('connect', () => (c.destroy(), resolve('connected')));
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

test('an AF_INET socket bound to port 0 learns its port from getsockname, and Node serves on it', async () => {
  const fd = tcpListener(AF_INET, '127.0.0.1', 0);
  const { address, port } = parseInetAddress(getsockname(fd));
  assert.equal(address, '127.0.0.1');
  assert.ok(port > 0);
  const server = createServer((c) => c.end('hi')).listen({ fd });
  try {
    const got = await new Promise<string>((resolve, reject) => {
      let text = '';
      createConnection({ host: '127.0.0.1', port })
        .on('data', (d) => (text += d))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    assert.equal(got, 'hi');
  } finally {
    server.close();
  }
});

test('a second bind of the same port fails with EADDRINUSE from bind', () => {
  const fd = tcpListener(AF_INET, '127.0.0.1', 0);
  try {
    const { port } = parseInetAddress(getsockname(fd));
    assert.throws(
      () => tcpListener(AF_INET, '127.0.0.1', port),
      (e: unknown) => e instanceof SysError && e.code === 'EADDRINUSE' && e.syscall === 'bind',
    );
  } finally {
    closeSync(fd);
  }
});

test('IPV6_V6ONLY decides whether an AF_INET6 socket on :: also takes IPv4 connections', { skip: !HAS_IPV6 && 'no IPv6' }, async () => {
  const dual = tcpListener(AF_INET6, '::', 0, 0);
  const only = tcpListener(AF_INET6, '::', 0, 1);
  try {
    const dualPort = parseInetAddress(getsockname(dual)).port;
    const onlyPort = parseInetAddress(getsockname(only)).port;
    assert.equal(await tryConnect('127.0.0.1', dualPort), 'connected');
    assert.equal(await tryConnect('127.0.0.1', onlyPort), 'ECONNREFUSED');
    assert.equal(await tryConnect('::1', onlyPort), 'connected');
  } finally {
    closeSync(dual);
    closeSync(only);
  }
});

test('connect to a unix socket file nobody listens on is refused; to a listening one it succeeds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-sock-'));
  const path = join(dir, 's.sock');
  try {
    const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, path);
    bind(fd, unixAddress(path, 'p'), path);
    const probe = () => {
      const c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
      try {
        connect(c, unixAddress(path, 'p'), path);
        return 'connected';
      } catch (e) {
        return (e as SysError).code;
      } finally {
        closeSync(c);
      }
    };
    assert.equal(probe(), 'ECONNREFUSED'); // bound, not listening
    listen(fd, 4);
    assert.equal(probe(), 'connected');
    closeSync(fd);
    assert.equal(probe(), 'ECONNREFUSED'); // the file stays, nobody behind it
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
