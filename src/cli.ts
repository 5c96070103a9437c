// The daemonkit command line: argument parsing, output and exit codes. The work itself lives in src/core.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';
import { normalize, type StartOptions } from './options.js';
import { buildPlan, renderPlan } from './core/plan.js';
import { detachContext } from './core/context.js';
import { describeFailure, startDetached } from './core/start.js';

type Values = Record<string, string | boolean | string[] | undefined>;

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Whether the command takes `-- <command> [args]`. */
  takesCommand: boolean;
  help: string;
  run(values: Values, positionals: string[], command: string[] | undefined): Promise<number> | number;
}

const daemonOptions = {
  pidfile: { type: 'string' },
  log: { type: 'string' },
  stdout: { type: 'string' },
  stderr: { type: 'string' },
  cwd: { type: 'string' },
  umask: { type: 'string' },
  env: { type: 'string', multiple: true },
  'clear-env': { type: 'boolean' },
  user: { type: 'string' },
  group: { type: 'string' },
  chroot: { type: 'string' },
  'ready-timeout': { type: 'string' },
  'start-secs': { type: 'string' },
  'no-supervise': { type: 'boolean' },
  name: { type: 'string' },
} as const;

const daemonOptionsHelp = `
  --pidfile FILE        PID file, locked for the daemon's life (default: STATE/NAME.pid)
  --log FILE            stdout and stderr appended to FILE (default: STATE/NAME.log)
  --stdout FILE         stdout only (/dev/null for none); --stderr FILE likewise
  --cwd DIR             working directory (default /)
  --umask MASK          022, 0o027 or u=rwx,g=rx,o= (default 022)
  --env K=V             set a variable (repeatable)
  --clear-env           keep only PATH, HOME and LANG from this environment
  --user U, --group G   run as this user / group (root only); groups from initgroups
  --chroot DIR          chroot before chdir
  --ready-timeout SECS  how long start waits for ready (default 30)
  --start-secs SECS     a program without a readiness protocol is ready when alive this long (default 0.2)
  --no-supervise        classic double-fork daemon, no supervisor
  --name NAME           service name (default: the command's basename)
STATE is $DAEMONKIT_HOME, else $XDG_STATE_HOME/daemonkit, else ~/.local/state/daemonkit.`;

function startOptionsFrom(v: Values, command: string[] | undefined): StartOptions {
  const s = (k: string) => v[k] as string | undefined;
  return {
    command,
    name: s('name'),
    pidfile: s('pidfile'),
    log: s('log'),
    stdout: s('stdout'),
    stderr: s('stderr'),
    cwd: s('cwd'),
    umask: s('umask'),
    env: v.env as string[] | undefined,
    clearEnv: v['clear-env'] === true,
    user: s('user'),
    group: s('group'),
    chroot: s('chroot'),
    readyTimeout: s('ready-timeout'),
    startSecs: s('start-secs'),
    supervise: v['no-supervise'] !== true,
    // The CLI is asked to start a daemon: it detaches even when run from systemd or by PID 1.
    forceDetach: true,
  };
}

const commands: Record<string, Command> = {
  start: {
    summary: 'start a program as a daemon; exits 0 once it is ready',
    usage: 'daemonkit start [options] -- <command> [args...]',
    options: { ...daemonOptions, 'ok-if-running': { type: 'boolean' } },
    takesCommand: true,
    help: `Starts the program as a daemon and waits until it is ready: exit 0, or 1 with its own error
(its exit status and the last lines of its stderr). A running service: "already running (pid N)", exit 1.
  --ok-if-running       exit 0 when the service is already running${daemonOptionsHelp}`,
    async run(values, _positionals, command) {
      const options = normalize(startOptionsFrom(values, command), 'cli');
      if (options.supervise) throw new UsageError('supervised start is not built yet: use start --no-supervise');
      const result = await startDetached(options, { path: options.command!.path, argv: options.command!.argv, readyProtocol: false });
      if (result.kind === 'ready') {
        process.stdout.write(`started ${options.name} (pid ${result.pid})\n`);
        return 0;
      }
      if (result.kind === 'busy') {
        process.stderr.write(`daemonkit: ${options.name} already running (pid ${result.pid ?? 'unknown'})\n`);
        return values['ok-if-running'] ? 0 : 1;
      }
      process.stderr.write(`daemonkit: ${options.name} failed to start: ${describeFailure(result)}\n`);
      return 1;
    },
  },
  plan: {
    summary: 'print the steps that start would take, without doing anything',
    usage: 'daemonkit plan [options] [--json] -- <command> [args...]',
    options: { ...daemonOptions, json: { type: 'boolean' } },
    takesCommand: true,
    help: `Prints the plan: one step a line, with the process that runs it. No side effects.
  --json                the plan as JSON${daemonOptionsHelp}`,
    run(values, _positionals, command) {
      const options = normalize(startOptionsFrom(values, command), 'cli');
      const plan = buildPlan(options, detachContext());
      process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderPlan(plan)}\n`);
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
    parsed = parseArgs({ args: own, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error & { code?: string }));
  }
  if (cmd.takesCommand && command === undefined && !parsed.values.help) {
    const hint = parsed.positionals.length ? ` (did you mean: daemonkit ${name} -- ${parsed.positionals.join(' ')}?)` : '';
    throw new UsageError(`missing '--' and the program to run${hint}`);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals, command };
}

function parseArgsMessage(e: Error & { code?: string }): string {
  const m = /'([^']+)'/.exec(e.message);
  const opt = m?.[1]?.split(' ')[0];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${opt}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (e.message.includes('ambiguous')) return `option '${opt}' needs a value (for one starting with '-', write ${opt}=VALUE)`;
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
      process.stdout.write(`Usage: ${cmd.usage}\n\n${cmd.help}\n`);
      return 0;
    }
    return await cmd.run(values, positionals, command);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`daemonkit: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

process.exitCode = await main(process.argv.slice(2));
