// spawn.h: posix_spawn(3) and its attribute and file-action objects; the only way daemonkit forks.
import { libc, koffi, checkErrorNumber, cString, cInt } from './libc.js';
import { ALL_SIGNALS, sigset } from './signal.js';

// glibc x86_64 sizes (posix_spawnattr_t 336, posix_spawn_file_actions_t 80), rounded up for headroom.
const ATTR_BYTES = 512;
const FILE_ACTIONS_BYTES = 128;

// glibc's values from <spawn.h>.
export const POSIX_SPAWN_RESETIDS = 0x01;
export const POSIX_SPAWN_SETPGROUP = 0x02;
export const POSIX_SPAWN_SETSIGDEF = 0x04;
export const POSIX_SPAWN_SETSIGMASK = 0x08;
export const POSIX_SPAWN_SETSID = 0x80;

// All of these follow the posix_spawn convention: they return an error number, never touch errno.
const attrInit = libc.func('int posix_spawnattr_init(void *attr)');
const attrDestroy = libc.func('int posix_spawnattr_destroy(void *attr)');
const attrSetflags = libc.func('int posix_spawnattr_setflags(void *attr, short flags)');
const attrSetsigmask = libc.func('int posix_spawnattr_setsigmask(void *attr, const void *sigmask)');
const attrSetsigdefault = libc.func('int posix_spawnattr_setsigdefault(void *attr, const void *sigdefault)');
const attrSetpgroup = libc.func('int posix_spawnattr_setpgroup(void *attr, int pgroup)');
const actionsInit = libc.func('int posix_spawn_file_actions_init(void *actions)');
const actionsDestroy = libc.func('int posix_spawn_file_actions_destroy(void *actions)');
const actionsAddopen = libc.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)');
const actionsAdddup2 = libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)');
const actionsAddclose = libc.func('int posix_spawn_file_actions_addclose(void *actions, int fd)');
const actionsAddchdir = libc.func('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)');
const actionsAddclosefrom = libc.func('int posix_spawn_file_actions_addclosefrom_np(void *actions, int from)');
// argv and envp are NULL-terminated string arrays: koffi converts a JS array ending in null.
const posixSpawnNative = libc.func(
  'int posix_spawn(_Out_ int *pid, const char *path, const void *actions, const void *attr, const char **argv, const char **envp)',
);

/** A native struct used across several calls at one address, so koffi.alloc'd rather than a Buffer koffi may copy. */
abstract class NativeObject {
  #pointer: bigint | null;
  protected constructor(bytes: number, init: (p: bigint) => number, syscall: string) {
    const p = koffi.alloc('uint64_t', bytes / 8) as bigint;
    const ret = init(p);
    if (ret !== 0) {
      koffi.free(p);
      checkErrorNumber(ret, syscall);
    }
    this.#pointer = p;
  }
  /** The native pointer; throws after destroy() rather than handing freed memory to libc. */
  get pointer(): bigint {
    if (this.#pointer === null) throw new Error(`${this.constructor.name} used after destroy()`);
    return this.#pointer;
  }
  protected release(fini: (p: bigint) => number): void {
    if (this.#pointer === null) return;
    const p = this.#pointer;
    this.#pointer = null;
    fini(p);
    koffi.free(p);
  }
}

/** posix_spawnattr_t (posix_spawnattr_init(3)); every method returns-the-error-number underneath; call destroy() in a finally. */
export class SpawnAttributes extends NativeObject {
  constructor() {
    super(ATTR_BYTES, attrInit, 'posix_spawnattr_init');
  }
  /** posix_spawnattr_setflags(3): POSIX_SPAWN_* bits. */
  setFlags(flags: number): void {
    checkErrorNumber(attrSetflags(this.pointer, cInt(flags, 'flags')), 'posix_spawnattr_setflags');
  }
  /** posix_spawnattr_setsigmask(3): the child's blocked set (empty by default); needs POSIX_SPAWN_SETSIGMASK. */
  setSigmask(signals: readonly number[] = []): void {
    checkErrorNumber(attrSetsigmask(this.pointer, sigset(signals)), 'posix_spawnattr_setsigmask');
  }
  /** posix_spawnattr_setsigdefault(3): signals reset to SIG_DFL (all of 1..64 by default); needs POSIX_SPAWN_SETSIGDEF. */
  setSigdefault(signals: readonly number[] = ALL_SIGNALS): void {
    checkErrorNumber(attrSetsigdefault(this.pointer, sigset(signals)), 'posix_spawnattr_setsigdefault');
  }
  /** posix_spawnattr_setpgroup(3): 0 puts the child in a new group of its own; needs POSIX_SPAWN_SETPGROUP. */
  setPgroup(pgid: number): void {
    checkErrorNumber(attrSetpgroup(this.pointer, cInt(pgid, 'pgid')), 'posix_spawnattr_setpgroup');
  }
  /** posix_spawnattr_destroy(3) and free; safe to call twice. */
  destroy(): void {
    this.release(attrDestroy);
  }
}

/** posix_spawn_file_actions_t (posix_spawn_file_actions_init(3)), returns-the-error-number; run in order in the child; call destroy() in a finally. */
export class FileActions extends NativeObject {
  constructor() {
    super(FILE_ACTIONS_BYTES, actionsInit, 'posix_spawn_file_actions_init');
  }
  /** posix_spawn_file_actions_addopen(3): glibc copies the path. */
  addOpen(fd: number, path: string, oflag: number, mode: number): void {
    const ret = actionsAddopen(this.pointer, cInt(fd, 'fd'), cString(path, 'path'), cInt(oflag, 'oflag'), cInt(mode, 'mode'));
    checkErrorNumber(ret, 'posix_spawn_file_actions_addopen', path);
  }
  /** posix_spawn_file_actions_adddup2(3): dup2(fd, fd) clears close-on-exec, so the fd is inherited. */
  addDup2(fd: number, newfd: number): void {
    checkErrorNumber(actionsAdddup2(this.pointer, cInt(fd, 'fd'), cInt(newfd, 'newfd')), 'posix_spawn_file_actions_adddup2');
  }
  /** posix_spawn_file_actions_addclose(3). */
  addClose(fd: number): void {
    checkErrorNumber(actionsAddclose(this.pointer, cInt(fd, 'fd')), 'posix_spawn_file_actions_addclose');
  }
  /** posix_spawn_file_actions_addchdir_np(3) (glibc 2.29+): glibc copies the path. */
  addChdir(path: string): void {
    checkErrorNumber(actionsAddchdir(this.pointer, cString(path, 'path')), 'posix_spawn_file_actions_addchdir_np', path);
  }
  /** posix_spawn_file_actions_addclosefrom_np(3) (glibc 2.34+): closes every fd >= lowfd. */
  addClosefrom(lowfd: number): void {
    checkErrorNumber(actionsAddclosefrom(this.pointer, cInt(lowfd, 'lowfd')), 'posix_spawn_file_actions_addclosefrom_np');
  }
  /** posix_spawn_file_actions_destroy(3) and free; safe to call twice. */
  destroy(): void {
    this.release(actionsDestroy);
  }
}

/**
 * posix_spawn(3) as is: returns the child's pid. Returns-the-error-number convention; glibc also
 * reports the child's exec failure this way (and reaps that child). Errors name `path`.
 */
export function posixSpawn(
  path: string,
  argv: readonly string[],
  env: readonly string[],
  actions?: FileActions,
  attributes?: SpawnAttributes,
): number {
  cString(path, 'path');
  argv.forEach((a, i) => cString(a, `argv[${i}]`));
  env.forEach((e, i) => cString(e, `env[${i}]`));
  const pid = [0];
  const ret = posixSpawnNative(pid, path, actions?.pointer ?? null, attributes?.pointer ?? null, [...argv, null], [...env, null]);
  checkErrorNumber(ret, 'posix_spawn', path);
  return pid[0];
}

export type SpawnFileAction =
  | { op: 'open'; fd: number; path: string; flags: number; mode: number }
  | { op: 'dup2'; fd: number; newfd: number }
  | { op: 'close'; fd: number }
  | { op: 'chdir'; path: string }
  | { op: 'closefrom'; fd: number };

export interface SpawnOptions {
  /** Executable; not searched in PATH. */
  path: string;
  argv: string[];
  /** "K=V" entries: the child's whole environment. */
  env: string[];
  /** POSIX_SPAWN_SETSID: the child leads a new session. */
  setsid?: boolean;
  /** POSIX_SPAWN_SETPGROUP: 0 = a group of its own. glibc applies it after setsid, where it fails (EPERM). */
  pgroup?: number;
  /** Empty signal mask and SIG_DFL for all of 1..64 (including ignored ones, which exec would keep). */
  resetSignals?: boolean;
  /** Applied in order in the child, before exec. */
  fileActions?: SpawnFileAction[];
}

/**
 * posix_spawn(3) (returns the error number) with attributes and file actions built from `opts`;
 * returns the pid. Exec failures throw SysError('posix_spawn', opts.path). Native objects are freed here.
 */
export function spawn(opts: SpawnOptions): number {
  const attributes = new SpawnAttributes();
  let actions: FileActions | undefined;
  try {
    actions = new FileActions();
    let flags = 0;
    if (opts.setsid) flags |= POSIX_SPAWN_SETSID;
    if (opts.pgroup !== undefined) {
      flags |= POSIX_SPAWN_SETPGROUP;
      attributes.setPgroup(opts.pgroup);
    }
    if (opts.resetSignals) {
      flags |= POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
      attributes.setSigmask([]);
      attributes.setSigdefault(ALL_SIGNALS);
    }
    attributes.setFlags(flags);
    for (const action of opts.fileActions ?? []) {
      switch (action.op) {
        case 'open':
          actions.addOpen(action.fd, action.path, action.flags, action.mode);
          break;
        case 'dup2':
          actions.addDup2(action.fd, action.newfd);
          break;
        case 'close':
          actions.addClose(action.fd);
          break;
        case 'chdir':
          actions.addChdir(action.path);
          break;
        case 'closefrom':
          actions.addClosefrom(action.fd);
          break;
        default:
          throw new TypeError(`unknown file action ${JSON.stringify(action)}`);
      }
    }
    return posixSpawn(opts.path, opts.argv, opts.env, actions, attributes);
  } finally {
    actions?.destroy();
    attributes.destroy();
  }
}
