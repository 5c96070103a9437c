// One value at a time: each parser checks what a user typed (or passed) and converts it, or throws a UsageError
// naming the option and the value. Checks that need two options together live in the normalizer (src/options.ts).
import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { invalid, UsageError } from '../errors.js';
import { planner } from './wasm.js';
import { getgrgid, getgrnam, getpwnam, getpwuid } from '../sys/pwd.js';

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

export interface Identity {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export type RestartPolicy = 'on-failure' | 'always' | 'never';
export type ReloadMode = 'rolling' | 'signal';

/** How options are named in errors: `--ready-timeout` on the CLI, `readyTimeout` in the library. */
export type Naming = 'cli' | 'library';

/** What a parser may need besides the value: how to name things, and the directory relative paths start from. */
export interface ParseContext {
  naming: Naming;
  base: string;
}

/** The environment variables daemonkit keeps for itself (src/core/markers.ts); a user may not set them. */
export const MARKER_PREFIX = 'DAEMONKIT_';
const DAY_MS = 86_400_000;

/** Service names become file names: no '/', no leading '.', no control characters, at most 100 characters. */
export function checkName(name: string, option = '--name'): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_@][A-Za-z0-9_.@+-]{0,99}$/.test(name)) {
    const text = String(name);
    const why =
      text.length === 0
        ? 'empty'
        : text.length > 100
          ? `longer than 100 characters (${text.length})`
          : 'use letters, digits and _ . @ + - (not starting with . or -)';
    throw invalid(option, name, why);
  }
  return name;
}

/**
 * A duration option (readyTimeout, startSecs, backoffMin, ...) as the library takes it: **seconds** when a number, as
 * the CLI's flags and start-stop-daemon's --retry count them (`readyTimeout: 30` is 30 s, `startSecs: 0.2` is 200 ms),
 * or a string with its unit: `'200ms'`, `'10s'`, `'2m'`, `'1h'` (a bare `'30'` is seconds too).
 */
export type Duration = number | string;

const NOT_A_DURATION = 'not a duration (seconds, or a number with ms, s, m or h)';

/** Seconds as a number, or a string with an optional unit: `0.2`, `200ms`, `10s`, `2m`, `1h`. */
export function parseDuration(option: string, value: Duration, { allowZero = true, maxMs = DAY_MS } = {}): number {
  let ms: number;
  if (typeof value === 'number') ms = value * 1000;
  else {
    const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(value.trim() === value ? value : '') : null;
    if (!m) throw invalid(option, value, NOT_A_DURATION);
    const unit = m[2] ?? 's';
    ms = Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  // One wording a rule: where 0 is refused too, a negative hears the same "more than 0".
  if (!Number.isFinite(ms)) throw invalid(option, value, NOT_A_DURATION);
  if (ms < 0 || (!allowZero && ms === 0)) throw invalid(option, value, allowZero ? 'must be 0 or more' : 'must be more than 0');
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
  const reason = planner.umaskError(String(value));
  if (reason) throw invalid(option, value, reason);
  return planner.parseUmask(value);
}

export function parseSignal(option: string, value: string | number): number {
  const signal = planner.signalNumber(String(value));
  if (signal <= 0) throw invalid(option, value, 'not a signal (a name like USR1 or SIGUSR1, or a number)');
  return signal;
}

export function parseStopSchedule(option: string, value: string): number[] {
  // Every normalize parses one, most often the default: the last good parse is kept (two wasm calls and a string each).
  if (value === lastSchedule.text) return lastSchedule.parsed.slice();
  const reason = planner.stopScheduleError(String(value));
  if (reason) throw invalid(option, value, reason);
  const parsed = Array.from(planner.parseStopSchedule(value));
  lastSchedule = { text: value, parsed };
  return parsed.slice();
}
let lastSchedule: { text: string | null; parsed: number[] } = { text: null, parsed: [] };

/** One of a few words, e.g. `on-failure|always|never`. */
export function parseChoice<const T extends string>(option: string, value: string, choices: readonly T[]): T {
  if (choices.includes(value as T)) return value as T;
  const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices[0];
  throw invalid(option, value, `expected ${listed}`);
}

/** `on`/`off` as typed, true/false from the library; the error says which the caller would write. */
export function parseOnOff(option: string, value: boolean | string, naming: Naming): boolean {
  if (value === true || value === 'on') return true;
  if (value === false || value === 'off') return false;
  throw invalid(option, value, naming === 'cli' ? 'expected on or off' : 'expected true or false');
}

export function parseFlag(option: string, value: boolean): boolean {
  if (typeof value !== 'boolean') throw invalid(option, value, 'expected true or false');
  return value;
}

export function nonEmpty(option: string, value: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(option, value, 'expected a path');
  if (value.includes('\0')) throw invalid(option, value, 'a path cannot contain NUL');
  return value;
}

/** A PID file path: nonEmpty, and not a directory (it would be read as a PID file and fail as one). */
export function pidfilePath(option: string, value: string, base: string): string {
  const path = resolve(base, nonEmpty(option, value));
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return path; // not there yet: the start creates it
  }
  if (st.isDirectory()) throw invalid(option, value, 'it is a directory, not a PID file');
  return path;
}

/** A log file (appended), or /dev/null for null or '/dev/null'. */
export function parseStdio(option: string, value: string | null, base: string): StdioTarget {
  if (value === null || value === '/dev/null') return { kind: 'null' };
  if (typeof value !== 'string' || value === '') throw invalid(option, value, 'expected a file path');
  if (value.includes('\0')) throw invalid(option, value, 'a path cannot contain NUL');
  return { kind: 'append', path: resolve(base, value) };
}

/** `KEY=VALUE` strings (as typed, repeatable) or an object, as [key, value] pairs. */
export function parseEnv(option: string, env: Record<string, string> | string[]): [string, string][] {
  if (typeof env !== 'object' || env === null) throw invalid(option, env, 'expected KEY=VALUE strings or an object');
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

/** The program and its arguments, as given after `--`; resolved against PATH by the normalizer. */
export function parseCommandWords(_option: string, value: string[]): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new UsageError("missing command: give it after '--'", 'command', '');
  return value;
}

/** A user by uid (when numeric) or name through NSS; an unknown numeric id stands for itself, like chown(1). */
export function lookupUser(option: string, value: string | number): Identity {
  const text = String(value);
  const numeric = /^\d+$/.test(text);
  const entry = (numeric ? getpwuid(Number(text)) : null) ?? getpwnam(text);
  if (!entry) {
    if (numeric) return { name: text, uid: Number(text), gid: Number(text), home: '/' };
    throw invalid(option, value, 'no such user');
  }
  return { name: entry.name, uid: entry.uid, gid: entry.gid, home: entry.home || '/' };
}

export function lookupGroup(option: string, value: string | number): { name: string; gid: number } {
  const text = String(value);
  const numeric = /^\d+$/.test(text);
  const entry = getgrnam(text) ?? (numeric ? getgrgid(Number(text)) : null);
  if (entry) return entry;
  if (numeric) return { name: text, gid: Number(text) };
  throw invalid(option, value, 'no such group');
}
