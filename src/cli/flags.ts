// The command line's flags, each spelled once: start's and plan's come from the option table (src/core/option-table.ts),
// every other command's from its own small table here. parseArgs' config, the help lines and the usage line derive from them.
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { OPTION_KEYS, OPTIONS, parseOption, specOf, type OptionKey, type Parsed, type Taker } from '../core/option-table.js';
import type { StartOptions } from '../options.js';

export type Values = Record<string, string | boolean | string[] | undefined>;
export type ArgsOptions = NonNullable<ParseArgsConfig['options']>;

/** A flag of one command (not an option of what it starts): stop's --retry, logs' -n, --json... */
export interface CommandFlag {
  flag: string;
  type: 'string' | 'boolean';
  short?: string;
  arg?: string;
  /** Parsed when the flag is not given. */
  default?: string;
  /** Checks and converts the value; throws a UsageError naming the flag and the value. */
  parse?: (option: string, value: string) => unknown;
  /** Its line in the command's help; none for a flag the usage line already explains. */
  help?: string;
}

export type CommandFlags = Record<string, CommandFlag>;

type FlagValue<F extends CommandFlag> = F extends { type: 'boolean' }
  ? boolean
  : F extends { parse: (option: string, value: string) => infer Out }
    ? F extends { default: string }
      ? Out
      : Out | undefined
    : string | undefined;

export type FlagValues<T extends CommandFlags> = { [K in keyof T]: FlagValue<T[K]> };

/** A command flag that is also an option of start (stop's --retry): the table's flag, value, default and parser. */
export function flagOf<K extends OptionKey>(key: K, help: string) {
  const spec = specOf(key);
  if (!spec.flag || spec.type !== 'string' || typeof spec.default !== 'string')
    throw new Error(`option ${key} has no value flag with a default`);
  const parse = (option: string, value: string) =>
    parseOption(key, value as never, { naming: 'cli', base: process.cwd() }) as Exclude<Parsed<K>, undefined>;
  return { flag: spec.flag, type: 'string', arg: spec.arg, default: spec.default as string, parse, help } as const;
}

/** NAME, or the service's PID file: the target of stop, status, restart, reload, reopen and logs. */
export const TARGET = {
  pidfile: { flag: 'pidfile', type: 'string', arg: 'FILE' },
} as const satisfies CommandFlags;

/** `NAME | --pidfile FILE`, as usage lines and errors spell the target. */
export const TARGET_USAGE = `NAME | --${TARGET.pidfile.flag} ${TARGET.pidfile.arg}`;

const HELP_COLUMN = 20;

function helpLine(left: string, text: string): string {
  const [first, ...more] = text.split('\n');
  return [`  ${left.padEnd(HELP_COLUMN)}  ${first}`, ...more.map((l) => `${' '.repeat(HELP_COLUMN + 4)}${l}`)].join('\n');
}

/** Whether the command `taker` takes the option (start and plan: start's; run: run's). */
const takes = (key: OptionKey, taker: Taker) => (specOf(key).takers as readonly Taker[]).includes(taker);

/** parseArgs' config for start's options (start and plan take them all), or run's. */
export function startArgsOptions(taker: Taker = 'start'): ArgsOptions {
  const out: ArgsOptions = {};
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    if (!spec.flag || !takes(key, taker)) continue;
    out[spec.flag] = spec.type === 'repeatable' ? { type: 'string', multiple: true } : { type: spec.type };
  }
  return out;
}

/** parseArgs' config for a command's own flags. */
export function commandArgsOptions(flags: CommandFlags): ArgsOptions {
  const out: ArgsOptions = {};
  for (const f of Object.values(flags)) out[f.flag] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  return out;
}

/** start's options in the help: each flag's line in table order, the supervised ones under their heading. */
export function startOptionsHelp(taker: Taker = 'start'): string {
  const line = (key: OptionKey) => {
    const spec = specOf(key);
    return helpLine(spec.arg ? `--${spec.flag} ${spec.arg}` : `--${spec.flag}`, spec.help);
  };
  const flagged = OPTION_KEYS.filter((k) => specOf(k).flag !== null && takes(k, taker));
  return [
    ...flagged.filter((k) => specOf(k).mode !== 'supervised').map(line),
    taker === 'run' ? 'Supervision:' : `Supervision (the default; not with --${OPTIONS.supervise.flag}):`,
    ...flagged.filter((k) => specOf(k).mode === 'supervised').map(line),
    'STATE is $DAEMONKIT_HOME, else $XDG_STATE_HOME/daemonkit, else ~/.local/state/daemonkit.',
  ].join('\n');
}

/** A command's own flags in its help, one line each. */
export function commandFlagsHelp(flags: CommandFlags): string[] {
  return Object.values(flags)
    .filter((f) => f.help !== undefined)
    .map((f) => helpLine(`${f.short ? `-${f.short}, ` : ''}--${f.flag}${f.arg ? ` ${f.arg}` : ''}`, f.help!));
}

/** `[-n 50] [-f]`: a command's own flags in its usage line, short form first, with the default as the example value. */
export function commandFlagsUsage(flags: CommandFlags): string {
  return Object.values(flags)
    .map((f) => ` [${f.short ? `-${f.short}` : `--${f.flag}`}${f.type === 'string' ? ` ${f.default ?? f.arg}` : ''}]`)
    .join('');
}

/** A command's own flags as given, parsed (the default when absent), by key. */
export function readFlags<T extends CommandFlags>(flags: T, values: Values): FlagValues<T> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(flags)) {
    const given = values[f.flag];
    if (f.type === 'boolean') out[key] = given === true;
    else {
      const value = (given as string | undefined) ?? f.default;
      out[key] = f.parse && value !== undefined ? f.parse(`--${f.flag}`, value) : value;
    }
  }
  return out as FlagValues<T>;
}

/** start's (or run's) options as the normalizer takes them: each flag's value under its key, and what the CLI always passes. */
export function startOptionsFrom(values: Values, command: string[] | undefined, taker: Taker = 'start'): StartOptions {
  const out: Record<string, unknown> = { command };
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    if (!takes(key, taker)) continue;
    if (spec.flag === null) {
      if (spec.cliValue !== undefined) out[key] = spec.cliValue;
      continue;
    }
    const given = values[spec.flag];
    out[key] = spec.type !== 'boolean' ? given : spec.negated ? given !== true : given === true;
  }
  return out as StartOptions;
}

/** The first flag given that `taker` does not take (parsed for another command), refused in words; null: none. */
export function notTakenBy(values: Values, taker: Taker, note = ''): UsageError | null {
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    if (spec.flag !== null && values[spec.flag] !== undefined && !takes(key, taker))
      return new UsageError(`--${spec.flag} is not an option of daemonkit ${taker}${note}`, `--${spec.flag}`);
  }
  return null;
}

/** A flag that needs the supervisor given with --no-supervise, or one for --no-supervise given without it. */
export function modeConflict(values: Values, supervise: boolean): UsageError | null {
  const noSupervise = `--${OPTIONS.supervise.flag}`;
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    if (!spec.flag || values[spec.flag] === undefined) continue;
    const flag = `--${spec.flag}`;
    if (spec.mode === 'supervised' && !supervise)
      return new UsageError(`conflicting options: ${flag} needs the supervisor, not ${noSupervise}`, flag);
    if (spec.mode === 'unsupervised' && supervise) {
      return new UsageError(`conflicting options: ${flag} is for ${noSupervise} (${spec.modeWhy})`, flag, String(values[spec.flag]));
    }
  }
  return null;
}
