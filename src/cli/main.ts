// The daemonkit command line: argument parsing, output and exit codes. The work itself lives in src/core.
import { parseArgs } from 'node:util';
import { quote, UsageError } from '../errors.js';
import { DamagedStateError } from '../core/state-record.js';
import { inspectPidfile, PidfileError } from '../core/pidfile.js';
import { planner } from '../core/wasm.js';
import { SysError } from '../sys/errors.js';
import { exitNow } from '../sys/unistd.js';
import { checkName, defaultStateDir, logFileOf, normalize, parseCount, type Normalized } from '../options.js';
import { OPTIONS } from '../core/option-table.js';
import {
  commandArgsOptions,
  commandFlagsHelp,
  commandFlagsUsage,
  flagOf,
  modeConflict,
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
import { describeFailure, startDetached } from '../core/start.js';
import { ask, findByPidfile, LSB, listServices, statusOf, stopService, signalService, type Service, type StopOutcome } from '../core/service-control.js';
import { filesForName, filesOf, readState, serviceFiles, writeState, type StateRecord } from '../core/service-files.js';
import { constants as osConstants } from 'node:os';
import type { ControlAnswer } from '../core/control.js';
import { renderList, renderStatus, statusJson } from './status-view.js';
import { colorEnabled, spinner } from './terminal.js';
import { followFiles, tailLines } from './log-tail.js';
import { resolve as resolvePath } from 'node:path';
import { lstatSync } from 'node:fs';

/** A service the user named that does not exist: one line, exit 1. */
class NotFound extends Error {}

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
  /** Whether the command takes `-- <command> [args]`. */
  takesCommand: boolean;
  run(values: Values, positionals: string[], command: string[] | undefined): Promise<number> | number;
}

/** The usage line, from what the command takes. */
function usageOf(name: string, cmd: Command): string {
  return `daemonkit ${name}${cmd.targets ? ` ${TARGET_USAGE}` : ''}${cmd.startOptions ? ' [options]' : ''}${commandFlagsUsage(cmd.flags)}${cmd.takesCommand ? ' -- <command> [args...]' : ''}`;
}

function helpOf(cmd: Command): string {
  return [...(cmd.about ? [cmd.about] : []), ...commandFlagsHelp(cmd.flags), ...(cmd.startOptions ? [startOptionsHelp()] : [])].join('\n');
}

function argsOptionsOf(cmd: Command) {
  return { ...(cmd.targets ? commandArgsOptions(TARGET) : {}), ...(cmd.startOptions ? startArgsOptions() : {}), ...commandArgsOptions(cmd.flags) };
}

/** NAME (in the state directory) or --pidfile FILE (the named service recorded with it, else the files beside it). */
function target(values: Values, positionals: string[]): Service {
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const { pidfile } = readFlags(TARGET, values);
  const flag = `--${TARGET.pidfile.flag}`;
  if (pidfile !== undefined && positionals.length) throw new UsageError(`conflicting options: give NAME or ${flag}, not both`, flag, pidfile);
  if (pidfile !== undefined) {
    if (!pidfile || pidfile.includes('\0')) throw new UsageError(`invalid ${flag} '${pidfile}': expected a path`, flag, pidfile);
    const path = resolvePath(pidfile);
    const named = findByPidfile(defaultStateDir(), path);
    if (named) return named;
    const files = serviceFiles(path);
    return { name: files.pidfile.replace(/^.*\//, '').replace(/\.pid$/, ''), files };
  }
  if (positionals.length === 0) throw new UsageError(`missing NAME (or ${flag} ${TARGET.pidfile.arg})`);
  const name = checkName(positionals[0]!, 'NAME');
  return { name, files: filesForName(defaultStateDir(), name) };
}

/** A name never started here has neither a record nor a PID file: say so rather than look like a stopped service. */
function unknownName(values: Values, service: Service): string | null {
  const exists = (path: string) => lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  if (readFlags(TARGET, values).pidfile !== undefined || exists(service.files.state) || exists(service.files.pidfile)) return null;
  return `no service named ${service.name} in ${defaultStateDir()}`;
}

async function startService(options: Normalized, okIfRunning: boolean): Promise<number> {
  const spin = spinner(process.stderr, `starting ${options.name}`);
  const result = await startDetached(options, { path: options.command!.path, argv: options.command!.argv, readyProtocol: false }, options.supervise);
  spin.stop();
  if (result.kind === 'ready') {
    // What an unsupervised program answers to: SIGHUP to reload (the classic daemon's convention), and for reopen only
    // the signal the user declared.
    const files = options.supervise ? null : filesOf(options);
    if (files) writeState(files.state, { version: 1, options, status: null, exitCode: null, exitedAt: null, signals: { reload: SIGHUP, reopen: options.reopenSignal } });
    const what = options.supervise ? `supervisor pid ${result.pid}, ${options.workers} worker${options.workers === 1 ? '' : 's'}` : `pid ${result.pid}`;
    process.stdout.write(`started ${options.name} (${what})\n`);
    return 0;
  }
  if (result.kind === 'busy') {
    process.stderr.write(`daemonkit: ${options.name} already running (pid ${result.pid ?? 'unknown'})\n`);
    return okIfRunning ? 0 : 1;
  }
  process.stderr.write(`daemonkit: ${options.name} failed to start: ${describeFailure(result)}\n`);
  return 1;
}

function reportStop(service: Service, outcome: StopOutcome, okIfStopped: boolean): number {
  if (outcome.kind === 'stopped') {
    process.stdout.write(`stopped ${service.name} (pid ${outcome.pid})\n${outcome.note ? `  ${outcome.note}\n` : ''}`);
    return 0;
  }
  if (outcome.kind === 'denied') {
    process.stderr.write(`daemonkit: ${service.name}: ${outcome.message}\n`);
    return 4;
  }
  if (outcome.kind === 'not-running') {
    process.stderr.write(`daemonkit: ${service.name} is not running${outcome.stale ? ' (stale PID file; nobody was signalled)' : ''}\n`);
    return okIfStopped ? 0 : 1;
  }
  process.stderr.write(`daemonkit: ${service.name}: ${outcome.message}\n`);
  return 2;
}

const { SIGHUP } = osConstants.signals;

/** When no supervisor answered: the signal the service declared for this request, sent only to the proven service. */
function reportAnswer(service: Service, answer: ControlAnswer | null | { denied: true }, done: string, request: 'reload' | 'reopen'): number {
  if (answer && 'denied' in answer) {
    process.stderr.write(`daemonkit: ${service.name}: permission denied on ${service.files.socket}\n`);
    return 4;
  }
  if (answer?.ok) {
    process.stdout.write(`${service.name} ${done}\n`);
    return 0;
  }
  if (answer) {
    process.stderr.write(`daemonkit: ${service.name}: ${answer.error}\n`);
    return 1;
  }
  const signal = readState(service.files.state)?.signals?.[request] ?? null;
  if (signal === null) {
    if (inspectPidfile(service.files.pidfile).state === 'running') {
      const hint = request === 'reopen' ? ` (start it with --${OPTIONS.reopenSignal.flag} ${OPTIONS.reopenSignal.arg})` : '';
      process.stderr.write(`daemonkit: ${service.name}: no supervisor answered and the program declared no signal for ${request}${hint}; nothing was sent\n`);
      return 1;
    }
    process.stderr.write(`daemonkit: ${service.name} is not running\n`);
    return 3;
  }
  const pid = signalService(service, signal);
  if (pid === null) {
    process.stderr.write(`daemonkit: ${service.name} is not running\n`);
    return 3;
  }
  process.stdout.write(`${service.name}: sent ${planner.signalName(signal)} to pid ${pid}\n`);
  return 0;
}

/** What restart starts: the options as typed at start, normalized again, never the derived ones a record holds. */
function replayed(service: Service, record: StateRecord): Normalized {
  const path = service.files.state;
  const source = record.options.source as Normalized['source'] | undefined;
  if (!source) throw new UsageError(`${path} was written by an older daemonkit without the options as typed: start ${service.name} with daemonkit start`);
  let options: Normalized;
  try {
    options = normalize(source.input, 'cli', source.env, source.cwd);
  } catch (e) {
    // Valid when it started, not now (a deleted program or directory): the service is left as it is.
    if (e instanceof UsageError) throw new UsageError(`cannot restart ${service.name} with the options recorded in ${path}: ${e.message}`, e.option, e.value);
    throw new DamagedStateError(path, `options.source cannot be normalized (${(e as Error).message})`);
  }
  if (options.name !== service.name) throw new DamagedStateError(path, `it records the options of ${quote(options.name)}`);
  return options;
}

function logPaths(service: Service): string[] {
  const options = readState(service.files.state)?.options;
  const stdio = options ? [options.stdio[1], options.stdio[2]] : [{ kind: 'append' as const, path: service.files.pidfile.replace(/\.pid$/, '.log') }];
  return [...new Set(stdio.map(logFileOf).filter((p): p is string => p !== null))];
}

const START_FLAGS = {
  okIfRunning: { flag: 'ok-if-running', type: 'boolean', help: 'exit 0 when the service is already running' },
} as const satisfies CommandFlags;

const STOP_FLAGS = {
  retry: flagOf('retry', "signal/seconds pairs as start-stop-daemon takes them; 'forever' repeats the last pair"),
  okIfStopped: { flag: 'ok-if-stopped', type: 'boolean', help: 'exit 0 when it was not running' },
} as const satisfies CommandFlags;

const LOGS_FLAGS = {
  lines: { flag: 'lines', short: 'n', type: 'string', arg: 'N', default: '50', parse: (o: string, v: string) => parseCount(o, v, 0, 1_000_000), help: 'how many lines (default 50)' },
  follow: { flag: 'follow', short: 'f', type: 'boolean', help: 'keep printing what is appended, across reopen and rotation (Ctrl-C to stop)' },
} as const satisfies CommandFlags;

const JSON_FLAG = (help: string) => ({ json: { flag: 'json', type: 'boolean', help } }) as const satisfies CommandFlags;
const STATUS_FLAGS = JSON_FLAG('the same as one JSON object');
const LIST_FLAGS = JSON_FLAG('one JSON array');
const PLAN_FLAGS = JSON_FLAG('the plan as JSON');

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
      return startService(options, readFlags(START_FLAGS, values).okIfRunning);
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
      const service = target(values, positionals);
      const flags = readFlags(STOP_FLAGS, values);
      const spin = spinner(process.stderr, `stopping ${service.name}`);
      const outcome = await stopService(service, flags.retry);
      spin.stop();
      return reportStop(service, outcome, flags.okIfStopped);
    },
  },
  status: {
    summary: 'show a service: supervisor, workers, restarts, last exits (LSB exit codes)',
    about: 'Exit codes follow LSB: 0 running, 1 dead with a PID file left, 3 not running, 4 unknown.',
    flags: STATUS_FLAGS,
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const service = target(values, positionals);
      const unknown = unknownName(values, service);
      if (unknown) {
        process.stderr.write(`daemonkit: ${unknown}\n`);
        return LSB.unknown;
      }
      const report = await statusOf(service);
      const { json } = readFlags(STATUS_FLAGS, values);
      process.stdout.write(json ? `${JSON.stringify(statusJson(report))}\n` : renderStatus(report, colorEnabled(process.stdout)));
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
      const service = target(values, positionals);
      const record = readState(service.files.state);
      if (!record) throw new UsageError(`no recorded options for ${service.name} (${service.files.state}): start it with daemonkit start first`);
      const options = replayed(service, record);
      const outcome = await stopService(service, options.stopSchedule);
      if (outcome.kind === 'timeout' || outcome.kind === 'denied') return reportStop(service, outcome, false);
      return startService(options, false);
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
      const service = target(values, positionals);
      const spin = spinner(process.stderr, `reloading ${service.name}`);
      const answer = await ask(service, { cmd: 'reload' }, 600_000);
      spin.stop();
      return reportAnswer(service, answer, 'reloaded', 'reload');
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
      const service = target(values, positionals);
      return reportAnswer(service, await ask(service, { cmd: 'reopen' }, 5000), 'reopened its logs', 'reopen');
    },
  },
  logs: {
    summary: `print the end of the logs; -${LOGS_FLAGS.follow.short} follows them across rotation`,
    flags: LOGS_FLAGS,
    targets: true,
    startOptions: false,
    takesCommand: false,
    async run(values, positionals) {
      const service = target(values, positionals);
      const { lines: n, follow } = readFlags(LOGS_FLAGS, values);
      const unknown = unknownName(values, service);
      if (unknown) throw new NotFound(unknown);
      const paths = logPaths(service);
      if (paths.length === 0) throw new UsageError(`${service.name} has no log file (its output goes to /dev/null)`);
      for (const p of paths) process.stdout.write(tailLines(p, n));
      if (!follow) return 0;
      const following = followFiles(paths, (chunk) => process.stdout.write(chunk), { fromEnd: true });
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      following.stop();
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
      const reports = await Promise.all(listServices(defaultStateDir()).map(statusOf));
      const { json } = readFlags(LIST_FLAGS, values);
      process.stdout.write(json ? `${JSON.stringify(reports.map(statusJson))}\n` : renderList(reports, colorEnabled(process.stdout)));
      return 0;
    },
  },
  plan: {
    summary: 'print the steps that start would take, without doing anything',
    about: 'Prints the plan: one step a line, with the process that runs it. No side effects.',
    flags: PLAN_FLAGS,
    targets: false,
    startOptions: true,
    takesCommand: true,
    run(values, _positionals, command) {
      const options = normalize(startOptionsFrom(values, command), 'cli');
      const plan = buildPlan(options, detachContext());
      const { json } = readFlags(PLAN_FLAGS, values);
      process.stdout.write(json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderPlan(plan)}\n`);
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
    parsed = parseArgs({ args: own, options: { ...argsOptionsOf(cmd), help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
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
  const m = /'([^']+)'/.exec(e.message);
  const opt = m?.[1]?.split(' ')[0];
  const value = opt ? args[args.indexOf(opt) + 1] : undefined;
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
    process.stdout.write(`${mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`daemonkit ${VERSION}\n`);
    return 0;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  try {
    if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
    const { values, positionals, command } = parseCommandLine(name, cmd, rest);
    if (values.help) {
      process.stdout.write(`Usage: ${usageOf(name, cmd)}\n\n${helpOf(cmd)}\n`);
      return 0;
    }
    return await cmd.run(values, positionals, command);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`daemonkit: ${e.message}\n`);
      return 2;
    }
    if (e instanceof DamagedStateError) {
      process.stderr.write(`daemonkit: ${e.message}\n`);
      return 2;
    }
    // Expected failures of the system (a refused PID file, EPERM) are one line too; LSB's 4 for status.
    if (e instanceof PidfileError || e instanceof SysError || e instanceof NotFound) {
      process.stderr.write(`daemonkit: ${e.message}\n`);
      return name === 'status' ? 4 : 1;
    }
    throw e;
  }
}

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

// A reader that went away (`status --json | head -c 100`) ends us quietly, as SIGPIPE ends a C tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    exitNow(stream === process.stdout ? 0 : 1);
  });
}

void main(process.argv.slice(2)).then((code) => {
  // Node's teardown (its threads, its heap) costs every command time (RELIABILITY.md), and our output is already out
  // when nothing is queued (stdio is synchronous on Linux): leave at once; a queued write gets the normal exit.
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) exitNow(code);
  process.exitCode = code;
});
