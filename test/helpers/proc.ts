// Reads a process's state from /proc, the kernel's own account, for tests to check against.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { O_CLOEXEC } from '../../src/sys/fcntl.js';
import { stat } from './proc-stat.mjs';

// stat, alive and the wait helper are shared with bench/ and scripts/, which run plain ESM.
export { alive, parseStat, startTime, stat, statOrNull, type Stat } from './proc-stat.mjs';
export { poll, pollSync, sleep, sleepSync, waitFor } from './poll.mjs';

export function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** fd number → what it points at. */
export function fds(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(name), readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed while we looked
    }
  }
  return out;
}

export function cwd(pid: number): string {
  return readlinkSync(`/proc/${pid}/cwd`);
}

export function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

/** argv of pid from /proc/PID/cmdline ([] once it is gone). */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** pid's children (of its main thread, where node forks and spawns), [] once it is gone. */
export function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every PID in /proc now. */
export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
}

/** Whether fd of pid is close-on-exec, from the octal flags of /proc/PID/fdinfo/FD (the kernel's account, not fcntl's). */
export function isCloexec(fd: number, pid: number | 'self' = 'self'): boolean {
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]!;
  return (parseInt(flags, 8) & O_CLOEXEC) !== 0;
}

/** The number in a PID file, 0 while it is missing or empty. */
export function pidFromFile(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8')) || 0;
  } catch {
    return 0;
  }
}

/** The supervisor's session guard: its one child that is not a worker (sh -c SCRIPT daemonkit-guard SESSION). */
export function isGuard(pid: number): boolean {
  return cmdline(pid)[3] === 'daemonkit-guard';
}

/** The supervisor's live workers: its children that are not zombies, the session guard aside. */
export function workersOf(pid: number): number[] {
  return children(pid).filter((c) => {
    try {
      return stat(c).state !== 'Z' && !isGuard(c);
    } catch {
      return false;
    }
  });
}
