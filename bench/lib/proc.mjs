// What the benchmarks know about processes, read from /proc (the kernel's own account), plus precise sleeps,
// spawning, and the registry that makes sure every process a benchmark started is gone at the end.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { alive } from '../../test/helpers/proc-stat.mjs';
import { poll as pollAsync } from '../../test/helpers/poll.mjs';

// The /proc/PID/stat parser and the wait helpers are the tests' own (plain ESM, no build step).
export { alive, statOrNull as stat } from '../../test/helpers/proc-stat.mjs';
export { now, poll as pollAsync, pollSync, sleep, sleepSync } from '../../test/helpers/poll.mjs';

/** Gone: no such process, or a zombie nobody reaped yet (PID 1 here reaps orphans slowly). */
export const gone = (pid) => !alive(pid);

export function cmdline(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return s.length ? s.replace(/\0+$/, '').split('\0') : [];
  } catch {
    return null;
  }
}

export function pids() {
  const out = [];
  for (const d of readdirSync('/proc')) {
    const c = d.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(d));
  }
  return out;
}

/** Every live process whose argv contains `marker` as a whole argument (or inside one, with partial). */
export function findByMarker(marker, { partial = false, among = null } = {}) {
  const out = [];
  for (const pid of among ?? pids()) {
    const argv = cmdline(pid);
    if (!argv) continue;
    if (partial ? argv.some((a) => a.includes(marker)) : argv.includes(marker)) if (alive(pid)) out.push(pid);
  }
  return out;
}

/**
 * Finds the one process running `marker`, fast enough to poll at sub-millisecond intervals: only PIDs absent
 * from `before` (a snapshot taken before the clock started) are read, with a full scan every 64th call in case
 * a PID number was recycled.
 */
export function makeFinder(marker, { before = new Set(pids()), exclude = new Set() } = {}) {
  let calls = 0;
  return () => {
    const full = ++calls % 64 === 0;
    for (const pid of full ? pids() : pids().filter((p) => !before.has(p))) {
      if (exclude.has(pid)) continue;
      const argv = cmdline(pid);
      if (argv && argv.includes(marker) && alive(pid)) return pid;
    }
    return null;
  };
}

export function readPidfile(path) {
  try {
    const m = /^(\d+)\s*$/.exec(readFileSync(path, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Whether pid is alive and has exec'd the expected program: argv[0]'s basename (and, for node, the script). */
export function runs(pid, expect) {
  if (!pid || !alive(pid)) return false;
  let argv = cmdline(pid);
  if (!argv || argv.length === 0) return false;
  // A process that set its title (pm2 does) has one space-separated string where argv was.
  if (argv.length === 1 && argv[0].includes(' ')) argv = argv[0].split(' ');
  const base = argv[0].slice(argv[0].lastIndexOf('/') + 1);
  if (expect.argv0 && base !== expect.argv0) return false;
  if (expect.argv1 && argv[1] !== expect.argv1) return false;
  if (expect.has && !expect.has.every((a) => argv.includes(a))) return false;
  if (expect.hasPart && !argv.some((a) => a.includes(expect.hasPart))) return false;
  return true;
}

/** Sum of voluntary and involuntary context switches over every thread of pid. */
export function ctxSwitches(pid) {
  let vol = 0;
  let invol = 0;
  let threads = 0;
  let main = 0;
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
      const v = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
      const iv = Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
      vol += v;
      invol += iv;
      if (Number(tid) === Number(pid)) main = v + iv;
      threads++;
    } catch {
      // thread ended while we looked
    }
  }
  return { voluntary: vol, involuntary: invol, total: vol + invol, main, threads };
}

/** RSS (VmRSS) and PSS (smaps_rollup), in KiB. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    return {
      rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]),
      pssKiB: Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1]),
    };
  } catch {
    return null;
  }
}

/** PSS in KiB per mapping (file path, or [heap], [stack], anonymous), from /proc/PID/smaps. */
export function pssByMapping(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return null;
  }
  const out = {};
  let name = null;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1].trim() || '[anonymous]';
      continue;
    }
    const m = /^Pss:\s+(\d+) kB/.exec(line);
    if (m && name) out[name] = (out[name] ?? 0) + Number(m[1]);
  }
  return out;
}

export const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64

// ---------------------------------------------------------------------------------------------------------------
// Processes this run started. Each is stopped by PID: SIGTERM, then SIGKILL; nothing is stopped by name.

const tracked = new Set();
export function track(pid) {
  if (pid) tracked.add(pid);
  return pid;
}

export function killPid(pid, signal = 'SIGKILL') {
  if (!(pid > 1) || pid === process.pid || pid === process.ppid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the PIDs, wait up to graceMs for them to be gone (a zombie counts), then SIGKILL what is left. */
export async function stopPids(list, { graceMs = 1000, signal = 'SIGTERM' } = {}) {
  // Never this process or its parent, whatever a caller computed (PID 1 neither).
  const live = list.filter((p) => p && p > 1 && p !== process.pid && p !== process.ppid && alive(p));
  for (const p of live) killPid(p, signal);
  await pollAsync(() => live.every(gone), { stepMs: 5, timeoutMs: graceMs });
  for (const p of live) if (alive(p)) killPid(p, 'SIGKILL');
  await pollAsync(() => live.every(gone), { stepMs: 5, timeoutMs: 2000 });
  for (const p of live) tracked.delete(p);
  return live.filter(alive);
}

/** Processes whose environment mentions text (a peer's private PM2_HOME, FOREVER_ROOT, DAEMONKIT_HOME). */
export function findByEnviron(text) {
  const out = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(text) && alive(pid)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/**
 * Kills whatever this run left behind: tracked PIDs, any process whose argv carries the run's marker, and any
 * whose environment points into the run's temp dir.
 */
export async function sweep(runMarker) {
  const left = [...tracked].filter(alive);
  const marked = runMarker
    ? [...findByMarker(runMarker, { partial: true }), ...findByEnviron(runMarker)].filter((p) => p !== process.pid)
    : [];
  const all = [...new Set([...left, ...marked])];
  // A process with no argv left is already exiting: killed all the same, not reported as left behind.
  const described = all.filter((p) => (cmdline(p) ?? []).length > 0).map((p) => `${p} (${cmdline(p).join(' ').slice(0, 120)})`);
  if (all.length) await stopPids(all, { graceMs: 300, signal: 'SIGKILL' });
  return described;
}

/**
 * Runs a command to completion (for setup and cleanup, untimed), with output collected.
 */
export function run(cmd, args, { env, cwd, timeoutMs = 60_000, input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, signal: null, stdout, stderr: stderr + String(e) });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit', not 'close': daemons may keep our pipes; give the streams a moment to flush what they have.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/**
 * Starts a command for a timed sample: stdio to /dev/null (no pipe a daemon could hold), its own process group.
 * Returns the ChildProcess; its exit is seen through /proc (zombie) by the synchronous pollers, and through the
 * 'exit' event afterwards for the status.
 */
export function launch(cmd, args, { env, cwd, detached = false } = {}) {
  const child = spawn(cmd, args, { env, cwd, stdio: 'ignore', detached });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (e) => resolve({ code: -1, signal: null, error: String(e) }));
  });
  return { child, pid: child.pid, exited };
}

export const fileExists = existsSync;
