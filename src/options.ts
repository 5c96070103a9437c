// The one normalizer: every option from the library or the CLI passes through here, and leaves either valid or as a UsageError.
// What each option is (its flag, default, parser, help) is declared once in src/core/option-table.ts.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { invalid, quote, UsageError } from './errors.js';
import { SUN_PATH_MAX } from './sys/un.js';
import { MARKER_PREFIX, type Identity, type Naming, type ParseContext, type StdioTarget } from './core/option-values.js';
import type { ListenSpec } from './core/listen-spec.js';
import { OPTIONS, optionKeysFor, optionName, parseOption, type OptionsFor } from './core/option-table.js';
import type { Probe, ReadySpec } from './core/ready-spec.js';
import { startWhenReady, type MachineConfig } from './core/supervisor-machine.js';

export type { Identity, Naming, ReloadMode, RestartPolicy, StdioTarget } from './core/option-values.js';
export { checkName, parseCount, parseDuration, parseSignal, parseStopSchedule, parseUmaskOption } from './core/option-values.js';
export { optionName } from './core/option-table.js';

// Defined beside StdioTarget: the intermediate and supervisor bundles then leave out this file's option table.
export { logFileOf } from './core/option-values.js';

/** What daemonize() takes: numbers or strings as typed on a command line. Derived from the option table. */
export interface DaemonOptions extends OptionsFor<'library'> {}

/** What the normalizer takes (the CLI's start and plan build it from their flags). Derived from the option table. */
export interface StartOptions extends OptionsFor<'start'>, OptionsFor<'run'> {}

/** The normalized options: the supervisor machine's config (MachineConfig) and everything the processes around it need. */
export interface Normalized extends MachineConfig {
  name: string | null;
  stateDir: string | null;
  pidfile: string | null;
  stdio: [StdioTarget, StdioTarget, StdioTarget];
  cwd: string;
  umask: number;
  /** The daemon's environment, "K=V" each, without daemonkit's markers. */
  env: string[];
  clearEnv: boolean;
  user: Identity | null;
  group: { name: string; gid: number } | null;
  chroot: string | null;
  /** When a supervised worker is ready: alive for startMs (the default), notify, or a probe. */
  ready: ReadySpec;
  /** Liveness probe of each ready worker, or null. */
  health: { probe: Probe; intervalMs: number; timeoutMs: number; failures: number } | null;
  /** A ready worker that sends no WATCHDOG=1 within this is restarted; null: no watchdog. */
  watchdogMs: number | null;
  forceDetach: boolean;
  supervise: boolean;
  command: { path: string; argv: string[] } | null;
  /** The sockets the supervisor binds before any worker and passes to each as fds 3.. (socket activation). */
  listen: ListenSpec[];
  /** Stop schedule as [signal, timeoutMs] pairs; timeoutMs -1 is "forever". */
  stopSchedule: number[];
  logTime: boolean;
  /** The signal an unsupervised program declared for reopen, or null: never guessed. */
  reopenSignal: number | null;
  /** False: RLIMIT_CORE is set to 0 (soft and hard) in the process that spawns the daemon or workers. */
  coreDumps: boolean;
  /** `run`: exit status FROM becomes TO. */
  exitMap: Array<[number, number]>;
  /** `run`: signals passed on to every worker's process group. */
  forward: number[];
  /** `run`: PR_SET_CHILD_SUBREAPER, reaping orphans as PID 1 does. */
  subreaper: boolean;
  /** What was typed, with the caller's cwd and environment: a restart normalizes it again rather than trusting a record. */
  source: OptionSource;
}

export interface OptionSource {
  input: StartOptions;
  cwd: string;
  env: Record<string, string>;
}

/**
 * The keys each entry point takes, from the option table; normalize() refuses any other key, so a misspelled one
 * (pidFile) is an error instead of an option ignored.
 */
export const DAEMON_OPTION_KEYS = optionKeysFor('library');
export const START_OPTION_KEYS = { ...optionKeysFor('start'), ...optionKeysFor('run') };

/** "unknown option 'pidFile' (did you mean 'pidfile'?)" for the first key that is not one of `keys`. */
export function checkOptionKeys(input: object, keys: Readonly<Record<string, true>>, naming: Naming): void {
  for (const key of Object.keys(input)) {
    if (Object.hasOwn(keys, key)) continue;
    const near = closestKey(key, Object.keys(keys));
    const shown = (k: string) => quote(optionName(k, naming));
    throw new UsageError(`unknown option ${shown(key)}${near ? ` (did you mean ${shown(near)}?)` : ''}`, key);
  }
}

/** The key a typo most likely meant: same letters in another case, else at most a third of the letters off. */
function closestKey(key: string, keys: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of keys) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

const KEPT_BY_CLEAR_ENV = ['PATH', 'HOME', 'LANG'];

/** The variable that names the state directory. */
export const STATE_DIR_VAR = 'DAEMONKIT_HOME';

/** Where service state lives: $DAEMONKIT_HOME, else $XDG_STATE_HOME/daemonkit, else ~/.local/state/daemonkit. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[STATE_DIR_VAR]) return resolve(env[STATE_DIR_VAR]);
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) return join(env.XDG_STATE_HOME, 'daemonkit');
  return join(env.HOME || homedir(), '.local', 'state', 'daemonkit');
}

/** What execve would make of path, in a stat and an access (no exception for a PATH entry that lacks it). */
function executableKind(path: string): 'ok' | 'is not executable' | 'is not a regular file' | 'does not exist' {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return 'does not exist';
    if (!st.isFile()) return 'is not a regular file';
    accessSync(path, fsConstants.X_OK);
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).syscall === 'access' ? 'is not executable' : 'does not exist';
  }
}

/** Resolves a command like execvp would, with the daemon's PATH; the error names the path that was tried. */
export function resolveCommand(word: string, pathVar: string, base: string, root: string | null): string {
  const inRoot = (p: string) => (root ? join(root, p) : p);
  if (word === '') throw new UsageError("missing command: nothing after '--'", 'command', word);
  if (word.includes('\0')) throw invalid('command', word, 'a path cannot contain NUL');
  if (word.includes('/')) {
    const path = resolve(root ? '/' : base, word);
    const kind = executableKind(inRoot(path));
    if (kind !== 'ok') throw new UsageError(`command ${quote(path)} ${kind}${root ? ` inside the chroot ${root}` : ''}`, 'command', path);
    return path;
  }
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, word);
    if (executableKind(inRoot(path)) === 'ok') return path;
  }
  throw new UsageError(`command ${quote(word)} not found in PATH (${pathVar})`, 'command', word);
}

function requireDir(option: string, dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw invalid(option, dir, 'no such directory');
  }
  if (!st.isDirectory()) throw invalid(option, dir, 'not a directory');
}

/** The ids of the process that will start the daemon: this one, or the root a plan is made for (daemonkit/testing). */
export interface CallerIds {
  uid: number;
  gid: number;
}

/** The single gate: validates everything a user can mistype before anything is created or started. */
export function normalize(
  input: StartOptions,
  naming: Naming,
  callerEnv: NodeJS.ProcessEnv = process.env,
  base = process.cwd(),
  caller?: CallerIds,
): Normalized {
  const n = (key: string) => optionName(key, naming);
  checkOptionKeys(input, START_OPTION_KEYS, naming);
  const context: ParseContext = { naming, base };

  const chroot = parseOption('chroot', input.chroot, context) ?? null;
  if (chroot) requireDir(n('chroot'), chroot);

  let cwd = parseOption('cwd', input.cwd, context);
  if (input.cwd !== undefined) {
    cwd = chroot ? resolve('/', cwd) : resolve(base, cwd);
    requireDir(n('cwd'), chroot ? join(chroot, cwd) : cwd);
  }

  const umask = parseOption('umask', input.umask, context);
  const user = parseOption('user', input.user, context) ?? null;
  const group = parseOption('group', input.group, context) ?? null;
  // The caller's ids only when asked to change them: each is a syscall, and most starts name no user.
  const ids = user || group ? (caller ?? { uid: process.getuid!(), gid: process.getgid!() }) : null;
  if (ids && ids.uid !== 0) {
    const which = user ? n('user') : n('group');
    const wanted = user ? user.uid !== ids.uid : group!.gid !== ids.gid;
    if (wanted) throw invalid(which, user ? input.user : input.group, 'changing user or group needs root');
  }

  if (input.log !== undefined && (input.stdout !== undefined || input.stderr !== undefined)) {
    const other = input.stdout !== undefined ? n('stdout') : n('stderr');
    throw new UsageError(
      `conflicting options: ${n('log')} sets both streams, so ${other} cannot be given too`,
      n('log'),
      String(input.log),
    );
  }

  const supervise = parseOption('supervise', input.supervise, context);
  const logTime = parseOption('logTime', input.logTime, context);
  // The supervisor writes the time; an unsupervised daemon writes its log itself.
  if (logTime && !supervise)
    throw new UsageError(
      `conflicting options: ${n('logTime')} needs the supervisor, which writes the log (not with --no-supervise)`,
      n('logTime'),
      'true',
    );
  const command = input.command;
  let name: string | null = null;
  if (input.name !== undefined) name = parseOption('name', input.name, context)!;
  else if (command && command.length > 0 && command[0]) name = defaultName(command[0]);

  const stateDir = parseOption('stateDir', input.stateDir, context) ?? (name ? defaultStateDir(callerEnv) : null);
  if (supervise && name && stateDir) checkSocketPath(n('name'), name, join(stateDir, `${name}.sock`));
  const pidfile = parseOption('pidfile', input.pidfile, context) ?? (name && stateDir ? join(stateDir, `${name}.pid`) : null);
  if (pidfile?.includes('\0')) throw invalid(n('pidfile'), pidfile, 'a path cannot contain NUL');

  const logDefault = command && name && stateDir ? join(stateDir, `${name}.log`) : undefined;
  const both = parseOption('log', input.log, context);
  const stdout =
    parseOption('stdout', input.stdout, context) ??
    both ??
    (logDefault ? { kind: 'append' as const, path: logDefault } : { kind: 'null' as const });
  const stderr = parseOption('stderr', input.stderr, context) ?? both ?? stdout;

  const extraEnv = parseOption('env', input.env, context);
  const pathVar = extraEnv.findLast(([k]) => k === 'PATH')?.[1] ?? callerEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin';

  const restart = parseOption('restart', input.restart, context);
  const reload = parseOption('reload', input.reload, context);

  const backoffMinMs = parseOption('backoffMin', input.backoffMin, context);
  const backoffMaxMs = parseOption('backoffMax', input.backoffMax, context);
  if (backoffMaxMs < backoffMinMs)
    throw invalid(n('backoffMax'), input.backoffMax ?? OPTIONS.backoffMax.default, `less than ${n('backoffMin')}`);

  const words = parseOption('command', command, context);
  const resolved: Normalized['command'] = words ? { path: resolveCommand(words[0]!, pathVar, base, chroot), argv: words } : null;

  const clearEnv = parseOption('clearEnv', input.clearEnv, context);
  const readiness = readinessOf(input, context, n);
  const watchdogMs = parseOption('watchdog', input.watchdog, context) ?? null;
  if (supervise && (readiness.ready.kind === 'notify' || watchdogMs)) {
    // The notify socket is bound outside the chroot, where a chrooted worker cannot reach it.
    if (chroot)
      throw invalid(
        n('chroot'),
        chroot,
        `workers in a chroot cannot reach the notify socket that ${n('ready')} notify and ${n('watchdog')} use`,
      );
    if (name && stateDir) checkSocketPath(n('name'), name, join(stateDir, `${name}.notify`));
  }
  const normalized: Normalized = {
    name,
    stateDir,
    pidfile,
    stdio: [{ kind: 'null' }, stdout, stderr],
    cwd,
    umask,
    env: [],
    clearEnv,
    user,
    group,
    chroot,
    readyTimeoutMs: parseOption('readyTimeout', input.readyTimeout, context),
    startMs: readiness.startMs,
    ready: readiness.ready,
    health: readiness.health,
    watchdogMs,
    forceDetach: parseOption('forceDetach', input.forceDetach, context),
    supervise,
    command: resolved,
    workers: parseOption('workers', input.workers, context),
    restart,
    backoffMinMs,
    backoffMaxMs,
    minUptimeMs: parseOption('minUptime', input.minUptime, context),
    maxRestarts: parseOption('maxRestarts', input.maxRestarts, context),
    restartWindowMs: parseOption('restartWindow', input.restartWindow, context),
    reload,
    listen: parseOption('listen', input.listen, context),
    stopSchedule: parseOption('retry', input.retry, context),
    logTime,
    reopenSignal: parseOption('reopenSignal', input.reopenSignal, context) ?? null,
    coreDumps: parseOption('coreDumps', input.coreDumps, context),
    exitMap: parseOption('exitMap', input.exitMap, context),
    forward: parseOption('forward', input.forward, context),
    subreaper: parseOption('subreaper', input.subreaper, context),
    source: undefined as unknown as OptionSource,
  };
  checkProbeNotShared(normalized, input, n);
  checkAliveWithinTimeout(normalized, input, n);
  // Copied from the caller's environment when first read (the spawn, the order): each read of process.env is a call
  // into C++, and copying it was most of a plan's cost. Enumerable, so JSON.stringify and spreads still carry it.
  let env: string[] | undefined;
  Object.defineProperty(normalized, 'env', {
    enumerable: true,
    get: () => (env ??= buildEnv(extraEnv, clearEnv, callerEnv, user)),
    set: (v: string[]) => {
      env = v;
    },
  });
  // Copied when first read too (a record, the order), for the same reason.
  let source: OptionSource | undefined;
  Object.defineProperty(normalized, 'source', {
    enumerable: true,
    get: () => (source ??= { input, cwd: base, env: definedOnly(callerEnv) }),
    set: (v: OptionSource) => {
      source = v;
    },
  });
  return normalized;
}

/** --ready and its alias --start-secs (alive:DURATION), and --health with its settings. */
function readinessOf(
  input: StartOptions,
  context: ParseContext,
  n: (key: string) => string,
): Pick<Normalized, 'startMs' | 'ready' | 'health'> {
  const startMs = parseOption('startSecs', input.startSecs, context);
  const given = parseOption('ready', input.ready, context);
  if (given && input.startSecs !== undefined && !(given.kind === 'alive' && given.ms === startMs)) {
    throw new UsageError(
      `conflicting options: ${n('startSecs')} is ${n('ready')} alive:DURATION, so ${n('ready')} ${input.ready} cannot be given too`,
      n('startSecs'),
      String(input.startSecs),
    );
  }
  const ready: ReadySpec = given ?? { kind: 'alive', ms: startMs };
  // Each checked even without --health: a mistyped value is refused rather than ignored.
  const probe = parseOption('health', input.health, context);
  const intervalMs = parseOption('healthInterval', input.healthInterval, context);
  const timeoutMs = parseOption('healthTimeout', input.healthTimeout, context);
  const failures = parseOption('healthFailures', input.healthFailures, context);
  if (!probe) {
    // A setting of a probe that is not there would do nothing: refused, as a mistyped value is.
    const setting = (['healthInterval', 'healthTimeout', 'healthFailures'] as const).find((k) => input[k] !== undefined);
    if (setting) throw new UsageError(`conflicting options: ${n(setting)} needs ${n('health')}`, n(setting), String(input[setting]));
  }
  const health = probe ? { probe, intervalMs, timeoutMs, failures } : null;
  return { startMs: ready.kind === 'alive' ? ready.ms : startWhenReady(), ready, health };
}

/** A worker ready only once alive longer than the start may wait would fail every start: refused, naming the option. */
function checkAliveWithinTimeout(o: Normalized, input: StartOptions, n: (key: string) => string): void {
  // daemonize() has no command: its process is ready when it calls ready(), whatever alive: would say.
  if (!o.command || o.ready.kind !== 'alive' || o.ready.ms < o.readyTimeoutMs) return;
  const alive = `ready only once alive ${o.ready.ms / 1000}s`;
  const within = `${n('readyTimeout')} ${o.readyTimeoutMs / 1000}s`;
  const [key, value, why] =
    input.startSecs !== undefined
      ? ['startSecs', input.startSecs, `${alive}, not within ${within}`]
      : input.ready !== undefined
        ? ['ready', input.ready, `${alive}, not within ${within}`]
        : ['readyTimeout', input.readyTimeout, `a worker is ${alive} (${n('startSecs')}'s default), which takes longer`];
  throw new UsageError(`invalid ${n(key)} ${quote(String(value))}: ${why}`, n(key), String(value));
}

/**
 * A TCP readiness probe of a port the supervisor listens on (--listen) would connect to the supervisor's own socket,
 * which the kernel completes before any worker accepts: it would call every worker ready at once. Refused.
 */
function checkProbeNotShared(o: Normalized, input: StartOptions, n: (key: string) => string): void {
  const r = o.ready;
  if (r.kind !== 'tcp') return;
  const shared = (o.listen ?? []).some((l) => (l.kind === 'tcp' || l.kind === 'tcp6') && l.port === r.port);
  if (shared)
    throw invalid(
      n('ready'),
      input.ready,
      `port ${r.port} is one of ${n('listen')}'s: the supervisor's socket answers it before any worker does (use --ready notify, or a probe of a port each worker holds)`,
    );
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** The control socket's path must fit a sockaddr_un (its NUL included), or the supervisor could never listen. */
function checkSocketPath(option: string, name: string, socket: string): void {
  const bytes = Buffer.byteLength(socket);
  if (bytes < SUN_PATH_MAX) return;
  throw invalid(
    option,
    name,
    `the control socket ${socket} would be ${bytes} bytes; a unix socket path holds at most ${SUN_PATH_MAX - 1} (use a shorter name or state directory)`,
  );
}

/** The default service name: the command's basename, made safe for a file name. */
export function defaultName(command: string): string {
  const base = basename(command)
    .replace(/[^A-Za-z0-9_.@+-]/g, '_')
    .replace(/^[.-]+/, '');
  return (base || 'daemon').slice(0, 100);
}

function buildEnv(extra: [string, string][], clearEnv: boolean, callerEnv: NodeJS.ProcessEnv, user: Identity | null): string[] {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(callerEnv)) {
    if (v === undefined || k.startsWith(MARKER_PREFIX)) continue;
    if (clearEnv && !KEPT_BY_CLEAR_ENV.includes(k)) continue;
    out.set(k, v);
  }
  if (user) {
    // Like su: the daemon runs as that user, so it sees that user's home and name.
    out.set('HOME', user.home);
    if (!clearEnv || out.has('USER')) out.set('USER', user.name);
    if (!clearEnv || out.has('LOGNAME')) out.set('LOGNAME', user.name);
  }
  for (const [k, v] of extra) out.set(k, v);
  return [...out].map(([k, v]) => `${k}=${v}`);
}
