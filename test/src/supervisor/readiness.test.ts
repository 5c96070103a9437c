// Who may speak for a worker on the notify socket. It is abstract (no file mode guards it), so the kernel's
// credentials of each datagram decide: a worker itself, its process group, or — once the sender is gone and its PID
// proves nothing — only root or the workers' own user naming the worker in MAINPID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { normalize } from '../../../src/options.js';
import { Readiness } from '../../../src/supervisor/readiness.js';
import { ProbeCommands } from '../../../src/supervisor/probe.js';
import { tempDir } from '../../helpers/sandbox.js';

function readiness(t: Parameters<typeof tempDir>[0]) {
  const o = normalize({ name: 'r', stateDir: tempDir(t, 'dk-ready-'), command: ['/bin/sleep', '1000'], ready: 'notify' }, 'library');
  const ready: number[] = [];
  const r = new Readiness(o, new ProbeCommands(o, [], () => []), { ready: (pid) => ready.push(pid), watchdog: () => {}, log: () => {} });
  return { r, ready };
}

/** A PID that was a process and is gone now (reaped). */
const gonePid = () => spawnSync('true').pid!;
const WORKER = process.pid;
const OTHER_UID = 65534;

test("a gone sender naming a worker in MAINPID counts only as root or the workers' user", (t) => {
  const { r, ready } = readiness(t);
  r.spawned(0, WORKER);
  r.onNotify({ pid: gonePid(), uid: OTHER_UID, gid: OTHER_UID, fields: { READY: '1', MAINPID: String(WORKER) } });
  assert.deepEqual(ready, [], 'another user cannot make a worker ready');
  r.onNotify({ pid: gonePid(), uid: process.getuid!(), gid: 0, fields: { READY: '1', MAINPID: String(WORKER) } });
  assert.deepEqual(ready, [WORKER]);
});

test('the worker itself counts whoever it runs as (its PID is the kernel’s word)', (t) => {
  const { r, ready } = readiness(t);
  r.spawned(0, WORKER);
  r.onNotify({ pid: WORKER, uid: OTHER_UID, gid: OTHER_UID, fields: { READY: '1' } });
  assert.deepEqual(ready, [WORKER]);
});
