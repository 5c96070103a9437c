// The new session's read of its order is bounded: a peer that sends without end gets the session to give up (exit 1)
// instead of growing it without limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.js';

const INTERMEDIATE = join(repoRoot, 'dist', 'intermediate.js');
/** Over the session's limit on one order (16 MiB), with no newline in it. */
const ENDLESS_LINE_BYTES = 20 * 1024 * 1024;

test('an order line past the limit: the session exits 1 while the sender is still connected', { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, [INTERMEDIATE], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  try {
    const fd3 = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
    fd3.on('error', () => {}); // EPIPE once the session has given up
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    fd3.write(Buffer.alloc(ENDLESS_LINE_BYTES, 'x'));
    assert.equal(await exited, 1);
  } finally {
    child.kill('SIGKILL');
  }
});
