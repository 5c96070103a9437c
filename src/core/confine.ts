// What the process that spawns the daemon applies to itself (never the caller's process): PID file, then root, cwd and ids.
import { chownSync } from 'node:fs';
import type { Normalized } from '../options.js';
import { chroot } from '../sys/unistd.js';
import { acquirePidfile } from './pidfile.js';
import { RLIMIT_CORE, setrlimit } from '../sys/resource.js';

// @types/node 20 lacks initgroups on Process; Node has had it since 0.9.
type ProcessWithIds = typeof process & { initgroups(user: string, extraGroup: number): void; setgid(id: number): void; setuid(id: number): void };

/** umask and the core limit, then the PID file (while its path is reachable and we are still privileged). Busy is an answer, not an error. */
export function takePidfile(o: Normalized): { ok: true; fd: number | null } | { ok: false; pid: number | null } {
  process.umask(o.umask);
  limitCoreDumps(o);
  if (!o.pidfile) return { ok: true, fd: null };
  return acquirePidfile(o.pidfile);
}

/**
 * No core dumps unless asked (python-daemon's prevent_core): a core holds the process's memory, secrets included.
 * Soft and hard, so the program cannot raise it again; everything spawned from here inherits it.
 */
export function limitCoreDumps(o: Normalized): void {
  if (!o.coreDumps) setrlimit(RLIMIT_CORE, { soft: 0n, hard: 0n });
}

/** Files created before dropping privileges still belong to the service's user, who must be able to use them. */
export function giveToServiceUser(o: Normalized, path: string): void {
  if (o.user || o.group) chownSync(path, o.user?.uid ?? -1, o.group?.gid ?? o.user?.gid ?? -1);
}

/** chroot before chdir; supplementary groups and gid while still root; uid last (unless each worker drops instead). */
export function confine(o: Normalized, { dropIds = true } = {}): void {
  if (o.chroot) chroot(o.chroot);
  process.chdir(o.cwd);
  if (!dropIds) return;
  const p = process as ProcessWithIds;
  if (o.user) p.initgroups(o.user.name, o.group?.gid ?? o.user.gid);
  if (o.user || o.group) p.setgid(o.group?.gid ?? o.user!.gid);
  if (o.user) p.setuid(o.user.uid);
}
