// openLogFile against real files: flags on the open file description (/proc/self/fdinfo), refusals, and who creates.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { openLogFile, serviceUserOf } from '../../../src/core/log-file-open.js';
import { LogFileError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/sandbox.js';

const isRoot = process.geteuid?.() === 0;
const NOBODY = { name: 'nobody', uid: 65534, gid: 65534 };
const root = tempDir({ after }, 'daemonkit-logopen-');
chmodSync(root, 0o755);
let n = 0;
const fresh = (owner = 0, mode = 0o755) => {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir, { mode });
  chmodSync(dir, mode);
  chownSync(dir, owner, owner);
  return dir;
};
const O_CLOEXEC = 0o2000000;
const flagsOf = (fd: number) => parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
const openFds = () => readdirSync('/proc/self/fd').length;
const refused = (message: string | RegExp, code: string) => (e: unknown) => {
  assert.ok(e instanceof LogFileError, String(e));
  assert.equal(e.refused, true);
  assert.equal(e.code, code);
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
};

describe('openLogFile', { skip: !isRoot && 'needs root (directories owned by nobody)' }, () => {
  test('creates a regular file 0644 under the umask, open for appending, non-blocking, close-on-exec', () => {
    const path = join(fresh(), 'app.log');
    writeFileSync(path, 'old\n');
    const fd = openLogFile(path, null);
    try {
      const flags = flagsOf(fd);
      for (const [name, bit] of [
        ['O_APPEND', constants.O_APPEND],
        ['O_NONBLOCK', constants.O_NONBLOCK],
        ['O_CLOEXEC', O_CLOEXEC],
        ['O_WRONLY', constants.O_WRONLY],
      ] as const)
        assert.ok(flags & bit, `${name} in ${flags.toString(8)}`);
      writeSync(fd, 'new\n');
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(path, 'utf8'), 'old\nnew\n');
    const made = join(fresh(), 'made.log');
    closeSync(openLogFile(made, null));
    assert.equal(statSync(made).mode & 0o7777, 0o644 & ~process.umask());
  });

  test('a symlink is refused, whoever planted it, and its target is not touched', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'target'), 'keep\n');
    symlinkSync(join(dir, 'target'), join(dir, 'app.log'));
    assert.throws(
      () => openLogFile(join(dir, 'app.log'), null),
      refused(`refusing log file ${dir}/app.log: it is a symbolic link`, 'ELOOP'),
    );
    assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'keep\n');
  });

  test('a FIFO is refused at once, with or without a reader, and no fd is left open', () => {
    const dir = fresh();
    const fifo = join(dir, 'app.log');
    execFileSync('mkfifo', [fifo]);
    const before = openFds();
    assert.throws(() => openLogFile(fifo, null), refused(`refusing log file ${fifo}: it is a FIFO`, 'EINVAL'));
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      assert.throws(() => openLogFile(fifo, null), refused(`refusing log file ${fifo}: it is a FIFO`, 'EINVAL'));
    } finally {
      closeSync(reader);
    }
    assert.equal(openFds(), before);
    assert.throws(() => openLogFile(dir, null), refused(`refusing log file ${dir}: it is a directory`, 'EINVAL'));
  });

  test('in a directory the service user owns: opened as that user (the file is its), refused without one', () => {
    const dir = fresh(NOBODY.uid);
    assert.throws(
      () => openLogFile(join(dir, 'app.log'), null),
      refused(`refusing log file ${dir}/app.log: its directory ${dir} is writable by users other than root; pass --user`, 'EUNSAFE'),
    );
    closeSync(openLogFile(join(dir, 'app.log'), NOBODY));
    const st = statSync(join(dir, 'app.log'));
    assert.deepEqual([st.uid, st.gid], [NOBODY.uid, NOBODY.gid]);
    // A root-only file there is out of the user's reach, so out of ours: the open fails as that user.
    writeFileSync(join(dir, 'root.log'), 'secret\n', { mode: 0o600 });
    assert.throws(
      () => openLogFile(join(dir, 'root.log'), NOBODY),
      (e: unknown) => e instanceof LogFileError && !e.refused && e.message === `cannot open log file ${dir}/root.log as nobody: EACCES`,
    );
    assert.equal(readFileSync(join(dir, 'root.log'), 'utf8'), 'secret\n');
    // After all that, this thread checks files as root again.
    assert.match(readFileSync('/proc/thread-self/status', 'utf8'), /^Uid:\s+0\s+0\s+0\s+0$/m);
  });

  test("world-writable or group-writable by a user's group counts as others; so does a directory above or behind a symlink", () => {
    for (const mode of [0o777, 0o1777]) {
      const dir = fresh(0, mode);
      assert.throws(
        () => openLogFile(join(dir, 'a.log'), null),
        refused(/its directory .* is writable by users other than root/, 'EUNSAFE'),
      );
    }
    const grouped = fresh(0, 0o775);
    chownSync(grouped, 0, NOBODY.gid);
    assert.throws(() => openLogFile(join(grouped, 'a.log'), null), refused(/writable by users other than root/, 'EUNSAFE'));
    // root's directory inside the user's: the user can rename it away and put a symlink in its place.
    const outer = fresh(NOBODY.uid);
    mkdirSync(join(outer, 'inner'), { mode: 0o755 });
    assert.throws(
      () => openLogFile(join(outer, 'inner', 'a.log'), null),
      refused(
        `refusing log file ${outer}/inner/a.log: the directory ${outer} above it is writable by users other than root; pass --user`,
        'EUNSAFE',
      ),
    );
    // A root-owned symlink to the user's directory: what is checked is where it leads.
    const via = fresh();
    symlinkSync(outer, join(via, 'link'));
    assert.throws(() => openLogFile(join(via, 'link', 'a.log'), null), refused(/writable by users other than root/, 'EUNSAFE'));
  });

  test("a link whose target walks '..' through another link: checked where the kernel goes, not where the text points", () => {
    // The user's directory holds logs -> a/../rootonly and a -> ROOTDIR/x: Node's JS realpath folds "a/.." away and
    // finds nothing, while the kernel follows a first and lands in ROOTDIR/rootonly.
    const user = fresh(NOBODY.uid);
    const rootDir = fresh();
    mkdirSync(join(rootDir, 'x'));
    mkdirSync(join(rootDir, 'rootonly'));
    symlinkSync(join(rootDir, 'x'), join(user, 'a'));
    symlinkSync('a/../rootonly', join(user, 'logs'));
    assert.throws(() => openLogFile(join(user, 'logs', 'app.log'), null), refused(/is writable by users other than root/, 'EUNSAFE'));
    assert.throws(
      () => openLogFile(join(user, 'logs', 'app.log'), NOBODY),
      (e: unknown) => e instanceof LogFileError && !e.refused && /as nobody: EACCES$/.test(e.message),
    );
    assert.deepEqual(readdirSync(join(rootDir, 'rootonly')), [], "nothing created in root's directory");
  });

  test('a directory that is not there: the open fails naming the path, as root or not', () => {
    const missing = join(fresh(), 'none', 'app.log');
    assert.throws(
      () => openLogFile(missing, null),
      (e: unknown) => e instanceof LogFileError && e.message === `cannot open log file ${missing}: ENOENT`,
    );
  });

  test("a root-only directory under a sticky shared one (/tmp/x) is root's alone: opened as root", () => {
    const dir = fresh();
    closeSync(openLogFile(join(dir, 'ok.log'), null));
    assert.equal(statSync(join(dir, 'ok.log')).uid, 0);
  });

  test('serviceUserOf: the --user with its --group (else its own group); nobody to open as without --user', () => {
    const user = { name: 'nobody', uid: 65534, gid: 65534, home: '/' };
    assert.deepEqual(serviceUserOf({ user, group: null }), NOBODY);
    assert.deepEqual(serviceUserOf({ user, group: { name: 'adm', gid: 4 } }), { ...NOBODY, gid: 4 });
    assert.equal(serviceUserOf({ user: null, group: { name: 'adm', gid: 4 } }), null);
  });
});

test(
  'a directory given as the log file is named as one, even in a directory others can write',
  { skip: process.geteuid?.() !== 0 && "the directory check is root's" },
  (t) => {
    const shared = join(tempDir(t), 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const dir = join(shared, 'logs');
    mkdirSync(dir);
    assert.throws(() => openLogFile(dir, null), refused(`refusing log file ${dir}: it is a directory`, 'EINVAL'));
  },
);
