// Stale and recycled PIDs: a PID file outliving its daemon is reported, never trusted, and the PID in it (even when
// the kernel has handed it to another process) is never signalled.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { alive, stat, waitFor } from '../helpers/proc.js';
import {
  assertConsistent,
  Box,
  isRoot,
  killStrangers,
  orphanedSessionAt,
  pidFromFile,
  plainEnv,
  startTime,
  stranger,
  strangerAt,
  strangers,
  untouched,
  workersOf,
  statusJson,
} from './lib.js';

const box = new Box();
// A failed test leaves its service running: kill it here so the next test starts clean.
afterEach(() => box.killAll());
after(async () => {
  killStrangers();
  await box.cleanup();
});

/** Every command that could signal: none of them may reach the PID in a stale file. */
async function pokeStale(name: string, target: string[]): Promise<void> {
  const st = await box.cli(['status', ...target]);
  assert.equal(st.code, 1, st.stdout + st.stderr);
  assert.match(st.stdout, new RegExp(`^${name}: not running \\(stale PID file, last pid \\d+\\)\\n`));
  const json = await box.cli(['status', ...target, '--json']);
  assert.equal(JSON.parse(json.stdout).reason, 'not running (stale PID file)');
  const stop = await box.cli(['stop', ...target, '--retry', 'TERM/1/KILL/1']);
  assert.equal(stop.code, 1);
  assert.equal(stop.stderr, `daemonkit: ${name} is not running (stale PID file; nobody was signalled)\n`);
  assert.equal((await box.cli(['stop', ...target, '--ok-if-stopped'])).code, 0);
  for (const cmd of ['reload', 'reopen']) {
    const r = await box.cli([cmd, ...target]);
    assert.equal(r.code, 3, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, `daemonkit: ${name} is not running\n`);
  }
}

describe('stale and recycled PIDs', () => {
  test('a SIGKILLed supervisor: stale PID file (LSB 1); its PID recycled by a stranger; nobody signalled; start works', async () => {
    const r = await box.cli(['start', '--name', 'victim', '--workers', '2', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('victim.pid'));
    const workers = workersOf(sup);
    process.kill(sup, 'SIGKILL');
    assert.ok(await waitFor(() => !alive(sup) && workers.every((w) => !alive(w)), 2000));
    assert.ok(await waitFor(() => !existsSync(`/proc/${sup}`), 2000), 'the dead supervisor was reaped by init');
    assert.equal(pidFromFile(box.path('victim.pid')), sup, 'the PID file is left behind');
    await pokeStale('victim', ['victim']);

    const recycled = await strangerAt(sup);
    process.stdout.write(
      recycled
        ? `# PID ${sup} recycled for a stranger through ns_last_pid\n`
        : `# could not recycle PID ${sup}; a stranger in the file instead\n`,
    );
    const s = recycled ?? (await stranger());
    if (!recycled) writeFileSync(box.path('victim.pid'), `${s}\n`);
    await pokeStale('victim', ['victim']);
    untouched(s);

    const again = await box.cli(['start', '--name', 'victim', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(again.code, 0, again.stderr);
    const sup2 = pidFromFile(box.path('victim.pid'));
    assert.notEqual(sup2, s);
    assert.equal((await box.cli(['stop', 'victim'])).code, 0);
    untouched(s);
    await assertConsistent(box, 'victim');
  });

  test('a SIGKILLed unsupervised daemon: stale PID file (LSB 1), recycled PID untouched, start works', async () => {
    const r = await box.cli(['start', '--no-supervise', '--name', 'lone', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const pid = pidFromFile(box.path('lone.pid'));
    process.kill(pid, 'SIGKILL');
    assert.ok(await waitFor(() => !existsSync(`/proc/${pid}`), 2000));
    await pokeStale('lone', ['lone']);
    const recycled = await strangerAt(pid);
    process.stdout.write(
      recycled
        ? `# PID ${pid} recycled for a stranger through ns_last_pid\n`
        : `# could not recycle PID ${pid}; a stranger in the file instead\n`,
    );
    const s = recycled ?? (await stranger());
    writeFileSync(box.path('lone.pid'), `${s}\n`);
    await pokeStale('lone', ['--pidfile', box.path('lone.pid')]);
    untouched(s);
    const again = await box.cli(['start', '--no-supervise', '--name', 'lone', '--', 'sleep', '1000']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await box.cli(['stop', 'lone'])).code, 0);
    untouched(s);
    assert.deepEqual(box.processes(), []);
  });

  test('a clean stop of an unsupervised foreign program leaves no stale PID file: status 3, not 1', async () => {
    // sleep cannot remove its PID file; stop does, once the lock is free and the file still names what it stopped.
    const r = await box.cli(['start', '--no-supervise', '--name', 'tidy', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await box.cli(['stop', 'tidy'])).code, 0);
    assert.equal(existsSync(box.path('tidy.pid')), false);
    const s = await box.cli(['status', 'tidy']);
    assert.equal(s.code, 3);
    assert.equal(s.stdout, 'tidy: not running\n');
  });

  test('a PID file naming a live unrelated process: status, stop (even KILL), reload, reopen, restart never signal it', async () => {
    // A recorded service (so restart has options), then its PID file pointed at a stranger.
    const r = await box.cli(['start', '--name', 'lied', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await box.cli(['stop', 'lied'])).code, 0);
    const s = await stranger();
    writeFileSync(box.path('lied.pid'), `${s}\n`, { mode: 0o644 });
    const before = (await statusJson(box, 'lied')).json;
    assert.equal(before.lsb, 1);
    assert.equal(before.pid, s);
    await pokeStale('lied', ['lied']);
    await pokeStale('lied', ['--pidfile', box.path('lied.pid')]);
    const list = await box.cli(['list']);
    assert.match(list.stdout, /lied\s+stale/);
    untouched(s);
    const restart = await box.cli(['restart', 'lied']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.notEqual(pidFromFile(box.path('lied.pid')), s);
    untouched(s);
    assert.equal((await box.cli(['stop', 'lied'])).code, 0);
    untouched(s);
    assert.equal(readFileSync(`/proc/${s}/cmdline`, 'utf8'), 'sleep\u00001000\u0000');
    await assertConsistent(box, 'lied');
  });

  test('a PID file naming a live session leader (a recycled PID that called setsid): the start-up sweep leaves its session alone', async () => {
    // setsid makes the stranger lead a session whose id is its PID: exactly what a dead supervisor's session id looked like.
    const r = await run(['/bin/sh', '-c', 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!'], { env: plainEnv() });
    const leader = Number(r.stdout.trim());
    strangers.set(leader, startTime(leader));
    assert.ok(await waitFor(() => alive(leader) && stat(leader).session === leader), 'the stranger leads its own session');
    writeFileSync(box.path('sessioned.pid'), `${leader}\n`, { mode: 0o644 });
    const started = await box.cli(['start', '--name', 'sessioned', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(started.code, 0, started.stderr);
    await new Promise((res) => setTimeout(res, 300));
    untouched(leader);
    assert.equal((await box.cli(['stop', 'sessioned'])).code, 0);
    untouched(leader);
  });

  test("a PID file naming a stranger's session whose leader is gone: no record says it was our supervisor, so nobody is swept", async () => {
    // What an unsupervised daemon running as the service user can write through the PID file it holds: the id of any
    // session whose leader exited, here one whose only member is a stranger's sleep.
    const r = await run(['setsid', '/bin/sh', '-c', 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $!'], { env: plainEnv() });
    const member = Number(r.stdout.trim());
    strangers.set(member, startTime(member));
    const session = stat(member).session;
    assert.ok(await waitFor(() => !alive(session)), 'the session outlives its leader');
    writeFileSync(box.path('orphaned.pid'), `${session}\n`, { mode: 0o644 });
    const started = await box.cli(['start', '--name', 'orphaned', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(started.code, 0, started.stderr);
    await new Promise((res) => setTimeout(res, 300));
    untouched(member);
    assert.doesNotMatch(readFileSync(box.path('orphaned.log'), 'utf8'), /leftovers of the previous supervisor/);
    assert.equal((await box.cli(['stop', 'orphaned'])).code, 0);
    untouched(member);
  });

  test("a SIGKILLed supervisor's PID reused for a stranger's orphaned session: neither stop nor start sweeps it", async (t) => {
    const r = await box.cli(['start', '--name', 'reused', '--start-secs', '0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const sup = pidFromFile(box.path('reused.pid'));
    process.kill(sup, 'SIGKILL');
    // The guard empties the session; then its id is free for anyone.
    assert.ok(await waitFor(() => !existsSync(`/proc/${sup}`) && !box.processes().some((p) => stat(p).session === sup), 5000));
    const member = await orphanedSessionAt(sup);
    if (member === null) return t.skip('could not place a session at the freed PID (needs root and ns_last_pid)');
    const stop = await box.cli(['stop', 'reused', '--retry', 'TERM/0.2/KILL/1']);
    assert.doesNotMatch(stop.stdout, /left in its session/);
    untouched(member);
    assert.equal((await box.cli(['start', '--name', 'reused', '--start-secs', '0.1', '--', 'sleep', '1000'])).code, 0);
    await new Promise((res) => setTimeout(res, 300));
    untouched(member);
    assert.doesNotMatch(readFileSync(box.path('reused.log'), 'utf8'), /leftovers of the previous supervisor/);
    assert.equal((await box.cli(['stop', 'reused'])).code, 0);
  });

  test('a record and PID file in a directory another user owns: stop trusts neither and sweeps nothing', async (t) => {
    if (!isRoot()) return t.skip('needs root');
    // The fake supervisor's PID: the id of a stranger's session whose leader is gone.
    const r = await run(['setsid', '/bin/sh', '-c', 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $!'], { env: plainEnv() });
    const victim = Number(r.stdout.trim());
    strangers.set(victim, startTime(victim));
    const session = stat(victim).session;
    assert.ok(await waitFor(() => !existsSync(`/proc/${session}`)), 'its leader is gone');
    // A real record (a service started and stopped here), rewritten to name that session and moved where nobody rules.
    assert.equal((await box.cli(['start', '--name', 'model', '--start-secs', '0.1', '--', 'sleep', '1000'])).code, 0);
    assert.equal((await box.cli(['stop', 'model'])).code, 0);
    const record = JSON.parse(readFileSync(box.path('model.json'), 'utf8'));
    const dir = box.path('users');
    mkdirSync(dir);
    record.options.pidfile = join(dir, 'app.pid');
    record.status.pid = session;
    writeFileSync(join(dir, 'app.json'), JSON.stringify(record), { mode: 0o600 });
    writeFileSync(join(dir, 'app.pid'), `${session}\n`);
    execFileSync('chown', ['-R', 'nobody', dir]);
    const stop = await box.cli(['stop', '--pidfile', join(dir, 'app.pid')]);
    assert.doesNotMatch(stop.stdout, /left in its session/);
    untouched(victim);
  });
});
