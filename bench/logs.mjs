// 6. Logs: 4 workers write 100-byte lines as fast as they can for 10 s through the supervisor into its log files.
// Throughput = bytes that reached the log files / (last change of their size − first byte seen), sizes polled every
// 20 ms. Then every line is checked: intact (its last 99 bytes are exactly "W<pid> <seq> x…x"), and every
// sequence number of every worker present exactly once, up to the count the worker recorded at exit.
import { closeSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, node, pm2Bin, targetsDir } from './lib/env.mjs';
import { dkEnv, pm2Env, supervisordConf, supervisordPid } from './lib/peers.mjs';
import { findByMarker, launch, now, pollAsync, readPidfile, run as runCmd, sleep, stopPids, track } from './lib/proc.mjs';
import { ratio, round } from './lib/stats.mjs';

export const name = 'logs';
export const title = 'Logs throughput: 4 workers through the supervisor into log files';
export const defaults = { n: 1, seconds: 10, floorSeconds: 2, workers: 4 };

const WRITER = join(targetsDir, 'writer.mjs');
const LINE = 100;

/** Checks one log file; adds to `acc` per worker: next expected seq, intact lines, broken, out of order. */
function checkFile(path, acc) {
  const fd = openSync(path, 'r');
  const x77 = Buffer.alloc(77, 'x');
  const chunk = Buffer.alloc(64 << 20);
  let carry = Buffer.alloc(0);
  let pos = 0;
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      pos += n;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0) break;
        const len = nl - start;
        let ok =
          len >= LINE - 1 &&
          buf[nl - 99] === 0x57 &&
          buf[nl - 91] === 0x20 &&
          buf[nl - 78] === 0x20 &&
          buf.compare(x77, 0, 77, nl - 77, nl) === 0;
        let pid = 0;
        let seq = 0;
        if (ok) {
          for (let i = nl - 98; i < nl - 91; i++) pid = pid * 10 + (buf[i] - 48);
          for (let i = nl - 90; i < nl - 78; i++) seq = seq * 10 + (buf[i] - 48);
        }
        // A supervisor's own note ("2024-05-01T12:34:56.789Z daemonkit supervisor[PID]: worker 0 (pid N) exited 0") is a whole line, not a worker's.
        if (!ok && /^(\S+ )?daemonkit supervisor\[/.test(buf.toString('latin1', start, Math.min(nl, start + 60)))) acc.notes++;
        else if (!ok) acc.broken++;
        else {
          let w = acc.workers.get(pid);
          if (!w) acc.workers.set(pid, (w = { next: 0, lines: 0, disorder: 0 }));
          if (seq === w.next) w.next++;
          else w.disorder++;
          w.lines++;
          acc.prefixBytes += len - (LINE - 1);
        }
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
    }
    if (carry.length) acc.broken++; // a last line without its newline
  } finally {
    closeSync(fd);
  }
}

function verify(files, countDir) {
  const acc = { workers: new Map(), broken: 0, notes: 0, prefixBytes: 0 };
  for (const f of files) checkFile(f, acc);
  const counts = new Map();
  for (const f of existsSync(countDir) ? readdirSync(countDir) : [])
    counts.set(Number(f.replace('.count', '')), Number(readFileSync(join(countDir, f), 'latin1')));
  let written = 0;
  let found = 0;
  let missing = 0;
  let disorder = 0;
  for (const [pid, c] of counts) {
    written += c;
    const w = acc.workers.get(pid) ?? { next: 0, lines: 0, disorder: 0 };
    found += w.lines;
    disorder += w.disorder;
    missing += Math.max(0, c - w.next);
  }
  const strangers = [...acc.workers.keys()].filter((p) => !counts.has(p)).length;
  return {
    written,
    found,
    missing,
    broken: acc.broken,
    notes: acc.notes,
    disorder,
    strangers,
    workersCounted: counts.size,
    prefixBytesPerLine: found ? round(acc.prefixBytes / found) : 0,
  };
}

const PEERS = {
  floor: {
    label: 'floor: 4 writers straight into one O_APPEND file (no supervisor)',
    needs: [],
    async start({ dir, argv, W }) {
      const log = join(dir, 'direct.log');
      const fd = openSync(log, 'a');
      const procs = [];
      for (let i = 0; i < W; i++) {
        const { spawn } = await import('node:child_process');
        const c = spawn(node, argv, { stdio: ['ignore', fd, fd] });
        track(c.pid);
        procs.push(c.pid);
      }
      closeSync(fd);
      return { files: () => [log], stop: () => stopPids(procs) };
    },
  },
  pm2: {
    label: 'pm2 (4 apps, fork mode, default log files)',
    needs: ['pm2'],
    async start({ dir, argv, W }) {
      const home = join(dir, 'pm2');
      const env = pm2Env(home);
      for (let i = 0; i < W; i++) {
        const r = await runCmd(node, [pm2Bin, 'start', argv[0], '--name', `w${i}`, '--no-autorestart', '--', ...argv.slice(1)], {
          env,
          timeoutMs: 30_000,
        });
        if (r.code !== 0) throw new Error(`pm2 start exited ${r.code}`);
      }
      const god = readPidfile(join(home, 'pm2.pid'));
      track(god);
      return {
        files: () => Array.from({ length: W }, (_, i) => join(home, 'logs', `w${i}-out.log`)).filter(existsSync),
        stop: async () => {
          await runCmd(node, [pm2Bin, 'kill'], { env, timeoutMs: 30_000 });
          await stopPids([god]);
        },
      };
    },
  },
  supervisord: {
    label: 'supervisord (numprocs=4, a log file each)',
    needs: ['supervisor'],
    async start({ dir, argv, W }) {
      const conf = supervisordConf(dir, [
        { name: 'w', argv: [node, ...argv], autostart: true, autorestart: false, numprocs: W, log: join(dir, 'w_%(process_num)d.log') },
      ]);
      const r = await runCmd('/usr/bin/supervisord', ['-c', conf], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`supervisord exited ${r.code}`);
      const pid = await pollAsync(() => supervisordPid(dir), { stepMs: 10, timeoutMs: 10_000 });
      track(pid);
      return {
        files: () => Array.from({ length: W }, (_, i) => join(dir, `w_${i}.log`)).filter(existsSync),
        stop: () => stopPids([pid], { graceMs: 5000 }),
      };
    },
  },
  daemonkit: {
    label: 'daemonkit supervisor (--workers 4 --log FILE)',
    needs: ['supervised'],
    async start({ dir, argv, W }) {
      const home = join(dir, 'dk');
      const log = join(dir, 'dk.log');
      const r = await runCmd(
        node,
        [cli, 'start', '--name', 'logs', '--workers', String(W), '--start-secs', '0', '--log', log, '--', node, ...argv],
        { env: dkEnv(home), timeoutMs: 60_000 },
      );
      const sup = readPidfile(join(home, 'logs.pid'));
      track(sup);
      if (r.code !== 0) throw new Error(`daemonkit start exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
      return { files: () => [log].filter(existsSync), stop: () => stopPids([sup], { graceMs: 5000 }), sup };
    },
  },
};

export async function run(ctx) {
  const W = defaults.workers;
  const ids = Object.keys(PEERS).filter((id) => ctx.wants(id));
  const rows = [];
  const results = new Map();
  for (const id of ids) {
    const peer = PEERS[id];
    const why = ctx.unavailable(peer.needs);
    if (why) {
      results.set(id, { skipped: why });
      continue;
    }
    const seconds = id === 'floor' ? defaults.floorSeconds : (ctx.seconds ?? defaults.seconds);
    const dir = ctx.dir(`logs-${id}`);
    const countDir = ctx.dir(`logs-${id}-counts`);
    const marker = ctx.nodeMarker();
    const argv = [WRITER, String(seconds), countDir, marker];
    let h;
    try {
      h = await peer.start({ dir, argv, W });
      // Poll the sizes until the writers are gone and nothing has grown for 1 s.
      let first = null;
      let lastChange = null;
      let size = 0;
      const deadline = now() + (seconds + 120) * 1000;
      for (;;) {
        const total = h.files().reduce((a, f) => a + (existsSync(f) ? statSync(f).size : 0), 0);
        const t = now();
        if (total > 0 && first === null) first = t;
        if (total !== size) {
          size = total;
          lastChange = t;
        }
        const writersGone = findByMarker(marker).length === 0;
        if (first !== null && writersGone && t - lastChange > 1000) break;
        if (t > deadline) throw new Error('writers did not finish in time');
        await sleep(20);
      }
      await h.stop();
      const v = verify(h.files(), countDir);
      const secs = (lastChange - first) / 1000;
      results.set(id, { seconds: round(secs), bytes: size, mbps: round(size / 1e6 / secs), linesPerSec: round(v.found / secs), ...v });
      ctx.progress(`${id}: ${round(size / 1e6 / secs)} MB/s`);
    } catch (e) {
      results.set(id, { skipped: `${id === 'daemonkit' ? 'not measurable yet: ' : ''}${e.message}` });
      if (h) await h.stop().catch(() => {});
    } finally {
      await stopPids(findByMarker(marker));
      rmSync(dir, { recursive: true, force: true });
      rmSync(countDir, { recursive: true, force: true });
    }
  }
  const floor = results.get('floor')?.mbps ?? null;
  for (const id of ids) {
    const r = results.get(id);
    const base = { label: PEERS[id].label, n: r.skipped ? 0 : 1, skipped: r.skipped };
    rows.push(
      {
        id: `mbps/${id}`,
        group: 'aggregate throughput into the log files, MB/s (10^6 bytes)',
        unit: 'MB/s',
        median: r.mbps,
        min: r.mbps,
        max: r.mbps,
        ratios: { floor: ratio(r.mbps, floor) },
        ...base,
      },
      {
        id: `lines/${id}`,
        group: 'lines per second',
        unit: 'lines/s',
        median: r.linesPerSec,
        min: r.linesPerSec,
        max: r.linesPerSec,
        ...base,
      },
      {
        id: `check/${id}`,
        group: 'every line checked (median column: lines found; the rest in "how")',
        unit: 'lines',
        median: r.found,
        min: r.found,
        max: r.found,
        how: r.skipped
          ? ''
          : `written ${r.written} by ${r.workersCounted} workers in ${r.seconds} s; missing ${r.missing}; broken ${r.broken}; supervisor notes ${r.notes ?? 0}; out of order or repeated ${r.disorder}; prefix ${r.prefixBytesPerLine} B/line`,
        ...base,
      },
    );
  }
  const dk = results.get('daemonkit');
  const text = 'at least 100 MB/s aggregate, with every line intact and counted';
  const targets = [
    !dk || dk.skipped
      ? { id: 'logs-throughput', text, status: 'not measurable yet', measured: dk?.skipped ?? 'not run' }
      : {
          id: 'logs-throughput',
          text,
          status: dk.mbps >= 100 && dk.missing === 0 && dk.broken === 0 && dk.disorder === 0 && dk.workersCounted === W ? 'met' : 'not met',
          measured: `${dk.mbps} MB/s, ${dk.linesPerSec} lines/s; ${dk.found} of ${dk.written} lines found, ${dk.missing} missing, ${dk.broken} broken`,
          ratio: round(dk.mbps / 100),
        },
  ];
  return {
    params: {
      n: 1,
      workers: W,
      seconds: ctx.seconds ?? defaults.seconds,
      floorSeconds: defaults.floorSeconds,
      line: '100 bytes',
      write: '65,500 bytes per write(2)',
    },
    rows,
    targets,
    notes: ['forever is left out: it keeps one monitor per process, so 4 workers are 4 forever services, not one supervisor.'],
  };
}
