// Runs examples/http-daemon.mjs: the server it starts through the API answers, and is gone once the example stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const example = fileURLToPath(new URL('./http-daemon.mjs', import.meta.url));

function alive(pid) {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').match(/\) ([ZX]) /);
  } catch {
    return false;
  }
}

test('the example starts an HTTP daemon, gets its answer, and stops it; nothing of it is left running', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'daemonkit-example-'));
  const env = { ...process.env, DAEMONKIT_HOME: home };
  for (const k of ['INVOCATION_ID', 'NOTIFY_SOCKET', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete env[k];
  const seen = new Set();
  t.after(() => {
    // Whatever the example reported or left in its PID file, by PID (the supervisor's session guard takes its workers).
    try {
      seen.add(Number(readFileSync(join(home, 'hello-http.pid'), 'utf8')));
    } catch {
      // stopped, as it should be
    }
    for (const pid of seen) {
      try {
        if (pid > 1) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(home, { recursive: true, force: true });
  });
  const child = spawn(process.execPath, [example], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    for (const m of String(d).matchAll(/pid (\d+)/g)) seen.add(Number(m[1]));
  });
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  const supervisor = Number(/started hello-http \(supervisor pid (\d+)\)/.exec(stdout)?.[1]);
  const worker = Number(/GET \/ -> hello from worker 0 \(pid (\d+)\)/.exec(stdout)?.[1]);
  assert.ok(supervisor && worker, stdout);
  assert.match(stdout, new RegExp(`status: running \\(LSB 0\\), worker 0 pid ${worker} running`));
  assert.match(stdout, new RegExp(`stopped hello-http \\(pid ${supervisor}\\)`));
  assert.ok(!alive(supervisor) && !alive(worker), 'stop() left nothing running');
});
