// The control socket against a hostile local client (it is root's, 0600, but a supervisor must not trust even its
// owner's clients to be sane): an endless line, idle connections, more connections than it serves at once.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { waitFor } from '../helpers/proc.js';
import { Box, pidFromFile, rssKb, sleepMs } from './lib.js';

const box = new Box();
afterEach(() => box.killAll());
after(() => box.cleanup());

/** Mirrors the supervisor's caps (src/core/control.ts); the test reads them off the supervisor's behaviour. */
const REQUEST_LIMIT = 4096;
const FLOOD_BYTES = 12 * 1024 * 1024;

async function startService(name: string): Promise<number> {
  const r = await box.cli(['start', '--name', name, '--start-secs', '0.1', '--', 'sleep', '1000']);
  assert.equal(r.code, 0, r.stderr);
  return box.track(pidFromFile(box.path(`${name}.pid`)));
}

/** One raw request on a fresh connection; the answer's parsed line, or null if none came within timeoutMs. */
function rawAsk(path: string, line: string, timeoutMs: number): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const conn = createConnection(path);
    let got = '';
    const done = (v: Record<string, unknown> | null) => {
      clearTimeout(timer);
      conn.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    conn.on('error', () => done(null));
    conn.on('connect', () => conn.write(line));
    conn.on('data', (d) => {
      got += d;
      const nl = got.indexOf('\n');
      if (nl >= 0) done(JSON.parse(got.slice(0, nl)) as Record<string, unknown>);
    });
    conn.on('close', () => done(null));
  });
}

/** Streams up to `total` bytes with no newline, honouring backpressure; stops when the server closes. */
function flood(path: string, total: number): Promise<{ written: number; answer: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const conn = createConnection(path);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let answer = '';
    let closed = false;
    conn.on('data', (d) => (answer += d));
    conn.on('error', () => {});
    conn.on('close', () => {
      closed = true;
      resolve({ written, answer, closedByServer: written < total });
    });
    const pump = () => {
      while (!closed && written < total) {
        written += chunk.length;
        if (!conn.write(chunk)) return void conn.once('drain', pump);
      }
      // Everything written and the server still listening: our own end closes, so the test ends either way.
      if (!closed) setTimeout(() => conn.end(), 500);
    };
    conn.on('connect', pump);
  });
}

describe('the control socket bounds what a client can make it hold', () => {
  test('a request line with no end is cut at the limit: answered with an error, closed; RSS flat; others answered meanwhile', async () => {
    const sup = await startService('flood');
    const sock = box.path('flood.sock');
    assert.ok((await rawAsk(sock, '{"cmd":"status"}\n', 5000))?.ok, 'status answers before the flood');
    await sleepMs(1500); // the start's garbage collected and trimmed: a stable baseline
    const rss0 = rssKb(sup);
    const [flooded, during] = await Promise.all([
      flood(sock, FLOOD_BYTES),
      sleepMs(50).then(() => rawAsk(sock, '{"cmd":"status"}\n', 5000)),
    ]);
    const rss1 = rssKb(sup);
    process.stdout.write(`# ${flooded.written} bytes accepted before the close; RSS ${rss0} -> ${rss1} kB\n`);
    assert.ok(flooded.closedByServer, `the supervisor read all ${flooded.written} bytes of a line with no end`);
    // The kernel's socket buffers take some before the server's close is seen; far less than the flood.
    assert.ok(flooded.written < 2 * 1024 * 1024, `${flooded.written} bytes accepted before the close`);
    assert.deepEqual(JSON.parse(flooded.answer.split('\n')[0]!), { ok: false, error: `request too large (limit ${REQUEST_LIMIT} bytes)` });
    assert.ok(rss1 - rss0 < 8 * 1024, `RSS grew ${rss1 - rss0} kB`);
    assert.equal(during?.ok, true, 'status answered while the flood ran');
    const st = await box.cli(['status', 'flood', '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).state, 'running');
  });

  test('a request just under the limit is read, one just over refused, one of the wrong shape answered', async () => {
    await startService('edge');
    const pad = ' '.repeat(REQUEST_LIMIT - '{"cmd":"status"}'.length - 1);
    const answer = await rawAsk(box.path('edge.sock'), `{"cmd":"status"}${pad}\n`, 5000);
    assert.equal(answer?.ok, true, JSON.stringify(answer));
    const over = await rawAsk(box.path('edge.sock'), `{"cmd":"status"}${pad}  \n`, 5000);
    assert.deepEqual(over, { ok: false, error: `request too large (limit ${REQUEST_LIMIT} bytes)` });
    // JSON of the wrong shape gets an answer too, not a connection left hanging.
    for (const line of ['null\n', '5\n', '{"cmd":"nonsense"}\n']) {
      const bad = await rawAsk(box.path('edge.sock'), line, 5000);
      assert.equal(bad?.ok, false, `${line.trim()}: ${JSON.stringify(bad)}`);
    }
  });

  test('a stop whose schedule is not a short list of numbers is refused and allocates nothing; the service runs on', async () => {
    const pid = await startService('sched');
    const sock = box.path('sched.sock');
    const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    const before = hwm();
    for (const schedule of ['{"length":50000000}', '"TERM"', '[15,"x"]', `[${Array(200).fill(15).join(',')}]`]) {
      const answer = await rawAsk(sock, `{"cmd":"stop","schedule":${schedule}}\n`, 5000);
      assert.equal(answer?.ok, false, `${schedule}: ${JSON.stringify(answer)}`);
      assert.match(String(answer?.error), /^bad request: /);
    }
    assert.ok(hwm() - before < 20 * 1024, `peak RSS grew from ${before} to ${hwm()} kB`);
    assert.equal((await rawAsk(sock, '{"cmd":"status"}\n', 5000))?.ok, true, 'still running and answering');
  });

  test('idle connections beyond the cap are refused, the rest closed after the request deadline; status answered after', async () => {
    await startService('idle');
    const sock = box.path('idle.sock');
    const conns: Socket[] = [];
    const closed = new Set<number>();
    try {
      for (let i = 0; i < 200; i++) {
        const c = createConnection(sock);
        c.on('error', () => {});
        c.on('close', () => closed.add(i));
        conns.push(c);
      }
      // Connections past the cap are closed at once, long before any deadline.
      assert.ok(await waitFor(() => closed.size >= 100, 1000, 10), `only ${closed.size} of 200 idle connections refused at once`);
      const early = closed.size;
      // The rest are idle clients that never send a request: closed once their deadline passes.
      assert.ok(await waitFor(() => closed.size === conns.length, 10_000, 50), `${conns.length - closed.size} idle connections still open`);
      process.stdout.write(`# ${early} of 200 idle connections refused at once, the rest closed at the deadline\n`);
      const answer = await rawAsk(sock, '{"cmd":"status"}\n', 5000);
      assert.equal(answer?.ok, true, JSON.stringify(answer));
    } finally {
      for (const c of conns) c.destroy();
    }
  });
});
