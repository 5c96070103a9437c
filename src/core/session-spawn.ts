// spawn-session: the new session (supervisor or intermediate) is spawned with attributes no option changes, so the CLI
// can spawn it first thing and let its Node start up while the CLI parses and plans (docs/DESIGN.md, "Start-up").
// It imports little: the CLI runs it before the rest of its modules are even initialized.
import { closeSync } from 'node:fs';
import type { FdAction } from './plan.js';
import { distFile } from './dist-path.js';
import { spawnPlanned } from './spawner.js';
import { SUPERVISOR_ENV, SUPERVISOR_NODE_FLAGS } from './node-flags.js';
import { socketpair } from '../sys/socket.js';
import { kill, SIGKILL } from '../sys/signal.js';
import { waitpid, WNOHANG } from '../sys/wait.js';

export type SessionEntry = 'supervisor' | 'intermediate';

/** Where the new session finds its end of the ready socket. */
export const SESSION_READY_FD = 3;

/**
 * The new session's spawn (FD_PLANS.sessionSpawn): the ready socket as fd 3 first, so it is safe whatever number it
 * has, then /dev/null as stdio, nothing else. Written out, not planned: nothing in it depends on options.
 */
export function sessionSpawnFds(readySocket: number): FdAction[] {
  return [
    { op: 'dup2', fd: readySocket, newfd: SESSION_READY_FD },
    { op: 'open', fd: 0, path: '/dev/null', mode: 'null' },
    { op: 'dup2', fd: 0, newfd: 1 },
    { op: 'dup2', fd: 0, newfd: 2 },
    { op: 'closefrom', fd: SESSION_READY_FD + 1 },
  ];
}

/** A spawned new session waiting for its order on the other end of `socket`. */
export interface SessionProcess {
  entry: SessionEntry;
  pid: number;
  /** The original's end of the ready socket. */
  socket: number;
}

/** posix_spawn the entry in a new session on /dev/null, with `theirs` as its fd 3; returns its PID. */
export function spawnSessionOn(entry: SessionEntry, theirs: number): number {
  const path = distFile(`${entry}.js`);
  const supervisor = entry === 'supervisor';
  return spawnPlanned({
    path: process.execPath,
    argv: supervisor ? [process.execPath, ...SUPERVISOR_NODE_FLAGS, path] : [process.execPath, path],
    env: supervisor ? SUPERVISOR_ENV : [],
    fds: sessionSpawnFds(theirs),
    setsid: true,
    // In / from the start: it never pins the caller's directory (a supervisor with --chroot never leaves it).
    chdir: '/',
  });
}

/**
 * The early session, kept on the process: the CLI's loader runs early-start in a bundle of its own (dist/early.js)
 * before the CLI's body, and that body's copy of this module must find what the first one spawned.
 */
const EARLY = Symbol.for('daemonkit.earlySession');
type EarlySlot = { [EARLY]?: SessionProcess | null };
const slot = process as unknown as EarlySlot;

/**
 * The CLI's `start`, before it reads its options: spawn the session it will most likely need. A failure here is not
 * reported: the plan's own spawn-session runs then and reports it.
 */
export function spawnEarlySession(entry: SessionEntry): void {
  let mine = -1;
  try {
    const [a, theirs] = socketpair();
    mine = a;
    try {
      slot[EARLY] = { entry, pid: spawnSessionOn(entry, theirs), socket: mine };
    } finally {
      closeSync(theirs);
    }
  } catch {
    if (mine >= 0) closeSync(mine);
    slot[EARLY] = null;
  }
}

/** The early session when it is the entry the plan needs; one that is not is dismissed. */
export function claimEarlySession(entry: SessionEntry): SessionProcess | null {
  const s = slot[EARLY] ?? null;
  slot[EARLY] = null;
  if (s && s.entry !== entry) dismiss(s);
  return s?.entry === entry ? s : null;
}

/** An early session nobody claimed (bad options, already running) has done nothing yet: kill and reap it. */
export function dismissEarlySession(): void {
  const s = slot[EARLY];
  if (s) dismiss(s);
  slot[EARLY] = null;
}

function dismiss(s: SessionProcess): void {
  closeSync(s.socket);
  killAndReap(s.pid);
}

/** How long a killed session is waited for: one stuck in the kernel (a hung mount) must not hang the command. */
const REAP_LIMIT_MS = 1000;
const REAP_POLL_MS = 1;

/** SIGKILL for a session of ours that has done nothing yet, reaped within REAP_LIMIT_MS (else init reaps it later). */
export function killAndReap(pid: number): void {
  kill(pid, SIGKILL);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < REAP_LIMIT_MS; waited += REAP_POLL_MS) {
    try {
      if (waitpid(pid, WNOHANG)) return;
    } catch {
      return; // ECHILD: already reaped
    }
    Atomics.wait(pause, 0, 0, REAP_POLL_MS);
  }
}
