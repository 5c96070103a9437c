// Shared by the reliability tests: a Box (the Sandbox that also knows every process it caused, by an environment tag,
// by fds and cwd in its directory, or by PID with its start time), tmpfs mounts, and consistency checks against the kernel.
import { closeSync, existsSync, mkdirSync, openSync, writeSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cli, run as runCommand, type Ran } from '../helpers/run.js';
import { allPids, alive, children, cmdline, isGuard, pidFromFile, poll, sleep, startTime, stat, workersOf } from '../helpers/proc.js';
import { Sandbox } from '../helpers/sandbox.js';

export { allPids, children, cmdline, startTime };
export { isGuard, pidFromFile, workersOf } from '../helpers/proc.js';
export const sleepMs = sleep;

export function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function taskOf(pid: number): number | null {
  try {
    const e = readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((x) => x.startsWith('DAEMONKIT_TASK_ID='));
    return e ? Number(e.slice(18)) : null;
  } catch {
    return null;
  }
}

export class Box extends Sandbox {
  readonly tag: string;

  constructor(prefix = 'daemonkit-rel-') {
    super(prefix);
    this.tag = `DKREL_BOX=${this.dir}`;
  }

  /** The CLI's environment: the Sandbox's, plus a tag every inheriting descendant carries. */
  override env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return super.env({ DKREL_BOX: this.dir, ...extra });
  }

  cli(args: string[], extra: Record<string, string> = {}, timeoutMs?: number): Promise<Ran> {
    return cli(args, { env: this.env(extra), timeoutMs });
  }

  /** Every live process that is ours: tagged environment, an fd or cwd in our directory, or tracked (same start time). */
  override processes(): number[] {
    const out: number[] = [];
    for (const pid of allPids()) {
      if (pid === process.pid) continue;
      if (this.#owns(pid)) out.push(pid);
    }
    return out;
  }

  #owns(pid: number): boolean {
    if (!alive(pid)) return false;
    if (this.tracks(pid)) return true;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(this.tag)) return true;
    } catch {
      // gone, or not readable
    }
    // A supervisor's session guard names the service's PID file in its argv.
    if (isGuard(pid) && cmdline(pid)[5]?.startsWith(this.dir)) return true;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(this.dir)) return true;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(this.dir)) return true;
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // gone
    }
    return false;
  }

  /** Files in the state directory (names only, recursive one level is enough here). */
  files(): string[] {
    try {
      return readdirSync(this.dir).sort();
    } catch {
      return [];
    }
  }

  #mounts: string[] = [];

  /**
   * A small tmpfs of `size` (a disk to fill) at a new directory NAME in the box, unmounted by unmountAll. Mode 0755: a
   * fresh tmpfs is 1777, and root refuses a log or a PID file in a directory anyone may write.
   */
  smallDisk(name: string, size: string): string {
    const dir = this.path(name);
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
    this.#mounts.push(dir);
    return dir;
  }

  unmountAll(): void {
    for (const m of this.#mounts.splice(0)) {
      try {
        execFileSync('umount', [m]);
      } catch {
        execFileSync('umount', ['-l', m]);
      }
    }
  }

  /** Writes chunks of filler to path until its disk is full (ENOSPC, and nothing else, ends it). */
  fillDisk(path: string, chunkBytes = 4096): void {
    const fd = openSync(path, 'a');
    const chunk = Buffer.alloc(chunkBytes, 0x7a);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
  }

  /** The Sandbox's cleanup; a tmpfs still mounted is unmounted before the directory goes. */
  override async cleanup(beforeRemove?: () => void): Promise<void> {
    await super.cleanup(() => {
      beforeRemove?.();
      this.unmountAll();
    });
  }
}

export interface StatusJson {
  name: string;
  lsb: number;
  state: string;
  running: boolean;
  pid: number | null;
  reason: string | null;
  workers: { task: number; pid: number; state: string; restarts: number; lastExit: string | null }[];
  logError: string | null;
  /** Processes in the supervisor's session that are not its workers; absent when none. */
  leftovers?: number;
}

export async function statusJson(
  box: Box,
  name: string,
  extra: Record<string, string> = {},
): Promise<{ code: number | null; json: StatusJson }> {
  const r = await box.cli(['status', name, '--json'], extra);
  return { code: r.code, json: JSON.parse(r.stdout) as StatusJson };
}

export function guardOf(pid: number): number | undefined {
  return children(pid).find(isGuard);
}

export function zombieChildren(pid: number): number[] {
  return children(pid).filter((c) => {
    try {
      return stat(c).state === 'Z';
    } catch {
      return false;
    }
  });
}

/**
 * status agrees with /proc, and nothing of ours is orphaned: running means the PID file names a live supervisor whose
 * live children are exactly the workers status lists and its session guard, and every process of ours is one of those;
 * not running means no PID file and no process of ours at all. Retries for a moment (a worker may be mid-restart).
 */
export async function assertConsistent(
  box: Box,
  name: string,
  settleMs = 5000,
): Promise<{ running: boolean; sup: number; workers: number[] }> {
  let last = '';
  const agreed = await poll(
    async () => {
      const { code, json } = await statusJson(box, name);
      const sup = pidFromFile(box.path(`${name}.pid`));
      const mine = box.processes();
      if (code === 0) {
        const kids = workersOf(sup);
        const listed = json.workers.filter((w) => w.pid).map((w) => w.pid);
        const allRunning = json.workers.every((w) => w.state === 'running' || w.state === 'exited' || w.state === 'failed');
        const guard = guardOf(sup);
        const extra = mine.filter((p) => p !== sup && p !== guard && !kids.includes(p));
        if (json.pid === sup && alive(sup) && guard && allRunning && same(kids, listed) && extra.length === 0)
          return { running: true, sup, workers: listed };
        last = `status 0 pid ${json.pid}, PID file ${sup}, children ${kids.join(',')}, guard ${guard ?? 'none'}, status workers ${JSON.stringify(json.workers)}, others of ours ${extra.join(',')}`;
      } else if (code === 3) {
        if (sup === 0 && mine.length === 0) return { running: false, sup: 0, workers: [] };
        last = `status 3 but PID file names ${sup} and our processes are ${mine.join(',')}`;
      } else {
        last = `status exit ${code}: ${JSON.stringify(json)}`;
      }
      return null;
    },
    { stepMs: 50, timeoutMs: settleMs },
  );
  if (!agreed) throw new Error(`status disagrees with /proc: ${last}`);
  return agreed;
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o7777;
}

/** Processes made to look like a recycled PID, killed by killStrangers (by PID and start time, never by name). */
export const strangers = new Map<number, number | null>();

export function killStrangers(): void {
  for (const [pid, start] of strangers) if (startTime(pid) === start) process.kill(pid, 'SIGKILL');
  strangers.clear();
}

/** The environment of a process that is not the box's (no tag for killAll to find it by). */
export const plainEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.DKREL_BOX;
  return env;
};

/** A `sleep 1000` that is no child of ours and dies on TERM, HUP, INT or USR1. */
export async function stranger(): Promise<number> {
  const r = await runCommand(['/bin/sh', '-c', 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $!'], { env: plainEnv() });
  const pid = Number(r.stdout.trim());
  strangers.set(pid, startTime(pid));
  return pid;
}

/**
 * A stranger that gets exactly `target` as its PID, the way a recycled PID happens: ns_last_pid (root) makes the
 * kernel hand out target next. Other processes on the machine may take it first: retried. null if it never worked.
 */
export async function strangerAt(target: number): Promise<number | null> {
  if (!isRoot() || !existsSync('/proc/sys/kernel/ns_last_pid')) return null;
  for (let i = 0; i < 40; i++) {
    if (existsSync(`/proc/${target}`)) return null;
    const r = await runCommand(
      ['/bin/sh', '-c', `echo ${target - 1} > /proc/sys/kernel/ns_last_pid; sleep 1000 </dev/null >/dev/null 2>&1 & echo $!`],
      { env: plainEnv() },
    );
    const pid = Number(r.stdout.trim());
    if (pid === target) {
      strangers.set(pid, startTime(pid));
      return pid;
    }
    if (pid > 0) process.kill(pid, 'SIGKILL');
  }
  return null;
}

/**
 * A stranger's session whose id is `target` and whose leader is gone (a double fork after setsid, as a classic daemon
 * does): its only member is a `sleep`. Returns that member's PID, or null when `target` could not be had.
 */
export async function orphanedSessionAt(target: number): Promise<number | null> {
  if (!isRoot() || !existsSync('/proc/sys/kernel/ns_last_pid')) return null;
  for (let i = 0; i < 40; i++) {
    if (existsSync(`/proc/${target}`)) return null;
    const script = `echo ${target - 1} > /proc/sys/kernel/ns_last_pid; setsid /bin/sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $!'`;
    const r = await runCommand(['/bin/sh', '-c', script], { env: plainEnv() });
    const member = Number(r.stdout.trim());
    if (member > 0 && stat(member).session === target) {
      strangers.set(member, startTime(member));
      return member;
    }
    if (member > 0) process.kill(member, 'SIGKILL');
  }
  return null;
}

export function untouched(pid: number): void {
  assert.ok(alive(pid), `stranger ${pid} is alive`);
  assert.notEqual(stat(pid).state, 'T', `stranger ${pid} was not stopped`);
}
