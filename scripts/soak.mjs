#!/usr/bin/env node
// Soak test (not in CI): N minutes of random worker kills, reloads, restarts and logrotate-style reopens against a
// 4-worker service writing numbered log lines; then every line is accounted for and the supervisor's RSS, fd count
// and zombies are reported. Usage:
//   node scripts/soak.mjs [--minutes 10] [--workers 4] [--seed N] [--no-restarts] [--keep] [--json FILE]
// Exit 0 when nothing was lost, duplicated or cut, no zombie lingered, every supervisor's fd count came back, and
// its RSS ended within 5 MB of where it started.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { poll, sleep } from '../test/helpers/poll.mjs';
import { statOrNull as procStat } from '../test/helpers/proc-stat.mjs';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    workers: { type: 'string', default: '4' },
    seed: { type: 'string' },
    'no-restarts': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const minutes = Number(args.minutes);
const WORKERS = Number(args.workers);
if (!(minutes > 0) || !(WORKERS >= 1)) {
  console.error('usage: node scripts/soak.mjs [--minutes N] [--workers N] [--seed N] [--no-restarts] [--keep] [--json FILE]');
  process.exit(2);
}

// A small seeded PRNG (mulberry32) so a run can be repeated.
let seed = Number(args.seed ?? Date.now() % 2 ** 31) >>> 0;
const firstSeed = seed;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// A private copy of dist/: others may rebuild dist/ while we run for minutes. Under build/ so koffi still resolves.
const distCopy = mkdtempSync(join(root, 'build', 'soak-dist-'));
for (const f of readdirSync(join(root, 'dist')))
  if (f.endsWith('.js') || f === 'package.json') copyFileSync(join(root, 'dist', f), join(distCopy, f));
const cliJs = join(distCopy, 'cli.js');

const home = mkdtempSync(join(tmpdir(), 'daemonkit-soak-'));
const NAME = 'soak';
const pidfile = join(home, `${NAME}.pid`);
const log = join(home, `${NAME}.log`);
const side = join(home, 'side.log');
const env = { ...process.env, DAEMONKIT_HOME: home, SOAK_TAG: home };
delete env.INVOCATION_ID;
delete env.NOTIFY_SOCKET;
delete env.NODE_OPTIONS;

// Each line goes to the service (stdout, every 7th to stderr) and then, once written, to a side file:
// a line in the side file but not in the service's log is a lost line. The nonce tells apart recycled PIDs.
const writer = join(home, 'writer.sh');
writeFileSync(
  writer,
  `#!/bin/sh
side="$1"
n=$(date +%s%N)
i=0
pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
while :; do
  line="w=$DAEMONKIT_TASK_ID p=$$.$n s=$i $pad"
  if [ $((i % 7)) -eq 6 ]; then echo "$line" >&2; else echo "$line"; fi
  echo "$line" >> "$side"
  i=$((i+1))
  if [ $((i % 10)) -eq 0 ]; then sleep 0.05; fi
done
`,
  { mode: 0o755 },
);

/** Runs the CLI without blocking our event loop (the zombie sampler keeps sampling meanwhile). */
function cli(...a) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliJs, ...a], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const startArgs = [
  'start',
  '--name',
  NAME,
  '--workers',
  String(WORKERS),
  '--start-secs',
  '0.1',
  '--backoff-min',
  '10ms',
  '--backoff-max',
  '500ms',
  '--min-uptime',
  '1',
  '--max-restarts',
  '1000000',
  '--restart-window',
  '1',
  '--retry',
  'TERM/5/KILL/5',
  '--',
  writer,
  side,
];

const readPid = () => {
  try {
    return Number(readFileSync(pidfile, 'utf8')) || 0;
  } catch {
    return 0;
  }
};
const children = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
/** Of the RSS, the private anonymous part (heaps, stacks), the rest being mapped files (node's code, libraries). */
const anonKb = (pid) => {
  try {
    return Number(/^Anonymous:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
  } catch {
    return NaN;
  }
};
const rssKb = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return NaN;
  }
};
const fdCount = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
};
const fdList = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/fd`)
      .map((f) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${f}`).replace(/\[\d+\]/, '[]');
        } catch {
          return '?';
        }
      })
      .sort();
  } catch {
    return [];
  }
};

const counts = {
  kill9: 0,
  killGuard: 0,
  killTerm: 0,
  stopCont: 0,
  reload: 0,
  reloadFailed: 0,
  reopen: 0,
  reopenFailed: 0,
  rotate: 0,
  restart: 0,
  restartFailed: 0,
  statusChecks: 0,
  statusMismatch: 0,
};
const problems = [];
const generations = [];
let gen = null;
let busy = false; // an action is under way: the sampler does not take quiet fd samples then

/** Waits until the supervisor reports every worker running and /proc agrees. */
async function quiesce(timeoutMs = 15_000) {
  const ready = await poll(
    async () => {
      const r = await cli('status', NAME, '--json');
      if (r.code !== 0) return null;
      const j = JSON.parse(r.stdout);
      return j.state === 'running' && j.workers.every((w) => w.state === 'running' && w.pid) && workerPids().length === WORKERS ? j : null;
    },
    { stepMs: 100, timeoutMs },
  );
  if (!ready) problems.push('did not quiesce: not every worker running');
  return ready;
}

async function beginGeneration() {
  const j = await quiesce();
  await sleep(1000);
  const sup = readPid();
  gen = {
    sup,
    start: Date.now(),
    rss0: rssKb(sup),
    anon0: anonKb(sup),
    fd0: fdCount(sup),
    fds0: fdList(sup),
    rssMax: rssKb(sup),
    rss60: NaN,
    rss1: NaN,
    fd1: NaN,
    fds1: [],
    end: 0,
    restarts: 0,
  };
  generations.push(gen);
  return j;
}

async function endGeneration() {
  const j = await quiesce();
  await sleep(1000);
  gen.rss1 = rssKb(gen.sup);
  gen.anon1 = anonKb(gen.sup);
  gen.fd1 = fdCount(gen.sup);
  gen.fds1 = fdList(gen.sup);
  gen.end = Date.now();
  gen.restarts = j ? j.workers.reduce((s, w) => s + w.restarts, 0) : NaN;
}

// Zombies among the supervisor's children: seen once is a process between its exit and its reaping (microseconds);
// still a zombie 200 ms later is a zombie the supervisor failed to reap.
const zombieSeen = new Map();
let zombieSamples = 0;
let transientZombies = 0;
let lingeringZombies = 0;
let samples = 0;
const sampler = setInterval(() => {
  const sup = readPid();
  if (!sup) return;
  samples++;
  const now = Date.now();
  const zs = new Set();
  for (const c of children(sup)) {
    const s = procStat(c);
    if (s?.state !== 'Z') continue;
    const key = `${c}.${s.starttime}`;
    zs.add(key);
    zombieSamples++;
    if (!zombieSeen.has(key)) {
      zombieSeen.set(key, now);
      transientZombies++;
    } else if (now - zombieSeen.get(key) >= 200 && zombieSeen.get(key) > 0) {
      lingeringZombies++;
      problems.push(`zombie ${c} of supervisor ${sup} still unreaped after ${now - zombieSeen.get(key)} ms`);
      zombieSeen.set(key, -1);
    }
  }
  for (const k of zombieSeen.keys()) if (!zs.has(k)) zombieSeen.delete(k);
  if (gen && gen.sup === sup) {
    gen.rssMax = Math.max(gen.rssMax, rssKb(sup));
    if (Number.isNaN(gen.rss60) && now - gen.start >= 60_000) gen.rss60 = rssKb(sup);
  }
}, 50);

/** The supervisor's live children but its session guard (sh -c SCRIPT daemonkit-guard SESSION PIDFILE). */
function workerPids() {
  const sup = readPid();
  return children(sup).filter((p) => {
    const s = procStat(p);
    return s && s.state !== 'Z' && !isGuard(p);
  });
}

function isGuard(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[3] === 'daemonkit-guard';
  } catch {
    return false;
  }
}

let rotations = 0;
async function act() {
  const r = rand();
  const noRestarts = args['no-restarts'];
  if (r < 0.58) {
    const w = pick(workerPids());
    if (w) {
      process.kill(w, 'SIGKILL');
      counts.kill9++;
    }
  } else if (r < 0.6) {
    // The session guard: the supervisor must replace it at once.
    const sup = readPid();
    const guard = children(sup).find(isGuard);
    if (guard) {
      process.kill(guard, 'SIGKILL');
      counts.killGuard++;
      await sleep(200);
      if (!children(sup).some((p) => p !== guard && isGuard(p) && procStat(p)?.state !== 'Z'))
        problems.push(`supervisor ${sup}: no new session guard 200 ms after guard ${guard} was killed`);
    }
  } else if (r < 0.7) {
    const w = pick(workerPids());
    if (w) {
      process.kill(w, 'SIGTERM');
      counts.killTerm++;
    }
  } else if (r < 0.74) {
    const w = pick(workerPids());
    if (w) {
      process.kill(w, 'SIGSTOP');
      await sleep(100 + rand() * 400);
      try {
        process.kill(w, 'SIGCONT');
      } catch {
        // gone meanwhile
      }
      counts.stopCont++;
    }
  } else if (r < 0.83) {
    const res = await cli('reload', NAME);
    counts.reload++;
    if (res.code !== 0) {
      counts.reloadFailed++;
      if (!/reload failed: the new worker/.test(res.stderr)) problems.push(`reload: exit ${res.code}: ${res.stderr.trim()}`);
    }
  } else if (r < 0.95) {
    // logrotate without copytruncate: rename, then tell the service to reopen.
    rotations++;
    renameSync(log, `${log}.${rotations}`);
    counts.rotate++;
    const res = await cli('reopen', NAME);
    counts.reopen++;
    if (res.code !== 0) {
      counts.reopenFailed++;
      problems.push(`reopen: exit ${res.code}: ${res.stderr.trim()}`);
    }
  } else if (r < 0.952 && !noRestarts) {
    busy = true;
    await endGeneration();
    const res = await cli('restart', NAME);
    counts.restart++;
    if (res.code !== 0) {
      counts.restartFailed++;
      problems.push(`restart: exit ${res.code}: ${res.stderr.trim()}`);
      const again = await cli(...startArgs);
      if (again.code !== 0) throw new Error(`cannot start again: ${again.stderr}`);
    }
    await beginGeneration();
    busy = false;
  } else {
    // status must agree with /proc: every worker it names is a live child of the supervisor.
    const res = await cli('status', NAME, '--json');
    counts.statusChecks++;
    if (res.code !== 0) {
      counts.statusMismatch++;
      problems.push(`status: exit ${res.code}: ${res.stderr.trim()}`);
    } else {
      const j = JSON.parse(res.stdout);
      for (const w of j.workers) {
        if (!w.pid) continue;
        const s = procStat(w.pid);
        if (!s || s.ppid !== j.pid) {
          // It may have been killed a moment ago: look again once the supervisor has had time to reap it.
          await sleep(200);
          const again = JSON.parse((await cli('status', NAME, '--json')).stdout);
          const w2 = again.workers[w.task];
          const s2 = w2.pid ? procStat(w2.pid) : null;
          if (w2.pid && w2.pid === w.pid && (!s2 || s2.ppid !== again.pid)) {
            counts.statusMismatch++;
            problems.push(`status names worker ${w.task} pid ${w.pid}, which is not a child of ${again.pid}`);
          }
        }
      }
    }
  }
}

const machine = `${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}`;
console.log(`soak: ${minutes} min, ${WORKERS} workers, seed ${firstSeed}, state ${home}\n  on ${machine}`);
const started = await cli(...startArgs);
if (started.code !== 0) {
  console.error(`start failed: ${started.stderr}`);
  process.exit(1);
}
await beginGeneration();
const t0 = Date.now();
const deadline = t0 + minutes * 60_000;
let lastReport = t0;
try {
  while (Date.now() < deadline) {
    await act();
    await sleep(50 + rand() * 350);
    if (Date.now() - lastReport >= 60_000) {
      lastReport = Date.now();
      const sup = readPid();
      console.log(
        `  ${((Date.now() - t0) / 60_000).toFixed(1)} min: ${JSON.stringify(counts)} rss ${rssKb(sup)} kB fds ${fdCount(sup)} problems ${problems.length}`,
      );
    }
  }
  busy = true;
  await endGeneration();
} finally {
  clearInterval(sampler);
}

// A clean stop drains every pipe: then each line is counted.
const supLast = readPid();
const stopped = await cli('stop', NAME);
if (stopped.code !== 0) problems.push(`final stop: exit ${stopped.code}: ${stopped.stderr.trim()}`);
await sleep(300);
const leftovers = readdirSync('/proc')
  .filter((p) => /^\d+$/.test(p))
  .filter((p) => {
    try {
      if (isGuard(p) && readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0')[5]?.startsWith(home)) return true;
      return readFileSync(`/proc/${p}/environ`, 'latin1').includes(`SOAK_TAG=${home}`) || readlinkSync(`/proc/${p}/fd/1`).startsWith(home);
    } catch {
      return false;
    }
  });
if (leftovers.length) problems.push(`processes left after stop: ${leftovers.join(' ')}`);

const logFiles = readdirSync(home).filter((f) => f === `${NAME}.log` || f.startsWith(`${NAME}.log.`));
const seen = new Map();
let malformed = 0;
let logged = 0;
const lineRe = /^w=(\d+) p=(\d+\.\d+) s=(\d+) x{64}$/;
for (const f of logFiles) {
  for (const line of readFileSync(join(home, f), 'utf8').split('\n')) {
    if (line === '') continue;
    if (/^(\S+ )?daemonkit supervisor\[/.test(line)) continue; // the supervisor's own notes (timestamped) go to the same log
    const m = lineRe.exec(line);
    if (!m) {
      malformed++;
      if (malformed <= 5) problems.push(`malformed line in ${f}: ${JSON.stringify(line.slice(0, 100))}`);
      continue;
    }
    const key = `${m[2]}:${m[3]}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    logged++;
  }
}
let duplicated = 0;
for (const n of seen.values()) if (n > 1) duplicated += n - 1;
let confirmed = 0;
let lost = 0;
const confirmedKeys = new Set();
for (const line of readFileSync(side, 'utf8').split('\n')) {
  const m = lineRe.exec(line);
  if (!m) continue;
  const key = `${m[2]}:${m[3]}`;
  confirmedKeys.add(key);
  confirmed++;
  if (!seen.has(key)) {
    lost++;
    if (lost <= 5) problems.push(`lost: ${key}`);
  }
}
const unconfirmed = [...seen.keys()].filter((k) => !confirmedKeys.has(k)).length;
// Per process, its lines must be 0..max with no gap.
const maxSeq = new Map();
for (const key of seen.keys()) {
  const [p, s] = key.split(':');
  const n = Number(s);
  if (!maxSeq.has(p) || maxSeq.get(p) < n) maxSeq.set(p, n);
}
let gaps = 0;
for (const [p, max] of maxSeq) for (let i = 0; i <= max; i++) if (!seen.has(`${p}:${i}`)) gaps++;
if (gaps) problems.push(`${gaps} gaps in per-process sequences`);
if (duplicated) problems.push(`${duplicated} duplicated lines`);

for (const g of generations) {
  g.rssDeltaKb = g.rss1 - g.rss0;
  g.fdDelta = g.fd1 - g.fd0;
  if (g.fdDelta !== 0)
    problems.push(
      `supervisor ${g.sup}: fd count ${g.fd0} -> ${g.fd1}: +${g.fds1.filter((x) => !g.fds0.includes(x)).join(',')} -${g.fds0.filter((x) => !g.fds1.includes(x)).join(',')}`,
    );
  if (Math.abs(g.rss1 - g.rss0) > 5 * 1024) problems.push(`supervisor ${g.sup}: RSS ${g.rss0} kB at its start -> ${g.rss1} kB`);
}

const summary = {
  minutes,
  workers: WORKERS,
  seed: firstSeed,
  machine,
  actions: counts,
  workerProcesses: maxSeq.size,
  linesLogged: logged,
  linesConfirmedBySide: confirmed,
  lost,
  duplicated,
  malformed,
  gaps,
  unconfirmedTail: unconfirmed,
  logFiles: logFiles.length,
  zombies: { samples, zombieSamples, transient: transientZombies, lingering: lingeringZombies },
  supervisors: generations.map((g) => ({
    pid: g.sup,
    seconds: Math.round((g.end - g.start) / 1000),
    workerRestarts: g.restarts,
    rssKb: { start: g.rss0, after60s: g.rss60, end: g.rss1 },
    anonymousKb: { start: g.anon0, end: g.anon1 },
    rssMaxKb: g.rssMax,
    rssDeltaKb: g.rssDeltaKb,
    fds: [g.fd0, g.fd1],
  })),
  lastSupervisor: supLast,
  problems,
};
console.log(JSON.stringify(summary, null, 2));
if (args.json) writeFileSync(args.json, `${JSON.stringify(summary, null, 2)}\n`);
if (!args.keep) rmSync(home, { recursive: true, force: true });
rmSync(distCopy, { recursive: true, force: true });
process.exit(problems.length ? 1 : 0);
