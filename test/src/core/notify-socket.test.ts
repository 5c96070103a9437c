// The notify socket with real senders: systemd-notify(1) and a Node child using sdNotify; PIDs from SCM_CREDENTIALS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotifySocket, NOTIFY_MAX_BYTES, parseNotifyFields, type NotifyMessage } from '../../../src/core/notify-socket.js';
import { sdNotify } from '../../../src/core/notify.js';
import { spawn } from '../../../src/sys/spawn.js';
import { kill, SIGKILL } from '../../../src/sys/signal.js';
import { waitpid } from '../../../src/sys/wait.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, bind, socket, unixAddress } from '../../../src/sys/socket.js';

const CHILD = 'DK_NOTIFY_CHILD';
const SYSTEMD_NOTIFY = '/usr/bin/systemd-notify';
const NOBODY = 65534;
const isRoot = process.getuid!() === 0;

if (process.env[CHILD]) {
  sdNotify(process.env.NOTIFY_SOCKET!, `READY=1\nSTATUS=${process.env[CHILD]}\n`);
} else {
  const bundle = fileURLToPath(import.meta.url);

  function tempDir(t: { after(fn: () => void): void }): string {
    const dir = mkdtempSync(join(tmpdir(), 'dk-notify-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A notify socket whose messages queue up; next() waits (bounded) for the next one. */
  function receiver(t: { after(fn: () => void): void }, path: string, extra: { owner?: { uid: number; gid: number } } = {}) {
    const got: NotifyMessage[] = [];
    const dropped: string[] = [];
    let wake: (() => void) | null = null;
    const sock = NotifySocket.open(path, {
      ...extra,
      onMessage: (m) => (got.push(m), wake?.()),
      onDropped: (reason) => (dropped.push(reason), wake?.()),
    });
    t.after(() => sock.close());
    const next = async (): Promise<NotifyMessage> => {
      // The timer keeps the loop alive (Node's signal watcher does not) and bounds the wait.
      while (got.length === 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no notify message within 5s')), 5000);
          wake = () => (clearTimeout(timer), resolve());
        });
      }
      return got.shift()!;
    };
    return { sock, next, dropped };
  }

  /** Spawns a sender with NOTIFY_SOCKET set and reaps it; returns its PID. */
  function runSender(t: { after(fn: () => void): void }, path: string, argv: string[], env: string[] = []): number {
    const pid = spawn({ path: argv[0]!, argv, env: [`NOTIFY_SOCKET=${path}`, 'PATH=/usr/bin:/bin', ...env] });
    t.after(() => {
      if (kill(pid, SIGKILL)) waitpid(pid);
    });
    return pid;
  }

  test('parseNotifyFields reads KEY=VALUE lines and skips lines that are not', () => {
    assert.deepEqual(parseNotifyFields('READY=1\nSTATUS=a=b\n\njunk\n=x\nMAINPID=42'), { READY: '1', STATUS: 'a=b', MAINPID: '42' });
  });

  // systemd-notify sends on behalf of its parent (the worker's shell here): SCM_CREDENTIALS carry the parent's PID,
  // which the kernel lets it claim only with CAP_SYS_ADMIN; without it, its own PID.
  test(
    'systemd-notify --ready from a worker shell reaches the socket, with the PID the kernel vouches for',
    { skip: !existsSync(SYSTEMD_NOTIFY) && 'no systemd-notify' },
    async (t) => {
      const path = join(tempDir(t), 'notify.sock');
      const r = receiver(t, path);
      const pid = runSender(t, path, ['/bin/sh', '-c', `${SYSTEMD_NOTIFY} --ready --status='warming up'; exit 0`]);
      const m = await r.next();
      assert.equal(m.pid, pid);
      assert.equal(m.uid, process.getuid!());
      assert.equal(m.fields.READY, '1');
      assert.equal(m.fields.STATUS, 'warming up');
    },
  );

  test('a Node child using sdNotify is told apart from another by PID', async (t) => {
    const path = join(tempDir(t), 'notify.sock');
    const r = receiver(t, path);
    const env = Object.entries(process.env)
      .filter(([k]) => k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS' && k !== 'NOTIFY_SOCKET')
      .map(([k, v]) => `${k}=${v}`);
    const first = runSender(t, path, [process.execPath, bundle], [...env, `${CHILD}=first`]);
    const a = await r.next();
    const second = runSender(t, path, [process.execPath, bundle], [...env, `${CHILD}=second`]);
    const b = await r.next();
    assert.deepEqual([a.pid, a.fields], [first, { READY: '1', STATUS: 'first' }]);
    assert.deepEqual([b.pid, b.fields], [second, { READY: '1', STATUS: 'second' }]);
  });

  test('a datagram over the bound is dropped whole, and the next one still arrives', async (t) => {
    const path = join(tempDir(t), 'notify.sock');
    const r = receiver(t, path);
    sdNotify(path, `STATUS=${'x'.repeat(NOTIFY_MAX_BYTES)}`);
    sdNotify(path, 'READY=1');
    const m = await r.next();
    assert.deepEqual(m.fields, { READY: '1' });
    assert.deepEqual(r.dropped, [`datagram over ${NOTIFY_MAX_BYTES} bytes`]);
  });

  test('messages queued before the receiver looks are all read, in order', async (t) => {
    const path = join(tempDir(t), 'notify.sock');
    const r = receiver(t, path);
    // Fewer than net.unix.max_dgram_qlen (10 by default): past it this very thread's send would block on its own queue.
    for (let i = 0; i < 8; i++) sdNotify(path, `STATUS=${i}`);
    for (let i = 0; i < 8; i++) assert.equal((await r.next()).fields.STATUS, String(i));
  });

  test('the socket file is 0600, owned as asked, and removed on close', { skip: !isRoot && 'needs root to chown' }, (t) => {
    const path = join(tempDir(t), 'notify.sock');
    const r = receiver(t, path, { owner: { uid: NOBODY, gid: NOBODY } });
    const st = lstatSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, NOBODY);
    r.sock.close();
    assert.equal(existsSync(path), false);
  });

  test('a stale socket file is replaced; a live socket or a regular file is refused', (t) => {
    const dir = tempDir(t);
    const stale = join(dir, 'stale.sock');
    const s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC);
    bind(s, unixAddress(stale, 'p'), stale);
    closeSync(s);
    receiver(t, stale);
    assert.throws(() => NotifySocket.open(stale, { onMessage() {} }), { message: `notify socket ${stale}: a process is listening on it` });
    const file = join(dir, 'file');
    writeFileSync(file, '');
    assert.throws(() => NotifySocket.open(file, { onMessage() {} }), {
      message: `notify socket ${file}: ${file} exists and is not a socket`,
    });
  });

  test('an abstract socket (@name) receives from sdNotify', async (t) => {
    const name = `@daemonkit-notify-${process.pid}`;
    const r = receiver(t, name);
    sdNotify(name, 'WATCHDOG=1');
    const m = await r.next();
    assert.equal(m.pid, process.pid);
    assert.deepEqual(m.fields, { WATCHDOG: '1' });
  });

  test('sdNotify to a full queue fails at once with EAGAIN instead of waiting', (t) => {
    const path = join(tempDir(t), 'full.sock');
    const s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC);
    bind(s, unixAddress(path, 'p'), path);
    t.after(() => closeSync(s));
    const codes: string[] = [];
    for (let i = 0; i < 64 && codes.length === 0; i++) {
      try {
        sdNotify(path, 'STATUS=x');
      } catch (e) {
        codes.push((e as NodeJS.ErrnoException).code!);
      }
    }
    assert.deepEqual(codes, ['EAGAIN']);
  });

  test('sdNotify refuses a relative NOTIFY_SOCKET', () => {
    assert.throws(() => sdNotify('run/notify', 'READY=1'), /neither an absolute path nor '@'-abstract/);
  });
}
