// --chroot with a jail the service user owns: root runs nothing the jail holds, reads no group list from it, and the
// supervisor stays outside (its /proc there could lie). The jail is a real one: sleep, sh and their libraries, an
// /etc/group that puts nobody in group 0, and a planted /usr/bin/setpriv that leaves a mark when root runs it.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cwd, status as procStatus } from '../helpers/proc.js';
import { Box, isRoot, pidFromFile, workersOf } from './lib.js';

const box = new Box();
afterEach(() => box.killAll());
after(() => box.cleanup());

const NOBODY = 65534;
const REAL_SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync);

/** Copies each binary and the libraries ldd names for it into the jail, at the same paths. */
function install(jail: string, binaries: Record<string, string>): void {
  const files = new Map<string, string>(Object.entries(binaries));
  for (const host of Object.values(binaries))
    for (const m of execFileSync('ldd', [host], { encoding: 'utf8' }).matchAll(/(\/\S+) \(0x/g)) files.set(m[1]!, m[1]!);
  for (const [inJail, host] of files) {
    mkdirSync(dirname(join(jail, inJail)), { recursive: true });
    copyFileSync(realpathSync(host), join(jail, inJail));
    chmodSync(join(jail, inJail), 0o755);
  }
}

/** A jail owned by nobody, with a planted setpriv: J/tmp/setpriv-ran appears if anything runs it. */
function hostileJail(): string {
  const jail = mkdtempSync(join(tmpdir(), 'daemonkit-jail-'));
  install(jail, { '/bin/sleep': '/bin/sleep', '/bin/sh': '/bin/sh', '/usr/bin/setpriv.real': REAL_SETPRIV! });
  writeFileSync(join(jail, 'usr/bin/setpriv'), '#!/bin/sh\necho ran > /tmp/setpriv-ran\nexec /usr/bin/setpriv.real "$@"\n', {
    mode: 0o755,
  });
  mkdirSync(join(jail, 'etc'));
  writeFileSync(join(jail, 'etc/passwd'), `root:x:0:0::/:/bin/sh\nnobody:x:${NOBODY}:${NOBODY}::/:/bin/sh\n`);
  // The jail's owner puts nobody in root's group: a group list read from here would hand a worker gid 0.
  writeFileSync(join(jail, 'etc/group'), `root:x:0:nobody\nnogroup:x:${NOBODY}:\n`);
  mkdirSync(join(jail, 'dev'));
  execFileSync('mknod', ['-m', '666', join(jail, 'dev/null'), 'c', '1', '3']);
  mkdirSync(join(jail, 'tmp'), { mode: 0o1777 });
  chmodSync(join(jail, 'tmp'), 0o1777);
  // Everything inside is the service user's; the jail itself is root's, as it must be (else it is refused).
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, jail]);
  execFileSync('chown', ['0:0', jail]);
  chmodSync(jail, 0o755);
  return jail;
}

const groupsOf = (pid: number) => procStatus(pid).Groups!.trim().split(/\s+/).filter(Boolean).map(Number);

describe('--chroot into a jail the service user owns', { skip: !isRoot() || !REAL_SETPRIV ? 'needs root and setpriv' : false }, () => {
  let jail = '';
  before(() => {
    jail = hostileJail();
  });
  after(() => rmSync(jail, { recursive: true, force: true }));

  /** `start NAME --chroot JAIL --user nobody [extra] -- /bin/sleep 1000`; the PID its PID file names. */
  async function startJailed(name: string, extra: string[]): Promise<number> {
    const r = await box.cli(['start', '--name', name, '--chroot', jail, '--user', 'nobody', ...extra, '--', '/bin/sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    return box.track(pidFromFile(box.path(`${name}.pid`)));
  }

  /** Inside the jail, as nobody, with no group the jail's /etc/group could have given it. */
  function assertJailedNobody(pid: number, who: string): void {
    assert.equal(readlinkSync(`/proc/${pid}/root`), jail);
    assert.equal(procStatus(pid).Uid!.split(/\s+/)[0], String(NOBODY));
    assert.ok(!groupsOf(pid).includes(0), `${who} groups ${groupsOf(pid).join(' ')}`);
  }

  test('supervised: the worker enters the jail as nobody with no groups from it; root ran nothing inside', async () => {
    const supervisor = await startJailed('jailed', ['--cwd', '/tmp']);
    const [worker] = workersOf(supervisor);
    assert.ok(worker, 'a worker runs');
    box.track(worker);
    assertJailedNobody(worker, 'worker');
    assert.equal(cwd(worker), join(jail, 'tmp'));
    assert.equal(readlinkSync(`/proc/${supervisor}/root`), '/', 'the supervisor stays outside the jail');
    assert.equal(cwd(supervisor), '/', "nor does it keep the caller's directory (it would pin its mount)");
    assert.equal(existsSync(join(jail, 'tmp/setpriv-ran')), false, "root ran the jail's setpriv");
    assert.equal((await box.cli(['stop', 'jailed'])).code, 0);
  });

  test('a jail the service user owns, or one in a directory it owns, is refused: it could be swapped between spawns', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'daemonkit-jailparent-'));
    try {
      chmodSync(parent, 0o755);
      const owned = join(parent, 'owned');
      // The program must be there for the options to pass: the refusal comes after, before anything runs.
      const program = (jail: string) => {
        mkdirSync(join(jail, 'bin'), { recursive: true });
        writeFileSync(join(jail, 'bin/sleep'), '#!/bin/sh\n', { mode: 0o755 });
      };
      mkdirSync(owned);
      program(owned);
      execFileSync('chown', [`${NOBODY}:${NOBODY}`, owned]);
      const r = await box.cli(['start', '--name', 'ownjail', '--chroot', owned, '--', '/bin/sleep', '1000']);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr, `daemonkit: ownjail failed to start: refusing --chroot ${owned}: it is writable by users other than root\n`);
      const unsupervised = await box.cli([
        'start',
        '--no-supervise',
        '--name',
        'ownjail-ns',
        '--chroot',
        owned,
        '--',
        '/bin/sleep',
        '1000',
      ]);
      assert.equal(unsupervised.code, 1, unsupervised.stdout);
      assert.equal(
        unsupervised.stderr,
        `daemonkit: ownjail-ns failed to start: refusing --chroot ${owned}: it is writable by users other than root\n`,
      );
      execFileSync('chown', [`${NOBODY}:${NOBODY}`, parent]);
      const inner = join(owned, 'x');
      mkdirSync(inner);
      program(inner);
      const below = await box.cli(['start', '--name', 'belowjail', '--chroot', inner, '--', '/bin/sleep', '1000']);
      assert.equal(below.code, 1, below.stdout);
      assert.match(below.stderr, /refusing --chroot .*: the directory .* above it is writable by users other than root/);
      assert.deepEqual(box.processes(), []);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  test('unsupervised: the user groups come from the host, not the jail', async () => {
    assertJailedNobody(await startJailed('jailed-ns', ['--no-supervise']), 'daemon');
    assert.equal((await box.cli(['stop', 'jailed-ns'])).code, 0);
  });
});
