// The session guard: a tiny process that outlives a SIGKILLed supervisor by microseconds and kills what it left behind.
import { closeSync, existsSync, writeSync } from 'node:fs';
import { pipe } from '../sys/unistd.js';
import { waitpid, WNOHANG } from '../sys/wait.js';
import { spawnPlanned } from '../core/spawner.js';
import { FD_PLANS } from '../core/plan.js';

const SHELL = ['/bin/sh', '/usr/bin/sh'].find(existsSync) ?? null;

/**
 * Blocks reading the supervisor's pipe. A line "done" is a clean exit (the supervisor swept its own session). EOF
 * with no line means the supervisor died without a word: SIGKILL everything still in its session ($1), which the
 * kernel keeps from reuse while any member lives, until a pass finds nothing. Zombies are skipped (already dead).
 * A PID is read from /proc and killed microseconds later: reusing it in between would take a full PID cycle.
 * POSIX sh (dash): a Node guard would double the service's memory for a loop this small.
 */
const SCRIPT = `trap '' HUP INT QUIT TERM PIPE USR1 USR2
read -r word
[ "$word" = done ] && exit 0
s=$1 pass=0
while [ $pass -lt 100 ]; do
  hit=0
  for f in /proc/[0-9]*/stat; do
    read -r line < "$f" 2>/dev/null || continue
    set -f; set -- \${line##*") "}; set +f
    [ "$4" = "$s" ] && [ "$1" != Z ] || continue
    p=\${f#/proc/}
    kill -KILL "\${p%/stat}" 2>/dev/null && hit=1
  done
  [ $hit = 0 ] && exit 0
  pass=$((pass + 1))
done
exit 1`;

export class SessionGuard {
  readonly #session: number;
  readonly #label: string;
  #pid = 0;
  #fd: number | null = null;

  /** label: whose guard this is, for ps (the PID file's path, or the name). */
  constructor(session: number, label: string) {
    this.#session = session;
    this.#label = label;
  }

  get pid(): number {
    return this.#pid;
  }

  /** Spawns the guard in a session of its own (a kill of ours never reaches it); throws when it cannot. */
  start(): void {
    if (!SHELL) throw new Error('no /bin/sh for the session guard');
    const [readEnd, writeEnd] = pipe();
    try {
      this.#pid = spawnPlanned({
        path: SHELL,
        argv: [SHELL, '-c', SCRIPT, 'daemonkit-guard', String(this.#session), this.#label],
        env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
        fds: FD_PLANS.guard(readEnd),
        setsid: true,
        // Never hold a directory the service's owner may want to unmount.
        chdir: '/',
      });
    } catch (e) {
      closeSync(writeEnd);
      throw e;
    } finally {
      closeSync(readEnd);
    }
    this.#fd = writeEnd;
  }

  /** After SIGCHLD: true if the guard exited (and was reaped), so the caller can start another. */
  reapIfGone(): boolean {
    if (!this.#pid) return false;
    let gone: boolean;
    try {
      gone = waitpid(this.#pid, WNOHANG) !== null;
    } catch {
      gone = true; // ECHILD: reaped elsewhere, it is no guard of ours any more
    }
    if (!gone) return false;
    this.#pid = 0;
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
    return true;
  }

  /** A clean exit: tell the guard there is nothing to sweep; it exits on its own. */
  dismiss(): void {
    if (this.#fd === null) return;
    try {
      writeSync(this.#fd, 'done\n');
    } catch {
      // gone already
    }
    closeSync(this.#fd);
    this.#fd = null;
  }
}
