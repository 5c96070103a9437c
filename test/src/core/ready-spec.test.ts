// --ready and --health values, and the workers' environment around the notify socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeProbe, parseHealthProbe, parseReadySpec } from '../../../src/core/ready-spec.js';
import { UsageError } from '../../../src/errors.js';
import { workerEnv } from '../../../src/supervisor/readiness.js';

test('--ready: every mode, as typed', () => {
  const p = (v: string) => parseReadySpec('--ready', v);
  assert.deepEqual(p('notify'), { kind: 'notify' });
  assert.deepEqual(p('alive:1.5'), { kind: 'alive', ms: 1500 });
  assert.deepEqual(p('alive:250ms'), { kind: 'alive', ms: 250 });
  assert.deepEqual(p('tcp:8080'), { kind: 'tcp', host: '127.0.0.1', port: 8080 });
  assert.deepEqual(p('tcp:db.local:5432'), { kind: 'tcp', host: 'db.local', port: 5432 });
  assert.deepEqual(p('tcp:[::1]:80'), { kind: 'tcp', host: '::1', port: 80 });
  assert.deepEqual(p('http://127.0.0.1:8080/ready'), { kind: 'http', url: 'http://127.0.0.1:8080/ready' });
  assert.deepEqual(p('http:localhost:8080/ready'), { kind: 'http', url: 'http://localhost:8080/ready' });
  assert.deepEqual(p('http:http://localhost/'), { kind: 'http', url: 'http://localhost/' });
  assert.deepEqual(p('exec:curl -sf localhost'), { kind: 'exec', command: 'curl -sf localhost' });
  assert.equal(describeProbe(p('tcp:[::1]:80') as never), 'tcp [::1]:80');
});

test('--ready and --health: bad values are one line naming the option and the value', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['--ready', 'tcp:0', /port must be from 1 to 65535/],
    ['--ready', 'tcp:host:', /port must be/],
    ['--ready', 'tcp:a:b:c', /expected tcp:PORT or tcp:HOST:PORT/],
    ['--ready', 'https://x/', /only http:\/\/ URLs/],
    ['--ready', 'exec: ', /expected exec:COMMAND/],
    ['--ready', 'alive:soon', /not a duration/],
    ['--ready', 'Notify', /expected alive:DURATION, notify/],
    ['--health', 'notify', /expected http:URL, tcp:PORT/],
    ['--health', 'alive:1s', /expected http:URL, tcp:PORT/],
  ];
  for (const [option, value, why] of cases) {
    assert.throws(
      () => (option === '--ready' ? parseReadySpec(option, value) : parseHealthProbe(option, value)),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message.startsWith(`invalid ${option} '${value}': `) &&
        why.test(e.message) &&
        !e.message.includes('\n'),
      `${option} ${value}`,
    );
  }
});

test("workers get the service's NOTIFY_SOCKET, never the NOTIFY_SOCKET or WATCHDOG_* of a systemd above", () => {
  const above = ['PATH=/bin', 'NOTIFY_SOCKET=/run/systemd/notify', 'WATCHDOG_USEC=30000000', 'WATCHDOG_PID=1', 'NOTIFY_SOCKETS=kept'];
  assert.deepEqual(workerEnv(above, null, null), ['PATH=/bin', 'NOTIFY_SOCKETS=kept']);
  assert.deepEqual(workerEnv(above, '/s/app.notify', null), ['PATH=/bin', 'NOTIFY_SOCKETS=kept', 'NOTIFY_SOCKET=/s/app.notify']);
  assert.deepEqual(workerEnv(above, '/s/app.notify', 2500), [
    'PATH=/bin',
    'NOTIFY_SOCKETS=kept',
    'NOTIFY_SOCKET=/s/app.notify',
    'WATCHDOG_USEC=2500000',
  ]);
});
