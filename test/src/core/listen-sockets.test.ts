import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindListeners, closeListeners, type Listener } from '../../../src/core/listen-sockets.js';
import { ListenError } from '../../../src/errors.js';
import { parseListenSpec } from '../../../src/core/listen-spec.js';
import { listenUnix } from '../../../src/sys/socket.js';

const HAS_IPV6 = existsSync('/proc/net/if_inet6');
const NOBODY = 65534;
const isRoot = process.getuid!() === 0;

const specs = (...values: string[]) => values.map((v) => parseListenSpec(v));
const openFds = () => readdirSync('/proc/self/fd').length;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dk-listen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Listeners whose fd a net.Server took over (and closed): closing that number again could close an fd libuv reuses.
const served = new Set<Listener>();

/** closeListeners, minus the fds net.Server already closed (their files are still removed). */
function release(ls: Listener[]): void {
  closeListeners(ls.map((l) => (served.has(l) ? { ...l, fd: -1 } : l)));
}

/** Serves `text` on a listener's fd through net.Server, as a worker would; returns what a client reads. */
async function roundTrip(l: Listener, connectTo: { host: string; port: number } | { path: string }, text: string): Promise<string> {
  served.add(l);
  const server: Server = createServer((c) => c.end(text)).listen({ fd: l.fd });
  try {
    return await new Promise<string>((resolve, reject) => {
      let got = '';
      createConnection(connectTo as never)
        .on('data', (d) => (got += d))
        .on('end', () => resolve(got))
        .on('error', reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('bindListeners binds tcp and unix specs, reports the real port and serves through the fds', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.sock');
  const ls = bindListeners(specs('web=tcp:127.0.0.1:0', `unix:${path}`));
  try {
    assert.deepEqual(
      ls.map((l) => l.name),
      ['web', 'unix'],
    );
    const port = ls[0]!.port!;
    assert.ok(port > 0);
    assert.equal(ls[0]!.address, `127.0.0.1:${port}`);
    assert.match(readlinkSync(`/proc/self/fd/${ls[0]!.fd}`), /^socket:/);
    assert.equal(ls[1]!.address, path);
    assert.ok(lstatSync(path).isSocket());
    assert.equal(await roundTrip(ls[0]!, { host: '127.0.0.1', port }, 'tcp ok'), 'tcp ok');
    assert.equal(await roundTrip(ls[1]!, { path }, 'unix ok'), 'unix ok');
  } finally {
    release(ls);
  }
  assert.equal(existsSync(path), false);
});

test('tcp:0 takes IPv4 and IPv6 on one socket; tcp6:[::1] is IPv6 only', { skip: !HAS_IPV6 && 'no IPv6' }, async () => {
  const ls = bindListeners(specs('tcp:0', 'tcp6:[::1]:0'));
  try {
    assert.match(ls[0]!.address, /^\[::\]:\d+$/);
    assert.equal(await roundTrip(ls[0]!, { host: '127.0.0.1', port: ls[0]!.port! }, 'v4'), 'v4');
    assert.equal(ls[1]!.address, `[::1]:${ls[1]!.port}`);
    assert.equal(await roundTrip(ls[1]!, { host: '::1', port: ls[1]!.port! }, 'v6'), 'v6');
  } finally {
    release(ls);
  }
});

test('unix socket files take the mode and owner asked for', { skip: !isRoot && 'needs root to chown' }, (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'owned.sock');
  const ls = bindListeners(specs(`unix:${path}`), { owner: { uid: NOBODY, gid: NOBODY }, mode: 0o660 });
  try {
    const st = lstatSync(path);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.uid, NOBODY);
    assert.equal(st.gid, NOBODY);
  } finally {
    closeListeners(ls);
  }
});

test('a port in use fails the whole call with one error naming the spec, and leaves nothing open or behind', async (t) => {
  const dir = tempDir(t);
  const [held] = bindListeners(specs('tcp:127.0.0.1:0'));
  try {
    const path = join(dir, 'first.sock');
    const before = openFds();
    const spec = `tcp:127.0.0.1:${held!.port}`;
    assert.throws(
      () => bindListeners(specs(`unix:${path}`, 'tcp:127.0.0.1:0', spec)),
      (e: unknown) =>
        e instanceof ListenError &&
        e.message === `--listen ${spec}: address already in use` &&
        (e.cause as NodeJS.ErrnoException).code === 'EADDRINUSE',
    );
    assert.equal(openFds(), before);
    assert.equal(existsSync(path), false);
  } finally {
    closeListeners([held!]);
  }
});

test('a unix path in a missing directory says which directory', (t) => {
  const dir = tempDir(t);
  const before = openFds();
  assert.throws(() => bindListeners(specs(`unix:${dir}/no/such/a.sock`)), {
    message: `--listen unix:${dir}/no/such/a.sock: directory ${dir}/no/such does not exist`,
  });
  assert.equal(openFds(), before);
});

test('a stale socket file (nobody listening) is replaced; a live one is refused and left alone', (t) => {
  const dir = tempDir(t);
  const stale = join(dir, 'stale.sock');
  closeSync(listenUnix(stale, 4)); // the file stays, nobody behind it
  const ls = bindListeners(specs(`unix:${stale}`));
  const live = join(dir, 'live.sock');
  const other = listenUnix(live, 4);
  try {
    assert.ok(lstatSync(stale).isSocket());
    const ino = lstatSync(live).ino;
    assert.throws(() => bindListeners(specs(`unix:${live}`)), { message: `--listen unix:${live}: a process is listening on it` });
    assert.equal(lstatSync(live).ino, ino);
  } finally {
    closeListeners(ls);
    closeSync(other);
  }
});

test('a regular file or a symlink at the path is refused and never followed', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'file');
  writeFileSync(file, 'keep');
  assert.throws(() => bindListeners(specs(`unix:${file}`)), { message: `--listen unix:${file}: ${file} exists and is not a socket` });
  const target = join(dir, 'target.sock');
  closeSync(listenUnix(target, 4)); // a stale socket: would be removed if the link were followed
  const link = join(dir, 'link.sock');
  symlinkSync(target, link);
  assert.throws(() => bindListeners(specs(`unix:${link}`)), { message: `--listen unix:${link}: ${link} exists and is not a socket` });
  assert.ok(statSync(target).isSocket());
  assert.ok(lstatSync(link).isSymbolicLink());
});

test('closeListeners removes only the file it made, not a successor at the same path', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.sock');
  const ls = bindListeners(specs(`unix:${path}`));
  unlinkSync(path);
  const successor = listenUnix(path, 4);
  try {
    closeListeners(ls);
    assert.ok(lstatSync(path).isSocket());
  } finally {
    closeSync(successor);
  }
});
