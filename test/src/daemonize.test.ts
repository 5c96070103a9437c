// The library end to end: a real Node service daemonizes itself; every property is read back from /proc.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { fixture, run } from '../helpers/run.js';
import { alive, cwd, fds, stat, status, waitFor } from '../helpers/proc.js';
import { inspectPidfile } from '../../src/core/pidfile.js';
import { REPORT_MAX_BYTES } from '../../src/core/messages.js';
import { DAEMON_READY_FD } from '../../src/core/plan.js';

const box = new Sandbox();
after(() => box.cleanup());

function ancestors(pid: number): number[] {
  const out: number[] = [];
  for (let p = pid; p > 1; p = stat(p).ppid) out.push(p);
  return out;
}

function startFixture(mode: string, options: object, extraEnv: Record<string, string> = {}) {
  return run([process.execPath, fixture('library-daemon.mjs')], {
    env: box.env({ FIXTURE_MODE: mode, FIXTURE_OPTIONS: JSON.stringify(options), ...extraEnv }),
  });
}

describe('a library daemon that becomes ready', () => {
  const pidfile = box.path('svc.pid');
  const log = box.path('svc.log');
  const report = box.path('svc.report.json');
  let pid = 0;

  before(async () => {
    const r = await startFixture(
      'http',
      { pidfile, log, umask: '027', cwd: box.dir, env: { APP_MODE: 'prod' } },
      { FIXTURE_REPORT: report, FIXTURE_RELOADS: box.path('reloads') },
    );
    assert.equal(r.code, 0, r.stderr);
    pid = box.track(Number(readFileSync(pidfile, 'utf8')));
  });

  test('the original exited 0 only after ready, and the PID file says exactly "PID\\n", mode 0644, locked', () => {
    assert.match(readFileSync(pidfile, 'utf8'), /^\d+\n$/);
    assert.equal(statSync(pidfile).mode & 0o777, 0o644);
    assert.deepEqual(inspectPidfile(pidfile), { state: 'running', pid });
    assert.ok(alive(pid));
  });

  test('it is in its own session, not its leader, with no terminal, orphaned to init or a subreaper', () => {
    const s = stat(pid);
    assert.notEqual(s.session, s.pid, 'not a session leader');
    assert.notEqual(s.session, stat(process.pid).session, 'not in the caller session');
    assert.equal(s.ttyNr, 0);
    assert.ok(s.ppid === 1 || ancestors(process.pid).includes(s.ppid), `parent ${s.ppid}`);
  });

  test('cwd, umask, signal mask and handlers as asked', () => {
    assert.equal(cwd(pid), box.dir);
    const st = status(pid);
    assert.equal(st.Umask, '0027');
    assert.equal(st.SigBlk, '0000000000000000');
    // Node itself ignores SIGPIPE (13) and SIGXFSZ (25) at startup; nothing else may be ignored.
    assert.equal(BigInt(`0x${st.SigIgn}`) & ~((1n << 12n) | (1n << 24n)), 0n, `SigIgn ${st.SigIgn}`);
  });

  test('stdio on /dev/null and the log; the PID file fd is close-on-exec; no daemonkit marker left in process.env', () => {
    const table = fds(pid);
    assert.equal(table.get(0), '/dev/null');
    assert.equal(table.get(1), log);
    assert.equal(table.get(2), log);
    assert.equal(table.get(3), pidfile);
    const flags = /flags:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/3`, 'utf8'))![1]!;
    assert.ok((parseInt(flags, 8) & 0o2000000) !== 0, 'fd 3 close-on-exec, so the lock cannot leak into children');
    const { env } = JSON.parse(readFileSync(report, 'utf8'));
    assert.deepEqual(
      Object.keys(env).filter((k) => k.startsWith('DAEMONKIT_')),
      [],
    );
    assert.equal(env.APP_MODE, 'prod');
  });

  test('a second start with the same PID file fails with "already running (pid N)"', async () => {
    const r = await startFixture('http', { pidfile, log });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`already running \\(pid ${pid}\\)`));
  });

  test('SIGHUP emits reload and does not kill it', async () => {
    process.kill(pid, 'SIGHUP');
    assert.ok(await waitFor(() => existsSync(box.path('reloads'))));
    assert.match(readFileSync(box.path('reloads'), 'utf8'), new RegExp(`reloaded ${pid}`));
    assert.ok(alive(pid));
  });

  test('SIGTERM ends it cleanly and removes the PID file', async () => {
    process.kill(pid, 'SIGTERM');
    assert.ok(await waitFor(() => !alive(pid)));
    assert.equal(existsSync(pidfile), false);
  });
});

describe('a library daemon that fails before ready', () => {
  for (const [mode, expect] of [
    ['throw', /database unreachable: connect ECONNREFUSED[\s\S]*library-daemon\.mjs/],
    ['fail', /config file \/etc\/app\.conf: bad key "port"/],
    ['exit', /exited with code 3 before it called ready\(\)[\s\S]*about to exit 3/],
  ] as const) {
    test(`${mode}: the original exits 1 with the daemon's own error, and nothing is left behind`, async () => {
      const pidfile = box.path(`${mode}.pid`);
      const reportPath = box.path(`${mode}.json`);
      const r = await startFixture(mode, { pidfile, stderr: box.path(`${mode}.err`) }, { FIXTURE_REPORT: reportPath });
      assert.equal(r.code, 1);
      assert.match(r.stderr, expect);
      const { pid } = JSON.parse(readFileSync(reportPath, 'utf8'));
      box.track(pid);
      assert.ok(await waitFor(() => !alive(pid)), 'the daemon is gone');
      assert.equal(existsSync(pidfile), false, 'no PID file left');
    });
  }

  test('a daemon that never calls ready() is stopped after readyTimeout and the original says so', async () => {
    const reportPath = box.path('never.json');
    const t0 = Date.now();
    const r = await startFixture('never', { pidfile: box.path('never.pid'), readyTimeout: 1 }, { FIXTURE_REPORT: reportPath });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not ready after 1s; stopped it\n\(exited 0 when stopped\)/);
    assert.ok(Date.now() - t0 >= 1000);
    const { pid } = JSON.parse(readFileSync(reportPath, 'utf8'));
    box.track(pid);
    assert.ok(await waitFor(() => !alive(pid)));
    assert.equal(existsSync(box.path('never.pid')), false);
  });

  test('a failure whose message is longer than a report may be: the original shows its start, clipped', async () => {
    const reportPath = box.path('fail-long.json');
    const r = await startFixture(
      'fail-long',
      { pidfile: box.path('fail-long.pid') },
      { FIXTURE_REPORT: reportPath, FIXTURE_BYTES: String(4 * REPORT_MAX_BYTES) },
    );
    box.track(JSON.parse(readFileSync(reportPath, 'utf8')).pid);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad config: x{100}/);
    assert.match(r.stderr, /x…/);
    assert.ok(r.stderr.length < REPORT_MAX_BYTES, `${r.stderr.length} bytes of stderr`);
  });

  test('a daemon that writes on its ready descriptor without end is stopped once it passes the limit', async () => {
    const reportPath = box.path('flood.json');
    const r = await startFixture(
      'flood',
      { pidfile: box.path('flood.pid'), readyTimeout: 60 },
      { FIXTURE_REPORT: reportPath, FIXTURE_READY_FD: String(DAEMON_READY_FD), FIXTURE_BYTES: String(4 * REPORT_MAX_BYTES) },
    );
    const { pid } = JSON.parse(readFileSync(reportPath, 'utf8'));
    box.track(pid);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`the daemon sent a report over ${REPORT_MAX_BYTES / 1024} KiB; stopped it`));
    assert.ok(await waitFor(() => !alive(pid)), 'the daemon is gone');
    assert.equal(existsSync(box.path('flood.pid')), false);
  });

  test('an unwritable log path fails in the original, naming the path', async () => {
    const r = await startFixture('http', { pidfile: box.path('nolog.pid'), log: '/proc/daemonkit/none.log' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open log file \/proc\/daemonkit\/none\.log/);
    assert.equal(existsSync(box.path('nolog.pid')), false);
  });

  test('a nonexistent cwd is a usage error naming the option', async () => {
    const r = await startFixture('http', { cwd: box.path('no/such/dir') });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid cwd '.*no\/such\/dir': no such directory/);
  });
});

describe('a process that is already detached', () => {
  test('under systemd (INVOCATION_ID) it does not fork: it takes the PID file and runs in place', async () => {
    const pidfile = box.path('inplace.pid');
    const reportPath = box.path('inplace.json');
    const { spawn } = await import('node:child_process');
    const env = box.env({
      FIXTURE_MODE: 'ready',
      FIXTURE_OPTIONS: JSON.stringify({ pidfile }),
      FIXTURE_REPORT: reportPath,
      INVOCATION_ID: 'test',
    });
    const child = spawn(process.execPath, [fixture('library-daemon.mjs')], { env, stdio: 'ignore' });
    box.track(child.pid);
    assert.ok(await waitFor(() => existsSync(reportPath)));
    const rep = JSON.parse(readFileSync(reportPath, 'utf8'));
    assert.equal(rep.pid, child.pid);
    assert.equal(rep.detached, false);
    assert.equal(readFileSync(pidfile, 'utf8'), `${child.pid}\n`);
    child.kill('SIGTERM');
    assert.ok(await waitFor(() => !existsSync(pidfile)));
  });
});

test('fds 3..300 held open by the shell are not inherited by the daemon', async () => {
  const pidfile = box.path('leaky.pid');
  const marker = box.path('leaked-fd-target');
  writeFileSync(marker, '');
  const script = `for fd in $(seq 3 300); do eval "exec $fd<'${marker}'"; done; exec "$0" "$@"`;
  const r = await run(['/bin/bash', '-c', script, process.execPath, fixture('library-daemon.mjs')], {
    env: box.env({ FIXTURE_MODE: 'http', FIXTURE_OPTIONS: JSON.stringify({ pidfile }) }),
  });
  assert.equal(r.code, 0, r.stderr);
  const pid = box.track(Number(readFileSync(pidfile, 'utf8')));
  const leaked = [...fds(pid)].filter(([, target]) => target === marker);
  assert.deepEqual(leaked, []);
});
