import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AF_UNIX,
  SO_PASSCRED,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  bind,
  notifySocket,
  recvDatagram,
  sendto,
  setsockoptInt,
  socket,
  unixAddress,
} from '../../../src/sys/socket.js';
import { signalOnInput } from '../../../src/sys/signal-io.js';

function receiver(path: string, passcred: boolean): number {
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, path);
  if (passcred) setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1);
  bind(fd, unixAddress(path, 'p'), path);
  return fd;
}

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dk-dgram-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  "recvDatagram returns null when nothing is queued, then each datagram with the sender's credentials",
  withDir((dir) => {
    const path = join(dir, 'n.sock');
    const fd = receiver(path, true);
    try {
      assert.equal(recvDatagram(fd, 4096), null);
      notifySocket(path, 'READY=1\n');
      notifySocket(path, 'STATUS=two\n');
      const first = recvDatagram(fd, 4096)!;
      assert.equal(first.data.toString(), 'READY=1\n');
      assert.equal(first.truncated, false);
      assert.equal(first.pid, process.pid);
      assert.equal(first.uid, process.getuid!());
      assert.equal(first.gid, process.getgid!());
      assert.equal(recvDatagram(fd, 4096)!.data.toString(), 'STATUS=two\n');
      assert.equal(recvDatagram(fd, 4096), null);
    } finally {
      closeSync(fd);
    }
  }),
);

test(
  'a datagram longer than the buffer comes back cut and flagged truncated',
  withDir((dir) => {
    const path = join(dir, 'n.sock');
    const fd = receiver(path, true);
    try {
      notifySocket(path, 'x'.repeat(100));
      const d = recvDatagram(fd, 10)!;
      assert.equal(d.data.toString(), 'x'.repeat(10));
      assert.equal(d.truncated, true);
    } finally {
      closeSync(fd);
    }
  }),
);

test(
  'without SO_PASSCRED there are no credentials',
  withDir((dir) => {
    const path = join(dir, 'n.sock');
    const fd = receiver(path, false);
    try {
      notifySocket(path, 'READY=1');
      const d = recvDatagram(fd, 64)!;
      assert.equal(d.pid, null);
      assert.equal(d.data.toString(), 'READY=1');
    } finally {
      closeSync(fd);
    }
  }),
);

test('an abstract name (@) works for both sendto and bind, with no file', () => {
  const name = `@daemonkit-test-${process.pid}-${Date.now()}`;
  const fd = receiver(name, true);
  const out = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    sendto(out, Buffer.from('WATCHDOG=1'), unixAddress(name, 'p'), name);
    const d = recvDatagram(fd, 64)!;
    assert.equal(d.data.toString(), 'WATCHDOG=1');
    assert.equal(d.pid, process.pid);
  } finally {
    closeSync(fd);
    closeSync(out);
  }
});

test(
  'sendto a path with nobody bound fails with ECONNREFUSED or ENOENT naming the path',
  withDir((dir) => {
    const path = join(dir, 'none.sock');
    assert.throws(
      () => notifySocket(path, 'READY=1'),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'sendto' && e.path === path,
    );
  }),
);

test(
  'signalOnInput: the kernel sends SIGIO when a datagram arrives',
  withDir(async (dir) => {
    const path = join(dir, 'n.sock');
    const fd = receiver(path, true);
    let signals = 0;
    const onSigio = () => signals++;
    process.on('SIGIO', onSigio);
    try {
      signalOnInput(fd, process.pid);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(signals, 0);
      // Node's signal watcher does not keep the loop alive: the timer does, and fails the test if no signal comes.
      let timer: NodeJS.Timeout | undefined;
      const got = new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('no SIGIO within 5s')), 5000);
        process.once('SIGIO', () => resolve());
      });
      notifySocket(path, 'READY=1');
      await got.finally(() => clearTimeout(timer));
      assert.ok(signals >= 1);
      assert.equal(recvDatagram(fd, 64)!.data.toString(), 'READY=1');
    } finally {
      closeSync(fd);
      // SIGIO's default action kills: keep a listener for any late one.
      process.removeListener('SIGIO', onSigio);
      process.on('SIGIO', () => {});
    }
  }),
);
