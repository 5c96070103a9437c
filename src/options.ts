// The one normalizer: every option from the library or the CLI passes through here, and leaves either valid or as a UsageError.
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { invalid, quote, UsageError } from './errors.js';
import { planner } from './core/wasm.js';
import { SUN_PATH_MAX } from './sys/un.js';

export type StdioTarget =
  | { kind: 'inherit' }
  | { kind: 'null' }
  | { kind: 'append'; path: string }
  | { kind: 'truncate'; path: string }
  | { kind: 'fd'; fd: number };

/** The file a stdio target writes to, or null for /dev/null, an inherited or a passed fd. */
export function logFileOf(t: StdioTarget): string | null {
  return t.kind === 'append' || t.kind === 'truncate' ? t.path : null;
}

export type RestartPolicy = 'on-failure' | 'always' | 'never';
export type ReloadMode = 'rolling' | 'signal';

/** What a caller may pass: numbers or strings as typed on a command line. */
export interface DaemonOptions {
  /** PID file path; locked for the daemon's whole life. */
  pidfile?: string;
  /** Both streams to this file (appended). */
  log?: string;
  /** stdout to this file (appended); null or '/dev/null' for /dev/null (the default). */
  stdout?: string | null;
  stderr?: string | null;
  cwd?: string;
  /** Octal (`022`, `0o022`), symbolic (`u=rwx,g=rx,o=rx`) or a number. Default 022. */
  umask?: string | number;
  env?: Record<string, string> | string[];
  /** Keep only PATH, HOME and LANG from the caller's environment (plus `env`). */
  clearEnv?: boolean;
  user?: string | number;
  group?: string | number;
  chroot?: string;
  /** Seconds the original waits for readiness. Default 30. */
  readyTimeout?: number | string;
  /** Seconds a program without a readiness protocol must stay alive to count as ready. Default 0.2. */
  startSecs?: number | string;
  /** Detach even when the process looks already detached (parent PID 1, systemd, socket on stdin). */
  forceDetach?: boolean;
  /** Allow core dumps (true, or 'on' as typed). Default false: RLIMIT_CORE 0, since a core can hold secrets. */
  coreDumps?: boolean | string;
}

export interface StartOptions extends DaemonOptions {
  command?: string[];
  name?: string;
  supervise?: boolean;
  workers?: number | string;
  restart?: string;
  backoffMin?: number | string;
  backoffMax?: number | string;
  minUptime?: number | string;
  maxRestarts?: number | string;
  restartWindow?: number | string;
  reload?: string;
  retry?: string;
  stateDir?: string;
  /** Prefix each line of workers' output in the log with the UTC time (ISO-8601, milliseconds). */
  logTime?: boolean;
  /** The signal an unsupervised program takes as "reopen your logs"; without it `reopen` sends it nothing. */
  reopenSignal?: string | number;
}

export interface Identity {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface Normalized {
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
  readyTimeoutMs: number;
  startMs: number;
  forceDetach: boolean;
  supervise: boolean;
  command: { path: string; argv: string[] } | null;
  workers: number;
  restart: RestartPolicy;
  backoffMinMs: number;
  backoffMaxMs: number;
  minUptimeMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  reload: ReloadMode;
  /** Stop schedule as [signal, timeoutMs] pairs; timeoutMs -1 is "forever". */
  stopSchedule: number[];
  logTime: boolean;
  /** The signal an unsupervised program declared for reopen, or null: never guessed. */
  reopenSignal: number | null;
  /** False: RLIMIT_CORE is set to 0 (soft and hard) in the process that spawns the daemon or workers. */
  coreDumps: boolean;
  /** What was typed, with the caller's cwd and environment: a restart normalizes it again rather than trusting a record. */
  source: OptionSource;
}

export interface OptionSource {
  input: StartOptions;
  cwd: string;
  env: Record<string, string>;
}

/**
 * Every option key, once: the type system holds these to DaemonOptions and StartOptions (no key missing, none extra),
 * and normalize() refuses any other key, so a misspelled one (pidFile) is an error instead of an option ignored.
 */
export const DAEMON_OPTION_KEYS = {
  pidfile: true, log: true, stdout: true, stderr: true, cwd: true, umask: true, env: true, clearEnv: true, user: true,
  group: true, chroot: true, readyTimeout: true, startSecs: true, forceDetach: true, coreDumps: true,
} as const satisfies Record<keyof DaemonOptions, true>;

export const START_OPTION_KEYS = {
  ...DAEMON_OPTION_KEYS,
  command: true, name: true, supervise: true, workers: true, restart: true, backoffMin: true, backoffMax: true,
  minUptime: true, maxRestarts: true, restartWindow: true, reload: true, retry: true, stateDir: true, reopenSignal: true,
  logTime: true,
} as const satisfies Record<keyof StartOptions, true>;

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

/** How options are named in errors: `--ready-timeout` on the CLI, `readyTimeout` in the library. */
export type Naming = 'cli' | 'library';

const MARKER_PREFIX = 'DAEMONKIT_';
const KEPT_BY_CLEAR_ENV = ['PATH', 'HOME', 'LANG'];
const DAY_MS = 86_400_000;

export function optionName(key: string, naming: Naming): string {
  return naming === 'cli' ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : key;
}

/** Where service state lives: $DAEMONKIT_HOME, else $XDG_STATE_HOME/daemonkit, else ~/.local/state/daemonkit. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DAEMONKIT_HOME) return resolve(env.DAEMONKIT_HOME);
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) return join(env.XDG_STATE_HOME, 'daemonkit');
  return join(env.HOME || homedir(), '.local', 'state', 'daemonkit');
}

/** Service names become file names: no '/', no leading '.', no control characters, at most 100 characters. */
export function checkName(name: string, option = '--name'): string {
  if (!/^[A-Za-z0-9_@][A-Za-z0-9_.@+-]{0,99}$/.test(name)) {
    const why =
      name.length === 0 ? 'empty'
      : name.length > 100 ? `longer than 100 characters (${name.length})`
      : 'use letters, digits and _ . @ + - (not starting with . or -)';
    throw invalid(option, name, why);
  }
  return name;
}

/** Seconds as a number, or a string with an optional unit: `0.2`, `200ms`, `10s`, `2m`, `1h`. */
export function parseDuration(option: string, value: number | string, { allowZero = true, maxMs = DAY_MS } = {}): number {
  let ms: number;
  if (typeof value === 'number') ms = value * 1000;
  else {
    const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(value.trim() === value ? value : '');
    if (!m) throw invalid(option, value, 'not a duration (seconds, or a number with ms, s, m or h)');
    const unit = m[2] ?? 's';
    ms = Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  if (!Number.isFinite(ms) || ms < 0) throw invalid(option, value, 'must be a non-negative number of seconds');
  if (!allowZero && ms === 0) throw invalid(option, value, 'must be more than 0');
  if (ms > maxMs) throw invalid(option, value, `at most ${maxMs / 1000} seconds`);
  return Math.round(ms);
}

export function parseCount(option: string, value: number | string, min: number, max: number): number {
  const text = String(value);
  const n = typeof value === 'number' ? value : /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n)) throw invalid(option, value, 'not a whole number');
  if (n < min || n > max) throw invalid(option, value, `must be from ${min} to ${max}`);
  return n;
}

export function parseUmaskOption(option: string, value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0o777) throw invalid(option, value, 'out of range (0 to 0777)');
    return value;
  }
  const reason = planner.umaskError(value);
  if (reason) throw invalid(option, value, reason);
  return planner.parseUmask(value);
}

export function parseSignal(option: string, value: string | number): number {
  const signal = planner.signalNumber(String(value));
  if (signal <= 0) throw invalid(option, value, 'not a signal (a name like USR1 or SIGUSR1, or a number)');
  return signal;
}

export function parseStopSchedule(option: string, value: string): number[] {
  const reason = planner.stopScheduleError(value);
  if (reason) throw invalid(option, value, reason);
  return Array.from(planner.parseStopSchedule(value));
}

function stdioFrom(option: string, value: string | null | undefined, base: string): StdioTarget | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '/dev/null') return { kind: 'null' };
  if (typeof value !== 'string' || value === '') throw invalid(option, value, 'expected a file path');
  if (value.includes('\0')) throw invalid(option, value, 'a path cannot contain NUL');
  return { kind: 'append', path: resolve(base, value) };
}

function envEntries(option: string, env: DaemonOptions['env']): [string, string][] {
  if (env === undefined) return [];
  const pairs: [string, string][] = Array.isArray(env)
    ? env.map((kv) => {
        const eq = typeof kv === 'string' ? kv.indexOf('=') : -1;
        if (eq <= 0) throw invalid(option, kv, 'expected KEY=VALUE');
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      })
    : Object.entries(env);
  for (const [k, v] of pairs) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(option, `${k}=${v}`, `'${k}' is not a valid variable name`);
    if (String(v).includes('\0')) throw invalid(option, `${k}=…`, 'a value cannot contain NUL');
    if (k.startsWith(MARKER_PREFIX)) throw invalid(option, `${k}=${v}`, `${MARKER_PREFIX}* variables are daemonkit's own`);
  }
  return pairs.map(([k, v]) => [k, String(v)]);
}

/** /etc/passwd and /etc/group lookups (files only; NSS modules such as LDAP are not consulted). */
function readDb(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

function lookupUser(option: string, value: string | number): Identity {
  const rows = readDb('/etc/passwd');
  const text = String(value);
  const row = /^\d+$/.test(text) ? rows.find((r) => r[2] === text) ?? rows.find((r) => r[0] === text) : rows.find((r) => r[0] === text);
  if (!row) {
    if (/^\d+$/.test(text)) return { name: text, uid: Number(text), gid: Number(text), home: '/' };
    throw invalid(option, value, 'no such user');
  }
  return { name: row[0], uid: Number(row[2]), gid: Number(row[3]), home: row[5] || '/' };
}

function lookupGroup(option: string, value: string | number): { name: string; gid: number } {
  const text = String(value);
  const rows = readDb('/etc/group');
  const row = rows.find((r) => r[0] === text) ?? (/^\d+$/.test(text) ? rows.find((r) => r[2] === text) : undefined);
  if (row) return { name: row[0], gid: Number(row[2]) };
  if (/^\d+$/.test(text)) return { name: text, gid: Number(text) };
  throw invalid(option, value, 'no such group');
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a command like execvp would, with the daemon's PATH; the error names the path that was tried. */
export function resolveCommand(word: string, pathVar: string, base: string, root: string | null): string {
  const inRoot = (p: string) => (root ? join(root, p) : p);
  if (word === '') throw new UsageError("missing command: nothing after '--'", 'command', word);
  if (word.includes('\0')) throw invalid('command', word, 'a path cannot contain NUL');
  if (word.includes('/')) {
    const path = resolve(root ? '/' : base, word);
    let kind: string;
    try {
      const st = statSync(inRoot(path));
      kind = st.isFile() ? (isExecutableFile(inRoot(path)) ? 'ok' : 'is not executable') : 'is not a regular file';
    } catch {
      kind = 'does not exist';
    }
    if (kind !== 'ok') throw new UsageError(`command ${quote(path)} ${kind}${root ? ` inside the chroot ${root}` : ''}`, 'command', path);
    return path;
  }
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, word);
    if (isExecutableFile(inRoot(path))) return path;
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

/** The single gate: validates everything a user can mistype before anything is created or started. */
export function normalize(input: StartOptions, naming: Naming, callerEnv: NodeJS.ProcessEnv = process.env, base = process.cwd()): Normalized {
  const n = (key: string) => optionName(key, naming);
  checkOptionKeys(input, START_OPTION_KEYS, naming);

  const chroot = input.chroot === undefined ? null : resolve(base, nonEmpty(n('chroot'), input.chroot));
  if (chroot) requireDir(n('chroot'), chroot);

  let cwd = '/';
  if (input.cwd !== undefined) {
    const c = nonEmpty(n('cwd'), input.cwd);
    cwd = chroot ? resolve('/', c) : resolve(base, c);
    requireDir(n('cwd'), chroot ? join(chroot, cwd) : cwd);
  }

  const umask = input.umask === undefined ? 0o022 : parseUmaskOption(n('umask'), input.umask);
  const user = input.user === undefined ? null : lookupUser(n('user'), input.user);
  const group = input.group === undefined ? null : lookupGroup(n('group'), input.group);
  if ((user || group) && process.getuid?.() !== 0) {
    const which = user ? n('user') : n('group');
    const wanted = user ? user.uid !== process.getuid?.() : group!.gid !== process.getgid?.();
    if (wanted) throw invalid(which, user ? input.user : input.group, 'changing user or group needs root');
  }

  if (input.log !== undefined && (input.stdout !== undefined || input.stderr !== undefined)) {
    const other = input.stdout !== undefined ? n('stdout') : n('stderr');
    throw new UsageError(`conflicting options: ${n('log')} sets both streams, so ${other} cannot be given too`, n('log'), String(input.log));
  }

  const supervise = input.supervise ?? false;
  const logTime = flag(n('logTime'), input.logTime);
  // The supervisor writes the time; an unsupervised daemon writes its log itself.
  if (logTime && !supervise) throw new UsageError(`conflicting options: ${n('logTime')} needs the supervisor, which writes the log (not with --no-supervise)`, n('logTime'), 'true');
  const command = input.command;
  let name: string | null = null;
  if (input.name !== undefined) name = checkName(input.name, n('name'));
  else if (command && command.length > 0 && command[0]) name = defaultName(command[0]);

  const stateDir = input.stateDir ?? (name ? defaultStateDir(callerEnv) : null);
  if (supervise && name && stateDir) checkSocketPath(n('name'), name, join(stateDir, `${name}.sock`));
  const pidfile =
    input.pidfile !== undefined ? resolve(base, nonEmpty(n('pidfile'), input.pidfile)) : name && stateDir ? join(stateDir, `${name}.pid`) : null;
  if (pidfile?.includes('\0')) throw invalid(n('pidfile'), pidfile, 'a path cannot contain NUL');

  const logDefault = command && name && stateDir ? join(stateDir, `${name}.log`) : undefined;
  const both = stdioFrom(n('log'), input.log, base);
  const stdout = stdioFrom(n('stdout'), input.stdout, base) ?? both ?? (logDefault ? { kind: 'append' as const, path: logDefault } : { kind: 'null' as const });
  const stderr = stdioFrom(n('stderr'), input.stderr, base) ?? both ?? stdout;

  const extraEnv = envEntries(n('env'), input.env);
  const pathVar = extraEnv.findLast(([k]) => k === 'PATH')?.[1] ?? callerEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin';

  const restart = input.restart ?? 'on-failure';
  if (!['on-failure', 'always', 'never'].includes(restart)) throw invalid(n('restart'), restart, 'expected on-failure, always or never');
  const reload = input.reload ?? 'rolling';
  if (!['rolling', 'signal'].includes(reload)) throw invalid(n('reload'), reload, 'expected rolling or signal');

  const backoffMinMs = parseDuration(n('backoffMin'), input.backoffMin ?? '100ms');
  // With these defaults a worker that keeps crashing on start is given up on after about 45 s (README, Supervision).
  const backoffMaxMs = parseDuration(n('backoffMax'), input.backoffMax ?? '10s');
  if (backoffMaxMs < backoffMinMs) throw invalid(n('backoffMax'), input.backoffMax ?? '10s', `less than ${n('backoffMin')}`);

  let resolved: Normalized['command'] = null;
  if (command !== undefined) {
    if (command.length === 0) throw new UsageError("missing command: give it after '--'", 'command', '');
    resolved = { path: resolveCommand(command[0]!, pathVar, base, chroot), argv: command };
  }

  const normalized: Normalized = {
    name,
    stateDir,
    pidfile,
    stdio: [{ kind: 'null' }, stdout, stderr],
    cwd,
    umask,
    env: [],
    clearEnv: input.clearEnv ?? false,
    user,
    group,
    chroot,
    readyTimeoutMs: parseDuration(n('readyTimeout'), input.readyTimeout ?? 30, { allowZero: false }),
    startMs: parseDuration(n('startSecs'), input.startSecs ?? 0.2, { maxMs: 3_600_000 }),
    forceDetach: input.forceDetach ?? false,
    supervise,
    command: resolved,
    workers: parseCount(n("workers"), input.workers ?? 1, 1, 1024),
    restart: restart as RestartPolicy,
    backoffMinMs,
    backoffMaxMs,
    minUptimeMs: parseDuration(n('minUptime'), input.minUptime ?? 10),
    maxRestarts: parseCount(n('maxRestarts'), input.maxRestarts ?? 10, 0, 1_000_000),
    restartWindowMs: parseDuration(n('restartWindow'), input.restartWindow ?? 60, { allowZero: false }),
    reload: reload as ReloadMode,
    stopSchedule: parseStopSchedule(n('retry'), input.retry ?? 'TERM/10/KILL/5'),
    logTime,
    reopenSignal: input.reopenSignal === undefined ? null : parseSignal(n('reopenSignal'), input.reopenSignal),
    coreDumps: input.coreDumps === undefined ? false : parseOnOff(n('coreDumps'), input.coreDumps, naming),
    source: undefined as unknown as OptionSource,
  };
  // Copied from the caller's environment when first read (the spawn, the order): each read of process.env is a call
  // into C++, and copying it was most of a plan's cost. Enumerable, so JSON.stringify and spreads still carry it.
  let env: string[] | undefined;
  Object.defineProperty(normalized, 'env', {
    enumerable: true,
    get: () => (env ??= buildEnv(extraEnv, input, callerEnv, user)),
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

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function parseOnOff(option: string, value: unknown, naming: Naming): boolean {
  if (value === true || value === 'on') return true;
  if (value === false || value === 'off') return false;
  throw invalid(option, value, naming === 'cli' ? 'expected on or off' : 'expected true or false');
}

/** The control socket's path must fit a sockaddr_un (its NUL included), or the supervisor could never listen. */
function checkSocketPath(option: string, name: string, socket: string): void {
  const bytes = Buffer.byteLength(socket);
  if (bytes < SUN_PATH_MAX) return;
  throw invalid(option, name, `the control socket ${socket} would be ${bytes} bytes; a unix socket path holds at most ${SUN_PATH_MAX - 1} (use a shorter name or state directory)`);
}

function flag(option: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw invalid(option, value, 'expected true or false');
  return value === true;
}

function nonEmpty(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalid(option, value, 'expected a path');
  if (value.includes('\0')) throw invalid(option, value, 'a path cannot contain NUL');
  return value;
}

/** The default service name: the command's basename, made safe for a file name. */
export function defaultName(command: string): string {
  const base = basename(command).replace(/[^A-Za-z0-9_.@+-]/g, '_').replace(/^[.-]+/, '');
  return (base || 'daemon').slice(0, 100);
}

function buildEnv(extra: [string, string][], input: DaemonOptions, callerEnv: NodeJS.ProcessEnv, user: Identity | null): string[] {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(callerEnv)) {
    if (v === undefined || k.startsWith(MARKER_PREFIX)) continue;
    if (input.clearEnv && !KEPT_BY_CLEAR_ENV.includes(k)) continue;
    out.set(k, v);
  }
  if (user) {
    // Like su: the daemon runs as that user, so it sees that user's home and name.
    out.set('HOME', user.home);
    if (!input.clearEnv || out.has('USER')) out.set('USER', user.name);
    if (!input.clearEnv || out.has('LOGNAME')) out.set('LOGNAME', user.name);
  }
  for (const [k, v] of extra) out.set(k, v);
  return [...out].map(([k, v]) => `${k}=${v}`);
}
