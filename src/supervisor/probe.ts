// One run of a readiness or health probe: a TCP connect, an HTTP GET, or a command's exit status. A command runs
// through posix_spawn like every child of ours (docs/DESIGN.md, fact 2) and is reaped by PID (fact 4).
import type { Normalized } from '../options.js';
import type { Probe } from '../core/ready-spec.js';
import { describeProbe } from '../core/ready-spec.js';
import { planFds } from '../core/plan.js';
import { spawnPlanned } from '../core/spawner.js';
import { daemonSpawn } from '../core/daemon-steps.js';
import type { PlannedStep } from '../core/step-runner.js';
import { planner } from '../core/wasm.js';
import { nodeNet } from '../core/lazy-net.js';
import { nodeHttp } from '../core/lazy-builtins.js';
import { TASK_ID_VAR } from '../core/fork-worker.js';
import { waitpid, WNOHANG } from '../sys/wait.js';
import { killGroup, SIGKILL } from '../sys/signal.js';

export interface ProbeResult {
  ok: boolean;
  /** "tcp 127.0.0.1:8080: connected", "http http://...: 503", "exec ./check: exited 1". */
  text: string;
  /** Epoch ms. */
  at: number;
}

/** The worker a probe is about: a command gets these in its environment. */
export interface ProbeTarget {
  task: number;
  pid: number;
}

/** The lowest HTTP status that is not an answer of a healthy server. */
const HTTP_FAILURE_FROM = 400;

/** Runs probe commands as the workers run (same environment and ids, setpriv for --user), and reaps them by PID. */
export class ProbeCommands {
  readonly #o: Normalized;
  readonly #steps: PlannedStep[];
  readonly #env: () => string[];
  readonly #running = new Map<number, (status: number) => void>();

  constructor(o: Normalized, steps: PlannedStep[], env: () => string[]) {
    this.#o = o;
    this.#steps = steps;
    this.#env = env;
  }

  /** Spawns `sh -c command` in a process group of its own; resolves with its raw wait status, or null on timeout. */
  run(command: string, target: ProbeTarget, timeoutMs: number): Promise<number | null> {
    const s = daemonSpawn(this.#o, this.#steps, { path: '/bin/sh', argv: ['/bin/sh', '-c', command] });
    const env = [...this.#env(), `${TASK_ID_VAR}=${target.task}`, `MAINPID=${target.pid}`];
    const nul = { kind: 'null' } as const;
    const pid = spawnPlanned({
      path: s.path,
      argv: s.argv,
      env,
      fds: planFds([
        [0, nul],
        [1, nul],
        [2, nul],
      ]),
      ownGroup: true,
      // In a chroot the wrapper enters the jail's directory; outside one, the workers' directory.
      chdir: s.entersJail ? undefined : this.#o.cwd,
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // Killed, then still reaped by reap() like any other exit.
        killGroup(pid, SIGKILL);
        resolve(null);
      }, timeoutMs);
      this.#running.set(pid, (status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
  }

  /** The probe commands running now: ours, not leftovers of the service. */
  get pids(): number[] {
    return [...this.#running.keys()];
  }

  /** On SIGCHLD: our probe commands that exited. */
  reap(): void {
    for (const [pid, done] of this.#running) {
      let r;
      try {
        r = waitpid(pid, WNOHANG);
      } catch {
        this.#running.delete(pid);
        continue;
      }
      if (!r) continue;
      this.#running.delete(pid);
      done(r.status);
    }
  }
}

/** One run of `probe`, never longer than timeoutMs; never throws. */
export async function runProbe(probe: Probe, target: ProbeTarget, timeoutMs: number, commands: ProbeCommands): Promise<ProbeResult> {
  const name = describeProbe(probe);
  const result = (ok: boolean, what: string): ProbeResult => ({ ok, text: `${name}: ${what}`, at: Date.now() });
  const slow = `no answer within ${timeoutMs / 1000}s`;
  try {
    switch (probe.kind) {
      case 'tcp':
        return await new Promise((resolve) => {
          const socket = nodeNet().connect({ host: probe.host, port: probe.port });
          const end = (r: ProbeResult) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(r);
          };
          const timer = setTimeout(() => end(result(false, slow)), timeoutMs);
          socket.once('connect', () => end(result(true, 'connected')));
          socket.once('error', (e: NodeJS.ErrnoException) => end(result(false, e.code ?? e.message)));
        });
      case 'http':
        return await new Promise((resolve) => {
          let settled = false;
          const end = (r: ProbeResult) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            req.destroy();
            resolve(r);
          };
          const req = nodeHttp().get(probe.url, { agent: false, headers: { 'user-agent': 'daemonkit-probe' } }, (res) => {
            res.resume();
            const code = res.statusCode ?? 0;
            end(result(code > 0 && code < HTTP_FAILURE_FROM, String(code)));
          });
          const timer = setTimeout(() => end(result(false, slow)), timeoutMs);
          req.once('error', (e: NodeJS.ErrnoException) => end(result(false, e.code ?? e.message)));
        });
      case 'exec': {
        const status = await commands.run(probe.command, target, timeoutMs);
        if (status === null) return result(false, `${slow} (killed)`);
        const text = planner.describeWaitStatus(status);
        return result(Boolean(planner.waitSucceeded(status)), text);
      }
    }
  } catch (e) {
    return result(false, (e as Error).message);
  }
}
