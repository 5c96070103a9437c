import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { getgrgid, getgrnam, getpwnam, getpwuid } from '../../../src/sys/pwd.js';

/** getent(1) goes through the same NSS configuration: what it prints is the truth to compare with. */
function getent(db: 'passwd' | 'group', key: string): string[] | null {
  try {
    return execFileSync('getent', [db, key], { encoding: 'utf8' }).trim().split(':');
  } catch (err) {
    if ((err as { status?: number }).status === 2) return null; // getent's "key not found"
    throw err;
  }
}

function passwdOf(key: string) {
  const row = getent('passwd', key);
  return row && { name: row[0], uid: Number(row[2]), gid: Number(row[3]), home: row[5], shell: row[6] };
}

function groupOf(key: string) {
  const row = getent('group', key);
  return row && { name: row[0], gid: Number(row[2]) };
}

const MISSING = 'daemonkit-no-such-name';

test('getpwnam/getpwuid: root and nobody as getent prints them', () => {
  assert.deepEqual(getpwnam('root'), passwdOf('root'));
  assert.equal(getpwnam('root')!.uid, 0);
  assert.deepEqual(getpwuid(0), passwdOf('0'));
  const nobody = passwdOf('nobody');
  assert.ok(nobody, 'this system has a nobody user');
  assert.deepEqual(getpwnam('nobody'), nobody);
  assert.deepEqual(getpwuid(nobody.uid), nobody);
});

test('getpwnam/getpwuid: the user running the test, found by uid as getent finds it', () => {
  const uid = process.getuid!();
  assert.deepEqual(getpwuid(uid), passwdOf(String(uid)));
});

test('getgrnam/getgrgid: root and the nobody group (nogroup on Debian) as getent prints them', () => {
  assert.deepEqual(getgrnam('root'), groupOf('root'));
  assert.deepEqual(getgrgid(0), { name: 'root', gid: 0 });
  const name = groupOf('nogroup') ? 'nogroup' : 'nobody';
  const group = groupOf(name);
  assert.ok(group, 'this system has a nogroup or nobody group');
  assert.deepEqual(getgrnam(name), group);
  assert.deepEqual(getgrgid(group.gid), group);
});

test('a missing name or id is null, not an error', () => {
  assert.equal(getent('passwd', MISSING), null);
  assert.equal(getpwnam(MISSING), null);
  assert.equal(getgrnam(MISSING), null);
  // 4294967294 is the largest id a uid_t can name; distributions leave it unassigned.
  assert.equal(getpwuid(0xffff_fffe), passwdOf(String(0xffff_fffe)));
  assert.equal(getgrgid(0xffff_fffe), groupOf(String(0xffff_fffe)));
  // Past uid_t: nothing can have that id.
  assert.equal(getpwuid(2 ** 32), null);
  assert.equal(getgrgid(2 ** 40), null);
});

test('bad arguments throw before any lookup', () => {
  assert.throws(() => getpwnam('ro\0ot'), TypeError);
  assert.throws(() => getgrnam(7 as unknown as string), TypeError);
  assert.throws(() => getpwuid(-1), RangeError);
  assert.throws(() => getgrgid(1.5), RangeError);
});
