// notify(), the worker's side: on the descriptor the supervisor passed (DAEMONKIT_NOTIFY_FD) when this process still
// has that very socket, with no socket code of its own loaded; else on NOTIFY_SOCKET; else nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotifySocket, notifyPassing, type NotifyMessage } from '../../../src/core/notify-socket.js';
import { notify, NOTIFY_FD_VAR } from '../../../src/core/notify.js';
import { spawn } from '../../../src/sys/spawn.js';
import { waitpid, WNOHANG } from '../../../src/sys/wait.js';
import { kill, SIGKILL } from '../../../src/sys/signal.js';
import { O_CREAT, O_TRUNC, O_WRONLY } from '../../../src/sys/fcntl.js';

const CHILD = 'DK_NOTIFY_FD_CHILD';
/** Where the child finds its sender: fd 3, as a worker without listeners does. */
const CHILD_FD = 3;

/** More datagrams than net.unix.max_dgram_qlen (10 by default) lets a receiver hold unread. */
const BURST = 25;

if (process.env[CHILD] === 'burst') {
  for (let i = 0; i < BURST; i++) notify(`STATUS=${i}`);
  process.stdout.write(JSON.stringify({ sent: true, koffi: false }));
} else if (process.env[CHILD]) {
  const sent = notify(`READY=1\nSTATUS=${process.env[CHILD]}`);
  // What the kernel mapped into this process: koffi's native module is there only if the socket code was loaded.
  const koffi = readFileSync('/proc/self/maps', 'utf8').includes('koffi');
  process.stdout.write(JSON.stringify({ sent, koffi }));
} else {
  const bundle = fileURLToPath(import.meta.url);

  function receiver(t: { after(fn: () => void): void }, path: string) {
    const got: NotifyMessage[] = [];
    const sock = NotifySocket.open(path, { onMessage: (m) => got.push(m) });
    t.after(() => sock.close());
    return { sock, got };
  }

  /** Runs this file as the child with `env` and fd `passFd` (if any) at CHILD_FD; returns its pid and what it printed. */
  function runChild(dir: string, env: string[], passFd: number | null): { pid: number; out: { sent: boolean; koffi: boolean } } {
    const { pid, read } = startChild(dir, env, passFd);
    assert.equal(waitpid(pid)?.status, 0, `child ${pid} failed`);
    return { pid, out: read() };
  }

  function startChild(dir: string, env: string[], passFd: number | null) {
    const outFile = join(dir, `out-${Math.random()}`);
    const inherited = Object.entries(process.env)
      .filter(([k]) => !['NODE_TEST_CONTEXT', 'NODE_OPTIONS', 'NOTIFY_SOCKET', NOTIFY_FD_VAR].includes(k))
      .map(([k, v]) => `${k}=${v}`);
    const pid = spawn({
      path: process.execPath,
      argv: [process.execPath, bundle],
      env: [...inherited, ...env],
      fileActions: [
        { op: 'open', fd: 1, path: outFile, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600 },
        ...(passFd === null ? [] : [{ op: 'dup2' as const, fd: passFd, newfd: CHILD_FD }]),
      ],
    });
    return { pid, read: () => JSON.parse(readFileSync(outFile, 'utf8')) as { sent: boolean; koffi: boolean } };
  }

  async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 50));
  }

  function tempDir(t: { after(fn: () => void): void }): string {
    const dir = mkdtempSync(join(tmpdir(), 'dk-notify-fd-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A receiver the child's descriptor is connected to, one its NOTIFY_SOCKET names, and the sender to pass it. */
  function twoSockets(t: { after(fn: () => void): void }) {
    const dir = tempDir(t);
    const viaFd = receiver(t, join(dir, 'fd.sock'));
    const viaPath = receiver(t, join(dir, 'path.sock'));
    const pass = notifyPassing(viaFd.sock, CHILD_FD)!;
    t.after(() => closeSync(pass.fd));
    return { dir, viaFd, viaPath, pass };
  }

  test('with its own sender at DAEMONKIT_NOTIFY_FD a worker notifies by write(2): the PID is its own, koffi never loads', async (t) => {
    const { dir, viaFd, viaPath, pass } = twoSockets(t);
    assert.match(pass.env, new RegExp(`^${NOTIFY_FD_VAR}=${CHILD_FD}:\\d+$`));
    const { pid, out } = runChild(dir, [pass.env, `NOTIFY_SOCKET=${viaPath.sock.path}`, `${CHILD}=by-fd`], pass.fd);
    await settle();
    assert.deepEqual(out, { sent: true, koffi: false });
    assert.deepEqual(
      viaFd.got.map((m) => [m.pid, m.fields]),
      [[pid, { READY: '1', STATUS: 'by-fd' }]],
    );
    assert.equal(viaPath.got.length, 0, 'nothing went to NOTIFY_SOCKET');
  });

  test('a descriptor that is not the named socket (another inode, or closed) is never written: NOTIFY_SOCKET is used', async (t) => {
    const { dir, viaFd, viaPath, pass } = twoSockets(t);
    const other = pass.env.replace(/:(\d+)$/, (_, ino: string) => `:${Number(ino) + 1}`);
    const a = runChild(dir, [other, `NOTIFY_SOCKET=${viaPath.sock.path}`, `${CHILD}=wrong-inode`], pass.fd);
    const b = runChild(dir, [pass.env, `NOTIFY_SOCKET=${viaPath.sock.path}`, `${CHILD}=no-fd`], null);
    await settle();
    assert.equal(viaFd.got.length, 0, 'the mismatched socket got nothing');
    assert.deepEqual(a.out, { sent: true, koffi: true }, 'the path needs the socket code: /proc/self/maps shows koffi then');
    assert.deepEqual(
      viaPath.got.map((m) => [m.pid, m.fields.STATUS]),
      [
        [a.pid, 'wrong-inode'],
        [b.pid, 'no-fd'],
      ],
    );
  });

  test('past the queue limit a write waits for the receiver: 25 from a child while we do not read all arrive, none fails', async (t) => {
    const { dir, viaFd, viaPath, pass } = twoSockets(t);
    const { pid, read } = startChild(dir, [pass.env, `NOTIFY_SOCKET=${viaPath.sock.path}`, `${CHILD}=burst`], pass.fd);
    let status: number | null = null;
    t.after(() => {
      if (status === null && kill(pid, SIGKILL)) waitpid(pid);
    });
    // Busy, as a supervisor spawning many workers is: nothing drained while the child fills the queue.
    const until = Date.now() + 300;
    while (Date.now() < until);
    for (let i = 0; i < 200 && status === null; i++) {
      await settle();
      status = waitpid(pid, WNOHANG)?.status ?? null;
    }
    assert.equal(status, 0, 'the child got no EAGAIN');
    assert.deepEqual(read(), { sent: true, koffi: false });
    await settle();
    assert.deepEqual(
      viaFd.got.map((m) => m.fields.STATUS),
      Array.from({ length: BURST }, (_, i) => String(i)),
    );
  });

  test('neither DAEMONKIT_NOTIFY_FD nor NOTIFY_SOCKET: notify() returns false and sends nothing', (t) => {
    const dir = tempDir(t);
    const { out } = runChild(dir, [`${CHILD}=none`], null);
    assert.deepEqual(out, { sent: false, koffi: false });
  });

  test('in this process, a variable naming a closed fd falls back to NOTIFY_SOCKET', async (t) => {
    const dir = tempDir(t);
    const viaPath = receiver(t, join(dir, 'path.sock'));
    const saved = { fd: process.env[NOTIFY_FD_VAR], sock: process.env.NOTIFY_SOCKET };
    t.after(() => {
      for (const [k, v] of [
        [NOTIFY_FD_VAR, saved.fd],
        ['NOTIFY_SOCKET', saved.sock],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    });
    process.env[NOTIFY_FD_VAR] = '999999:1';
    process.env.NOTIFY_SOCKET = viaPath.sock.path;
    assert.equal(notify('STATUS=here'), true);
    await settle();
    assert.deepEqual(
      viaPath.got.map((m) => [m.pid, m.fields]),
      [[process.pid, { STATUS: 'here' }]],
    );
  });
}
