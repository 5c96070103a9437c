// HTTP helpers for the serving measurements: a free port, waiting until a server answers, one timed request, and the
// load generator (bench/entries/http-load.mjs) run as a child process.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { benchDir, node } from './env.mjs';
import { sleep, track } from './proc.mjs';

/** A TCP port free right now on 127.0.0.1 (the kernel's pick). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One GET on a new connection: { status, pid (the x-worker-pid header) } or { error: code }. */
export function get(url, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, pid: Number(res.headers['x-worker-pid']) || null }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** Resolves once `workers` distinct PIDs have answered GET url (or false after timeoutMs). */
export async function waitServing(url, workers = 1, timeoutMs = 30_000) {
  const seen = new Set();
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const r = await get(url, { timeoutMs: 2000 });
    if (r.status === 200 && r.pid) seen.add(r.pid);
    if (seen.size >= workers) return true;
    if (r.error) await sleep(20);
  }
  return false;
}

/**
 * Starts the load generator; `done` resolves with its JSON result. stop() ends it early (SIGTERM: it finishes the
 * requests in flight and reports).
 */
export function startLoad(url, { connections, seconds, keepAlive }) {
  const child = spawn(
    node,
    [join(benchDir, 'entries', 'http-load.mjs'), url, String(connections), String(seconds), keepAlive ? 'keep-alive' : 'close'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  track(child.pid);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`load generator exited ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}`));
      }
    });
  });
  return { done, stop: () => child.kill('SIGTERM'), pid: child.pid };
}

/** Answers per second over the windows [[from, to], ...] (absolute ms on the shared clock) from a load result's buckets. */
export function rateOver(result, windows) {
  let count = 0;
  let seconds = 0;
  for (const [from, to] of windows) {
    const b0 = Math.floor((from - result.start) / result.bucketMs);
    const b1 = Math.floor((to - result.start) / result.bucketMs);
    for (const [b, c] of result.buckets) if (b >= b0 && b < b1) count += c;
    seconds += ((b1 - b0) * result.bucketMs) / 1000;
  }
  return seconds > 0 ? count / seconds : null;
}

export const errorCount = (result) => Object.values(result.errors).reduce((s, v) => s + v, 0);
export const failedCount = (result) => Object.entries(result.statuses).reduce((s, [k, v]) => s + (k === '200' ? 0 : v), 0);
