// systemd's socket activation protocol (sd_listen_fds(3)), as the side that passes sockets: fds 3.., LISTEN_* variables.
import type { StdioTarget } from '../options.js';

/** SD_LISTEN_FDS_START: the first passed socket's fd in the worker. */
export const LISTEN_FDS_START = 3;

/** The protocol's variables: stale ones in an inherited environment are replaced, never passed on. */
export const ACTIVATION_VARS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/** Where the worker gets each listener: its fd in the supervisor → LISTEN_FDS_START + index (the planner's FD_FROM). */
export function listenerFdTargets(listeners: ReadonlyArray<{ fd: number }>): Array<[number, StdioTarget]> {
  return listeners.map((l, i) => [LISTEN_FDS_START + i, { kind: 'fd', fd: l.fd }]);
}

/** The child's fd for its notify sender (DAEMONKIT_NOTIFY_FD): right after the listeners, so LISTEN_FDS stays whole. */
export function notifyChildFd(listeners: ReadonlyArray<unknown>): number {
  return LISTEN_FDS_START + listeners.length;
}

/** LISTEN_FDS and LISTEN_FDNAMES for these listeners; LISTEN_PID comes from the exec step (withListenPid). */
export function activationEnv(listeners: ReadonlyArray<{ name: string }>): string[] {
  return [`LISTEN_FDS=${listeners.length}`, `LISTEN_FDNAMES=${listeners.map((l) => l.name).join(':')}`];
}

export interface SpawnRequest {
  path: string;
  argv: string[];
  env: string[];
}

/** The shell that stands between posix_spawn and the program: `$$` is its own PID, which exec hands to the program. */
export const EXEC_SHELL = '/bin/sh';
const SET_PID_AND_EXEC = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"';

/**
 * The request rewritten so the program starts with LISTEN_PID equal to its own PID, which posix_spawn cannot know
 * before exec: `/bin/sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"' sh PATH ARGS...`. The program's argv[0]
 * becomes its path (dash's exec has no -a). A missing program is the shell's exit 127, no longer a posix_spawn
 * error: check it before. Any LISTEN_* already in env is dropped.
 */
export function withListenPid(request: SpawnRequest): SpawnRequest {
  const env = request.env.filter((kv) => !ACTIVATION_VARS.some((v) => kv.startsWith(`${v}=`)));
  return { path: EXEC_SHELL, argv: ['sh', '-c', SET_PID_AND_EXEC, 'sh', request.path, ...request.argv.slice(1)], env };
}

/** A worker's spawn with the listeners: the activation variables added, and the exec step that sets LISTEN_PID. */
export function activationSpawn(request: SpawnRequest, listeners: ReadonlyArray<{ name: string }>): SpawnRequest {
  if (listeners.length === 0) return request;
  const wrapped = withListenPid(request);
  return { ...wrapped, env: [...wrapped.env, ...activationEnv(listeners)] };
}
