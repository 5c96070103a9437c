// The daemonkit command line: argument parsing, output and exit codes. The work itself lives in src/core.
import { parseArgs } from 'node:util';
import {
  AlreadyRunningError,
  ControlError,
  DamagedStateError,
  LogFileError,
  NotRunningError,
  PidfileError,
  StartError,
  SysError,
  UnknownServiceError,
  UsageError,
} from '../errors.js';
import { exitNow } from '../sys/unistd.js';
import { dismissEarlySession } from '../core/session-spawn.js';
import { checkName, normalize, parseCount } from '../options.js';
import { OPTIONS, type Taker } from '../core/option-table.js';
import { renderRunPlan, runForeground } from './run.js';
import {
  commandArgsOptions,
  commandFlagsHelp,
  commandFlagsUsage,
  flagOf,
  modeConflict,
  notTakenBy,
  readFlags,
  startArgsOptions,
  startOptionsFrom,
  startOptionsHelp,
  TARGET,
  TARGET_USAGE,
  type CommandFlags,
  type Values,
} from './flags.js';
import { buildPlan, renderPlan } from '../core/plan.js';
import { detachContext } from '../core/context.js';
import {
  list,
  logs,
  reload,
  reopen,
  restart,
  startNormalized,
  status,
  stop,
  type ControlResult,
  type Started,
  type StopResult,
} from '../core/service-api.js';
import type { ServiceTarget } from '../core/service-target.js';
import { renderList, renderStatus } from './status-view.js';
import { runUnit, UNIT_ABOUT, UNIT_FLAGS } from './unit.js';
import { colorEnabled, printable, spinner, writeStdio, type Spinner } from './terminal.js';
import { LSB } from '../core/lsb-status.js';
import { pidfilePath } from '../core/option-values.js';

interface Command {
  summary: string;
  /** What the command does, the first lines of its help. */
  about?: string;
  /** Its own flags (not start's options); their parseArgs config, usage and help lines derive from these. */
  flags: CommandFlags;
  /** Whether it names a service: NAME or --pidfile FILE. */
  targets: boolean;
  /** Whether it takes start's options (start and plan). */
  startOptions: boolean;
  /** Whose options of the table it takes when startOptions: start's (the default) or run's. */
  taker?: Taker;
  /** Another command whose options are parsed too, so that they are refused in words, not as unknown (or taken: plan). */
  alsoParses?: Taker;
  /** Whether the command takes `-- <command> [args]`. */
  takesCommand: boolean;
  run(values: Values, positionals: string[], command: string[] | undefined): Promise<number> | number;
}

/** The usage line, from what the command takes. */
function usageOf(name: string, cmd: Command): string {
  return `daemonkit ${name}${cmd.targets ? ` ${TARGET_USAGE}` : ''}${cmd.startOptions ? ' [options]' : ''}${commandFlagsUsage(cmd.flags)}${cmd.takesCommand ? ' -- <command> [args...]' : ''}`;
}

function helpOf(cmd: Command): string {
  return [
    ...(cmd.about ? [cmd.about] : []),
    ...commandFlagsHelp(cmd.flags),
    ...(cmd.startOptions ? [startOptionsHelp(cmd.taker)] : []),
  ].join('\n');
}

function argsOptionsOf(cmd: Command) {
  return {
    ...(cmd.targets ? commandArgsOptions(TARGET) : {}),
    ...(cmd.startOptions && cmd.alsoParses ? startArgsOptions(cmd.alsoParses) : {}),
    ...(cmd.startOptions ? startArgsOptions(cmd.taker) : {}),
    ...commandArgsOptions(cmd.flags),
  };
}

/** NAME or --pidfile FILE, checked as typed (errors name the flag); the service functions find the service. */
function target(values: Values, positionals: string[]): ServiceTarget {
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const { pidfile } = readFlags(TARGET, values);
  const flag = `--${TARGET.pidfile.flag}`;
  if (pidfile !== undefined && positionals.length)
    throw new UsageError(`conflicting options: give NAME or ${flag}, not both`, flag, pidfile);
  if (pidfile !== undefined) {
    return { pidfile: pidfilePath(flag, pidfile, process.cwd()) };
  }
  if (positionals.length === 0) throw new UsageError(`missing NAME (or ${flag} ${TARGET.pidfile.arg})`);
  return checkName(positionals[0]!, 'NAME');
}

/** Runs a wait behind a spinner that stops whatever the outcome. */
async function spinning<T>(text: string, work: (spin: Spinner) => Promise<T>): Promise<T> {
  const spin = spinner(process.stderr, text);
  try {
    return await work(spin);
  } finally {
    spin.stop();
  }
}

function reportStarted(started: Started): number {
  // --ok-if-running said this is fine: news, not an error.
  if (started.alreadyRunning) {
    writeStdio(process.stdout, `${started.name} already running (pid ${started.pid ?? 'unknown'})\n`);
    return 0;
  }
  const what = started.supervised
    ? `supervisor pid ${started.pid}, ${started.workers} worker${started.workers === 1 ? '' : 's'}`
    : `pid ${started.pid}`;
  writeStdio(process.stdout, `started ${started.name} (${what})\n`);
  return 0;
}

function reportStop(outcome: StopResult, okIfStopped: boolean): number {
  if (outcome.kind === 'stopped') {
    writeStdio(process.stdout, `stopped ${outcome.name} (pid ${outcome.pid})\n${outcome.note ? `  ${outcome.note}\n` : ''}`);
    return 0;
  }
  if (outcome.kind === 'denied') {
    writeStdio(process.stderr, `daemonkit: ${outcome.name}: ${outcome.message}\n`);
    return 4;
  }
  if (outcome.kind === 'not-running') {
    const what = `${outcome.name} is not running${outcome.stale ? ' (stale PID file; nobody was signalled)' : ''}\n`;
    // --ok-if-stopped said this is fine: news on stdout; otherwise an error.
    if (okIfStopped) writeStdio(process.stdout, what);
    else writeStdio(process.stderr, `daemonkit: ${what}`);
    return okIfStopped ? 0 : 1;
  }
  writeStdio(process.stderr, `daemonkit: ${outcome.name}: ${outcome.message}\n`);
  return 2;
}

/** How a spinner names the target: its name, or the PID file given. */
const shown = (t: ServiceTarget) => (typeof t === 'string' ? t : t.pidfile);

function reportControl(result: ControlResult, done: string): number {
  writeStdio(
    process.stdout,
    result.via === 'supervisor' ? `${result.name} ${done}\n` : `${result.name}: sent ${result.signal} to pid ${result.pid}\n`,
  );
  return 0;
}

/** The exit code of an error the service functions throw (after its one line), or null for a bug to show in full. */
function exitCodeOf(e: unknown, command: string): number | null {
  if (e instanceof UsageError || e instanceof DamagedStateError) return 2;
  if (e instanceof NotRunningError) return 3;
  if (e instanceof ControlError) return e.code === 'EACCES' ? 4 : e.code === 'ETIMEDOUT' ? 2 : 1;
  if (e instanceof AlreadyRunningError || e instanceof StartError) return 1;
  // Expected failures of the system (a refused PID file, EPERM) are one line too; LSB's 4 for status.
  if (e instanceof PidfileError || e instanceof LogFileError || e instanceof SysError || e instanceof UnknownServiceError)
    return command === 'status' ? 4 : 1;
  return null;
}

const START_FLAGS = {
  okIfRunning: { flag: 'ok-if-running', type: 'boolean', help: 'exit 0 when the service is already running' },
} as const satisfies CommandFlags;

const STOP_FLAGS = {
  retry: flagOf(
    'retry',
    "signal/seconds pairs as start-stop-daemon takes them; 'forever' repeats the last pair\n(default: the service's own --retry)",
  ),
  okIfStopped: { flag: 'ok-if-stopped', type: 'boolean', help: 'exit 0 when it was not running' },
} as const satisfies CommandFlags;

const LOGS_FLAGS = {
  lines: {
    flag: 'lines',
    short: 'n',
    type: 'string',
    arg: 'N',
    default: '50',
    parse: (o: string, v: string) => parseCount(o, v, 0, 1_000_000),
    help: 'how many lines (default 50)',
  },
  follow: {
    flag: 'follow',
    short: 'f',
    type: 'boolean',
    help: 'keep printing what is appended, across reopen and rotation (Ctrl-C to stop)',
  },
} as const satisfies CommandFlags;

const JSON_FLAG = (help: string) => ({ json: { flag: 'json', type: 'boolean', help } }) as const satisfies CommandFlags;
const STATUS_FLAGS = JSON_FLAG('the same as one JSON object');
const LIST_FLAGS = JSON_FLAG('one JSON array');
const PLAN_FLAGS = {
  ...JSON_FLAG('the plan as JSON'),
  foreground: {
    flag: 'foreground',
    type: 'boolean',
    help: "run's plan (the supervisor in this process) instead of start's; takes run's options\n(--exit-map, --forward, --subreaper) and refuses start's own",
  },
} as const satisfies CommandFlags;

const commands: Record<string, Command> = {
  start: {
    summary: 'start a program as a daemon; exits 0 once it is ready',
    about: `Starts the program as a daemon and waits until it is ready: exit 0, or 1 with its own error
(its exit status and the last lines of its stderr). A running service: "already running (pid N)", exit 1.`,
    flags: START_FLAGS,
    targets: false,
    startOptions: true,
    takesCommand: true,
    async run(values, _positionals, command) {
      const options = normalize(startOptionsFrom(values, command), 'cli');
      const conflict = modeConflict(values, options.supervise);
      if (conflict) throw conflict;
      // start() itself, after the flags are normalized with errors naming the flags.
      return reportStarted(
        await spinning(`starting ${options.name}`, (spin) =>
          // The CLI has nothing else to do meanwhile: it waits blocked, drawing the spinner between polls.
          startNormalized(options, readFlags(START_FLAGS, values).okIfRunning, { tickMs: spin.frameMs, tick: () => spin.tick() }),
        ),
      );
    },
  },
  run: {
    summary: 'run the supervisor in the foreground (a container entrypoint, a Type=notify unit)',
    about: `Runs the program's workers supervised by this very process, in the foreground: output to this
stdout/stderr (unless --log, --stdout or --stderr), SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1
reopens the logs. Exit status: 0 when every worker exited cleanly, 1 when it gave up, 128+n when
stopped by signal n (see --exit-map). As PID 1 (or with --subreaper) it also reaps orphans. With
--name it answers status, stop and reload like a started service. Under systemd it speaks sd_notify
(READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1) and takes socket-activated --listen sockets.`,
    flags: {},
    targets: false,
    startOptions: true,
    taker: 'run',
    takesCommand: true,
    run(values, _positionals, command) {
      return runForeground(values, command);
    },
  },
  stop: {
    summary: 'stop a service and wait until it is gone',
    about: `Stops the supervisor and every worker (or an unsupervised daemon) and waits until they are gone.
Exit 0 stopped, 1 not running (0 with --${STOP_FLAGS.okIfStopped.flag}), 2 the schedule ran out.`,
    flags: STOP_FLAGS,
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const t = target(values, positionals);
      const flags = readFlags(STOP_FLAGS, values);
      const retry = values[STOP_FLAGS.retry.flag] as string | undefined;
      return reportStop(await spinning(`stopping ${shown(t)}`, () => stop(t, { retry })), flags.okIfStopped);
    },
  },
  status: {
    summary: 'show a service: supervisor, workers, restarts, last exits (LSB exit codes)',
    about: `Exit codes follow LSB: ${LSB.running} running, ${LSB.deadWithPidfile} dead with a PID file left, ${LSB.notRunning} not running, ${LSB.unknown} unknown, ${LSB.noWorkerUp} up but no worker is (starting or restarting).`,
    flags: STATUS_FLAGS,
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const report = await status(target(values, positionals));
      const { json } = readFlags(STATUS_FLAGS, values);
      writeStdio(process.stdout, json ? `${JSON.stringify(report)}\n` : renderStatus(report, colorEnabled(process.stdout)));
      return report.lsb;
    },
  },
  restart: {
    summary: 'stop, then start again with the options it was started with',
    about: 'Stops the service (if it runs) and starts it with the options recorded when it was last started.',
    flags: {},
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const t = target(values, positionals);
      return reportStarted(await spinning(`restarting ${shown(t)}`, () => restart(t)));
    },
  },
  reload: {
    summary: `reload: replace workers one at a time (or SIGHUP them with --${OPTIONS.reload.flag} signal)`,
    about: 'Asks the supervisor to reload and waits until it has. An unsupervised daemon gets SIGHUP.',
    flags: {},
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const t = target(values, positionals);
      return reportControl(await spinning(`reloading ${shown(t)}`, () => reload(t)), 'reloaded');
    },
  },
  reopen: {
    summary: 'reopen the log files (after logrotate moved them)',
    about: 'Makes the supervisor close and reopen its log files; use it as logrotate postrotate. Same as SIGUSR1.',
    flags: {},
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      return reportControl(await reopen(target(values, positionals)), 'reopened its logs');
    },
  },
  logs: {
    summary: `print the end of the logs; -${LOGS_FLAGS.follow.short} follows them across rotation`,
    flags: LOGS_FLAGS,
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const t = target(values, positionals);
      const { lines, follow } = readFlags(LOGS_FLAGS, values);
      // To a terminal, the service's bytes are shown escaped (as journalctl does); to a pipe or file, exactly as written.
      const shown = process.stdout.isTTY ? (line: string) => `${printable(line)}\n` : (line: string) => `${line}\n`;
      if (!follow) {
        writeStdio(process.stdout, (await logs(t, { lines })).map(shown).join(''));
        return 0;
      }
      const ended = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ended.abort());
      for await (const line of logs(t, { lines, follow: true, signal: ended.signal })) writeStdio(process.stdout, shown(line));
      return 0;
    },
  },
  list: {
    summary: 'every service in the state directory, with its status',
    about: 'Lists $DAEMONKIT_HOME (or $XDG_STATE_HOME/daemonkit, or ~/.local/state/daemonkit).',
    flags: LIST_FLAGS,
    targets: false,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      const reports = await list();
      const { json } = readFlags(LIST_FLAGS, values);
      writeStdio(process.stdout, json ? `${JSON.stringify(reports)}\n` : renderList(reports, colorEnabled(process.stdout)));
      return 0;
    },
  },
  unit: {
    summary: 'print (or --install) a systemd unit that runs the service with daemonkit run',
    about: UNIT_ABOUT,
    flags: UNIT_FLAGS,
    targets: false,
    startOptions: true,
    taker: 'run',
    alsoParses: 'start',
    takesCommand: true,
    run: runUnit,
  },
  plan: {
    summary: 'print the steps that start would take, without doing anything',
    about: 'Prints the plan: one step a line, with the process that runs it. No side effects.',
    flags: PLAN_FLAGS,
    targets: false,
    startOptions: true,
    alsoParses: 'run',
    takesCommand: true,
    run(values, _positionals, command) {
      const { json, foreground } = readFlags(PLAN_FLAGS, values);
      const refused = notTakenBy(values, foreground ? 'run' : 'start', foreground ? '' : " (it is run's: plan --foreground)");
      if (refused) throw refused;
      if (foreground) {
        writeStdio(process.stdout, `${renderRunPlan(values, command, json)}\n`);
        return 0;
      }
      const options = normalize(startOptionsFrom(values, command), 'cli');
      const plan = buildPlan(options, detachContext());
      writeStdio(process.stdout, json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderPlan(plan)}\n`);
      return 0;
    },
  },
};

function mainHelp(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return `daemonkit — run a program as a proper Unix daemon

Usage: daemonkit <command> [options] [-- <program> [args...]]

Commands:
${Object.entries(commands)
  .map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`)
  .join('\n')}

Run 'daemonkit <command> --help' for a command's options.`;
}

function parseCommandLine(name: string, cmd: Command, argv: string[]) {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : undefined;
  if (dash >= 0 && !cmd.takesCommand) throw new UsageError(`${name} takes no command after '--'`);
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      options: { ...argsOptionsOf(cmd), help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error & { code?: string }, own));
  }
  if (cmd.takesCommand && command === undefined && !parsed.values.help) {
    const hint = parsed.positionals.length ? ` (did you mean: daemonkit ${name} -- ${parsed.positionals.join(' ')}?)` : '';
    throw new UsageError(`missing '--' and the program to run${hint}`);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals, command };
}

function parseArgsMessage(e: Error & { code?: string }, args: string[]): string {
  const quoted = [...e.message.matchAll(/'([^']+)'/g)].map((q) => q[1]!);
  // Node names an option '-n, --lines <value>', or '-n' with '--lines=-XYZ' further on: the long form is the one that
  // also takes --lines=VALUE.
  const forms = quoted.flatMap((q) => q.split(/[\s,=]+/)).filter((w) => /^--?[A-Za-z][\w-]*$/.test(w));
  const opt = forms.find((f) => f.startsWith('--')) ?? forms[0] ?? quoted[0];
  // The occurrence parseArgs refused, not the first: a value that starts with '-'.
  const at = args.findIndex((a, i) => forms.includes(a) && args[i + 1]?.startsWith('-'));
  const value = at >= 0 ? args[at + 1] : undefined;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${opt}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (e.message.includes('ambiguous')) return `invalid ${opt} '${value}': a value starting with '-' must be written ${opt}=${value}`;
      return e.message.includes('argument missing') ? `option '${opt}' needs a value` : `option '${opt}' takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${opt}'`;
  }
  return e.message.split('\n')[0]!;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    writeStdio(process.stdout, `${mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    writeStdio(process.stdout, `daemonkit ${VERSION}\n`);
    return 0;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  try {
    if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
    const { values, positionals, command } = parseCommandLine(name, cmd, rest);
    if (values.help) {
      writeStdio(process.stdout, `Usage: ${usageOf(name, cmd)}\n\n${helpOf(cmd)}\n`);
      return 0;
    }
    return await cmd.run(values, positionals, command);
  } catch (e) {
    const code = exitCodeOf(e, name);
    if (code === null) throw e;
    // A failed start's message carries the program's own words and stderr: shown, never obeyed, by a terminal.
    writeStdio(process.stderr, `daemonkit: ${printable((e as Error).message)}\n`);
    return code;
  }
}

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

// A reader that went away (`status --json | head -c 100`) ends us quietly, as SIGPIPE ends a C tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    dismissEarlySession();
    exitNow(stream === process.stdout ? 0 : 1);
  });
}

void main(process.argv.slice(2)).then((code) => {
  dismissEarlySession();
  // Node's teardown (its threads, its heap) costs every command time (RELIABILITY.md), and our output is already out
  // when nothing is queued (stdio is synchronous on Linux): leave at once; a queued write gets the normal exit.
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) exitNow(code);
  process.exitCode = code;
});
