// sd_notify upward: `run` and `start` under NOTIFY_SOCKET tell the manager above them (systemd) READY=1, RELOADING=1,
// STOPPING=1, STATUS= and WATCHDOG=1, received here on a real unix datagram socket and checked as exact text, in order.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Sandbox } from '../helpers/sandbox.js';
import { cliPath } from '../helpers/paths.js';
import { cli, run } from '../helpers/run.js';
import { alive, children, environ, poll, sleep, waitFor } from '../helpers/proc.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, bind, recvDatagram, socket, unixAddress } from '../../src/sys/socket.js';

const box = new Sandbox('daemonkit-sdnotify-');
after(() => box.cleanup());

const MAX_DATAGRAM = 4096;
const NS_PER_USEC = 1000n;
const MANAGER_VARS = /^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=/;

/** The manager's end: a datagram socket at a path or an abstract '@' name, read every few ms into `got`, in order. */
class Manager {
  readonly got: string[] = [];
  #fd: number;
  #timer: NodeJS.Timeout;

  constructor(readonly address: string) {
    this.#fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, address);
    bind(this.#fd, unixAddress(address, 'test'), address);
    this.#timer = setInterval(() => this.drain(), 5);
  }

  drain(): void {
    for (let d; this.#fd >= 0 && (d = recvDatagram(this.#fd, MAX_DATAGRAM));) this.got.push(d.data.toString('utf8'));
  }

  /** Waits (bounded) for a datagram matching re from index `from` on; returns its index. */
  async waitFor(re: RegExp, from = 0, timeoutMs = 10_000): Promise<number> {
    const i = await poll(
      () => {
        const k = this.got.findIndex((m, j) => j >= from && re.test(m));
        return k >= 0 ? k + 1 : null;
      },
      { timeoutMs },
    );
    assert.ok(i, `no datagram matching ${re} after #${from}; got ${JSON.stringify(this.got)}`);
    return i - 1;
  }

  close(): void {
    clearInterval(this.#timer);
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    if (!this.address.startsWith('@')) rmSync(this.address, { force: true });
  }
}

function manager(t: { after(fn: () => void): void }, abstract = false): Manager {
  const m = new Manager(
    abstract ? `@daemonkit-test-${randomBytes(6).toString('hex')}` : box.path(`manager-${randomBytes(4).toString('hex')}.sock`),
  );
  t.after(() => m.close());
  return m;
}

interface Running {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runFg(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [cliPath, 'run', ...args], { env: box.env(env), stdio: ['ignore', 'pipe', 'pipe'] });
  box.track(child.pid);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out: () => text, exit };
}

/** Workers of a run: its children, tracked for cleanup. */
async function workersOf(pid: number, n: number): Promise<number[]> {
  const ws = await poll(() => (children(pid).length === n ? children(pid) : null));
  assert.ok(ws, `${n} workers under ${pid}`);
  for (const w of ws) box.track(w);
  return ws;
}

const monotonicUsec = () => process.hrtime.bigint() / NS_PER_USEC;

test(
  'run: STATUS while starting, READY=1 once both workers are ready, RELOADING=1 then READY=1 on reload, STOPPING=1 on SIGTERM',
  { timeout: 30_000 },
  async (t) => {
    const m = manager(t);
    const r = runFg(['--name', 'notified', '--workers', '2', '--start-secs', '0.2', '--', 'sleep', '1000'], {
      NOTIFY_SOCKET: m.address,
      WATCHDOG_USEC: '200000',
      WATCHDOG_PID: '1',
    });
    const ready = await m.waitFor(/^READY=1/);
    assert.equal(m.got[ready], 'READY=1\nSTATUS=2/2 workers ready');
    // Before it, only status lines of the start (no READY=1 before the workers are ready).
    assert.ok(ready >= 1, JSON.stringify(m.got));
    for (const line of m.got.slice(0, ready)) assert.match(line, /^STATUS=starting: [01]\/2 workers ready$/);

    // The manager's variables are run's own: no worker sees them.
    for (const w of await workersOf(r.child.pid!, 2))
      assert.deepEqual(
        environ(w).filter((kv) => MANAGER_VARS.test(kv)),
        [],
        `worker ${w}`,
      );
    // WATCHDOG_PID names another process: no pings from us.
    await sleep(300);
    assert.ok(!m.got.includes('WATCHDOG=1'), JSON.stringify(m.got));

    const before = monotonicUsec();
    const reload = await cli(['reload', 'notified'], { env: box.env() });
    assert.equal(reload.code, 0, reload.stderr);
    const afterReload = monotonicUsec();
    const reloading = await m.waitFor(/^RELOADING=1/, ready + 1);
    const [first, stamp, status] = m.got[reloading]!.split('\n');
    assert.equal(first, 'RELOADING=1');
    assert.match(stamp!, /^MONOTONIC_USEC=\d+$/);
    // CLOCK_MONOTONIC, the clock process.hrtime reads: taken while the reload request was under way.
    const usec = BigInt(stamp!.slice('MONOTONIC_USEC='.length));
    assert.ok(usec >= before && usec <= afterReload, `MONOTONIC_USEC ${usec} not within [${before}, ${afterReload}]`);
    assert.equal(status, 'STATUS=reloading 0/2');
    const readyAgain = await m.waitFor(/^READY=1/, reloading + 1);
    assert.equal(m.got[readyAgain], 'READY=1\nSTATUS=2/2 workers ready');
    for (const line of m.got.slice(reloading + 1, readyAgain)) assert.match(line, /^STATUS=reloading [0-2]\/2$/);

    r.child.kill('SIGTERM');
    assert.equal((await r.exit).code, 143, r.out());
    m.drain();
    const stopping = m.got.indexOf('STOPPING=1\nSTATUS=stopping');
    assert.ok(stopping > readyAgain, JSON.stringify(m.got));
    assert.deepEqual(m.got.slice(stopping + 1), ['STATUS=exited'], 'after STOPPING=1, only the end');
  },
);

test(
  'run: SIGHUP while still starting is a reload after the start: READY=1, then RELOADING=1, then READY=1',
  { timeout: 30_000 },
  async (t) => {
    const m = manager(t);
    const r = runFg(['--name', 'early-hup', '--workers', '2', '--start-secs', '1', '--', 'sleep', '1000'], { NOTIFY_SOCKET: m.address });
    try {
      // Its SIGHUP handler is installed with the workers, and they are not ready for another second.
      await workersOf(r.child.pid!, 2);
      r.child.kill('SIGHUP');
      const ready = await m.waitFor(/^READY=1/);
      const reloading = await m.waitFor(/^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading/, ready + 1);
      const readyAgain = await m.waitFor(/^READY=1/, reloading + 1);
      assert.equal(m.got[readyAgain], 'READY=1\nSTATUS=2/2 workers ready');
    } finally {
      r.child.kill('SIGTERM');
    }
    assert.equal((await r.exit).code, 143, r.out());
  },
);

test('run on an abstract (@) socket: READY=1 arrives there too', { timeout: 20_000 }, async (t) => {
  const m = manager(t, true);
  const r = runFg(['--start-secs', '0.1', '--', 'sleep', '1000'], { NOTIFY_SOCKET: m.address });
  const ready = await m.waitFor(/^READY=1/);
  assert.equal(m.got[ready], 'READY=1\nSTATUS=1/1 workers ready');
  r.child.kill('SIGTERM');
  assert.equal((await r.exit).code, 143, r.out());
  m.drain();
  assert.ok(m.got.includes('STOPPING=1\nSTATUS=stopping'), JSON.stringify(m.got));
});

test('a worker that crashes after it is ready: STATUS says it restarts, and when', { timeout: 20_000 }, async (t) => {
  const m = manager(t);
  const once = box.path('crashed-once');
  const worker = `if [ "$DAEMONKIT_TASK_ID" = 1 ] && [ ! -e ${once} ]; then touch ${once}; sleep 0.4; exit 7; fi; exec sleep 1000`;
  const r = runFg(['--workers', '2', '--start-secs', '0.1', '--', 'sh', '-c', worker], { NOTIFY_SOCKET: m.address });
  const ready = await m.waitFor(/^READY=1/);
  const restarting = await m.waitFor(/^STATUS=worker 1 restarting/, ready + 1);
  assert.equal(restarting, ready + 1, `the first line after READY=1 says why a worker is missing: ${JSON.stringify(m.got)}`);
  assert.match(m.got[restarting]!, /^STATUS=worker 1 restarting in \d+(\.\d+)?s: exited 7$/);
  // Back up: the status line says so again (READY=1 only ends a start or a reload).
  await m.waitFor(/^STATUS=2\/2 workers ready$/, restarting + 1);
  assert.ok(!m.got.slice(ready + 1).some((x) => x.startsWith('READY=1')), JSON.stringify(m.got));
  r.child.kill('SIGTERM');
  assert.equal((await r.exit).code, 143, r.out());
});

test(
  'WATCHDOG_USEC for us (no WATCHDOG_PID): WATCHDOG=1 at about half the interval, none after STOPPING=1',
  { timeout: 20_000 },
  async (t) => {
    const m = manager(t);
    const r = runFg(['--start-secs', '0.1', '--', 'sleep', '1000'], { NOTIFY_SOCKET: m.address, WATCHDOG_USEC: '200000' });
    const first = await m.waitFor(/^WATCHDOG=1$/);
    await sleep(1000);
    const pings = m.got.slice(first).filter((x) => x === 'WATCHDOG=1').length;
    assert.ok(pings >= 3, `${pings} pings in a second: ${JSON.stringify(m.got)}`);
    r.child.kill('SIGTERM');
    assert.equal((await r.exit).code, 143, r.out());
    m.drain();
    const stopping = m.got.indexOf('STOPPING=1\nSTATUS=stopping');
    assert.ok(stopping > 0);
    assert.ok(!m.got.slice(stopping).includes('WATCHDOG=1'), JSON.stringify(m.got.slice(stopping)));
  },
);

test(
  'start under NOTIFY_SOCKET: READY=1 names the supervisor with MAINPID=, the PID in the PID file; it takes over the watchdog',
  { timeout: 20_000 },
  async (t) => {
    const m = manager(t);
    // As systemd starts it: WATCHDOG_PID is the main process it started, the CLI (the shell's PID, which exec keeps).
    const argv = ['start', '--name', 'detached', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000'];
    const started = await run(['sh', '-c', 'WATCHDOG_PID=$$ exec "$@"', 'sh', process.execPath, cliPath, ...argv], {
      env: box.env({ NOTIFY_SOCKET: m.address, WATCHDOG_USEC: '200000' }),
    });
    assert.equal(started.code, 0, started.stderr);
    const supervisor = Number(readFileSync(box.path('detached.pid'), 'utf8'));
    box.track(supervisor);
    const ready = await m.waitFor(/^READY=1/);
    assert.equal(m.got[ready], `READY=1\nMAINPID=${supervisor}\nSTATUS=2/2 workers ready`);
    for (const w of await workersOf(supervisor, 3).then((c) =>
      c.filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep')),
    )) {
      assert.deepEqual(
        environ(w).filter((kv) => MANAGER_VARS.test(kv)),
        [],
        `worker ${w}`,
      );
    }
    await m.waitFor(/^WATCHDOG=1$/, ready + 1);
    assert.equal((await cli(['stop', 'detached'], { env: box.env() })).code, 0);
    const stopping = await m.waitFor(/^STOPPING=1/, ready + 1);
    assert.equal(m.got[stopping], 'STOPPING=1\nSTATUS=stopping');
    assert.ok(await waitFor(() => !alive(supervisor)));
  },
);

test(
  "the manager's socket removed mid-run: sends fail, said once, and the service goes on (reload, stop)",
  { timeout: 20_000 },
  async (t) => {
    const m = manager(t);
    const r = runFg(['--name', 'orphaned', '--start-secs', '0.1', '--', 'sleep', '1000'], {
      NOTIFY_SOCKET: m.address,
      WATCHDOG_USEC: '100000',
    });
    await m.waitFor(/^READY=1/);
    m.close();
    const [worker] = await workersOf(r.child.pid!, 1);
    await sleep(300); // watchdog pings into nothing
    const reload = await cli(['reload', 'orphaned'], { env: box.env() });
    assert.equal(reload.code, 0, reload.stderr + r.out());
    assert.ok(alive(r.child.pid!));
    assert.ok(!alive(worker!), 'the reload replaced the worker');
    assert.equal((await cli(['status', 'orphaned'], { env: box.env() })).code, 0);
    assert.equal(r.out().match(/cannot send to the service manager/g)?.length, 1, r.out());
    r.child.kill('SIGTERM');
    assert.equal((await r.exit).code, 143, r.out());
  },
);

test('WATCHDOG_USEC of 58 days (past what a Node timer holds): no ping flood, no warning', { timeout: 30_000 }, async (t) => {
  const m = manager(t);
  const r = runFg(['--start-secs', '0.1', '--', 'sleep', '1000'], { NOTIFY_SOCKET: m.address, WATCHDOG_USEC: '5000000000000' });
  await m.waitFor(/^READY=1/);
  await sleep(500);
  r.child.kill('SIGTERM');
  await r.exit;
  assert.deepEqual(
    m.got.filter((d) => d.startsWith('WATCHDOG=1')),
    [],
    `${m.got.length} datagrams`,
  );
  assert.doesNotMatch(r.out(), /TimeoutOverflowWarning/);
});
