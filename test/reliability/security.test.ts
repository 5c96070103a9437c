// Security: the PID file cannot be redirected or swapped, the control socket is its owner's only, privileges are
// really dropped, files are not group- or world-writable, the environment is exactly what was asked, no fd leaks in.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { cliPath } from '../helpers/paths.js';
import { environ, fds, status as procStatus, waitFor } from '../helpers/proc.js';
import { assertConsistent, Box, cmdline, isRoot, workersOf, modeOf, pidFromFile, statusJson } from './lib.js';

const box = new Box();
afterEach(() => box.killAll());
after(() => box.cleanup());

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync);
/** The access-mode bits of open(2)'s flags (fcntl.h; absent from Node's fs.constants). */
const O_ACCMODE = 0o3;
const passwd = readFileSync('/etc/passwd', 'utf8');
const hasUser = (u: string) => passwd.split('\n').some((l) => l.startsWith(`${u}:`));
/** A user with a supplementary group in /etc/group (Debian's postgres is in ssl-cert), to tell initgroups from setgroups([gid]). */
const withGroups = (() => {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid, members] = line.split(':');
    for (const m of (members ?? '').split(',').filter(Boolean)) {
      const row = passwd
        .split('\n')
        .find((l) => l.startsWith(`${m}:`))
        ?.split(':');
      if (row && row[2] !== '0' && row[3] !== gid)
        return { user: m, uid: Number(row[2]), gid: Number(row[3]), extra: Number(gid), group: name };
    }
  }
  return null;
})();

/** Runs a command as another user, with no supplementary groups. */
function asUser(user: string, group: string, argv: string[], env: NodeJS.ProcessEnv = box.env()) {
  return run([SETPRIV!, '--reuid', user, '--regid', group, '--clear-groups', '--', ...argv], { env });
}

/** A state directory others may enter (the sandbox itself is 0700): root's, 0755. */
function openStateDir(name: string): { dir: string; env: Record<string, string> } {
  const dir = box.path(name);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  chmodSync(box.dir, 0o755);
  return { dir, env: { DAEMONKIT_HOME: dir } };
}

describe('the PID file', () => {
  test('a symlink planted at the PID file path: every command refuses it in words, the target is untouched', async () => {
    const target = box.path('precious');
    writeFileSync(target, 'keep me\n', { mode: 0o600 });
    const before = statSync(target);
    symlinkSync(target, box.path('planted.pid'));
    symlinkSync(box.path('does-not-exist'), box.path('dangling.pid'));
    for (const name of ['planted', 'dangling']) {
      const start = await box.cli(['start', '--name', name, '--start-secs', '0.1', '--', 'sleep', '1000']);
      assert.equal(start.code, 1);
      assert.equal(
        start.stderr,
        `daemonkit: ${name} failed to start: refusing PID file ${box.path(`${name}.pid`)}: it is a symbolic link\n`,
      );
      const nosup = await box.cli(['start', '--no-supervise', '--name', name, '--', 'sleep', '1000']);
      assert.equal(nosup.code, 1);
      assert.match(nosup.stderr, /symbolic link/);
      const st = await box.cli(['status', name]);
      assert.equal(st.code, 4, st.stderr);
      assert.equal(st.stdout, `${name}: unknown (refusing PID file ${box.path(`${name}.pid`)}: it is a symbolic link)\n`);
      const stop = await box.cli(['stop', name]);
      assert.notEqual(stop.code, 0);
      assert.equal(stop.stderr, `daemonkit: ${name}: refusing PID file ${box.path(`${name}.pid`)}: it is a symbolic link\n`);
    }
    assert.equal(readFileSync(target, 'utf8'), 'keep me\n');
    const after = statSync(target);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.mode, before.mode);
    assert.equal(existsSync(box.path('does-not-exist')), false, 'nothing created through the dangling link');
    assert.ok(lstatSync(box.path('planted.pid')).isSymbolicLink());
    assert.deepEqual(box.processes(), []);
  });

  test(
    'as root, a PID file in a directory others can write to is refused with a clear error',
    { skip: !isRoot() && 'needs root' },
    async () => {
      const shared = box.path('shared');
      mkdirSync(shared);
      chmodSync(shared, 0o1777);
      const owned = box.path('owned-by-nobody');
      mkdirSync(owned);
      chownSync(owned, 65534, 65534);
      // root's, but writable by a group that is not root's; and root's, inside one the user owns (they can rename it).
      const grouped = box.path('grouped');
      mkdirSync(grouped);
      chmodSync(grouped, 0o775);
      chownSync(grouped, 0, 65534);
      const below = join(owned, 'below');
      mkdirSync(below);
      const cases: Array<[string, string]> = [
        [shared, `its directory ${shared}`],
        [owned, `its directory ${owned}`],
        [grouped, `its directory ${grouped}`],
        [below, `the directory ${owned} above it`],
      ];
      for (const [dir, where] of cases) {
        const pidfile = join(dir, 'x.pid');
        const r = await box.cli(['start', '--pidfile', pidfile, '--log', box.path('x.log'), '--start-secs', '0.1', '--', 'sleep', '1000']);
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr,
          `daemonkit: sleep failed to start: refusing PID file ${pidfile}: ${where} is writable by users other than root\n`,
        );
        assert.deepEqual(
          readdirSync(dir).filter((f) => f !== 'below'),
          [],
          'nothing created there',
        );
        const nosup = await box.cli(['start', '--no-supervise', '--pidfile', pidfile, '--log', box.path('x.log'), '--', 'sleep', '1000']);
        assert.equal(nosup.code, 1);
        assert.match(nosup.stderr, /writable by users other than root/);
      }
      // The same through DAEMONKIT_HOME.
      const r = await box.cli(['start', '--name', 'viahome', '--start-secs', '0.1', '--', 'sleep', '1000'], { DAEMONKIT_HOME: shared });
      assert.equal(r.code, 1);
      // Its log (STATE/viahome.log) is in that directory too, and the original refuses it before the PID file is tried.
      assert.match(r.stderr, /refusing (PID|log) file .*viahome\.(pid|log): its directory .* is writable by users other than root/);
      assert.ok(!readdirSync(shared).some((f) => /\.(pid|sock|json)$/.test(f)));
      assert.deepEqual(box.processes(), []);
    },
  );

  test('a FIFO at the PID file path: status says it is no PID file instead of blocking in open(2)', async () => {
    const fifo = box.path('fifo.pid');
    execFileSync('mkfifo', [fifo]);
    const r = await box.cli(['status', '--pidfile', fifo], {}, 5000);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, `fifo: unknown (refusing PID file ${fifo}: not a regular file)\n`);
  });

  test(
    'as root, a state directory others can write to is refused even when the PID file and log are elsewhere',
    { skip: !isRoot() && 'needs root' },
    async () => {
      // The control socket and the record live there: chmod, chown and writes by root must not be steerable by a symlink.
      const state = box.path('shared-state');
      mkdirSync(state);
      chmodSync(state, 0o1777);
      const run = box.path('root-run');
      mkdirSync(run);
      for (const mode of [[], ['--no-supervise']]) {
        const r = await box.cli(
          [
            'start',
            ...mode,
            '--name',
            'elsewhere',
            '--pidfile',
            join(run, 'e.pid'),
            '--log',
            join(run, 'e.log'),
            '--start-secs',
            '0.1',
            '--',
            'sleep',
            '1000',
          ],
          { DAEMONKIT_HOME: state },
        );
        assert.equal(r.code, 1, r.stdout);
        assert.equal(
          r.stderr,
          `daemonkit: elsewhere failed to start: refusing state directory ${state}: it is writable by users other than root\n`,
        );
        assert.deepEqual(readdirSync(state), [], 'nothing created there');
        assert.deepEqual(box.processes(), []);
      }
    },
  );
});

describe('the control socket', { skip: (!isRoot() || !SETPRIV || !hasUser('nobody')) && 'needs root, setpriv and the nobody user' }, () => {
  test('0600, owned by the service user; another user is denied, gets no control, and the service is untouched', async () => {
    const { dir, env } = openStateDir('sockstate');
    const r = await box.cli(['start', '--name', 'guarded', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000'], env);
    assert.equal(r.code, 0, r.stderr);
    const sock = join(dir, 'guarded.sock');
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
    const sup = pidFromFile(join(dir, 'guarded.pid'));
    const workers = workersOf(sup);
    // A raw connection as nobody.
    const raw = await asUser('nobody', 'nogroup', [
      process.execPath,
      '-e',
      `require('net').createConnection(${JSON.stringify(sock)}).on('error', (e) => { console.log(e.code); }).on('connect', () => console.log('connected'))`,
    ]);
    assert.equal(raw.stdout, 'EACCES\n');
    // The CLI as nobody: status unknown (LSB 4), stop/reload/reopen refused; nothing happened to the service.
    const userEnv = box.env(env);
    const status = await asUser('nobody', 'nogroup', [process.execPath, cliPath, 'status', 'guarded'], userEnv);
    assert.equal(status.code, 4);
    assert.match(status.stdout, /unknown \(pid \d+: permission denied on the control socket\)/);
    const stop = await asUser('nobody', 'nogroup', [process.execPath, cliPath, 'stop', 'guarded'], userEnv);
    assert.notEqual(stop.code, 0);
    assert.equal(stop.stderr, `daemonkit: guarded: permission denied on ${sock}\n`);
    for (const cmd of ['reload', 'reopen']) {
      const x = await asUser('nobody', 'nogroup', [process.execPath, cliPath, cmd, 'guarded'], userEnv);
      assert.equal(x.code, 4, `${cmd}: ${x.stderr}`);
      assert.equal(x.stderr, `daemonkit: guarded: permission denied on ${sock}\n`);
    }
    assert.deepEqual(workersOf(sup).sort(), workers.sort(), 'same workers: no reload, no stop happened');
    const s = await statusJson(box, 'guarded', env);
    assert.equal(s.json.workers.length, workers.length);
    assert.ok(s.json.workers.every((w) => w.restarts === 0));
    assert.equal((await box.cli(['stop', 'guarded'], env)).code, 0);
  });
});

describe('privileges', { skip: (!isRoot() || !SETPRIV || !hasUser('nobody')) && 'needs root, setpriv and the nobody user' }, () => {
  test("--no-supervise --user: the daemon holds the PID file lock on a read-only descriptor: it cannot rewrite root's file", async () => {
    const { dir, env } = openStateDir('rostate');
    const r = await box.cli(['start', '--no-supervise', '--name', 'ro', '--user', 'nobody', '--', 'sleep', '1000'], env);
    assert.equal(r.code, 0, r.stderr);
    const pidfile = join(dir, 'ro.pid');
    const daemon = pidFromFile(pidfile);
    const [fd] = [...fds(daemon)].find(([, target]) => target === pidfile)!;
    const flags = parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${daemon}/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    assert.equal(flags & O_ACCMODE, constants.O_RDONLY, `fd ${fd} flags ${flags.toString(8)}`);
    assert.equal(statSync(pidfile).uid, 0);
    assert.equal((await box.cli(['status', 'ro'], env)).code, 0, 'still locked and proven');
    assert.equal((await box.cli(['stop', 'ro'], env)).code, 0);
  });

  test('--user nobody --group nogroup: workers run as nobody with only its groups; PID file and socket made before the drop', async () => {
    const { dir, env } = openStateDir('idstate');
    const r = await box.cli(
      [
        'start',
        '--name',
        'dropped',
        '--user',
        'nobody',
        '--group',
        'nogroup',
        '--workers',
        '2',
        '--start-secs',
        '0.1',
        '--',
        'sleep',
        '1000',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(join(dir, 'dropped.pid'));
    for (const w of workersOf(sup)) {
      const s = procStatus(w);
      assert.equal(s.Uid, '65534\t65534\t65534\t65534');
      assert.equal(s.Gid, '65534\t65534\t65534\t65534');
      assert.equal(s.Groups, '65534', 'initgroups: nobody has no groups but its own; root group 0 is gone');
      assert.equal(s.CapEff, '0000000000000000');
      const e = environ(w);
      assert.ok(e.includes('HOME=/nonexistent') && e.includes('USER=nobody') && e.includes('LOGNAME=nobody'));
    }
    // Root made them (nobody cannot create files in this root-owned 0755 directory): before the drop.
    const pid = statSync(join(dir, 'dropped.pid'));
    assert.equal(pid.uid, 0);
    assert.equal(pid.mode & 0o777, 0o644);
    const sock = statSync(join(dir, 'dropped.sock'));
    assert.equal(sock.uid, 65534, 'the socket belongs to the service user');
    assert.equal(sock.mode & 0o777, 0o600);
    // So the service user may control its service; another user (daemon) may not.
    const userEnv = box.env(env);
    assert.equal((await asUser('nobody', 'nogroup', [process.execPath, cliPath, 'status', 'dropped'], userEnv)).code, 0);
    if (hasUser('daemon'))
      assert.equal((await asUser('daemon', 'daemon', [process.execPath, cliPath, 'status', 'dropped'], userEnv)).code, 4);
    assert.equal((await box.cli(['stop', 'dropped'], env)).code, 0);
  });

  test(
    "--user with supplementary groups: the workers get exactly that user's groups (initgroups)",
    { skip: !withGroups && 'no user with a supplementary group in /etc/group' },
    async () => {
      const u = withGroups!;
      const r = await box.cli(['start', '--name', 'grouped', '--user', u.user, '--start-secs', '0.1', '--', 'sleep', '1000']);
      assert.equal(r.code, 0, r.stderr);
      const sup = pidFromFile(box.path('grouped.pid'));
      const [w] = workersOf(sup);
      const s = procStatus(w!);
      assert.equal(s.Uid, `${u.uid}\t${u.uid}\t${u.uid}\t${u.uid}`);
      assert.equal(s.Gid, `${u.gid}\t${u.gid}\t${u.gid}\t${u.gid}`);
      assert.deepEqual(
        s
          .Groups!.split(' ')
          .map(Number)
          .sort((a, b) => a - b),
        [u.gid, u.extra].sort((a, b) => a - b),
      );
      assert.equal((await box.cli(['stop', 'grouped'])).code, 0);
    },
  );

  test('--user: a clean stop leaves no PID file behind', async () => {
    const { dir, env } = openStateDir('stopstate');
    const r = await box.cli(['start', '--name', 'dropstop', '--user', 'nobody', '--start-secs', '0.1', '--', 'sleep', '1000'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await box.cli(['stop', 'dropstop'], env)).code, 0);
    assert.equal(existsSync(join(dir, 'dropstop.pid')), false);
    const s = await box.cli(['status', 'dropstop'], env);
    assert.equal(s.code, 3, s.stdout);
    assert.equal(s.stdout, 'dropstop: not running\n');
  });

  test('--user: a supervisor that gives up on its own (crash loop) records why and removes its PID file', async () => {
    const { dir, env } = openStateDir('giveup');
    const r = await box.cli(
      [
        'start',
        '--name',
        'quitter',
        '--user',
        'nobody',
        '--start-secs',
        '0.1',
        '--backoff-min',
        '10ms',
        '--max-restarts',
        '2',
        '--',
        'sh',
        '-c',
        'sleep 0.2; exit 3',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => box.processes().length === 0, 5000));
    const s = await statusJson(box, 'quitter', env);
    assert.equal(existsSync(join(dir, 'quitter.pid')), false, 'PID file removed');
    assert.equal(s.code, 3);
    assert.match(s.json.reason ?? '', /ended 3 times in 60s \(2 restarts allowed\)/);
  });
});

describe('umask and modes', () => {
  test('default umask 022: nothing the daemon or its workers create is group- or world-writable; --umask 077 is honoured', async () => {
    const made = box.path('made');
    mkdirSync(made);
    chmodSync(made, 0o777); // the directory itself lets anyone write: only the umask can keep the files safe
    const state = box.path('fresh-state'); // created by daemonkit
    const r = await box.cli(
      [
        'start',
        '--name',
        'masked',
        '--workers',
        '2',
        '--start-secs',
        '0.2',
        '--',
        'sh',
        '-c',
        `touch "${made}/file.$DAEMONKIT_TASK_ID"; mkdir "${made}/dir.$DAEMONKIT_TASK_ID"; echo hi; exec sleep 1000`,
      ],
      { DAEMONKIT_HOME: state },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => existsSync(`${made}/dir.1`) && existsSync(`${made}/file.1`)));
    // A logrotate-style reopen creates the log anew: same rule.
    const { renameSync } = await import('node:fs');
    renameSync(join(state, 'masked.log'), join(state, 'masked.log.1'));
    assert.equal((await box.cli(['reopen', 'masked'], { DAEMONKIT_HOME: state })).code, 0);
    const expect: Record<string, number> = {
      'masked.pid': 0o644,
      'masked.log': 0o644,
      'masked.log.1': 0o644,
      'masked.sock': 0o600,
      'masked.json': 0o600,
    };
    assert.equal(modeOf(state), 0o755);
    for (const [f, mode] of Object.entries(expect)) assert.equal(modeOf(join(state, f)), mode, f);
    for (const f of readdirSync(made)) {
      const m = modeOf(join(made, f));
      assert.equal(m & 0o022, 0, `${f} is ${m.toString(8)}`);
      assert.equal(m, f.startsWith('dir') ? 0o755 : 0o644);
    }
    assert.equal((await box.cli(['stop', 'masked'], { DAEMONKIT_HOME: state })).code, 0);
    // An explicit umask is what the workers get.
    const r2 = await box.cli([
      'start',
      '--name',
      'tight',
      '--umask',
      '077',
      '--start-secs',
      '0.2',
      '--',
      'sh',
      '-c',
      `touch "${made}/tight"; exec sleep 1000`,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(await waitFor(() => existsSync(`${made}/tight`)));
    assert.equal(modeOf(`${made}/tight`), 0o600);
    assert.equal(procStatus(workersOf(pidFromFile(box.path('tight.pid')))[0]!).Umask, '0077');
    assert.equal((await box.cli(['stop', 'tight'])).code, 0);
  });
});

describe('environment', () => {
  const dkVars = (e: string[]) => e.filter((x) => x.startsWith('DAEMONKIT_'));

  test("inherited by default: exactly the caller's environment, minus daemonkit's variables, plus DAEMONKIT_TASK_ID", async () => {
    const callerExtra = { APP_MODE: 'production', WITH_SPACES: 'a b  c', WITH_EQUALS: 'k=v=w', LANG: 'C.UTF-8' };
    const r = await box.cli(['start', '--name', 'inherit', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000'], callerExtra);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('inherit.pid'));
    const caller = Object.entries(box.env(callerExtra))
      .filter(([k, v]) => v !== undefined && !k.startsWith('DAEMONKIT_'))
      .map(([k, v]) => `${k}=${v}`);
    for (const w of workersOf(sup)) {
      const e = environ(w);
      const task = dkVars(e);
      assert.equal(task.length, 1);
      assert.match(task[0]!, /^DAEMONKIT_TASK_ID=[01]$/);
      assert.deepEqual(e.filter((x) => !x.startsWith('DAEMONKIT_TASK_ID=')).sort(), caller.sort());
    }
    // Nothing of the caller's: only the allocator setting daemonkit gives its long-lived supervisor.
    assert.deepEqual(environ(sup), ['MALLOC_ARENA_MAX=2'], "the supervisor's own environment");
    // And the Node flags that keep its memory flat and its log writes its own (start.ts): none may go unnoticed.
    assert.deepEqual(cmdline(sup).slice(1, -1), ['--max-semi-space-size=1', '--expose-gc', '--no-opt', '--liftoff-only', '--no-warnings']);
    assert.equal((await box.cli(['stop', 'inherit'])).code, 0);
  });

  test('--clear-env: only PATH, HOME, LANG and --env, plus DAEMONKIT_TASK_ID; --env may not set DAEMONKIT_*', async () => {
    const extra = { LANG: 'C.UTF-8', SECRET_TOKEN: 'hunter2', AWS_SECRET_ACCESS_KEY: 'x' };
    const r = await box.cli(
      ['start', '--name', 'clean', '--clear-env', '--env', 'PORT=8080', '--env', 'EMPTY=', '--start-secs', '0.1', '--', 'sleep', '1000'],
      extra,
    );
    assert.equal(r.code, 0, r.stderr);
    const [w] = workersOf(pidFromFile(box.path('clean.pid')));
    const env = box.env(extra);
    assert.deepEqual(
      environ(w!).sort(),
      [`PATH=${env.PATH}`, `HOME=${env.HOME}`, 'LANG=C.UTF-8', 'PORT=8080', 'EMPTY=', 'DAEMONKIT_TASK_ID=0'].sort(),
    );
    assert.equal((await box.cli(['stop', 'clean'])).code, 0);
    const marker = await box.cli(['start', '--name', 'sneaky', '--env', 'DAEMONKIT_ROLE=daemon', '--', 'sleep', '1000']);
    assert.equal(marker.code, 2);
    assert.match(marker.stderr, /invalid --env 'DAEMONKIT_ROLE=daemon'/);
  });

  test('an unsupervised daemon: no daemonkit variable at all', async () => {
    const r = await box.cli(['start', '--no-supervise', '--name', 'bare', '--', 'sleep', '1000'], { DAEMONKIT_EXTRA: 'from the caller' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(dkVars(environ(pidFromFile(box.path('bare.pid')))), []);
    assert.equal((await box.cli(['stop', 'bare'])).code, 0);
  });
});

describe('fd leaks', () => {
  test('start from a shell holding fds 3..300 open without close-on-exec: workers have exactly 0, 1, 2 (after restarts too)', async () => {
    const marker = box.path('leaky-fd-target');
    writeFileSync(marker, '');
    const shell = (args: string[]) =>
      run(
        [
          '/bin/bash',
          '-c',
          `for i in $(seq 3 300); do eval "exec $i<>'${marker}'"; done; exec "$@"`,
          'bash',
          process.execPath,
          cliPath,
          ...args,
        ],
        { env: box.env() },
      );
    const r = await shell(['start', '--name', 'leaky', '--workers', '3', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('leaky.pid'));
    const check = () => {
      for (const w of workersOf(sup)) {
        const f = fds(w);
        assert.deepEqual([...f.keys()], [0, 1, 2], `worker ${w}: ${JSON.stringify([...f])}`);
        assert.equal(f.get(0), '/dev/null');
        assert.match(f.get(1)!, /^pipe:/);
      }
      for (const [fd, target] of fds(sup)) assert.notEqual(target, marker, `supervisor fd ${fd}`);
    };
    check();
    // Restarted and reloaded workers must not inherit the supervisor's pipes to the other workers.
    process.kill(workersOf(sup)[1]!, 'SIGKILL');
    assert.ok(await waitFor(() => workersOf(sup).length === 3, 3000));
    assert.equal((await box.cli(['reload', 'leaky'])).code, 0);
    check();
    const nosup = await shell(['start', '--no-supervise', '--name', 'leaky1', '--', 'sleep', '1000']);
    assert.equal(nosup.code, 0, nosup.stderr);
    const d = pidFromFile(box.path('leaky1.pid'));
    assert.deepEqual([...fds(d).keys()], [0, 1, 2, 3]);
    assert.equal(fds(d).get(3), box.path('leaky1.pid'));
    for (const name of ['leaky', 'leaky1']) assert.equal((await box.cli(['stop', name])).code, 0);
    await assertConsistent(box, 'leaky');
  });
});

describe(
  '--listen unix: in a directory the service user can change',
  { skip: (!isRoot() || !SETPRIV || !hasUser('nobody')) && 'needs root, setpriv and the nobody user' },
  () => {
    const NOBODY = 65534;
    /** A directory of nobody's (in a world-traversable one of root's), and a directory only root may enter. */
    function dirs(name: string): { theirs: string; rootOnly: string } {
      const top = box.path(name);
      mkdirSync(top, { recursive: true });
      chmodSync(box.dir, 0o755);
      chmodSync(top, 0o755);
      const theirs = join(top, 'theirs');
      const rootOnly = join(top, 'root-only');
      mkdirSync(theirs);
      chownSync(theirs, NOBODY, NOBODY);
      mkdirSync(rootOnly, { mode: 0o700 });
      return { theirs, rootOnly };
    }

    test('without --user: refused in one line naming the directory, nothing bound', async () => {
      const { theirs } = dirs('listen-refused');
      const r = await box.cli(['start', '--name', 'lnu', '--listen', `unix:${theirs}/app.sock`, '--', 'sleep', '1000']);
      assert.equal(r.code, 1, r.stdout);
      assert.match(
        r.stderr,
        new RegExp(`--listen unix:${theirs}/app.sock: its directory ${theirs} is writable by users other than root; pass --user\\n$`),
      );
      assert.equal(existsSync(join(theirs, 'app.sock')), false);
    });

    test('a directory still to be made, under one that user owns: refused too (it could make it a symlink meanwhile)', async () => {
      const { theirs } = dirs('listen-missing');
      const r = await box.cli(['start', '--name', 'lnm', '--listen', `unix:${theirs}/sub/app.sock`, '--', 'sleep', '1000']);
      assert.equal(r.code, 1, r.stdout);
      assert.match(
        r.stderr,
        new RegExp(
          `--listen unix:${theirs}/sub/app.sock: the directory ${theirs} above it is writable by users other than root; pass --user\\n$`,
        ),
      );
    });

    test("with --user: made as that user, so a symlink it plants to root's directory gets nothing made there", async () => {
      const { theirs, rootOnly } = dirs('listen-as-user');
      symlinkSync(rootOnly, join(theirs, 'run'));
      const r = await box.cli([
        'start',
        '--name',
        'lnl',
        '--user',
        'nobody',
        '--listen',
        `unix:${theirs}/run/app.sock`,
        '--',
        'sleep',
        '1000',
      ]);
      assert.equal(r.code, 1, r.stdout);
      assert.deepEqual(readdirSync(rootOnly), [], 'a socket was made in root-only directory');
      const ok = await box.cli([
        'start',
        '--name',
        'lnok',
        '--user',
        'nobody',
        '--listen',
        `unix:${theirs}/app.sock`,
        '--',
        'sleep',
        '1000',
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      box.track(pidFromFile(box.path('lnok.pid')));
      const st = lstatSync(join(theirs, 'app.sock'));
      assert.ok(st.isSocket());
      assert.equal(st.uid, NOBODY);
      assert.equal((await box.cli(['stop', 'lnok'])).code, 0);
    });
  },
);

const SETFACL = ['/usr/bin/setfacl', '/bin/setfacl'].find(existsSync);

describe('a directory an ACL lets another user write', { skip: (!isRoot() || !SETFACL) && 'needs root and setfacl (package acl)' }, () => {
  test("root:root 0775 with user:nobody:rwx in its ACL: a PID file there is refused like one in nobody's directory", async () => {
    const dir = box.path('acl-dir');
    mkdirSync(dir, { mode: 0o755 });
    execFileSync(SETFACL!, ['-m', 'u:nobody:rwx', dir]);
    assert.equal(statSync(dir).gid, 0);
    const r = await box.cli(['start', '--pidfile', join(dir, 'acl.pid'), '--', 'sleep', '1000']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`refusing PID file ${dir}/acl\\.pid: its directory ${dir} is writable by users other than root`));
    assert.deepEqual(readdirSync(dir), []);
  });

  test("an ACL that grants a named user only read leaves the directory root's", async () => {
    const dir = box.path('acl-read');
    mkdirSync(dir, { mode: 0o755 });
    execFileSync(SETFACL!, ['-m', 'u:nobody:rx,g::rwx', dir]);
    const r = await box.cli(['start', '--pidfile', join(dir, 'ok.pid'), '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    box.track(pidFromFile(join(dir, 'ok.pid')));
    assert.equal((await box.cli(['stop', '--pidfile', join(dir, 'ok.pid')])).code, 0);
  });
});

describe(
  'a state directory holding a PID file its reader may not open',
  { skip: (!isRoot() || !SETPRIV || !hasUser('nobody')) && 'needs root, setpriv and the nobody user' },
  () => {
    test('list shows the other services and that one as unknown (LSB 4); status of it says why in one line', async () => {
      const home = box.path('nobody-home');
      chmodSync(box.dir, 0o755);
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, 65534, 65534);
      writeFileSync(join(home, 'rootonly.pid'), `${process.pid}\n`, { mode: 0o600 });
      writeFileSync(join(home, 'gone.pid'), '');
      chownSync(join(home, 'gone.pid'), 65534, 65534);
      const asNobody = (args: string[]) =>
        run([SETPRIV!, '--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, cliPath, ...args], {
          env: box.env({ DAEMONKIT_HOME: home }),
        });
      const list = await asNobody(['list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      const reports = JSON.parse(list.stdout) as Array<{ name: string; lsb: number; reason: string | null }>;
      assert.deepEqual(
        reports.map((r) => [r.name, r.lsb]),
        [
          ['gone', 1],
          ['rootonly', 4],
        ],
      );
      assert.match(reports[1]!.reason ?? '', /EACCES/);
      const status = await asNobody(['status', 'rootonly']);
      assert.equal(status.code, 4, status.stderr);
    });
  },
);
