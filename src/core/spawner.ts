// Executes a planned spawn: the planner's fd actions become posix_spawn file actions, nothing decided here.
import { spawn } from '../sys/spawn.js';
import type { SpawnFileAction } from '../sys/spawn.js';
import { O_APPEND, O_CREAT, O_NOCTTY, O_RDWR, O_TRUNC, O_WRONLY } from '../sys/fcntl.js';
import type { FdAction } from './plan.js';

const OPEN_FLAGS = {
  // O_NOCTTY everywhere: a log path that turns out to be a terminal must not become the controlling one.
  null: O_RDWR | O_NOCTTY,
  append: O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY,
  truncate: O_WRONLY | O_TRUNC | O_CREAT | O_NOCTTY,
} as const;

export function fileActionsFor(actions: FdAction[]): SpawnFileAction[] {
  return actions.map((a): SpawnFileAction => {
    switch (a.op) {
      case 'open':
        return { op: 'open', fd: a.fd, path: a.path, flags: OPEN_FLAGS[a.mode], mode: 0o644 };
      case 'dup2':
        return { op: 'dup2', fd: a.fd, newfd: a.newfd };
      case 'close':
        return { op: 'close', fd: a.fd };
      case 'closefrom':
        return { op: 'closefrom', fd: a.fd };
    }
  });
}

export interface PlannedSpawn {
  path: string;
  argv: string[];
  env: string[];
  fds: FdAction[];
  /** Lead a new session (the first fork of the classic recipe). */
  setsid?: boolean;
  /** Put the child in a process group of its own, so a stop reaches everything it forks. */
  ownGroup?: boolean;
  chdir?: string;
}

/** posix_spawn with an empty signal mask and default handlers, as every daemonkit child gets. */
export function spawnPlanned(s: PlannedSpawn): number {
  const fileActions = fileActionsFor(s.fds);
  if (s.chdir) fileActions.push({ op: 'chdir', path: s.chdir });
  return spawn({
    path: s.path,
    argv: s.argv,
    env: s.env,
    setsid: s.setsid,
    pgroup: s.ownGroup ? 0 : undefined,
    resetSignals: true,
    fileActions,
  });
}
