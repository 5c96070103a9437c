// Log files as root opens them: never through a symlink, never a FIFO, and in a directory the service user can write,
// opened as that user (or refused in one line). At start a refusal fails the start; at reopen the old file stays.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { run } from '../helpers/run.js';
import { waitFor } from '../helpers/proc.js';
import { Box, isRoot, pidFromFile, statusJson, workersOf } from './lib.js';

const box = new Box('daemonkit-logsafe-');
afterEach(() => box.killAll());
after(() => box.cleanup());

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync);
const NOBODY = 65534;
const hasNobody =
  readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .some((l) => l.startsWith('nobody:x:65534:')) && /^nogroup:x:65534:/m.test(readFileSync('/etc/group', 'utf8'));
const skip = (!isRoot() && 'needs root') || (!hasNobody && 'needs user nobody (65534) and group nogroup') || (!SETPRIV && 'needs setpriv');
const AS_NOBODY = ['--user', 'nobody', '--group', 'nogroup'];
/** A worker that writes a numbered line every 50 ms. */
const TICKER = ['sh', '-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'];

/** A directory owned by nobody (the service user can write it), under a sandbox others may enter. */
function serviceDir(name: string): string {
  chmodSync(box.dir, 0o755);
  const dir = box.path(name);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/** A file only root may read or write, with a fixed old mtime so any write shows. */
function rootOnlyFile(name: string): { path: string; check: () => void } {
  const path = box.path(name);
  writeFileSync(path, 'root secret\n', { mode: 0o600 });
  utimesSync(path, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
  const before = statSync(path);
  return {
    path,
    check: () => {
      const now = statSync(path);
      assert.equal(readFileSync(path, 'utf8'), 'root secret\n', 'the root file is untouched');
      assert.equal(now.mtimeMs, before.mtimeMs, 'the root file was not written');
      assert.equal(now.uid, 0);
    },
  };
}

/** What nobody does in its own directory (as the worker could): runs a shell command as uid/gid 65534. */
async function asNobody(script: string): Promise<void> {
  const r = await run([SETPRIV!, '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', '--', 'sh', '-c', script], {
    env: box.env(),
  });
  assert.equal(r.code, 0, r.stderr);
}

function mkfifo(path: string): Promise<void> {
  return run(['mkfifo', '-m', '0644', path]).then((r) => assert.equal(r.code, 0, r.stderr));
}

function leftBehind(name: string): string[] {
  return box.files().filter((f) => f.startsWith(`${name}.`));
}

describe('log files opened by root', { skip }, () => {
  test("app.log a symlink to a root-only file in the service user's directory: start refused in one line, the root file untouched", async () => {
    const dir = serviceDir('svc-a');
    const root = rootOnlyFile('precious-a');
    symlinkSync(root.path, `${dir}/app.log`);
    const r = await box.cli(
      [
        'start',
        '--name',
        'a',
        ...AS_NOBODY,
        '--log',
        `${dir}/app.log`,
        '--start-secs',
        '0.2',
        '--',
        'sh',
        '-c',
        'echo written-as-root; exec sleep 1000',
      ],
      {},
      15_000,
    );
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, `daemonkit: a failed to start: refusing log file ${dir}/app.log: it is a symbolic link\n`);
    // Unsupervised, the daemon's stdout and stderr are the same files, opened by the original the same way.
    const nosup = await box.cli(
      [
        'start',
        '--no-supervise',
        '--name',
        'a',
        ...AS_NOBODY,
        '--log',
        `${dir}/app.log`,
        '--',
        'sh',
        '-c',
        'echo written-as-root; exec sleep 1000',
      ],
      {},
      15_000,
    );
    assert.equal(nosup.code, 1, `${nosup.stdout}${nosup.stderr}`);
    assert.equal(nosup.stderr, r.stderr);
    root.check();
    assert.deepEqual(leftBehind('a'), [], 'nothing left behind');
    assert.deepEqual(box.processes(), [], 'no process left');
  });

  test('the worker replaces app.log by a symlink to a root file, then reopen: refused, said in status, the old file still written', async () => {
    const dir = serviceDir('svc-b');
    const root = rootOnlyFile('precious-b');
    const r = await box.cli(['start', '--name', 'b', ...AS_NOBODY, '--log', `${dir}/app.log`, '--start-secs', '0.1', '--', ...TICKER]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => readFileSync(`${dir}/app.log`, 'utf8').includes('tick 2'), 5000));
    await asNobody(`mv '${dir}/app.log' '${dir}/app.log.1' && ln -s '${root.path}' '${dir}/app.log'`);
    const reopen = await box.cli(['reopen', 'b'], {}, 10_000);
    assert.equal(reopen.code, 1, `${reopen.stdout}${reopen.stderr}`);
    const refusal = `reopen refused: ${dir}/app.log is a symbolic link; still writing the previous file`;
    assert.equal(reopen.stderr, `daemonkit: b: ${refusal}\n`);
    const s = await statusJson(box, 'b');
    assert.equal(s.code, 0);
    assert.equal(s.json.logError, refusal);
    const size = statSync(`${dir}/app.log.1`).size;
    assert.ok(await waitFor(() => statSync(`${dir}/app.log.1`).size > size + 20, 5000), 'the old file still receives lines');
    assert.match(
      readFileSync(`${dir}/app.log.1`, 'utf8'),
      new RegExp(`daemonkit supervisor\\[\\d+\\]: ${refusal.replace(/[.[\]]/g, '\\$&')}`),
      'said in the old log too',
    );
    root.check();
    // Put right (a real file again), a reopen is accepted and the error clears.
    await asNobody(`rm '${dir}/app.log'`);
    assert.equal((await box.cli(['reopen', 'b'])).code, 0);
    assert.equal((await statusJson(box, 'b')).json.logError, null);
    assert.ok(await waitFor(() => existsSync(`${dir}/app.log`) && readFileSync(`${dir}/app.log`, 'utf8').includes('tick'), 5000));
    root.check();
  });

  test('a FIFO at the log path: start fails at once in one line; a FIFO at reopen leaves the supervisor supervising and answering', async () => {
    const dir = box.path('fifo-logs');
    mkdirSync(dir, { mode: 0o755 });
    await mkfifo(`${dir}/c.log`);
    const r = await box.cli(['start', '--name', 'c', '--log', `${dir}/c.log`, '--start-secs', '0.1', '--', 'sleep', '1000'], {}, 10_000);
    assert.equal(r.signal, null, 'start did not hang on the FIFO');
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^daemonkit: c failed to start: refusing log file ${dir}/c\\.log: it is (a FIFO|not a regular file)[^\\n]*\\n$`),
    );
    assert.deepEqual(leftBehind('c'), []);
    assert.deepEqual(box.processes(), []);

    const log = `${dir}/d.log`;
    const started = await box.cli(['start', '--name', 'd', '--log', log, '--start-secs', '0.1', '--', ...TICKER]);
    assert.equal(started.code, 0, started.stderr);
    const sup = pidFromFile(box.path('d.pid'));
    assert.ok(await waitFor(() => readFileSync(log, 'utf8').includes('tick 1'), 5000));
    renameSync(log, `${log}.1`);
    await mkfifo(log);
    const reopen = await box.cli(['reopen', 'd'], {}, 10_000);
    assert.equal(reopen.signal, null, 'reopen did not hang');
    assert.equal(reopen.code, 1, reopen.stderr);
    assert.match(reopen.stderr, /reopen refused: .*d\.log is (a FIFO|not a regular file).*; still writing the previous file/);
    const s = await box.cli(['status', 'd', '--json'], {}, 5000);
    assert.equal(s.code, 0, 'status answers');
    assert.match(JSON.parse(s.stdout).logError, /reopen refused/);
    // Still supervising: a killed worker comes back.
    const [worker] = workersOf(sup);
    process.kill(worker!, 'SIGKILL');
    assert.ok(await waitFor(() => workersOf(sup).length === 1 && workersOf(sup)[0] !== worker, 5000), 'the worker was restarted');
    const stop = await box.cli(['stop', 'd'], {}, 15_000);
    assert.equal(stop.code, 0, stop.stderr);
  });

  test("a log in the service user's directory with --user nobody is created by nobody; without --user it is refused in one line", async () => {
    const dir = serviceDir('svc-e');
    const r = await box.cli(['start', '--name', 'e', ...AS_NOBODY, '--log', `${dir}/app.log`, '--start-secs', '0.1', '--', ...TICKER]);
    assert.equal(r.code, 0, r.stderr);
    const st = statSync(`${dir}/app.log`);
    assert.equal(st.uid, NOBODY, 'created as nobody');
    assert.equal(st.gid, NOBODY);
    // A logrotate-style reopen creates it anew: as nobody again.
    renameSync(`${dir}/app.log`, `${dir}/app.log.1`);
    assert.equal((await box.cli(['reopen', 'e'])).code, 0);
    assert.equal(statSync(`${dir}/app.log`).uid, NOBODY, 'recreated as nobody');
    assert.equal((await box.cli(['stop', 'e'])).code, 0);

    const plain = await box.cli(['start', '--name', 'f', '--log', `${dir}/f.log`, '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(plain.code, 1);
    assert.equal(
      plain.stderr,
      `daemonkit: f failed to start: refusing log file ${dir}/f.log: its directory ${dir} is writable by users other than root; pass --user\n`,
    );
    assert.ok(!existsSync(`${dir}/f.log`));
    assert.deepEqual(leftBehind('f'), []);
  });

  test('a symlink planted by root in a root-only directory is refused too (O_NOFOLLOW everywhere)', async () => {
    const dir = box.path('root-logs');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(`${dir}/real.log`, '');
    symlinkSync(`${dir}/real.log`, `${dir}/g.log`);
    const r = await box.cli(['start', '--name', 'g', '--log', `${dir}/g.log`, '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `daemonkit: g failed to start: refusing log file ${dir}/g.log: it is a symbolic link\n`);
    assert.equal(readFileSync(`${dir}/real.log`, 'utf8'), '');
  });
});
