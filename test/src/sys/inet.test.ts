import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6, inetNtop, inetPton, parseInetAddress, sockaddrIn, sockaddrIn6 } from '../../../src/sys/inet.js';

test('inetPton reads IPv4 and IPv6 text into network-order bytes, and refuses what is not an address', () => {
  assert.deepEqual([...inetPton(AF_INET, '127.0.0.1')!], [127, 0, 0, 1]);
  assert.deepEqual([...inetPton(AF_INET6, '::1')!], [...Array(15).fill(0), 1]);
  assert.equal(inetPton(AF_INET, '256.0.0.1'), null);
  assert.equal(inetPton(AF_INET, 'localhost'), null);
  assert.equal(inetPton(AF_INET6, '127.0.0.1'), null);
  assert.equal(inetPton(AF_INET6, 'fe80::1%eth0'), null);
});

test('inetNtop writes the canonical text back (IPv6 compressed)', () => {
  assert.equal(inetNtop(AF_INET6, inetPton(AF_INET6, '0:0:0:0:0:0:0:1')!), '::1');
  assert.equal(inetNtop(AF_INET, inetPton(AF_INET, '10.1.2.3')!), '10.1.2.3');
});

test('sockaddrIn and sockaddrIn6 put the port in network order, and parseInetAddress reads them back', () => {
  const v4 = sockaddrIn(inetPton(AF_INET, '192.168.0.7')!, 8080);
  assert.equal(v4.length, 16);
  assert.deepEqual([...v4.subarray(2, 4)], [0x1f, 0x90]);
  assert.deepEqual(parseInetAddress(v4), { family: AF_INET, address: '192.168.0.7', port: 8080 });
  const v6 = sockaddrIn6(inetPton(AF_INET6, '2001:db8::5')!, 443);
  assert.equal(v6.length, 28);
  assert.deepEqual(parseInetAddress(v6), { family: AF_INET6, address: '2001:db8::5', port: 443 });
});
