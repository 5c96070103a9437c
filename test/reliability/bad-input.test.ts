// Bad input, nothing lost: every malformed command line (and library call) gets exit 2 (usage) or 1 (runtime) and
// one line naming the option and the value; afterwards there is no new process, PID file, socket or state file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { repoRoot } from '../helpers/paths.js';
import { Box, children, isRoot } from './lib.js';

const box = new Box();
after(() => box.cleanup());

interface Row {
  /** CLI arguments, or library options (JSON, so NUL can be written \u0000) for daemonize(). */
  args?: string[];
  library?: string;
  code: 1 | 2;
  /** The one line must match: it names the option (or what it is for) and the value. */
  line: RegExp;
  /** What the row may legitimately leave: a runtime failure after the log was opened for the caller's check. */
  mayLeave?: RegExp;
  todo?: string;
  /** Only root refuses a PID file in a directory others can write to. */
  root?: boolean;
}

const long = 'n'.repeat(300);
const S = (rest: string[]) => ['start', '--name', 'bad', ...rest];
const CMD = ['--', 'sleep', '1000'];

// Set up in before(): files the rows point at.
const notDir = box.path('a-file');
const notExec = box.path('not-exec.sh');
const dirCmd = box.path('a-dir');

const planted = box.path('planted.pid');
const wwDir = box.path('world-writable');

const rows: Row[] = [
  // --umask
  { args: S(['--umask', '999', ...CMD]), code: 2, line: /invalid --umask '999'/ },
  { args: S(['--umask', '0o1000', ...CMD]), code: 2, line: /invalid --umask '0o1000'/ },
  { args: S(['--umask', 'u=rwz', ...CMD]), code: 2, line: /invalid --umask 'u=rwz'/ },
  { args: S(['--umask', '', ...CMD]), code: 2, line: /invalid --umask ''/ },
  { args: S(['--umask', '-22', ...CMD]), code: 2, line: /--umask.*'-22'/ },
  // --cwd, --chroot
  { args: S(['--cwd', '/no/such/dir', ...CMD]), code: 2, line: /invalid --cwd '\/no\/such\/dir': no such directory/ },
  { args: S(['--cwd', notDir, ...CMD]), code: 2, line: new RegExp(`invalid --cwd '${notDir}': not a directory`) },
  { args: S(['--cwd', '', ...CMD]), code: 2, line: /invalid --cwd '': expected a path/ },
  { args: S(['--chroot', '/no/such/root', ...CMD]), code: 2, line: /invalid --chroot '\/no\/such\/root'/ },
  // --user, --group
  { args: S(['--user', 'no_such_user_dk', ...CMD]), code: 2, line: /invalid --user 'no_such_user_dk': no such user/ },
  { args: S(['--group', 'no_such_group_dk', ...CMD]), code: 2, line: /invalid --group 'no_such_group_dk': no such group/ },
  // --workers
  { args: S(['--workers', '0', ...CMD]), code: 2, line: /invalid --workers '0': must be from 1 to 65536/ },
  { args: S(['--workers=-1', ...CMD]), code: 2, line: /invalid --workers '-1'/ },
  { args: S(['--workers', '1e9', ...CMD]), code: 2, line: /invalid --workers '1e9'/ },
  { args: S(['--workers', 'abc', ...CMD]), code: 2, line: /invalid --workers 'abc'/ },
  { args: S(['--workers', '65537', ...CMD]), code: 2, line: /invalid --workers '65537'/ },
  { args: S(['--workers', '2.5', ...CMD]), code: 2, line: /invalid --workers '2.5'/ },
  { args: S(['--workers', '', ...CMD]), code: 2, line: /invalid --workers ''/ },
  // --retry (start and stop)
  { args: S(['--retry', 'TERM/x', ...CMD]), code: 2, line: /invalid --retry 'TERM\/x'/ },
  { args: S(['--retry', 'KILL/5/TERM', ...CMD]), code: 2, line: /invalid --retry 'KILL\/5\/TERM'/ },
  { args: S(['--retry', 'SIGNOPE/5', ...CMD]), code: 2, line: /invalid --retry 'SIGNOPE\/5'/ },
  { args: ['stop', 'bad', '--retry', 'TERM/-1'], code: 2, line: /invalid --retry 'TERM\/-1'/ },
  // names
  { args: ['start', '--name', 'a/b', ...CMD], code: 2, line: /invalid --name 'a\/b'/ },
  { args: ['start', '--name', '..', ...CMD], code: 2, line: /invalid --name '\.\.'/ },
  { args: ['start', '--name', '.hidden', ...CMD], code: 2, line: /invalid --name '\.hidden'/ },
  { args: ['start', '--name', long, ...CMD], code: 2, line: /invalid --name 'n{77}\.\.\.': longer than 100 characters \(300\)/ },
  { args: ['start', '--name', '', ...CMD], code: 2, line: /invalid --name '': empty/ },
  { args: ['start', '--name', 'tab\there', ...CMD], code: 2, line: /invalid --name 'tab\\x09here'/ },
  { args: ['status', '../etc/passwd'], code: 2, line: /invalid NAME '\.\.\/etc\/passwd'/ },
  { args: ['stop', 'a/b'], code: 2, line: /invalid NAME 'a\/b'/ },
  { args: ['logs', '..'], code: 2, line: /invalid NAME '\.\.'/ },
  // durations and counts
  { args: S(['--backoff-min', '1x', ...CMD]), code: 2, line: /invalid --backoff-min '1x'/ },
  {
    args: S(['--backoff-min', '1s', '--backoff-max', '10ms', ...CMD]),
    code: 2,
    line: /invalid --backoff-max '10ms': less than --backoff-min/,
  },
  { args: S(['--ready-timeout', '0', ...CMD]), code: 2, line: /invalid --ready-timeout '0': must be more than 0/ },
  { args: S(['--start-secs', 'soon', ...CMD]), code: 2, line: /invalid --start-secs 'soon'/ },
  { args: S(['--min-uptime', '5y', ...CMD]), code: 2, line: /invalid --min-uptime '5y'/ },
  { args: S(['--max-restarts', 'many', ...CMD]), code: 2, line: /invalid --max-restarts 'many'/ },
  { args: S(['--restart-window', '0', ...CMD]), code: 2, line: /invalid --restart-window '0'/ },
  { args: S(['--ready-timeout', '2d', ...CMD]), code: 2, line: /invalid --ready-timeout '2d'/ },
  { args: ['logs', 'bad', '-n', 'lots'], code: 2, line: /invalid --lines 'lots'/ },
  // enums
  { args: S(['--restart', 'sometimes', ...CMD]), code: 2, line: /invalid --restart 'sometimes': expected on-failure, always or never/ },
  { args: S(['--reload', 'hot', ...CMD]), code: 2, line: /invalid --reload 'hot': expected rolling or signal/ },
  // --env
  { args: S(['--env', 'NOEQUALS', ...CMD]), code: 2, line: /invalid --env 'NOEQUALS': expected KEY=VALUE/ },
  { args: S(['--env', '1BAD=x', ...CMD]), code: 2, line: /invalid --env '1BAD=x'/ },
  { args: S(['--env', 'DAEMONKIT_ROLE=daemon', ...CMD]), code: 2, line: /invalid --env 'DAEMONKIT_ROLE=daemon'/ },
  // files
  { args: S(['--log', '', ...CMD]), code: 2, line: /invalid --log '': expected a file path/ },
  {
    args: S(['--log', '/proc/dk-bad.log', ...CMD]),
    code: 1,
    line: /bad failed to start: cannot open log file \/proc\/dk-bad\.log: ENOENT/,
  },
  {
    args: S(['--pidfile', '/no/such/dir/bad.pid', ...CMD]),
    code: 1,
    line: /bad failed to start: cannot create PID file \/no\/such\/dir\/bad\.pid: ENOENT/,
  },
  { args: S(['--pidfile', '/proc/bad.pid', ...CMD]), code: 1, line: /bad failed to start: cannot create PID file \/proc\/bad\.pid/ },
  { args: S(['--pidfile', planted, ...CMD]), code: 1, line: /refusing PID file .*planted\.pid: it is a symbolic link/ },
  {
    args: S(['--pidfile', join(wwDir, 'x.pid'), ...CMD]),
    code: 1,
    line: /refusing PID file .*x\.pid: its directory .* is writable by users other than root/,
    root: true,
  },
  { args: ['status', '--pidfile', ''], code: 2, line: /invalid --pidfile '': expected a path/ },
  { args: S(['--pidfile', dirCmd, ...CMD]), code: 2, line: new RegExp(`invalid --pidfile '${dirCmd}': it is a directory, not a PID file`) },
  { args: ['status', '--pidfile', dirCmd], code: 2, line: new RegExp(`invalid --pidfile '${dirCmd}': it is a directory, not a PID file`) },
  { args: ['stop', '--pidfile', dirCmd], code: 2, line: new RegExp(`invalid --pidfile '${dirCmd}': it is a directory, not a PID file`) },
  // the command
  { args: ['start', '--', '/no/such/program'], code: 2, line: /command '\/no\/such\/program' does not exist/ },
  { args: ['start', '--', notExec], code: 2, line: new RegExp(`command '${notExec}' is not executable`) },
  { args: ['start', '--', dirCmd], code: 2, line: new RegExp(`command '${dirCmd}' is not a regular file`) },
  { args: ['start', '--', 'no-such-program-dk'], code: 2, line: /command 'no-such-program-dk' not found in PATH/ },
  {
    args: ['start', '--name', 'bad', 'sleep', '1000'],
    code: 2,
    line: /missing '--' and the program to run \(did you mean: daemonkit start -- sleep 1000\?\)/,
  },
  { args: ['start', '--'], code: 2, line: /missing command: give it after '--'/ },
  { args: ['start', '--', ''], code: 2, line: /missing command: nothing after '--'/ },
  // conflicts, unknowns, extras
  {
    args: S(['--log', 'x.log', '--stdout', 'y.log', ...CMD]),
    code: 2,
    line: /conflicting options: --log sets both streams, so --stdout cannot be given too/,
  },
  {
    args: S(['--no-supervise', '--workers', '2', ...CMD]),
    code: 2,
    line: /conflicting options: --workers needs the supervisor, not --no-supervise/,
  },
  { args: ['stop', 'bad', '--pidfile', '/tmp/x.pid'], code: 2, line: /conflicting options: give NAME or --pidfile, not both/ },
  { args: ['stop', 'bad', '--', 'sleep'], code: 2, line: /stop takes no command after '--'/ },
  { args: ['status', 'a', 'b'], code: 2, line: /unexpected argument 'b'/ },
  { args: ['status'], code: 2, line: /missing NAME \(or --pidfile FILE\)/ },
  { args: S(['--frobnicate', ...CMD]), code: 2, line: /unknown option '--frobnicate'/ },
  { args: S(['--workers']), code: 2, line: /option '--workers' needs a value/ },
  // A repeated option: the line names the value that is wrong, not the first one given.
  {
    args: S(['--workers', '2', '--workers', '-3', ...CMD]),
    code: 2,
    line: /^daemonkit: invalid --workers '-3': a value starting with '-' must be written --workers=-3\n$/,
  },
  // A short option: named by its long form, with no comma from Node's '-n, --lines' text, and a form that works.
  { args: ['logs', 'bad', '-n'], code: 2, line: /^daemonkit: option '--lines' needs a value\n$/ },
  { args: S(['-z', ...CMD]), code: 2, line: /^daemonkit: unknown option '-z'\n$/ },
  {
    args: ['logs', 'bad', '-n', '-5'],
    code: 2,
    line: /^daemonkit: invalid --lines '-5': a value starting with '-' must be written --lines=-5\n$/,
  },
  { args: ['frobnicate'], code: 2, line: /unknown command 'frobnicate'/ },
  { args: ['restart', 'never-started'], code: 2, line: /no recorded options for never-started/ },
  { args: ['plan', '--umask', '999', ...CMD], code: 2, line: /invalid --umask '999'/ },
  { args: ['list', 'extra'], code: 2, line: /unexpected argument 'extra'/ },
  // the library: the same checks, and NUL bytes (no command line can carry them)
  { library: '{"pidfile":"/tmp/a\\u0000b.pid"}', code: 2, line: /invalid pidfile '\/tmp\/a\\x00b\.pid': a path cannot contain NUL/ },
  { library: '{"stdout":"/tmp/out\\u0000.log"}', code: 2, line: /invalid stdout '\/tmp\/out\\x00\.log': a path cannot contain NUL/ },
  { library: '{"cwd":"/tmp\\u0000"}', code: 2, line: /invalid cwd '\/tmp\\x00': a path cannot contain NUL/ },
  { library: '{"env":{"A":"x\\u0000y"}}', code: 2, line: /invalid env 'A=…': a value cannot contain NUL/ },
  { library: '{"umask":512}', code: 2, line: /invalid umask '512': out of range/ },
  { library: '{"umask":"u=rwz"}', code: 2, line: /invalid umask 'u=rwz'/ },
  { library: '{"readyTimeout":-1}', code: 2, line: /invalid readyTimeout '-1': must be more than 0/ },
  { library: '{"user":"no_such_user_dk"}', code: 2, line: /invalid user 'no_such_user_dk': no such user/ },
];

const libraryProbe = `
const { daemonize } = await import(process.argv[1]);
try {
  await daemonize(JSON.parse(process.argv[2]));
  process.stderr.write('daemonize accepted it\\n');
  process.exit(0);
} catch (e) {
  process.stderr.write(\`daemonkit: \${e.message}\\n\`);
  process.exit(e.name === 'UsageError' ? 2 : 1);
}`;

/** Processes of ours, plus any child of this test process (a start that did not exit would be one). */
function snapshot() {
  return { files: box.files(), procs: box.processes().sort(), kids: children(process.pid).sort() };
}

describe(`bad input, nothing lost (${rows.length} malformed inputs)`, () => {
  before(() => {
    writeFileSync(notDir, '');
    writeFileSync(notExec, '#!/bin/sh\n');
    chmodSync(notExec, 0o644);
    mkdirSync(dirCmd);
    symlinkSync(box.path('precious'), planted);
    mkdirSync(wwDir);
    chmodSync(wwDir, 0o1777);
  });

  assert.ok(rows.length >= 40);
  for (const row of rows) {
    const label = row.args
      ? `daemonkit ${row.args.map((a) => (a.length > 40 ? `${a.slice(0, 20)}…(${a.length})` : a)).join(' ')}`
      : `daemonize(${row.library})`;
    test(label, { todo: row.todo, skip: row.root && !isRoot() && 'needs root' }, async () => {
      const before = snapshot();
      const r = row.args
        ? await box.cli(row.args, {}, 30_000)
        : await run([process.execPath, '--input-type=module', '-e', libraryProbe, join(repoRoot, 'dist', 'index.js'), row.library!], {
            env: box.env(),
            cwd: box.dir,
          });
      assert.equal(r.code, row.code, `exit ${r.code}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '', 'nothing on stdout');
      assert.match(r.stderr, /^daemonkit: [^\n]+\n$/, `exactly one line: ${JSON.stringify(r.stderr)}`);
      assert.match(r.stderr, row.line);
      const after = snapshot();
      assert.deepEqual(after.procs, before.procs, 'no new process');
      assert.deepEqual(after.kids, before.kids, 'no child left');
      const created = after.files.filter((f) => !before.files.includes(f));
      assert.deepEqual(
        created.filter((f) => !row.mayLeave?.test(f)),
        [],
        'no new PID file, socket, state or log file',
      );
      assert.ok(!created.some((f) => /\.(pid|sock|json|tmp)$/.test(f)));
    });
  }
});
