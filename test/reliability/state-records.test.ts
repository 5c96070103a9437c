// A service's record (STATE/NAME.json) is checked when read, restart normalizes what the user typed again, and a
// record that cannot be written (a full disk) leaves no temporary file behind.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { alive, status as procStatus, waitFor } from '../helpers/proc.js';
import { Box, isRoot, pidFromFile, sleepMs, workersOf } from './lib.js';
import { writeState, type StateRecord } from '../../src/core/service-files.js';

const box = new Box('daemonkit-state-');
afterEach(() => box.killAll());
after(() => box.cleanup(() => box.unmountAll()));

const record = (name: string) => box.path(`${name}.json`);

/** Records of the right version whose shape is wrong, each as it would be read back. */
const damaged: Array<[string, string]> = [
  ['options null', '{"version":1,"options":null,"status":null,"exitCode":null,"exitedAt":null}\n'],
  ['options a string', '{"version":1,"options":"x","status":null,"exitCode":1,"exitedAt":1}\n'],
  ['workers not a list', '{"version":1,"options":{"command":null,"stdio":[]},"status":{"workers":5},"exitCode":null,"exitedAt":null}\n'],
  ['cut off', '{"version":1,"options":{"name":"d'],
];

describe('a damaged record', () => {
  for (const [what, text] of damaged) {
    test(`${what}: status and status --json report the damage and still answer from the PID file`, async () => {
      writeFileSync(record('d'), text);
      const j = await box.cli(['status', 'd', '--json']);
      assert.equal(j.code, 3, j.stderr);
      assert.equal(j.stderr, '');
      const json = JSON.parse(j.stdout) as { lsb: number; running: boolean; stateError: string | null };
      assert.equal(json.lsb, 3);
      assert.equal(json.running, false);
      assert.match(json.stateError ?? '', new RegExp(`^damaged state record ${record('d')}: `));
      const t = await box.cli(['status', 'd']);
      assert.equal(t.code, 3, t.stderr);
      assert.match(t.stdout, /damaged state record/);
      const l = await box.cli(['list', '--json']);
      assert.equal(l.code, 0, l.stderr);
    });

    test(`${what}: restart says so in one line, exits 2 and starts nothing`, async () => {
      writeFileSync(record('d'), text);
      const r = await box.cli(['restart', 'd']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^daemonkit: damaged state record ${record('d')}: [^\\n]+\\n$`));
      assert.deepEqual(box.processes(), []);
    });
  }

  test('a running service whose record is damaged: status says running (LSB 0) and reports the damage', async () => {
    const r = await box.cli(['start', '--name', 'live', '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    box.track(pidFromFile(box.path('live.pid')));
    writeFileSync(record('live'), '{"version":1,"options":null}\n');
    const j = await box.cli(['status', 'live', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const json = JSON.parse(j.stdout) as { running: boolean; stateError: string | null };
    assert.equal(json.running, true);
    assert.match(json.stateError ?? '', /^damaged state record .*live\.json: /);
    assert.equal((await box.cli(['stop', 'live'])).code, 0);
  });
});

/** A user that is not root, for records and directories that user could have written. */
const NOBODY = 65534;

describe('a record someone else could have written is not believed', { skip: !isRoot() && 'chown needs root' }, () => {
  /** A stopped service whose record, as another user would rewrite it, now runs a command that leaves a marker. */
  async function forged(name: string): Promise<string> {
    const r = await box.cli(['start', '--name', name, '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    box.track(pidFromFile(box.path(`${name}.pid`)));
    assert.equal((await box.cli(['stop', name])).code, 0);
    const marker = box.path(`${name}.ran`);
    const rec = JSON.parse(readFileSync(record(name), 'utf8')) as { options: { source: { input: { command: string[] } } } };
    rec.options.source.input.command = ['/bin/sh', '-c', `id -u > ${marker}`];
    writeFileSync(record(name), JSON.stringify(rec));
    return marker;
  }

  test('a record owned by another user: restart refuses it in one line, exit 2, and runs nothing of it', async () => {
    const marker = await forged('theirs');
    chownSync(record('theirs'), NOBODY, NOBODY);
    const again = await box.cli(['restart', 'theirs']);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, new RegExp(`^daemonkit: refusing state record ${record('theirs')}: owned by uid ${NOBODY}[^\\n]*\\n$`));
    await sleepMs(300);
    assert.equal(existsSync(marker), false, 'the forged command ran');
    assert.deepEqual(box.processes(), []);
  });

  test('a record others may write (0666): restart refuses it, exit 2', async () => {
    const marker = await forged('open');
    chmodSync(record('open'), 0o666);
    const again = await box.cli(['restart', 'open']);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /^daemonkit: refusing state record [^\n]*open\.json: writable by others than its owner\n$/);
    await sleepMs(300);
    assert.equal(existsSync(marker), false, 'the forged command ran');
  });

  test("stop NAME never takes the PID file from another user's record: another service's stays running", async () => {
    const victim = box.path('victim/victim.pid');
    mkdirSync(box.path('victim'));
    const r = await box.cli(['start', '--pidfile', victim, '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    const pid = box.track(pidFromFile(victim));
    // The record of a service "lure", rewritten as its user would: its PID file is now the victim's.
    const l = await box.cli(['start', '--name', 'lure', '--', 'sleep', '30']);
    assert.equal(l.code, 0, l.stderr);
    box.track(pidFromFile(box.path('lure.pid')));
    assert.equal((await box.cli(['stop', 'lure'])).code, 0);
    const rec = JSON.parse(readFileSync(record('lure'), 'utf8')) as { options: { pidfile: string } };
    rec.options.pidfile = victim;
    writeFileSync(record('lure'), JSON.stringify(rec));
    chownSync(record('lure'), NOBODY, NOBODY);
    const s = await box.cli(['stop', 'lure']);
    assert.notEqual(s.code, 0, s.stdout);
    assert.ok(alive(pid), 'the other service was stopped through a forged record');
    assert.equal((await box.cli(['stop', '--pidfile', victim])).code, 0);
  });
});

describe('run checks its state directory as start does', { skip: !isRoot() && 'chown needs root' }, () => {
  test('a state directory another user owns: run refuses in one line, exit 1, and writes nothing there', async () => {
    const home = box.path('their-home');
    mkdirSync(home);
    chownSync(home, NOBODY, NOBODY);
    const r = await box.cli(['run', '--name', 'fg', '--pidfile', box.path('fg.pid'), '--', 'true'], { DAEMONKIT_HOME: home });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^daemonkit: [^\\n]*refusing state directory ${home}: it is writable by users other than root\\n$`));
    assert.deepEqual(readdirSync(home), []);
  });
});

describe('restart normalizes what was typed again', () => {
  test('a recorded umask of 0 in the derived options is not replayed: the restarted worker has the typed 027', async () => {
    const r = await box.cli(['start', '--name', 'um', '--umask', '027', '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    const rec = JSON.parse(readFileSync(record('um'), 'utf8')) as { options: { umask: number } };
    rec.options.umask = 0;
    writeFileSync(record('um'), JSON.stringify(rec));
    const again = await box.cli(['restart', 'um']);
    assert.equal(again.code, 0, again.stderr);
    const sup = box.track(pidFromFile(box.path('um.pid')));
    assert.ok(await waitFor(() => workersOf(sup).length === 1));
    assert.equal(procStatus(workersOf(sup)[0]!).Umask, '0027');
    assert.equal((await box.cli(['stop', 'um'])).code, 0);
  });

  test('a command deleted since the start: restart exits 2 with one line naming it, and starts nothing', async () => {
    const script = box.path('app.sh');
    writeFileSync(script, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(script, 0o755);
    const r = await box.cli(['start', '--name', 'gone', '--', script]);
    assert.equal(r.code, 0, r.stderr);
    box.track(pidFromFile(box.path('gone.pid')));
    assert.equal((await box.cli(['stop', 'gone'])).code, 0);
    unlinkSync(script);
    const again = await box.cli(['restart', 'gone']);
    assert.equal(again.code, 2, again.stderr);
    assert.equal(again.stderr.split('\n').length, 2, again.stderr);
    assert.match(again.stderr, new RegExp(`^daemonkit: .*command '${script}' does not exist`));
    assert.deepEqual(box.processes(), []);
  });

  test('a record without what was typed (an older daemonkit): restart refuses in one line, exit 2', async () => {
    const r = await box.cli(['start', '--name', 'old', '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    box.track(pidFromFile(box.path('old.pid')));
    assert.equal((await box.cli(['stop', 'old'])).code, 0);
    const rec = JSON.parse(readFileSync(record('old'), 'utf8')) as { options: Record<string, unknown>; version: number };
    delete rec.options.source;
    rec.version = 1;
    writeFileSync(record('old'), JSON.stringify(rec));
    const again = await box.cli(['restart', 'old']);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /^daemonkit: [^\n]*old\.json[^\n]*\n$/);
    assert.deepEqual(box.processes(), []);
    const s = await box.cli(['status', 'old', '--json']);
    assert.equal(s.code, 3, 'an older record is still readable for status');
    assert.equal((JSON.parse(s.stdout) as { stateError: string | null }).stateError, null);
  });
});

describe('a full state disk', { skip: !isRoot() && 'mounting a small tmpfs needs root' }, () => {
  let dir = '';
  /** A fresh 64 KiB tmpfs for each test. */
  const smallDisk = (name: string) => {
    dir = box.smallDisk(name, '64k');
  };
  const fill = () => box.fillDisk(`${dir}/filler`, 1024);
  const tmps = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  test('writeState on a full disk throws ENOSPC and leaves no temporary file', () => {
    smallDisk('small-w');
    fill();
    const rec = {
      version: 1,
      options: { env: ['X='.padEnd(8192, 'x')] },
      status: null,
      exitCode: 0,
      exitedAt: 0,
    } as unknown as StateRecord;
    assert.throws(() => writeState(`${dir}/w.json`, rec), { code: 'ENOSPC' });
    assert.deepEqual(tmps(), []);
  });

  test('stop while the state disk is full: the service stops and no NAME.json.PID.tmp is left', async () => {
    smallDisk('small-stop');
    const env = { DAEMONKIT_HOME: dir };
    const r = await box.cli(['start', '--name', 'full', '--', 'sleep', '30'], env);
    assert.equal(r.code, 0, r.stderr);
    box.track(pidFromFile(`${dir}/full.pid`));
    fill();
    const stop = await box.cli(['stop', 'full'], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(tmps(), []);
  });
});
