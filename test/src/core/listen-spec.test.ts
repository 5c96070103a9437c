import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenSpec } from '../../../src/core/listen-spec.js';
import { UsageError } from '../../../src/errors.js';

test('tcp:PORT binds every address; the name defaults to the kind', () => {
  assert.deepEqual(parseListenSpec('tcp:8080'), { kind: 'tcp', name: 'tcp', text: 'tcp:8080', host: null, port: 8080 });
  assert.equal((parseListenSpec('tcp:0') as { port: number }).port, 0);
});

test('tcp:HOST:PORT takes an IPv4 address; tcp6:[ADDR]:PORT an IPv6 one', () => {
  assert.deepEqual(parseListenSpec('tcp:127.0.0.1:80'), {
    kind: 'tcp',
    name: 'tcp',
    text: 'tcp:127.0.0.1:80',
    host: '127.0.0.1',
    port: 80,
  });
  assert.deepEqual(parseListenSpec('tcp6:[::1]:443'), { kind: 'tcp6', name: 'tcp6', text: 'tcp6:[::1]:443', host: '::1', port: 443 });
  assert.equal((parseListenSpec('tcp6:[::]:443') as { host: string }).host, '::');
});

test('unix:PATH is resolved against the base directory; @name is abstract', () => {
  assert.deepEqual(parseListenSpec('unix:app.sock', '/srv/app'), {
    kind: 'unix',
    name: 'unix',
    text: 'unix:/srv/app/app.sock',
    path: '/srv/app/app.sock',
  });
  assert.equal((parseListenSpec('unix:@app') as { path: string }).path, '@app');
});

test('NAME= names the socket; an = after the kind belongs to the address', () => {
  assert.equal(parseListenSpec('web=tcp:8080').name, 'web');
  assert.equal(parseListenSpec('admin.v2_x-y=unix:/run/a.sock').name, 'admin.v2_x-y');
  const odd = parseListenSpec('unix:/run/a=b.sock');
  assert.equal(odd.name, 'unix');
  assert.equal((odd as { path: string }).path, '/run/a=b.sock');
});

const bad: Array<[string, RegExp]> = [
  ['8080', /expected tcp:PORT/],
  ['udp:53', /expected tcp:PORT/],
  ['tcp:', /port '' is not a number/],
  ['tcp:65536', /port '65536'/],
  ['tcp:-1', /port '-1'/],
  ['tcp:80x', /port '80x'/],
  ['tcp:localhost:80', /'localhost' is not an IPv4 address/],
  ['tcp:::1:80', /tcp6:\[ADDR\]:PORT/],
  ['tcp6:::1:80', /expected tcp6:\[ADDR\]:PORT/],
  ['tcp6:[nope]:80', /'nope' is not an IPv6 address/],
  ['unix:', /expected unix:PATH/],
  [`unix:/${'x'.repeat(120)}`, /at most 107/],
  ['=tcp:80', /name '' must be/],
  ['a b=tcp:80', /name 'a b' must be/],
  [`${'n'.repeat(256)}=tcp:80`, /must be 1 to 255/],
];

for (const [value, reason] of bad) {
  test(`--listen ${JSON.stringify(value.slice(0, 30))} is a UsageError naming the option and the value`, () => {
    assert.throws(
      () => parseListenSpec(value),
      (e: unknown) =>
        e instanceof UsageError &&
        e.option === '--listen' &&
        e.value === value &&
        e.message.startsWith(`invalid --listen '`) &&
        reason.test(e.message),
    );
  });
}
