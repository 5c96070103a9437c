// The load generator of the reload and serve measurements, run as its own process so the harness's synchronous
// /proc polling never stalls it. CONNECTIONS loops each send GET / and await the whole answer, again and again,
// either over kept-alive connections (an Agent with that many sockets) or with a new connection per request
// (`agent: false`, `connection: close`; autocannon cannot do this). It stops after SECONDS, or at SIGTERM, and
// prints one JSON line: answers by status, errors by code, latency percentiles, and answers per 100 ms bucket (on
// performance.timeOrigin + now(), the clock the harness shares).
// Usage: node http-load.mjs URL CONNECTIONS SECONDS keep-alive|close
import { Agent, request } from 'node:http';

const [url, connectionsArg, secondsArg, mode] = process.argv.slice(2);
const connections = Number(connectionsArg);
const keepAlive = mode === 'keep-alive';
const BUCKET_MS = 100;
/** A request not answered in this long counts as an error (pm2's reloads lose requests this way). */
const REQUEST_TIMEOUT_MS = 10_000;

const clock = () => performance.timeOrigin + performance.now();
const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections }) : false;
const headers = keepAlive ? {} : { connection: 'close' };
const statuses = {};
const errors = {};
const latencies = [];
const buckets = new Map();
const t0 = clock();
let running = true;

function once() {
  return new Promise((resolve) => {
    const start = clock();
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        const end = clock();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        latencies.push(end - start);
        const b = Math.floor((end - t0) / BUCKET_MS);
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
        resolve();
      });
      res.on('error', (e) => fail(e));
    });
    const fail = (e) => {
      if (req.failed) return;
      req.failed = true;
      errors[e.code ?? e.message] = (errors[e.code ?? e.message] ?? 0) + 1;
      resolve();
    };
    req.setTimeout(REQUEST_TIMEOUT_MS, () => {
      fail({ code: 'TIMEOUT' });
      req.destroy();
    });
    req.on('error', fail);
    req.end();
  });
}

async function loop() {
  while (running) await once();
}

const stop = () => (running = false);
process.on('SIGTERM', stop);
setTimeout(stop, Number(secondsArg) * 1000);
await Promise.all(Array.from({ length: connections }, loop));
const t1 = clock();
latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies.length ? +latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(3) : null;
const ok = Object.entries(statuses).reduce((s, [k, v]) => s + (k === '200' ? v : 0), 0);
process.stdout.write(
  `${JSON.stringify({
    start: t0,
    end: t1,
    ok,
    statuses,
    errors,
    p50: pct(50),
    p99: pct(99),
    bucketMs: BUCKET_MS,
    buckets: [...buckets].sort((a, b) => a[0] - b[0]),
  })}\n`,
);
agent && agent.destroy();
process.exit(0);
