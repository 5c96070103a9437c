// The steps a process applies to itself before it spawns the daemon (never in the caller's process): one function a
// step, run in the plan's order by the role's table (assembly/steps.ts says why that order: umask, PID file, root,
// cwd, groups, gid, uid).
import { lchownSync } from 'node:fs';
import type { Normalized } from '../options.js';
import { chroot } from '../sys/unistd.js';
import { sharedWithOthers, whereUnsafeDir } from './dir-safety.js';
import { RLIMIT_CORE, setrlimit } from '../sys/resource.js';

// @types/node 20 lacks initgroups on Process; Node has had it since 0.9.
type ProcessWithIds = typeof process & {
  initgroups(user: string, extraGroup: number): void;
  setgid(id: number): void;
  setuid(id: number): void;
};

/** umask: before the PID file, so it gets the daemon's mask too. */
export function setUmask(o: Normalized): void {
  process.umask(o.umask);
}

/**
 * no-core-dumps (planned unless core dumps were asked for; python-daemon's prevent_core): a core holds the process's
 * memory, secrets included. Soft and hard, so the program cannot raise it again; everything spawned from here inherits it.
 */
export function noCoreDumps(): void {
  setrlimit(RLIMIT_CORE, { soft: 0n, hard: 0n });
}

/** chroot: before chdir, or the cwd would be left outside the new root. */
export function changeRoot(o: Normalized): void {
  chroot(checkJail(o.chroot!));
}

/**
 * The jail, as root refused when users other than root could change it or a directory above it: they could swap it for
 * another between our check and each entry (a spawn enters it by path). Not root: the kernel refuses chroot anyway.
 */
export function checkJail(jail: string): string {
  const unsafe = sharedWithOthers(jail);
  if (unsafe) {
    const why = `refusing --chroot ${jail}: ${whereUnsafeDir(unsafe, jail)} is writable by users other than root`;
    throw Object.assign(new Error(why), { code: 'EUNSAFE', path: jail });
  }
  return jail;
}

export function changeDir(o: Normalized): void {
  process.chdir(o.cwd);
}

/** setgroups: the user's supplementary groups (not root's), while still root. */
export function initGroups(o: Normalized): void {
  (process as ProcessWithIds).initgroups(o.user!.name, o.group?.gid ?? o.user!.gid);
}

export function setGid(o: Normalized): void {
  (process as ProcessWithIds).setgid(o.group?.gid ?? o.user!.gid);
}

/** setuid: last, since it gives up the right to change the others. */
export function setUid(o: Normalized): void {
  (process as ProcessWithIds).setuid(o.user!.uid);
}

/** Files created before dropping privileges still belong to the service's user, who must be able to use them. */
export function giveToServiceUser(o: Normalized, path: string): void {
  // lchown: a symlink swapped in at the path is changed itself, never what it points to.
  if (o.user || o.group) lchownSync(path, o.user?.uid ?? -1, o.group?.gid ?? o.user?.gid ?? -1);
}
