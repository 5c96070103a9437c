import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getrlimit, setrlimit, RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_NPROC, RLIM_INFINITY, SysError } from '../../../src/sys/index.js';
import { scenarioJson } from './support.js';

const bundle = fileURLToPath(import.meta.url);

// Child-node scenario: lower the soft NOFILE limit, read it back, and hit it.
if (process.env.DK_SYS_CHILD === 'nofile') {
  const before = getrlimit(RLIMIT_NOFILE);
  setrlimit(RLIMIT_NOFILE, { soft: 64n, hard: before.hard });
  const after = getrlimit(RLIMIT_NOFILE);
  const fds: number[] = [];
  let failure = '';
  try {
    for (let i = 0; i < 100; i++) fds.push(openSync('/dev/null', 'r'));
  } catch (err) {
    failure = (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  let invalid = '';
  try {
    setrlimit(RLIMIT_NOFILE, { soft: after.hard + 1n, hard: after.hard });
  } catch (err) {
    invalid = `${(err as SysError).code} ${(err as SysError).syscall}`;
  }
  process.stdout.write(
    JSON.stringify({
      hard: before.hard.toString(),
      after: { soft: after.soft.toString(), hard: after.hard.toString() },
      maxFd: Math.max(...fds),
      failure,
      invalid,
    }),
  );
} else {
  // /proc/self/limits: "Max open files            1024                 1048576              files"
  const procLimit = (label: string) => {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(label))!;
    const [soft, hard] = line.slice(label.length).trim().split(/\s+/);
    const value = (v: string) => (v === 'unlimited' ? RLIM_INFINITY : BigInt(v));
    return { soft: value(soft), hard: value(hard) };
  };

  test('getrlimit matches /proc/self/limits, with RLIM_INFINITY for unlimited', () => {
    assert.deepEqual(getrlimit(RLIMIT_NOFILE), procLimit('Max open files'));
    assert.deepEqual(getrlimit(RLIMIT_CORE), procLimit('Max core file size'));
    assert.deepEqual(getrlimit(RLIMIT_NPROC), procLimit('Max processes'));
    assert.equal(RLIM_INFINITY, 2n ** 64n - 1n);
  });

  test('setrlimit in a child node: the lowered soft NOFILE limit reads back and applies; soft > hard is EINVAL', () => {
    const r = scenarioJson<{ hard: string; after: { soft: string; hard: string }; maxFd: number; failure: string; invalid: string }>(
      bundle,
      'nofile',
    );
    assert.deepEqual(r.after, { soft: '64', hard: r.hard });
    assert.equal(r.failure, 'EMFILE');
    assert.equal(r.maxFd, 63);
    assert.equal(r.invalid, 'EINVAL setrlimit');
  });

  test('getrlimit of an unknown resource throws SysError EINVAL', () => {
    assert.throws(() => getrlimit(9999), { name: 'SysError', code: 'EINVAL', syscall: 'getrlimit' });
  });
}
