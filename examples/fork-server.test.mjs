// Runs examples/fork-server.mjs: four workers answer on one port, and SIGTERM to the parent leaves no process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const example = fileURLToPath(new URL('./fork-server.mjs', import.meta.url));

/** A port nobody listens on right now: the kernel's pick for port 0, released. */
function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function hello(port) {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', () => resolve(null));
  });
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function until(cond, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    const v = await cond();
    if (v) return v;
  }
  return null;
}

test('four workers serve one port; SIGTERM to the parent stops them all', async (t) => {
  const port = await freePort();
  const parent = spawn(process.execPath, [example], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  parent.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => parent.on('close', (code) => resolve(code)));
  let workers = [];
  t.after(() => {
    for (const pid of [parent.pid, ...workers]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  workers = await until(() => (childrenOf(parent.pid).length === 4 ? childrenOf(parent.pid) : null));
  assert.ok(workers, 'the parent runs 4 workers');
  const body = await until(() => hello(port));
  assert.match(body ?? '', /^hello from worker [0-3] \(pid (\d+)\)\n$/);
  assert.ok(workers.includes(Number(/pid (\d+)/.exec(body)[1])), "answered by one of the parent's workers");

  parent.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const pid of workers) assert.ok(!existsSync(`/proc/${pid}`), `worker ${pid} gone`);
});
