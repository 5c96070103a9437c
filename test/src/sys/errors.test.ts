import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync } from 'node:fs';
import { SysError, sysError } from '../../../src/sys/index.js';

test('SysError looks like the error Node itself throws for the same failure', () => {
  let node: NodeJS.ErrnoException | undefined;
  try {
    openSync('/nonexistent/x', 'r');
  } catch (err) {
    node = err as NodeJS.ErrnoException;
  }
  const ours = sysError(2, 'open', '/nonexistent/x');
  assert.ok(ours instanceof SysError && ours instanceof Error);
  assert.equal(ours.message, node!.message);
  assert.equal(ours.errno, node!.errno);
  assert.equal(ours.code, node!.code);
  assert.equal(ours.syscall, node!.syscall);
  assert.equal(ours.path, node!.path);
  assert.equal(ours.name, 'SysError');
});

test('without a path there is no path property and no quoted suffix', () => {
  const err = sysError(1, 'setsid');
  assert.equal(err.message, 'EPERM: operation not permitted, setsid');
  assert.equal('path' in err, false);
});

test('errnos missing from Node’s table get their name and glibc’s text', () => {
  assert.equal(sysError(10, 'waitpid').message, 'ECHILD: no child processes, waitpid');
  assert.equal(sysError(8, 'posix_spawn', '/x').message, "ENOEXEC: exec format error, posix_spawn '/x'");
  const unknown = sysError(4000, 'x');
  assert.equal(unknown.code, 'UNKNOWN');
  assert.equal(unknown.errno, -4000);
  assert.match(unknown.message, /^UNKNOWN: unknown error 4000, x$/);
});
