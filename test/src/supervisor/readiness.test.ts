// Who may speak for a worker on the notify socket: the kernel's credentials of each datagram decide. A worker itself
// or a process of its group, whatever uid it runs as; a sender already gone naming the worker in MAINPID only as root
// or the workers' user (the socket file's mode lets nobody else send anyway).
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

test('a gone sender of another user naming a worker in MAINPID counts for nothing', (t) => {
  const { r, ready } = readiness(t);
  r.spawned(0, WORKER);
  r.onNotify({ pid: gonePid(), uid: OTHER_UID, gid: OTHER_UID, fields: { READY: '1', MAINPID: String(WORKER) } });
  assert.deepEqual(ready, []);
});

test('a worker that dropped to another uid itself is still known by its PID, the kernel vouching for it', (t) => {
  const { r, ready } = readiness(t);
  r.spawned(0, WORKER);
  r.onNotify({ pid: WORKER, uid: OTHER_UID, gid: OTHER_UID, fields: { READY: '1' } });
  assert.deepEqual(ready, [WORKER]);
});

test("a gone sender naming a worker in MAINPID counts from the workers' user", (t) => {
  const { r, ready } = readiness(t);
  r.spawned(0, WORKER);
  r.onNotify({ pid: gonePid(), uid: process.getuid!(), gid: 0, fields: { READY: '1', MAINPID: String(WORKER) } });
  assert.deepEqual(ready, [WORKER]);
});

test('the worker itself counts', (t) => {
  const { r, ready } = readiness(t);
  r.spawned(0, WORKER);
  r.onNotify({ pid: WORKER, uid: process.getuid!(), gid: 0, fields: { READY: '1' } });
  assert.deepEqual(ready, [WORKER]);
});
