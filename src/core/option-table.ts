// Every option of `start` (and `plan`) and of daemonize(), declared once: the CLI's flags and help, the library's option
// type and the normalizer's parsers are all read from this table. Adding an option: one entry here, then its use.
import { resolve } from 'node:path';
import { defaultStopSchedule, maxWorkers } from './supervisor-machine.js';
import type { Duration, Identity, ParseContext, ReloadMode, RestartPolicy, StdioTarget } from './option-values.js';
import { parseListenSpecs, type ListenSpec } from './listen-spec.js';
import { parseHealthProbe, parseReadySpec, type Probe, type ReadySpec } from './ready-spec.js';
import { parseExitMap, parseForwardSignals } from './run-options.js';
import {
  checkName,
  lookupGroup,
  lookupUser,
  nonEmpty,
  pidfilePath,
  parseChoice,
  parseCommandWords,
  parseCount,
  parseDuration,
  parseEnv,
  parseFlag,
  parseOnOff,
  parseSignal,
  parseStdio,
  parseStopSchedule,
  parseUmaskOption,
} from './option-values.js';

/** Who takes an option: `start` (and `plan`, and the normalizer's input), the library's daemonize(), `run`. */
export type Taker = 'start' | 'run' | 'library';
/** Whether an option needs the supervisor, or only makes sense without it (the CLI refuses the other mix). */
export type Mode = 'any' | 'supervised' | 'unsupervised';

export interface OptionSpec<In, Out, D extends In | undefined, T extends readonly Taker[]> {
  /** The CLI flag, kebab-case without `--`; null for an option the command line does not spell. */
  flag: string | null;
  /** How parseArgs reads the flag: a value, a switch, or a value given once per use. */
  type: 'string' | 'boolean' | 'repeatable';
  /** The flag's value in the help, e.g. FILE. */
  arg?: string;
  /** A switch that turns the option off (`--no-supervise` sets supervise false). */
  negated?: true;
  /** What the CLI always passes for an option it has no flag for. */
  cliValue?: In;
  /** Parsed when the option is not given; undefined when it follows from other options (the help says how). */
  default: D;
  /** Checks and converts one value; throws a UsageError naming the option and the value. */
  parse(option: string, value: In, context: ParseContext): Out;
  /** The help line(s) after the flag; '\n' starts a continuation line. */
  help: string;
  takers: T;
  mode: Mode;
  /** Why the other mode refuses it, for the CLI's error line. */
  modeWhy?: string;
}

type AnySpec = OptionSpec<any, unknown, any, readonly Taker[]>;

/** Keeps each entry's own types (value in, value out, default, takers) for the derived types below. */
function option<In, Out, const D extends In | undefined, const T extends readonly Taker[]>(
  spec: OptionSpec<In, Out, D, T>,
): OptionSpec<In, Out, D, T> {
  return spec;
}

const START = ['start'] as const;
/** `start` and `run` (the same service, detached or in the foreground). */
const SERVICE = ['start', 'run'] as const;
const BOTH = ['start', 'run', 'library'] as const;
const RUN = ['run'] as const;

/** In help order; the supervised ones last, under their heading. */
export const OPTIONS = {
  /** PID file path; locked for the daemon's whole life. */
  pidfile: option({
    flag: 'pidfile',
    type: 'string',
    arg: 'FILE',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string, c) => pidfilePath(o, v, c.base),
    help: "PID file, locked for the daemon's life (default: STATE/NAME.pid)",
  }),
  /** Both streams to this file (appended). */
  log: option({
    flag: 'log',
    type: 'string',
    arg: 'FILE',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string, c): StdioTarget => parseStdio(o, v, c.base),
    help: 'stdout and stderr appended to FILE (default: STATE/NAME.log)',
  }),
  /** stdout to this file (appended); null or '/dev/null' for /dev/null (the default). */
  stdout: option({
    flag: 'stdout',
    type: 'string',
    arg: 'FILE',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string | null, c): StdioTarget => parseStdio(o, v, c.base),
    help: 'stdout only (/dev/null for none)',
  }),
  /** stderr to this file (appended); null or '/dev/null' for /dev/null. Default: where stdout goes. */
  stderr: option({
    flag: 'stderr',
    type: 'string',
    arg: 'FILE',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string | null, c): StdioTarget => parseStdio(o, v, c.base),
    help: 'stderr only (/dev/null for none; default: where stdout goes)',
  }),
  /** The working directory (inside the chroot, if any). Default /. */
  cwd: option({
    flag: 'cwd',
    type: 'string',
    arg: 'DIR',
    default: '/',
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string) => nonEmpty(o, v),
    help: 'working directory (default /)',
  }),
  /** Octal (`022`, `0o022`), symbolic (`u=rwx,g=rx,o=rx`) or a number. Default 022. */
  umask: option({
    flag: 'umask',
    type: 'string',
    arg: 'MASK',
    default: '022',
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string | number) => parseUmaskOption(o, v),
    help: '022, 0o027 or u=rwx,g=rx,o= (default 022)',
  }),
  /** Variables to set: `K=V` strings or an object. */
  env: option({
    flag: 'env',
    type: 'repeatable',
    arg: 'K=V',
    default: [],
    takers: BOTH,
    mode: 'any',
    parse: (o, v: Record<string, string> | string[]) => parseEnv(o, v),
    help: 'set a variable (repeatable)',
  }),
  /** Keep only PATH, HOME and LANG from the caller's environment (plus `env`). */
  clearEnv: option({
    flag: 'clear-env',
    type: 'boolean',
    default: false,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: boolean) => parseFlag(o, v),
    help: 'keep only PATH, HOME and LANG from this environment',
  }),
  /** Run as this user (a name, or a uid); needs root. */
  user: option({
    flag: 'user',
    type: 'string',
    arg: 'U',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string | number): Identity => lookupUser(o, v),
    help: 'run as this user (root only), with its groups from initgroups',
  }),
  /** Run as this group (a name, or a gid); needs root. */
  group: option({
    flag: 'group',
    type: 'string',
    arg: 'G',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string | number) => lookupGroup(o, v),
    help: 'run as this group (root only)',
  }),
  /** chroot to this directory before chdir. */
  chroot: option({
    flag: 'chroot',
    type: 'string',
    arg: 'DIR',
    default: undefined,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: string, c) => resolve(c.base, nonEmpty(o, v)),
    help: 'chroot before chdir',
  }),
  /** How long the original waits for readiness; seconds when a number (Duration: 30, or '30s'). Default 30. */
  readyTimeout: option({
    flag: 'ready-timeout',
    type: 'string',
    arg: 'SECS',
    default: '30',
    takers: BOTH,
    mode: 'any',
    parse: (o, v: Duration) => parseDuration(o, v, { allowZero: false }),
    help: 'how long start waits for ready (default 30)',
  }),
  /** How long a program without a readiness protocol must stay alive to count as ready; seconds when a number (Duration). Default 0.2. */
  startSecs: option({
    flag: 'start-secs',
    type: 'string',
    arg: 'SECS',
    default: '0.2',
    takers: BOTH,
    mode: 'any',
    parse: (o, v: Duration) => parseDuration(o, v, { maxMs: 3_600_000 }),
    help: 'a program without a readiness protocol is ready when alive this long (default 0.2)',
  }),
  /** false: a classic double-fork daemon with no supervisor. The CLI supervises unless --no-supervise. */
  supervise: option({
    flag: 'no-supervise',
    negated: true,
    type: 'boolean',
    default: false,
    takers: START,
    mode: 'any',
    parse: (o, v: boolean) => parseFlag(o, v),
    help: 'classic double-fork daemon, no supervisor',
  }),
  /** Allow core dumps (true, or 'on' as typed). Default false: RLIMIT_CORE 0, since a core can hold secrets. */
  coreDumps: option({
    flag: 'core-dumps',
    type: 'string',
    arg: 'on|off',
    default: false,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: boolean | string, c) => parseOnOff(o, v, c.naming),
    help: "let the daemon and its workers dump core (default off: RLIMIT_CORE 0, soft and hard,\nsince a core holds the process's memory and so its secrets; on keeps the caller's limit)",
  }),
  /** The service's name: its files in the state directory are NAME.pid, NAME.log... Default: the command's basename. */
  name: option({
    flag: 'name',
    type: 'string',
    arg: 'NAME',
    default: undefined,
    takers: SERVICE,
    mode: 'any',
    parse: (o, v: string) => checkName(v, o),
    help: "service name (default: the command's basename)",
  }),
  /** The signal an unsupervised program takes as "reopen your logs"; without it `reopen` sends it nothing. */
  reopenSignal: option({
    flag: 'reopen-signal',
    type: 'string',
    arg: 'SIG',
    default: undefined,
    takers: START,
    mode: 'unsupervised',
    modeWhy: 'the supervisor reopens the logs itself',
    parse: (o, v: string | number) => parseSignal(o, v),
    help: 'with --no-supervise: the signal the program takes as "reopen your logs" (default: none;\nreopen then refuses instead of sending a signal the program may die of)',
  }),
  /** How workers (or an unsupervised daemon) are stopped: signal/seconds pairs as start-stop-daemon takes them. Default TERM/10/KILL/5. */
  retry: option({
    flag: 'retry',
    type: 'string',
    arg: 'SCHEDULE',
    get default() {
      return defaultStopSchedule();
    },
    takers: SERVICE,
    mode: 'any',
    parse: (o, v: string) => parseStopSchedule(o, v),
    help: 'how workers (or an unsupervised daemon) are stopped: signal/seconds pairs\n(default TERM/10/KILL/5)',
  }),
  /** Detach even when the process looks already detached (parent PID 1, systemd, socket on stdin). */
  forceDetach: option({
    flag: null,
    type: 'boolean',
    cliValue: true,
    default: false,
    takers: BOTH,
    mode: 'any',
    parse: (o, v: boolean) => parseFlag(o, v),
    help: '',
  }),
  /** The program and its arguments (the CLI's words after `--`). */
  command: option({
    flag: null,
    type: 'repeatable',
    default: undefined,
    takers: SERVICE,
    mode: 'any',
    parse: (o, v: string[]) => parseCommandWords(o, v),
    help: '',
  }),
  /** Where NAME.pid, NAME.log, NAME.sock and NAME.json go. Default: $DAEMONKIT_HOME, $XDG_STATE_HOME/daemonkit... */
  stateDir: option({
    flag: null,
    type: 'string',
    default: undefined,
    takers: SERVICE,
    mode: 'any',
    parse: (o, v: string) => nonEmpty(o, v),
    help: '',
  }),
  /** Prefix each line of workers' output in the log with the UTC time (ISO-8601, milliseconds). */
  logTime: option({
    flag: 'log-time',
    type: 'boolean',
    default: false,
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: boolean) => parseFlag(o, v),
    help: "start each line of workers' output with the UTC time it was read, as in\n2024-05-01T12:34:56.789Z (the supervisor's own lines always start so)",
  }),
  workers: option({
    flag: 'workers',
    type: 'string',
    arg: 'N',
    default: '1',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: number | string) => parseCount(o, v, 1, maxWorkers()),
    help: 'run N workers, DAEMONKIT_TASK_ID 0..N-1 (default 1)',
  }),
  restart: option({
    flag: 'restart',
    type: 'string',
    arg: 'POLICY',
    default: 'on-failure',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: string): RestartPolicy => parseChoice(o, v, ['on-failure', 'always', 'never']),
    help: 'on-failure (default), always or never',
  }),
  /** The first restart delay, doubling up to backoffMax; seconds when a number (Duration). Default '100ms'. */
  backoffMin: option({
    flag: 'backoff-min',
    type: 'string',
    arg: 'D',
    default: '100ms',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v),
    help: 'first restart delay (default 100ms), doubling up to --backoff-max',
  }),
  // With these defaults a worker that keeps crashing on start is given up on after about 45 s (README, Supervision).
  /** The longest restart delay; seconds when a number (Duration). Default '10s'. */
  backoffMax: option({
    flag: 'backoff-max',
    type: 'string',
    arg: 'D',
    default: '10s',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v),
    help: 'longest restart delay (default 10s)',
  }),
  /** A worker up this long has its backoff reset; seconds when a number (Duration). Default '10s'. */
  minUptime: option({
    flag: 'min-uptime',
    type: 'string',
    arg: 'D',
    default: '10s',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v),
    help: 'a worker up this long resets its backoff (default 10s)',
  }),
  maxRestarts: option({
    flag: 'max-restarts',
    type: 'string',
    arg: 'N',
    default: '10',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: number | string) => parseCount(o, v, 0, 1_000_000),
    help: 'give up (stop, exit 1) when a worker fails more often than this in a row, each time\nbefore it was up --min-uptime, or the service restarts more often than this within\n--restart-window (default 10); with the defaults a crash loop ends in about 45s',
  }),
  /** The time maxRestarts counts the service's restarts over; seconds when a number (Duration). Default '60s'. */
  restartWindow: option({
    flag: 'restart-window',
    type: 'string',
    arg: 'D',
    default: '60s',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v, { allowZero: false }),
    help: "the time --max-restarts counts the service's restarts over (default 60s)",
  }),
  reload: option({
    flag: 'reload',
    type: 'string',
    arg: 'MODE',
    default: 'rolling',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: string): ReloadMode => parseChoice(o, v, ['rolling', 'signal']),
    help: 'rolling (default: new worker ready, then the old one stops) or signal (SIGHUP to workers)',
  }),
  /** Sockets the supervisor binds once and every worker inherits as fds 3.. (LISTEN_FDS): [NAME=]tcp:PORT, unix:PATH... */
  listen: option({
    flag: 'listen',
    type: 'repeatable',
    arg: 'SPEC',
    default: [],
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: string[], c): ListenSpec[] => parseListenSpecs(o, v, c.base),
    help: 'a socket the supervisor binds and every worker gets as fd 3, 4, ... with LISTEN_FDS\n(repeatable): tcp:PORT, tcp:HOST:PORT, tcp6:[ADDR]:PORT or unix:PATH, NAME= first\nto name it in LISTEN_FDNAMES',
  }),
  /** When a worker counts as ready: alive:DURATION (default: alive:--start-secs), notify, tcp:[HOST:]PORT, http:URL, exec:CMD. */
  ready: option({
    flag: 'ready',
    type: 'string',
    arg: 'MODE',
    default: undefined,
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: string): ReadySpec => parseReadySpec(o, v),
    help: 'when a worker is ready: alive:DURATION (default: alive for --start-secs), notify\n(READY=1 on NOTIFY_SOCKET), tcp:[HOST:]PORT or http:URL (polled until it answers),\nexec:COMMAND (exit 0)',
  }),
  /** Liveness: a probe run every healthInterval against each ready worker; healthFailures in a row restart it. */
  health: option({
    flag: 'health',
    type: 'string',
    arg: 'PROBE',
    default: undefined,
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: string): Probe => parseHealthProbe(o, v),
    help: 'liveness: http:URL, tcp:[HOST:]PORT or exec:COMMAND, run against each ready worker;\n--health-failures failures in a row restart it',
  }),
  healthInterval: option({
    flag: 'health-interval',
    type: 'string',
    arg: 'D',
    default: '10s',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v, { allowZero: false }),
    help: 'time between health probes of a worker (default 10s)',
  }),
  healthTimeout: option({
    flag: 'health-timeout',
    type: 'string',
    arg: 'D',
    default: '5s',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v, { allowZero: false }),
    help: 'a health probe not answered within D failed (default 5s)',
  }),
  healthFailures: option({
    flag: 'health-failures',
    type: 'string',
    arg: 'N',
    default: '3',
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: number | string) => parseCount(o, v, 1, 1000),
    help: 'health probes failed in a row before the worker is restarted (default 3)',
  }),
  /** A worker that sends no WATCHDOG=1 on NOTIFY_SOCKET within this is restarted; undefined: no watchdog. */
  watchdog: option({
    flag: 'watchdog',
    type: 'string',
    arg: 'D',
    default: undefined,
    takers: SERVICE,
    mode: 'supervised',
    parse: (o, v: Duration) => parseDuration(o, v, { allowZero: false }),
    help: 'restart a ready worker that sends no WATCHDOG=1 on NOTIFY_SOCKET within D\n(it gets WATCHDOG_USEC)',
  }),
  /** `run`: the service's exit status FROM becomes TO (tini's -e): `143=0` for a stop by SIGTERM that counts as clean. */
  exitMap: option({
    flag: 'exit-map',
    type: 'repeatable',
    arg: 'FROM=TO',
    default: [],
    takers: RUN,
    mode: 'supervised',
    parse: (o, v: string[]) => parseExitMap(o, v),
    help: 'run: exit TO when the service would exit FROM (repeatable), e.g. 143=0 so that a\nstop by SIGTERM exits 0',
  }),
  /** `run`: signals passed on to every worker's process group (TERM, INT, HUP and USR1 are run's own). */
  forward: option({
    flag: 'forward',
    type: 'repeatable',
    arg: 'SIG',
    default: [],
    takers: RUN,
    mode: 'supervised',
    parse: (o, v: string[]) => parseForwardSignals(o, v),
    help: "run: pass this signal on to every worker's process group (repeatable, or USR2,WINCH)",
  }),
  /** `run`: PR_SET_CHILD_SUBREAPER, so orphans of the workers are reparented to run, which reaps them. */
  subreaper: option({
    flag: 'subreaper',
    type: 'boolean',
    default: false,
    takers: RUN,
    mode: 'supervised',
    parse: (o, v: boolean) => parseFlag(o, v),
    help: "run: become a child subreaper: the workers' orphans are reparented to run, which\nreaps them and stops them at exit (always so as PID 1)",
  }),
} as const;

export type OptionKey = keyof typeof OPTIONS;
type Spec<K extends OptionKey> = (typeof OPTIONS)[K];
type InOf<S> = S extends OptionSpec<infer In, unknown, any, readonly Taker[]> ? In : never;
type OutOf<S> = S extends OptionSpec<any, infer Out, any, readonly Taker[]> ? Out : never;

/** Every option as a caller may pass it (strings as typed, or numbers and booleans), documented by the table's comments. */
type AllOptions = { -readonly [K in OptionKey]?: InOf<Spec<K>> };
type KeysFor<T extends Taker> = { [K in OptionKey]: T extends Spec<K>['takers'][number] ? K : never }[OptionKey];

/** The options a taker accepts. */
export type OptionsFor<T extends Taker> = Pick<AllOptions, KeysFor<T>>;

/** An option's parsed value: never undefined when it has a default. */
export type Parsed<K extends OptionKey> = Spec<K>['default'] extends undefined ? OutOf<Spec<K>> | undefined : OutOf<Spec<K>>;

export const OPTION_KEYS = Object.keys(OPTIONS) as OptionKey[];

/** The keys a taker accepts, as the set checkOptionKeys() holds a caller's object to. */
export function optionKeysFor(taker: Taker): Readonly<Record<string, true>> {
  return Object.fromEntries(OPTION_KEYS.filter((k) => (OPTIONS[k].takers as readonly Taker[]).includes(taker)).map((k) => [k, true]));
}

/** How an option is named in errors: its flag on the CLI (kebab-case for one without), its key in the library. */
export function optionName(key: string, naming: ParseContext['naming']): string {
  if (naming === 'library') return key;
  const spec = Object.hasOwn(OPTIONS, key) ? (OPTIONS[key as OptionKey] as AnySpec) : null;
  return `--${spec?.flag && !spec.negated ? spec.flag : key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The value given, else the default, parsed; undefined for an option neither given nor defaulted. */
export function parseOption<K extends OptionKey>(key: K, given: InOf<Spec<K>> | undefined, context: ParseContext): Parsed<K> {
  const spec = OPTIONS[key] as AnySpec;
  const value = given === undefined ? spec.default : given;
  return (value === undefined ? undefined : spec.parse(optionName(key, context.naming), value, context)) as Parsed<K>;
}

/** The spec of one option, typed loosely for code that walks the whole table (the CLI's flags and help). */
export function specOf(key: OptionKey): AnySpec {
  return OPTIONS[key];
}
