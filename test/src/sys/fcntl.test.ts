import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import {
  setCloexec,
  O_CLOEXEC,
  O_CREAT,
  O_RDWR,
  O_WRONLY,
  O_RDONLY,
  O_APPEND,
  O_TRUNC,
  O_NOCTTY,
  O_NOFOLLOW,
} from '../../../src/sys/index.js';
import { isCloexec } from '../../helpers/proc.js';

test('setCloexec sets and clears the flag the kernel reports in fdinfo (node opens close-on-exec)', () => {
  const fd = openSync('/dev/null', 'r');
  try {
    assert.equal(isCloexec(fd), true);
    setCloexec(fd, false);
    assert.equal(isCloexec(fd), false);
    setCloexec(fd, false);
    assert.equal(isCloexec(fd), false);
    setCloexec(fd, true);
    assert.equal(isCloexec(fd), true);
  } finally {
    closeSync(fd);
  }
});

test('fcntl on a closed fd throws SysError EBADF', () => {
  const fd = openSync('/dev/null', 'r');
  closeSync(fd);
  assert.throws(() => setCloexec(fd, true), { name: 'SysError', code: 'EBADF', syscall: 'fcntl' });
});

test('open flags have the Linux values', () => {
  assert.deepEqual(
    { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_NOCTTY, O_TRUNC, O_APPEND, O_NOFOLLOW, O_CLOEXEC },
    {
      O_RDONLY: 0,
      O_WRONLY: 1,
      O_RDWR: 2,
      O_CREAT: 0o100,
      O_NOCTTY: 0o400,
      O_TRUNC: 0o1000,
      O_APPEND: 0o2000,
      O_NOFOLLOW: 0o400000,
      O_CLOEXEC: 0o2000000,
    },
  );
});
