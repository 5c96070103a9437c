// The original's wait for its verdict, against a stand-in new session (a bare Node on the link's other end): what it
// reads is bounded, and a session that says nothing is stopped and named as such, in both ways of waiting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize } from '../../../src/options.js';
import { ORIGINAL_STEPS, type BlockingWait, type StartResult } from '../../../src/core/start.js';
import { REPORT_MAX_BYTES } from '../../../src/core/messages.js';
import { planFds, SESSION_READY_FD } from '../../../src/core/plan.js';
import { spawnPlanned } from '../../../src/core/spawner.js';
import { socketpair } from '../../../src/sys/socket.js';
import { waitpid, WNOHANG } from '../../../src/sys/wait.js';
import { alive, waitFor } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/sandbox.js';
import { isRoot, strangerAt, untouched } from '../../reliability/lib.js';

/** What the stand-in session does with the link once it is its fd SESSION_READY_FD. */
const SESSIONS = {
  // Far past the limit, never a newline; then it stays.
  flood: `require('fs').writeSync(${SESSION_READY_FD}, Buffer.alloc(${4 * REPORT_MAX_BYTES}, 'x')); setInterval(() => {}, 1000)`,
  silent: 'setInterval(() => {}, 1000)',
};

const WAITS: Record<string, BlockingWait | undefined> = {
  'on the event loop (the library)': undefined,
  'blocked in poll(2) (the CLI)': { tickMs: Infinity, tick() {} },
};

/** Runs the original's await-ready step against a stand-in session; resolves with its verdict and the session's PID. */
async function awaitVerdictFrom(session: string, wait: BlockingWait | undefined, options: object) {
  const o = normalize({ command: ['sleep', '1'], log: '/dev/null', ...options }, 'cli', process.env, '/');
  const [mine, theirs] = socketpair();
  // Not node:child_process: the original reaps its session with waitpid(2) itself, which a ChildProcess would wait on forever.
  const nul = { kind: 'null' } as const;
  const fds = planFds([
    [0, nul],
    [1, nul],
    [2, { kind: 'inherit' }],
    [SESSION_READY_FD, { kind: 'fd', fd: theirs }],
  ]);
  const pid = spawnPlanned({ path: process.execPath, argv: [process.execPath, '-e', session], env: [], fds });
  closeSync(theirs);
  const l = {
    o,
    program: { path: '/bin/sleep', argv: ['sleep', '1'], readyProtocol: false },
    supervisorEntry: false,
    logs: new Map(),
    steps: [],
    mine,
    theirs: -1,
    sessionPid: pid,
    verdict: null as StartResult | null,
    wait,
  };
  try {
    await ORIGINAL_STEPS['await-ready']!(l as never);
    return { verdict: l.verdict, pid };
  } finally {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    try {
      waitpid(pid, WNOHANG);
    } catch {
      // reaped by the step already
    }
  }
}

for (const [how, wait] of Object.entries(WAITS)) {
  describe(`the original waiting ${how}`, () => {
    test('a session that sends a line past the limit is stopped, and the start fails saying so', { timeout: 30_000 }, async () => {
      const { verdict, pid } = await awaitVerdictFrom(SESSIONS.flood, wait, { readyTimeout: 60 });
      assert.deepEqual(verdict, {
        kind: 'failed',
        message: `the new session sent a report over ${REPORT_MAX_BYTES / 1024} KiB; stopped it`,
      });
      assert.ok(await waitFor(() => !alive(pid)), 'the session is gone');
    });

    test('a session that never answers gets the stop schedule after the backstop, and is named as hung', { timeout: 30_000 }, async () => {
      const { verdict } = await awaitVerdictFrom(SESSIONS.silent, wait, { readyTimeout: 0.1, startSecs: 0, retry: 'TERM/1' });
      assert.match(verdict?.kind === 'failed' ? verdict.message : '', /^no verdict from the new session after [\d.]+s; stopped it$/);
    });
  });
}

test(
  "a hung session whose daemon is gone: the stop never reaches a stranger that got the daemon's PID since",
  { timeout: 30_000, skip: !isRoot() && 'placing a process at a PID needs root' },
  async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'daemon.pid');
    // The stand-in reports a daemon that has already exited (and been reaped), then says nothing more.
    const session = `const r = require('child_process').spawnSync('true');
require('fs').writeSync(${SESSION_READY_FD}, JSON.stringify({ kind: 'spawned', pid: r.pid }) + '\\n');
require('fs').writeFileSync(${JSON.stringify(file)}, String(r.pid));
setInterval(() => {}, 1000);`;
    const verdict = awaitVerdictFrom(session, undefined, { readyTimeout: 0.1, startSecs: 0, retry: 'TERM/1' });
    assert.ok(await waitFor(() => existsSync(file) && readFileSync(file, 'utf8') !== '', 10_000), 'the session reported its daemon');
    const stranger = await strangerAt(Number(readFileSync(file, 'utf8')));
    if (stranger === null) return t.skip("the daemon's PID could not be had");
    try {
      await verdict;
      untouched(stranger);
    } finally {
      process.kill(stranger, 'SIGKILL');
    }
  },
);
