import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activationEnv, activationSpawn, listenerFdTargets, withListenPid } from '../../../src/core/socket-activation.js';

test("listeners go to fds 3, 4, ... in order, each from the supervisor's fd", () => {
  assert.deepEqual(listenerFdTargets([{ fd: 17 }, { fd: 9 }]), [
    [3, { kind: 'fd', fd: 17 }],
    [4, { kind: 'fd', fd: 9 }],
  ]);
});

test('activationEnv counts and names the listeners, colon-separated', () => {
  assert.deepEqual(activationEnv([{ name: 'web' }, { name: 'admin' }]), ['LISTEN_FDS=2', 'LISTEN_FDNAMES=web:admin']);
});

test('withListenPid runs the program through sh, dropping stale activation variables', () => {
  const r = withListenPid({
    path: '/usr/bin/prog',
    argv: ['prog', 'a b', '$x'],
    env: ['A=1', 'LISTEN_PID=5', 'LISTEN_FDS=9', 'LISTEN_FDNAMES=x'],
  });
  assert.equal(r.path, '/bin/sh');
  assert.deepEqual(r.argv.slice(3), ['sh', '/usr/bin/prog', 'a b', '$x']);
  assert.deepEqual(r.env, ['A=1']);
});

test('activationSpawn leaves a spawn without listeners alone', () => {
  const req = { path: '/usr/bin/prog', argv: ['prog'], env: ['A=1'] };
  assert.equal(activationSpawn(req, []), req);
  assert.deepEqual(activationSpawn(req, [{ name: 'tcp' }]).env, ['A=1', 'LISTEN_FDS=1', 'LISTEN_FDNAMES=tcp']);
});
