// Failures of libc calls, shaped like Node's own system errors so callers can treat both alike.
import { getSystemErrorMap } from 'node:util';
import { bundleRequire } from '../bundle-require.js';

// Node's table comes from libuv and lacks some errnos we meet (ECHILD, ENOEXEC, EDEADLK...). Both are built on the
// first error, not at load: every process loads this file, few of them fail.
let tables: { libuv: Map<number, [string, string]>; names: Map<number, string> } | null = null;

function errnoTables(): NonNullable<typeof tables> {
  if (tables) return tables;
  const names = new Map<number, string>();
  const { constants } = bundleRequire()('node:os') as typeof import('node:os');
  for (const [name, n] of Object.entries(constants.errno)) if (!names.has(n)) names.set(n, name);
  return (tables = { libuv: getSystemErrorMap(), names }); // libuv's keys are negative errnos
}

// Filled in by libc.ts with strerror(3), so this file needs no native code and can be imported anywhere.
let strerror: ((errnoPositive: number) => string) | undefined;

/** Lets libc.ts supply glibc's texts for the errnos Node's table lacks. */
export function setStrerror(fn: (errnoPositive: number) => string): void {
  strerror = fn;
}

function describe(errnoPositive: number): [code: string, text: string] {
  const { libuv, names } = errnoTables();
  const known = libuv.get(-errnoPositive);
  if (known) return known;
  // glibc's text with a lowercase initial, like libuv's ("No child processes" -> "no child processes").
  const text = strerror?.(errnoPositive) ?? `Unknown error ${errnoPositive}`;
  return [names.get(errnoPositive) ?? 'UNKNOWN', text.charAt(0).toLowerCase() + text.slice(1)];
}

export class SysError extends Error {
  /** Negative, like Node's `err.errno` (-2 for ENOENT). */
  errno: number;
  /** Symbolic name, e.g. 'ENOENT'. */
  code: string;
  syscall: string;
  declare path?: string;

  constructor(errnoPositive: number, syscall: string, path?: string) {
    const [code, text] = describe(errnoPositive);
    super(`${code}: ${text}, ${syscall}${path === undefined ? '' : ` '${path}'`}`);
    this.name = 'SysError';
    this.errno = -errnoPositive;
    this.code = code;
    this.syscall = syscall;
    // Only present when a path was involved, as on Node's errors.
    if (path !== undefined) this.path = path;
  }
}

/**
 * The SysError for an error Node's fs threw (same errno, syscall and path), so the CLI says it in one line like ours;
 * anything else is returned as it is.
 */
export function asSysError(e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  return typeof err?.errno === 'number' && typeof err.syscall === 'string' && !(e instanceof SysError)
    ? new SysError(-err.errno, err.syscall, err.path)
    : e;
}

/** Builds the SysError for a positive errno (as libc reports it). */
export function sysError(errnoPositive: number, syscall: string, path?: string): SysError {
  return new SysError(errnoPositive, syscall, path);
}
