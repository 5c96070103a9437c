import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { spawn, waitpid, setChildSubreaper, isChildSubreaper } from '../../../src/sys/index.js';
import { scenarioJson, killAndReap, tempDir } from './support.js';

const bundle = fileURLToPath(import.meta.url);

// Child-node scenario: become a subreaper, orphan a grandchild and reap it ourselves, then turn it off.
if (process.env.DK_SYS_CHILD === 'subreaper') {
  const dir = process.env.DK_SYS_DIR ?? tmpdir();
  const initially = isChildSubreaper();
  setChildSubreaper(true);
  const on = isChildSubreaper();
  const pidFile = join(dir, 'grandchild.pid');
  const statFile = join(dir, 'grandchild.stat');
  // The middle shell starts a background subshell and exits; the subshell then reports its parent.
  const script = `(sleep 0.1; read -r s < /proc/self/stat; echo "$s" > '${statFile}') & echo $! > '${pidFile}'`;
  const middle = spawn({ path: '/bin/sh', argv: ['sh', '-c', script], env: ['PATH=/usr/bin:/bin'] });
  waitpid(middle);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  let reaped: number | undefined;
  try {
    const result = waitpid(grandchild); // only possible because it was reparented to us
    reaped = result?.pid;
  } finally {
    if (reaped === undefined) killAndReap(grandchild);
  }
  const stat = readFileSync(statFile, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  setChildSubreaper(false);
  process.stdout.write(JSON.stringify({ pid: process.pid, initially, on, off: isChildSubreaper(), grandchild, reaped, ppid }));
} else {
  test('child subreaper in a child node: flag on/off, and an orphaned grandchild is reparented to it', (t) => {
    const r = scenarioJson<{ pid: number; initially: boolean; on: boolean; off: boolean; grandchild: number; reaped: number; ppid: number }>(
      bundle,
      'subreaper',
      { DK_SYS_DIR: tempDir(t) },
    );
    assert.equal(r.initially, false);
    assert.equal(r.on, true);
    assert.equal(r.off, false);
    assert.equal(r.reaped, r.grandchild);
    assert.equal(r.ppid, r.pid);
  });

  test('the test process itself is not a subreaper', () => {
    assert.equal(isChildSubreaper(), false); // the flag is not inherited across fork
  });
}
