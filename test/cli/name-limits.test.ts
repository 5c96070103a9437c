// A --name whose control socket path would not fit a unix socket address is refused while normalizing: exit 2, nothing left.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';

const box = new Sandbox();
after(() => box.cleanup());

/** sun_path holds 108 bytes with its NUL: the socket's path may have 107. */
const SOCKET_PATH_BYTES = 107;

test('a name that makes STATE/NAME.sock longer than a socket address holds: exit 2, one line naming --name and the limit, nothing started', async () => {
  const name = 'n'.repeat(SOCKET_PATH_BYTES - `${box.dir}/.sock`.length + 1);
  assert.ok(name.length <= 100, 'still a valid name by itself');
  const r = await cli(['start', '--name', name, '--', 'sleep', '30'], { env: box.env() });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^daemonkit: invalid --name '${name.slice(0, 20)}[^']*': .*${SOCKET_PATH_BYTES}`));
  assert.equal(r.stdout, '');
  assert.deepEqual(readdirSync(box.dir), [], 'no PID file, log or socket left');
});

test('one byte shorter fits: the service starts and stops', async () => {
  const name = 'm'.repeat(SOCKET_PATH_BYTES - `${box.dir}/.sock`.length);
  assert.equal(Buffer.byteLength(join(box.dir, `${name}.sock`)), SOCKET_PATH_BYTES);
  const r = await cli(['start', '--name', name, '--', 'sleep', '30'], { env: box.env() });
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]);
  box.track(pid);
  const s = await cli(['stop', name], { env: box.env() });
  assert.equal(s.code, 0, s.stderr);
});
