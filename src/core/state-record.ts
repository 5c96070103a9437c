// The shape check of a service's record (STATE/NAME.json) as read back: a file anyone with access may have damaged.

// Declared with every error a caller may catch (src/errors.ts); re-exported for the modules that throw it.
export { DamagedStateError } from '../errors.js';

type Check = (v: unknown) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v) => typeof v === 'string';
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const orNull =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);
const listOf =
  (c: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(c);
const stringMap: Check = (v) => isObject(v) && Object.values(v).every(str);

/** "" when every field's check passes, else the first field that fails, as "options.stdio". */
function fieldError(value: Record<string, unknown>, checks: Record<string, Check>, where: string, optional: string[] = []): string {
  for (const [key, check] of Object.entries(checks)) {
    if (optional.includes(key) && value[key] === undefined) continue;
    if (!check(value[key])) return `${where}${key} is ${describe(value[key])}`;
  }
  return '';
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v) ?? String(v);
  return `not what it should be (${text.length > 40 ? `${text.slice(0, 37)}...` : text})`;
}

const stdioTarget: Check = (v) =>
  isObject(v) &&
  (v.kind === 'append' || v.kind === 'truncate'
    ? str(v.path)
    : v.kind === 'null' || v.kind === 'inherit' || (v.kind === 'fd' && num(v.fd)));

/** The fields status shows of each worker. */
const worker: Check = (v) =>
  isObject(v) && !fieldError(v, { task: num, pid: num, state: str, restarts: num, lastExit: orNull(str), startedAt: orNull(num) }, '');

/** The fields of the options that status, logs and restart read; the rest is re-derived by restart from `source`. */
const optionChecks: Record<string, Check> = {
  name: orNull(str),
  pidfile: orNull(str),
  stdio: (v) => Array.isArray(v) && v.length === 3 && v.every(stdioTarget),
  command: orNull((v) => isObject(v) && str(v.path) && listOf(str)(v.argv)),
  stopSchedule: listOf(num),
  source: (v) => isObject(v) && isObject(v.input) && str(v.cwd) && stringMap(v.env),
};

const statusChecks: Record<string, Check> = {
  pid: num,
  state: str,
  startedAt: num,
  workers: listOf(worker),
  failure: orNull(str),
  logError: orNull(str),
  command: listOf(str),
};

/** "" for a record of the shape this daemonkit writes (older ones lack `options.source`), else what is wrong with it. */
export function stateRecordError(r: unknown): string {
  if (!isObject(r)) return 'not a JSON object';
  if (r.version !== 1) return `version ${describe(r.version)}, expected 1`;
  if (!isObject(r.options)) return `options is ${describe(r.options)}`;
  return (
    fieldError(r.options, optionChecks, 'options.', ['source']) ||
    (r.status === null ? '' : isObject(r.status) ? fieldError(r.status, statusChecks, 'status.') : `status is ${describe(r.status)}`) ||
    fieldError(r, { exitCode: orNull(num), exitedAt: orNull(num) }, '') ||
    (r.signals === undefined || (isObject(r.signals) && !fieldError(r.signals, { reload: orNull(num), reopen: orNull(num) }, ''))
      ? ''
      : `signals is ${describe(r.signals)}`)
  );
}
