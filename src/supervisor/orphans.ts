// PID 1 and a subreaper: orphans are reparented to us, so we reap them, and at exit stop what is left of the tree.
import { readdirSync, readFileSync } from 'node:fs';
import { runStopSchedule } from '../core/supervisor-machine.js';
import { planner } from '../core/wasm.js';
import { waitpid, WNOHANG } from '../sys/wait.js';
import { kill, killEveryone, SIGCONT, SIGKILL } from '../sys/signal.js';

/** How often the exit looks whether the tree is gone within a stop step. */
const TREE_POLL_MS = 20;

/** Reaps every exited child; true when no child is left at all (ECHILD). Only once nothing of the machine's runs. */
function reapAll(): boolean {
  for (;;) {
    try {
      if (waitpid(-1, WNOHANG) === null) return false;
    } catch {
      return true; // ECHILD: no child left
    }
  }
}

/** Our live children (orphans reparented to a subreaper), from /proc/PID/stat's ppid; zombies are reapAll's. */
function childrenOf(parent: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    const pid = Number(name);
    if (!(pid > 0)) continue;
    try {
      const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z' && Number(f[1]) === parent) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * At exit, after the workers: what is left of our tree gets the stop schedule and is reaped, so nothing outlives us
 * unwaited (as PID 1 the kernel would SIGKILL it with no grace the moment we exit). PID 1 signals its whole
 * namespace (kill -1); a subreaper its children, round by round as grandchildren are reparented to it.
 */
export async function stopTree(schedule: readonly number[], log: (line: string) => void): Promise<void> {
  if (reapAll()) return;
  const pid1 = process.pid === 1;
  await runStopSchedule(schedule, {
    send: (signal) => {
      if (reapAll()) return false;
      const sent = pid1 ? killEveryone(signal) : childrenOf(process.pid).filter((pid) => kill(pid, signal)).length > 0;
      if (sent && signal !== SIGKILL && signal !== SIGCONT) {
        if (pid1) killEveryone(SIGCONT);
        else for (const pid of childrenOf(process.pid)) kill(pid, SIGCONT);
      }
      if (sent) log(`exit: sent ${planner.signalName(signal)} to the processes left in the ${pid1 ? 'namespace' : 'tree'}`);
      return true;
    },
    gone: async (ms) => {
      for (let waited = 0; waited < ms; waited += TREE_POLL_MS) {
        if (reapAll()) return true;
        await new Promise((r) => setTimeout(r, TREE_POLL_MS));
      }
      return reapAll();
    },
  });
}
