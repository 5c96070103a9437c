import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setfsgid, setfsuid } from '../../../src/sys/index.js';
import { tempDir } from '../../helpers/sandbox.js';

const isRoot = process.geteuid?.() === 0;
/** The filesystem id: the fourth of /proc/self/status's Uid:/Gid: fields (this thread's, which is the main one). */
const fsId = (field: 'Uid' | 'Gid') => Number(new RegExp(`^${field}:\\s+\\d+\\s+\\d+\\s+\\d+\\s+(\\d+)`, 'm').exec(readStatus())![1]);
const readStatus = () => readFileSync('/proc/thread-self/status', 'utf8');

test('setfsuid/setfsgid: files are created and checked as that user until restored', { skip: !isRoot && 'needs root' }, (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o777);
  const gid = setfsgid(65534);
  const uid = setfsuid(65534);
  try {
    assert.equal(fsId('Uid'), 65534);
    assert.equal(fsId('Gid'), 65534);
    closeSync(openSync(join(dir, 'made'), 'w'));
    // root's own file is out of reach now: the capabilities went with fsuid 0.
    assert.throws(() => openSync('/etc/shadow', 'r'), { code: 'EACCES' });
  } finally {
    assert.equal(setfsuid(uid), 65534);
    assert.equal(setfsgid(gid), 65534);
  }
  assert.equal(fsId('Uid'), 0);
  assert.equal(fsId('Gid'), 0);
  const st = statSync(join(dir, 'made'));
  assert.deepEqual([st.uid, st.gid], [65534, 65534]);
  closeSync(openSync('/etc/shadow', 'r'));
});

test(
  'setfsuid as a user that may not change it: the failure is seen (EPERM), not returned as a number',
  { skip: isRoot && 'needs a non-root user' },
  () => {
    assert.throws(() => setfsuid(0), { code: 'EPERM', syscall: 'setfsuid' });
  },
);
