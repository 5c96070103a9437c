// The one sandbox: a temporary state directory per test, and every process a test started killed by PID when it ends.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, startTime } from './proc.js';
import { waitFor } from './poll.mjs';

/** Rounds of SIGKILL at cleanup: a process may start another while the first round lands. */
const KILL_ROUNDS = 3;

export class Sandbox {
  /** Resolved, so it compares equal to what /proc and `pwd` print. */
  readonly dir: string;
  /** PID → its start time when tracked, so a recycled PID is never killed. */
  #pids = new Map<number, number | null>();

  constructor(prefix = 'daemonkit-test-') {
    this.dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Remembers a PID to kill at cleanup (a daemon, a worker, a supervisor). */
  track(pid: number | null | undefined): number {
    if (pid) this.#pids.set(pid, startTime(pid));
    return pid ?? 0;
  }

  /** Whether pid is a process this sandbox tracked, not a stranger that got its number since. */
  tracks(pid: number): boolean {
    return this.#pids.has(pid) && this.#pids.get(pid) === startTime(pid);
  }

  /** An environment for a child that starts daemons: no systemd markers (they would stop it detaching), state here. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, DAEMONKIT_HOME: this.dir };
    for (const k of ['INVOCATION_ID', 'NOTIFY_SOCKET', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete env[k];
    return { ...env, ...extra };
  }

  /** The live processes cleanup kills: here the tracked ones; a Box finds more. */
  processes(): number[] {
    return [...this.#pids.keys()].filter((pid) => alive(pid) && this.tracks(pid));
  }

  /** SIGKILLs every process of ours and waits until they are gone; returns the PIDs it signalled. */
  async killAll(): Promise<number[]> {
    const killed: number[] = [];
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const mine = this.processes();
      if (mine.length === 0) break;
      for (const pid of mine) {
        try {
          process.kill(pid, 'SIGKILL');
          killed.push(pid);
        } catch {
          // gone
        }
      }
      await waitFor(() => mine.every((p) => !alive(p)), 2000);
    }
    return killed;
  }

  /** Kills what is ours, runs `beforeRemove` (an unmount), then removes the directory. */
  async cleanup(beforeRemove?: () => void): Promise<void> {
    await this.killAll();
    beforeRemove?.();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Sandbox's directory for one test that starts no daemon; removed when the test ends. */
export function tempDir(t: { after(fn: () => unknown): void }, prefix = 'daemonkit-test-'): string {
  const box = new Sandbox(prefix);
  t.after(() => box.cleanup());
  return box.dir;
}
