// What a failed start says: the program's own error whatever the number of workers, a spawn failure in the words of
// the system call that failed, and a hint when a relative argument missed because the daemon runs in /.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';

const box = new Sandbox();
after(() => box.cleanup());
const env = box.env();

const THROWS = ['node', '-e', 'throw new Error("yy")'];
/** Far longer than a Node start-up on a loaded machine: the verdict comes when the worker exits, not when this ends. */
const SLOW_HOST_START = ['--start-secs', '10'];

describe('a start that fails shows why', () => {
  for (const workers of [1, 2, 3]) {
    test(`${workers} worker${workers === 1 ? '' : 's'} of a program that throws: exit 1 with its stderr tail`, async () => {
      const name = `throws${workers}`;
      const r = await cli(['start', '--name', name, '--workers', String(workers), ...SLOW_HOST_START, '--', ...THROWS], { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^daemonkit: ${name} failed to start: worker \\d \\(pid \\d+\\) exited 1 before it was ready\\n`));
      assert.match(r.stderr, /last lines of its stderr:\n/);
      assert.match(r.stderr, /\n {2}Error: yy\n/);
      assert.ok(!existsSync(box.path(`${name}.pid`)), 'no PID file left');
    });
  }
});

test("a failing program's stderr reaches the terminal escaped: its bytes cannot retitle, recolour or rewrite it", async () => {
  const r = await cli(
    ['start', '--name', 'esc', ...SLOW_HOST_START, '--', 'sh', '-c', 'printf "\\033]0;owned\\007\\033[2Jboom\\r\\n" >&2; exit 3'],
    {
      env,
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f]/, 'no control byte but newlines and tabs');
  assert.match(r.stderr, /\\x1b\]0;owned\\x07\\x1b\[2Jboom/);
});

describe('a program the kernel cannot execute', () => {
  // Mode 0755, no shebang, not ELF: execve says ENOEXEC, and glibc's posix_spawn does not fall back to sh.
  const junk = box.path('junk');
  const junkBytes = Buffer.from([0x00, 0x17, 0xfe, 0x42, 0x99, 0x01, 0x7f, 0x00, 0xab, 0xcd, 0x0a, 0x13]);
  writeFileSync(junk, junkBytes);
  chmodSync(junk, 0o755);
  const because = `ENOEXEC: exec format error, posix_spawn '${junk}'`;

  test('unsupervised: the posix_spawn error', async () => {
    const r = await cli(['start', '--no-supervise', '--name', 'junk-ns', '--', junk], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `daemonkit: junk-ns failed to start: ${because}\n`);
  });

  test('supervised: the same words in start, status and list, never "pid 0" or an errno number', async () => {
    const r = await cli(['start', '--name', 'junk', '--workers', '2', '--', junk], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `daemonkit: junk failed to start: could not spawn worker 0: ${because}\n`);
    const st = await cli(['status', 'junk', '--json'], { env });
    const json = JSON.parse(st.stdout);
    assert.equal(json.reason, `could not spawn worker 0: ${because}`);
    assert.equal(json.workers[0].lastExit, `could not be spawned: ${because}`, st.stdout);
    const list = await cli(['list'], { env });
    assert.match(list.stdout, new RegExp(`\\njunk +failed .*could not spawn worker 0: ENOEXEC: exec format error, posix_spawn '${junk}'`));
    for (const text of [r.stderr, st.stdout, list.stdout]) {
      assert.doesNotMatch(text, /pid 0|errno \d|exited 126/);
    }
  });

  test('a reload whose new worker cannot be spawned says so in the same words; the old worker keeps running', async () => {
    const prog = box.path('swapped');
    copyFileSync('/bin/sleep', prog);
    chmodSync(prog, 0o755);
    const r = await cli(['start', '--name', 'swap', '--start-secs', '0.2', '--', prog, '1000'], { env });
    assert.equal(r.code, 0, r.stderr);
    box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    // A new file at the path (the running one cannot be written: ETXTBSY), one the kernel cannot execute.
    unlinkSync(prog);
    writeFileSync(prog, junkBytes);
    chmodSync(prog, 0o755);
    const reload = await cli(['reload', 'swap'], { env });
    assert.equal(reload.code, 1);
    assert.equal(
      reload.stderr,
      `daemonkit: swap: reload failed: the new worker 0 could not be spawned: ENOEXEC: exec format error, posix_spawn '${prog}'; the old workers keep running\n`,
    );
    const st = await cli(['status', 'swap', '--json'], { env });
    assert.equal(JSON.parse(st.stdout).workers[0].state, 'running');
    assert.equal((await cli(['stop', 'swap'], { env })).code, 0);
  });
});

describe('a relative argument and the daemon running in /', () => {
  const here = mkdtempSync(join(box.dir, 'app-'));
  writeFileSync(join(here, 'app.js'), 'setInterval(() => {}, 1000);\n');

  for (const supervise of [true, false]) {
    test(`node app.js from the app's directory${supervise ? '' : ' (--no-supervise)'}: the failure says to use --cwd`, async () => {
      const name = supervise ? 'app' : 'app-ns';
      const r = await cli(['start', '--name', name, ...(supervise ? [] : ['--no-supervise']), ...SLOW_HOST_START, '--', 'node', 'app.js'], {
        env,
        cwd: here,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Cannot find module '\/app\.js'/);
      assert.match(r.stderr, /\nhint: app\.js is relative and the daemon runs in \/; use --cwd or an absolute path\n$/);
    });
  }

  test('with --cwd the same command starts, and a failure with no such argument has no hint', async () => {
    const ok = await cli(['start', '--name', 'app-cwd', '--cwd', here, '--start-secs', '0.2', '--', 'node', 'app.js'], { env, cwd: here });
    assert.equal(ok.code, 0, ok.stderr);
    box.track(Number(/supervisor pid (\d+)/.exec(ok.stdout)?.[1]));
    assert.equal((await cli(['stop', 'app-cwd'], { env })).code, 0);
    const other = await cli(['start', '--name', 'app-other', '--', 'node', 'missing.js'], { env, cwd: here });
    assert.equal(other.code, 1);
    assert.doesNotMatch(other.stderr, /hint:/);
  });
});

describe('a state directory that cannot be made', () => {
  // DAEMONKIT_HOME under a regular file: mkdir and open fail with ENOTDIR, as they would for a user whose HOME is
  // /nonexistent (EACCES). One line naming the path, exit 1, no stack trace.
  const file = box.path('not-a-directory');
  writeFileSync(file, '');
  const broken = { ...env, DAEMONKIT_HOME: join(file, 'state') };

  for (const command of ['start', 'run']) {
    test(`${command}: one line naming the path, exit 1`, async () => {
      const r = await cli([command, '--name', `nodir-${command}`, '--', 'sleep', '1000'], { env: broken });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^daemonkit: .*ENOTDIR.*${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/state.*\\n$`));
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    });
  }
});
