// What the library's start() takes: start's options by their library names, the program as `command`, the state
// directory as `home`. Checked as the CLI checks its flags, with errors naming the library's keys.
import { invalid, UsageError } from '../errors.js';
import { checkOptionKeys, normalize, START_OPTION_KEYS, type CallerIds, type Normalized, type StartOptions } from '../options.js';
import { OPTION_KEYS, specOf } from './option-table.js';
import { homeOf, type HomeOption } from './service-target.js';

/**
 * start()'s options: the CLI's long options in camelCase (the names daemonize() takes). Durations are **seconds**
 * when a number, as on the command line (`readyTimeout: 30` is 30 s), or a string with its unit ('200ms', '10s', '2m').
 */
export interface ServiceOptions extends Omit<StartOptions, 'command' | 'stateDir' | 'forceDetach'>, HomeOption {
  /** The program and its arguments: `[file, ...args]`, the file found in PATH as execvp would. */
  command: string[];
  /** Resolve (with `alreadyRunning: true`) instead of throwing AlreadyRunningError when the service already runs. */
  okIfRunning?: boolean;
}

/** The keys start() takes: start's options, less the two it sets itself, plus its own. */
const SERVICE_KEYS: Readonly<Record<string, true>> = Object.fromEntries(
  [...Object.keys(START_OPTION_KEYS).filter((k) => k !== 'stateDir' && k !== 'forceDetach'), 'home', 'okIfRunning'].map((k) => [k, true]),
);

/** An option given that needs the supervisor with `supervise: false`, or the other way round. */
function modeConflict(given: Record<string, unknown>, supervise: boolean): UsageError | null {
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    if (given[key] === undefined || spec.mode === 'any') continue;
    if (spec.mode === 'supervised' && !supervise)
      return new UsageError(`conflicting options: ${key} needs the supervisor, not supervise: false`, key);
    if (spec.mode === 'unsupervised' && supervise)
      return new UsageError(`conflicting options: ${key} is for supervise: false (${spec.modeWhy})`, key, String(given[key]));
  }
  return null;
}

/** Who starts it, when not this process (daemonkit/testing's plan() plans for a given caller, e.g. root). */
export interface ServiceCaller {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  ids?: CallerIds;
}

/** start()'s options normalized as the CLI's start normalizes its flags: supervised unless `supervise: false`, always detached. */
export function serviceOptions(input: ServiceOptions, caller: ServiceCaller = {}): { options: Normalized; okIfRunning: boolean } {
  if (typeof input !== 'object' || input === null)
    throw new UsageError('start() takes an options object with at least command: [file, ...args]');
  checkOptionKeys(input, SERVICE_KEYS, 'library');
  const { home, okIfRunning = false, command, ...rest } = input;
  if (typeof okIfRunning !== 'boolean') throw invalid('okIfRunning', okIfRunning, 'expected true or false');
  if (command === undefined) throw new UsageError('missing option command: the program to run, as [file, ...args]', 'command');
  if (!Array.isArray(command) || command.some((w) => typeof w !== 'string'))
    throw invalid('command', command, 'expected [file, ...args], strings');
  const supervise = rest.supervise ?? true;
  const conflict = modeConflict(rest, supervise);
  if (conflict) throw conflict;
  // The CLI's start always detaches (forceDetach), and so does this: it starts a service, it does not become one.
  const options = normalize(
    { ...rest, command, supervise, stateDir: homeOf(home), forceDetach: true },
    'library',
    caller.env,
    caller.cwd,
    caller.ids,
  );
  return { options, okIfRunning };
}
