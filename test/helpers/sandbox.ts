// A temporary state directory per test, and every process a test started killed by PID when it ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, waitFor } from './proc.js';

export class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'daemonkit-test-'));
  #pids = new Set<number>();

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Remembers a PID to kill at cleanup (a daemon, a worker, a supervisor). */
  track(pid: number | null | undefined): number {
    if (pid) this.#pids.add(pid);
    return pid ?? 0;
  }

  /** An environment for a child that starts daemons: no systemd markers (they would stop it detaching), state here. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, DAEMONKIT_HOME: this.dir };
    delete env.INVOCATION_ID;
    delete env.NOTIFY_SOCKET;
    delete env.NODE_TEST_CONTEXT;
    delete env.NODE_OPTIONS;
    return { ...env, ...extra };
  }

  async cleanup(): Promise<void> {
    for (const pid of this.#pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitFor(() => [...this.#pids].every((p) => !alive(p)), 3000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
