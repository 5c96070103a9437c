// The zero-downtime proof: a Node HTTP server with 4 workers on one shared socket, continuous keep-alive and
// new-connection traffic, 20 rolling reloads in a row: not one failed request, not one connection error. The state
// directory is the sandbox's (DAEMONKIT_HOME).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, get } from 'node:http';
import { Sandbox } from '../helpers/sandbox.js';
import { cli, fixture } from '../helpers/run.js';
import { alive, children, environ, sleep, waitFor } from '../helpers/proc.js';
import { freePort } from '../helpers/net.js';

const box = new Sandbox('daemonkit-zero-');
after(() => box.cleanup());
const env = box.env();
const WORKERS = 4;
const RELOADS = 20;
/** Requests in flight at once: half on kept-alive connections, half each on a connection of its own. */
const CONCURRENCY = 8;

/** Task workers of the supervisor now (its children with a task id: not the session guard). */
function workersOf(sup: number): number[] {
  return children(sup).filter((pid) => {
    try {
      return environ(pid).some((e) => e.startsWith('DAEMONKIT_TASK_ID='));
    } catch {
      return false;
    }
  });
}

interface Answer {
  status: number;
  pid: number;
}

function request(port: number, agent: Agent | false, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, pid: JSON.parse(body).pid });
        } catch (e) {
          reject(new Error(`bad body from ${res.headers['x-worker-pid']}: ${JSON.stringify(body)} (${(e as Error).message})`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** A small load generator: CONCURRENCY loops, each sending its next request as soon as the last one is answered. */
class Load {
  ok = 0;
  failed: string[] = [];
  pids = new Set<number>();
  #running = true;
  #loops: Promise<void>[] = [];
  // The client drops an idle connection before the server would (its keep-alive timeout is 5 s), as clients should.
  readonly #agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY / 2, timeout: 1000 });

  constructor(port: number) {
    for (let i = 0; i < CONCURRENCY; i++) this.#loops.push(this.#loop(port, i % 2 === 0 ? this.#agent : false));
  }

  async #loop(port: number, agent: Agent | false): Promise<void> {
    while (this.#running) {
      try {
        const a = await request(port, agent);
        if (a.status === 200) {
          this.ok++;
          this.pids.add(a.pid);
        } else this.failed.push(`status ${a.status}`);
      } catch (e) {
        this.failed.push(`${agent ? 'keep-alive' : 'new connection'}: ${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }
}

describe('a Node HTTP server with 4 workers on one shared socket', () => {
  let port = 0;
  let sup = 0;

  test('starts, and the 4 workers all answer on the one port', async () => {
    port = await freePort();
    const r = await cli(
      [
        'start',
        '--name',
        'web',
        '--workers',
        String(WORKERS),
        '--listen',
        `tcp:127.0.0.1:${port}`,
        '--start-secs',
        '0.3',
        '--',
        process.execPath,
        fixture('http-worker.mjs'),
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    sup = box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)?.[1]));
    const workers = workersOf(sup);
    assert.equal(workers.length, WORKERS);
    workers.forEach((pid) => box.track(pid));
    // A worker busy in /block cannot accept, so connections made meanwhile go to the others: each batch spreads out.
    const seen = new Set<number>();
    for (let round = 0; round < 20 && seen.size < WORKERS; round++) {
      const batch: Promise<Answer>[] = [];
      for (let i = 0; i < WORKERS; i++) {
        batch.push(request(port, false, '/block?ms=250'));
        await sleep(60);
      }
      for (const a of await Promise.all(batch)) seen.add(a.pid);
    }
    assert.deepEqual([...seen].sort(), [...workers].sort(), 'every worker answered, and only workers');
  });

  test(`${RELOADS} reloads under continuous keep-alive and new-connection traffic: zero failed requests`, async (t) => {
    assert.ok(sup && alive(sup), 'the service runs');
    const load = new Load(port);
    const codes: Array<number | null> = [];
    const errors: string[] = [];
    let served = 0;
    try {
      assert.ok(await waitFor(() => load.ok >= 50, 10_000), 'traffic flows before the first reload');
      for (let i = 0; i < RELOADS; i++) {
        const before = load.ok;
        const r = await cli(['reload', 'web'], { env, timeoutMs: 30_000 });
        codes.push(r.code);
        if (r.code !== 0) errors.push(`reload ${i + 1}: ${r.stderr}`);
        workersOf(sup).forEach((pid) => box.track(pid));
        // Requests were answered during this reload, not only before and after it.
        if (load.ok > before) served++;
      }
    } finally {
      await load.stop();
    }
    t.diagnostic(`${load.ok} requests answered by ${load.pids.size} worker PIDs, ${load.failed.length} failed`);
    assert.deepEqual(errors, []);
    assert.deepEqual(codes, Array(RELOADS).fill(0));
    assert.deepEqual(load.failed.slice(0, 10), [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`);
    assert.equal(served, RELOADS, `traffic was served through only ${served} of the ${RELOADS} reloads`);
    // Every reload replaced every worker: far more PIDs answered than 4.
    assert.ok(load.pids.size > WORKERS * (RELOADS / 2), `${load.pids.size} worker PIDs answered`);
    const now = workersOf(sup);
    assert.equal(now.length, WORKERS, `the supervisor's workers after the reloads: ${now.join(' ')}`);
    for (const pid of load.pids) if (!now.includes(pid)) assert.ok(await waitFor(() => !alive(pid), 5000), `old worker ${pid} gone`);
  });

  test('stop: every process gone', async () => {
    const workers = workersOf(sup);
    const r = await cli(['stop', 'web'], { env });
    assert.equal(r.code, 0, r.stderr);
    for (const pid of [sup, ...workers]) assert.equal(alive(pid), false, `pid ${pid}`);
  });
});
