// The normalizer, option by option (its default, a valid value, an invalid one), and the option table against what is
// derived from it: parseArgs' config, start's help, the library's keys. No process is started.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Sandbox } from '../helpers/sandbox.js';
import { UsageError } from '../../src/errors.js';
import { DAEMON_OPTION_KEYS, normalize, START_OPTION_KEYS, type Normalized, type StartOptions } from '../../src/options.js';
import { OPTION_KEYS, OPTIONS, optionName, specOf, type OptionKey } from '../../src/core/option-table.js';
import { modeConflict, startArgsOptions, startOptionsFrom, startOptionsHelp, type Values } from '../../src/cli/flags.js';

const box = new Sandbox('daemonkit-options-');
after(() => box.cleanup());

const state = box.path('state');
const other = box.path('other-state');
const root = box.path('root');
for (const dir of [state, other, join(root, 'bin')]) mkdirSync(dir, { recursive: true });
writeFileSync(join(root, 'bin', 'prog'), '#!/bin/sh\n');
chmodSync(join(root, 'bin', 'prog'), 0o755);

const callerEnv = { PATH: '/usr/bin:/bin', HOME: '/home/x', LANG: 'C', FOO: 'bar', DAEMONKIT_HOME: state };
const BASE: StartOptions = { command: ['sleep', '1'], supervise: true };
const { SIGTERM, SIGKILL, SIGUSR1 } = constants.signals;

function norm(extra: StartOptions, naming: 'cli' | 'library' = 'library'): Normalized {
  return normalize({ ...BASE, ...extra }, naming, callerEnv, box.dir);
}

interface Case {
  /** What the normalized options hold when the option is not given. */
  byDefault(o: Normalized): void;
  valid: { input: StartOptions; check(o: Normalized): void };
  invalid: StartOptions;
}

/** One case for every option in the table: a new option without a case fails the coverage test below. */
const cases: Record<OptionKey, Case> = {
  pidfile: {
    byDefault: (o) => assert.equal(o.pidfile, join(state, 'sleep.pid')),
    valid: { input: { pidfile: 'x.pid' }, check: (o) => assert.equal(o.pidfile, box.path('x.pid')) },
    invalid: { pidfile: '' },
  },
  log: {
    byDefault: (o) => assert.deepEqual(o.stdio[1], { kind: 'append', path: join(state, 'sleep.log') }),
    valid: {
      input: { log: 'a.log' },
      check: (o) =>
        assert.deepEqual(o.stdio.slice(1), [
          { kind: 'append', path: box.path('a.log') },
          { kind: 'append', path: box.path('a.log') },
        ]),
    },
    invalid: { log: '' },
  },
  stdout: {
    byDefault: (o) => assert.deepEqual(o.stdio[1], { kind: 'append', path: join(state, 'sleep.log') }),
    valid: { input: { stdout: null }, check: (o) => assert.deepEqual(o.stdio.slice(1), [{ kind: 'null' }, { kind: 'null' }]) },
    invalid: { stdout: 'a\0b' },
  },
  stderr: {
    byDefault: (o) => assert.deepEqual(o.stdio[2], o.stdio[1]),
    valid: { input: { stderr: '/dev/null' }, check: (o) => assert.deepEqual(o.stdio[2], { kind: 'null' }) },
    invalid: { stderr: '' },
  },
  cwd: {
    byDefault: (o) => assert.equal(o.cwd, '/'),
    valid: { input: { cwd: 'state' }, check: (o) => assert.equal(o.cwd, state) },
    invalid: { cwd: box.path('no-such-dir') },
  },
  umask: {
    byDefault: (o) => assert.equal(o.umask, 0o022),
    valid: { input: { umask: '027' }, check: (o) => assert.equal(o.umask, 0o027) },
    invalid: { umask: '999' },
  },
  env: {
    byDefault: (o) => assert.ok(o.env.includes('FOO=bar') && !o.env.some((kv) => kv.startsWith('DAEMONKIT_')), o.env.join(' ')),
    valid: {
      input: { env: ['A=1', 'FOO=baz'] },
      check: (o) => assert.ok(o.env.includes('A=1') && o.env.includes('FOO=baz') && !o.env.includes('FOO=bar')),
    },
    invalid: { env: ['NOEQUALS'] },
  },
  clearEnv: {
    byDefault: (o) => assert.equal(o.clearEnv, false),
    valid: { input: { clearEnv: true }, check: (o) => assert.deepEqual(o.env.sort(), ['HOME=/home/x', 'LANG=C', 'PATH=/usr/bin:/bin']) },
    invalid: { clearEnv: 'yes' as never },
  },
  user: {
    byDefault: (o) => assert.equal(o.user, null),
    valid: { input: { user: String(process.getuid!()) }, check: (o) => assert.equal(o.user?.uid, process.getuid!()) },
    invalid: { user: 'no-such-user-daemonkit' },
  },
  group: {
    byDefault: (o) => assert.equal(o.group, null),
    valid: { input: { group: String(process.getgid!()) }, check: (o) => assert.equal(o.group?.gid, process.getgid!()) },
    invalid: { group: 'no-such-group-daemonkit' },
  },
  chroot: {
    byDefault: (o) => assert.equal(o.chroot, null),
    valid: {
      input: { chroot: 'root', command: ['/bin/prog'] },
      check: (o) => assert.deepEqual([o.chroot, o.command?.path], [root, '/bin/prog']),
    },
    invalid: { chroot: box.path('no-such-root') },
  },
  readyTimeout: {
    byDefault: (o) => assert.equal(o.readyTimeoutMs, 30_000),
    valid: { input: { readyTimeout: '2s' }, check: (o) => assert.equal(o.readyTimeoutMs, 2000) },
    invalid: { readyTimeout: 0 },
  },
  startSecs: {
    byDefault: (o) => assert.equal(o.startMs, 200),
    valid: { input: { startSecs: 1.5 }, check: (o) => assert.equal(o.startMs, 1500) },
    invalid: { startSecs: '2h' },
  },
  supervise: {
    byDefault: () => assert.equal(normalize({ command: ['sleep', '1'] }, 'library', callerEnv, box.dir).supervise, false),
    valid: { input: { supervise: false }, check: (o) => assert.equal(o.supervise, false) },
    invalid: { supervise: 'yes' as never },
  },
  coreDumps: {
    byDefault: (o) => assert.equal(o.coreDumps, false),
    valid: { input: { coreDumps: 'on' }, check: (o) => assert.equal(o.coreDumps, true) },
    invalid: { coreDumps: 'maybe' },
  },
  name: {
    byDefault: (o) => assert.equal(o.name, 'sleep'),
    valid: { input: { name: 'web@1' }, check: (o) => assert.deepEqual([o.name, o.pidfile], ['web@1', join(state, 'web@1.pid')]) },
    invalid: { name: '.hidden' },
  },
  reopenSignal: {
    byDefault: (o) => assert.equal(o.reopenSignal, null),
    valid: { input: { supervise: false, reopenSignal: 'USR1' }, check: (o) => assert.equal(o.reopenSignal, SIGUSR1) },
    invalid: { reopenSignal: 'NOSUCHSIG' },
  },
  retry: {
    byDefault: (o) => assert.deepEqual(o.stopSchedule, [SIGTERM, 10_000, SIGKILL, 5000]),
    valid: { input: { retry: 'KILL/1' }, check: (o) => assert.deepEqual(o.stopSchedule, [SIGKILL, 1000]) },
    invalid: { retry: 'NOSUCHSIG/1' },
  },
  forceDetach: {
    byDefault: (o) => assert.equal(o.forceDetach, false),
    valid: { input: { forceDetach: true }, check: (o) => assert.equal(o.forceDetach, true) },
    invalid: { forceDetach: 1 as never },
  },
  command: {
    byDefault: () => assert.equal(normalize({}, 'library', callerEnv, box.dir).command, null),
    valid: { input: { command: ['true', 'x'] }, check: (o) => assert.deepEqual(o.command, { path: '/usr/bin/true', argv: ['true', 'x'] }) },
    invalid: { command: [] },
  },
  stateDir: {
    byDefault: (o) => assert.equal(o.stateDir, state),
    valid: { input: { stateDir: other }, check: (o) => assert.deepEqual([o.stateDir, o.pidfile], [other, join(other, 'sleep.pid')]) },
    invalid: { stateDir: '' },
  },
  logTime: {
    byDefault: (o) => assert.equal(o.logTime, false),
    valid: { input: { logTime: true }, check: (o) => assert.equal(o.logTime, true) },
    invalid: { logTime: 'yes' as never },
  },
  workers: {
    byDefault: (o) => assert.equal(o.workers, 1),
    valid: { input: { workers: '4' }, check: (o) => assert.equal(o.workers, 4) },
    invalid: { workers: 0 },
  },
  restart: {
    byDefault: (o) => assert.equal(o.restart, 'on-failure'),
    valid: { input: { restart: 'always' }, check: (o) => assert.equal(o.restart, 'always') },
    invalid: { restart: 'sometimes' },
  },
  backoffMin: {
    byDefault: (o) => assert.equal(o.backoffMinMs, 100),
    valid: { input: { backoffMin: '1s' }, check: (o) => assert.equal(o.backoffMinMs, 1000) },
    invalid: { backoffMin: '1 s' },
  },
  backoffMax: {
    byDefault: (o) => assert.equal(o.backoffMaxMs, 10_000),
    valid: { input: { backoffMax: '1m' }, check: (o) => assert.equal(o.backoffMaxMs, 60_000) },
    invalid: { backoffMax: '50ms' },
  },
  minUptime: {
    byDefault: (o) => assert.equal(o.minUptimeMs, 10_000),
    valid: { input: { minUptime: '5' }, check: (o) => assert.equal(o.minUptimeMs, 5000) },
    invalid: { minUptime: -1 },
  },
  maxRestarts: {
    byDefault: (o) => assert.equal(o.maxRestarts, 10),
    valid: { input: { maxRestarts: 0 }, check: (o) => assert.equal(o.maxRestarts, 0) },
    invalid: { maxRestarts: '1.5' },
  },
  restartWindow: {
    byDefault: (o) => assert.equal(o.restartWindowMs, 60_000),
    valid: { input: { restartWindow: '2m' }, check: (o) => assert.equal(o.restartWindowMs, 120_000) },
    invalid: { restartWindow: 0 },
  },
  reload: {
    byDefault: (o) => assert.equal(o.reload, 'rolling'),
    valid: { input: { reload: 'signal' }, check: (o) => assert.equal(o.reload, 'signal') },
    invalid: { reload: 'graceful' },
  },
  listen: {
    byDefault: (o) => assert.deepEqual(o.listen, []),
    valid: {
      input: { listen: ['tcp:8080', 'api=unix:api.sock'] },
      check: (o) =>
        assert.deepEqual(o.listen, [
          { kind: 'tcp', name: 'tcp', text: 'tcp:8080', host: null, port: 8080 },
          { kind: 'unix', name: 'api', text: `unix:${box.path('api.sock')}`, path: box.path('api.sock') },
        ]),
    },
    invalid: { listen: ['tcp:99999'] },
  },
  ready: {
    byDefault: (o) => assert.deepEqual(o.ready, { kind: 'alive', ms: 200 }),
    valid: {
      input: { ready: 'tcp:localhost:8080' },
      check: (o) => {
        assert.deepEqual(o.ready, { kind: 'tcp', host: 'localhost', port: 8080 });
        assert.equal(o.startMs, -1, 'ready when the probe answers, not after a time');
      },
    },
    invalid: { ready: 'tcp:70000' },
  },
  health: {
    byDefault: (o) => assert.equal(o.health, null),
    valid: {
      input: { health: 'http://127.0.0.1:8080/health' },
      check: (o) =>
        assert.deepEqual(o.health, {
          probe: { kind: 'http', url: 'http://127.0.0.1:8080/health' },
          intervalMs: 10000,
          timeoutMs: 5000,
          failures: 3,
        }),
    },
    invalid: { health: 'notify' },
  },
  healthInterval: {
    byDefault: (o) => assert.equal(o.health, null),
    valid: { input: { health: 'tcp:80', healthInterval: '2s' }, check: (o) => assert.equal(o.health?.intervalMs, 2000) },
    invalid: { healthInterval: '0' },
  },
  healthTimeout: {
    byDefault: (o) => assert.equal(o.health, null),
    valid: { input: { health: 'tcp:80', healthTimeout: '500ms' }, check: (o) => assert.equal(o.health?.timeoutMs, 500) },
    invalid: { healthTimeout: 'soon' },
  },
  healthFailures: {
    byDefault: (o) => assert.equal(o.health, null),
    valid: { input: { health: 'exec:true', healthFailures: 1 }, check: (o) => assert.equal(o.health?.failures, 1) },
    invalid: { healthFailures: 0 },
  },
  watchdog: {
    byDefault: (o) => assert.equal(o.watchdogMs, null),
    valid: { input: { watchdog: '3s' }, check: (o) => assert.equal(o.watchdogMs, 3000) },
    invalid: { watchdog: '0' },
  },
  exitMap: {
    byDefault: (o) => assert.deepEqual(o.exitMap, []),
    valid: {
      input: { exitMap: ['143=0', '1=3'] },
      check: (o) =>
        assert.deepEqual(o.exitMap, [
          [143, 0],
          [1, 3],
        ]),
    },
    invalid: { exitMap: ['143=256'] },
  },
  forward: {
    byDefault: (o) => assert.deepEqual(o.forward, []),
    valid: {
      input: { forward: ['USR2,WINCH', 'SIGQUIT'] },
      check: (o) => assert.deepEqual(o.forward, [constants.signals.SIGUSR2, constants.signals.SIGWINCH, constants.signals.SIGQUIT]),
    },
    invalid: { forward: ['TERM'] },
  },
  subreaper: {
    byDefault: (o) => assert.equal(o.subreaper, false),
    valid: { input: { subreaper: true }, check: (o) => assert.equal(o.subreaper, true) },
    invalid: { subreaper: 'yes' as unknown as boolean },
  },
};

describe('normalize, option by option', () => {
  test('every option of the table has a case here', () => {
    assert.deepEqual(Object.keys(cases).sort(), [...OPTION_KEYS].sort());
  });

  const defaults = norm({});
  for (const key of OPTION_KEYS) {
    const c = cases[key];
    test(`${key}: default, a valid value, an invalid one named with its value`, () => {
      c.byDefault(defaults);
      c.valid.check(norm(c.valid.input));
      const [[k, value]] = Object.entries(c.invalid) as [[OptionKey, unknown]];
      assert.equal(k, key);
      for (const naming of ['library', 'cli'] as const) {
        const name = optionName(key, naming);
        assert.throws(
          () => norm(c.invalid, naming),
          (e: unknown) => {
            assert.ok(e instanceof UsageError, String(e));
            assert.equal(e.message.includes('\n'), false);
            if (key === 'command') return (assert.match(e.message, /^missing command/), assert.equal(e.option, 'command'), true);
            assert.ok(e.message.startsWith(`invalid ${name} '`), `${naming}: ${e.message}`);
            assert.equal(e.option, name);
            assert.equal(e.value, String(value));
            return true;
          },
        );
      }
    });
  }

  test('the CLI names options by flag, the library by key; the reason says which way to write it', () => {
    assert.throws(() => norm({ coreDumps: 'maybe' }, 'cli'), { message: "invalid --core-dumps 'maybe': expected on or off" });
    assert.throws(() => norm({ coreDumps: 'maybe' }), { message: "invalid coreDumps 'maybe': expected true or false" });
    assert.throws(() => norm({ readyTimeout: 'soon' }, 'cli'), {
      message: "invalid --ready-timeout 'soon': not a duration (seconds, or a number with ms, s, m or h)",
    });
  });

  test('the stop schedule kept from the last parse is never shared: each normalize gets its own copy', () => {
    const first = norm({});
    first.stopSchedule.splice(0, 2);
    assert.deepEqual(norm({}).stopSchedule, [SIGTERM, 10_000, SIGKILL, 5000], 'the default, whole again');
    assert.deepEqual(norm({ retry: 'KILL/1' }).stopSchedule, [SIGKILL, 1000]);
    assert.throws(() => norm({ retry: 'TERM/x' }), /^UsageError: invalid retry 'TERM\/x'/);
    assert.deepEqual(norm({ retry: 'KILL/1' }).stopSchedule, [SIGKILL, 1000]);
  });

  test('an unknown key is refused with the closest known one', () => {
    assert.throws(() => norm({ pidFile: 'x' } as StartOptions), { message: "unknown option 'pidFile' (did you mean 'pidfile'?)" });
    assert.throws(() => norm({ readyTimeOut: 1 } as StartOptions, 'cli'), {
      message: "unknown option '--ready-time-out' (did you mean '--ready-timeout'?)",
    });
  });
});

describe('what is derived from the option table', () => {
  // start's flags; run's own (--exit-map...) are run's alone, checked with run's below.
  const takenBy = (k: OptionKey, taker: 'start' | 'run') => (specOf(k).takers as readonly string[]).includes(taker);
  const allFlagged = OPTION_KEYS.filter((k) => specOf(k).flag !== null);
  const flagged = allFlagged.filter((k) => takenBy(k, 'start'));

  test("run's flags are start's but --no-supervise and --reopen-signal, and its own", () => {
    const run = Object.keys(startArgsOptions('run')).sort();
    assert.deepEqual(
      run,
      allFlagged
        .filter((k) => takenBy(k, 'run'))
        .map((k) => specOf(k).flag!)
        .sort(),
    );
    assert.ok(!run.includes('no-supervise') && !run.includes('reopen-signal') && run.includes('exit-map') && run.includes('forward'));
    assert.ok(!Object.keys(startArgsOptions()).includes('exit-map'));
    assert.ok(startOptionsHelp('run').includes('--subreaper') && !startOptionsHelp().includes('--subreaper'));
  });

  test('each flag is its key in kebab-case (--no-supervise turns supervise off)', () => {
    for (const key of flagged) {
      const spec = specOf(key);
      const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      assert.equal(spec.flag, spec.negated ? `no-${kebab}` : kebab, key);
    }
  });

  test("parseArgs' config has exactly the table's flags, with their types", () => {
    const config = startArgsOptions();
    assert.deepEqual(Object.keys(config).sort(), flagged.map((k) => specOf(k).flag!).sort());
    for (const key of flagged) {
      const spec = specOf(key);
      assert.deepEqual(config[spec.flag!], spec.type === 'repeatable' ? { type: 'string', multiple: true } : { type: spec.type }, key);
    }
  });

  test("start's help has one line for each flag, none other, each with its default", () => {
    const help = startOptionsHelp();
    const listed = [...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    assert.deepEqual([...listed].sort(), flagged.map((k) => specOf(k).flag!).sort());
    for (const key of flagged) {
      const spec = specOf(key);
      assert.ok(spec.help.length > 0, key);
      if (typeof spec.default === 'string')
        assert.ok(spec.help.includes(spec.default), `${key}: its help does not say its default ${spec.default}`);
    }
    // The supervised ones under the heading, the others before it.
    const heading = help.indexOf('Supervision (');
    for (const key of flagged) {
      // Not \b: --ready is a prefix of --ready-timeout.
      const at = help.search(new RegExp(`^ {2}--${specOf(key).flag}(?![\\w-])`, 'm'));
      assert.equal(at > heading, specOf(key).mode === 'supervised', key);
    }
  });

  test('the library takes the options marked for it, start takes them all', () => {
    const forLibrary = OPTION_KEYS.filter((k) => (specOf(k).takers as readonly string[]).includes('library'));
    assert.deepEqual(Object.keys(DAEMON_OPTION_KEYS).sort(), [...forLibrary].sort());
    assert.deepEqual(Object.keys(START_OPTION_KEYS).sort(), [...OPTION_KEYS].sort());
    assert.ok(!('workers' in DAEMON_OPTION_KEYS) && 'pidfile' in DAEMON_OPTION_KEYS);
  });

  test('the command line reaches every option with a flag under its key, and sets forceDetach', () => {
    const args: string[] = [];
    for (const key of flagged) {
      const spec = specOf(key);
      args.push(`--${spec.flag}`);
      if (spec.type !== 'boolean') args.push(`value-of-${key}`);
    }
    const { values } = parseArgs({ args, options: startArgsOptions(), strict: true });
    const input = startOptionsFrom(values as Values, ['sleep', '1']) as Record<string, unknown>;
    for (const key of flagged) {
      const spec = specOf(key);
      const expected = spec.type === 'string' ? `value-of-${key}` : spec.type === 'repeatable' ? [`value-of-${key}`] : !spec.negated;
      assert.deepEqual(input[key], expected, key);
    }
    assert.equal(input.forceDetach, true);
    assert.deepEqual(input.command, ['sleep', '1']);
    assert.deepEqual(
      Object.keys(input).filter((k) => !Object.hasOwn(START_OPTION_KEYS, k)),
      [],
    );
    // Nothing given: the switches are off (supervise on), the rest absent.
    const none = startOptionsFrom({}, undefined) as Record<string, unknown>;
    assert.deepEqual([none.supervise, none.clearEnv, none.logTime, none.umask], [true, false, false, undefined]);
  });

  test('a supervised option with --no-supervise, or --reopen-signal without it, is one line naming the flag', () => {
    for (const key of flagged) {
      const spec = specOf(key);
      const values = { [spec.flag!]: spec.type === 'boolean' ? true : 'x' };
      const refused = modeConflict(values, spec.mode === 'unsupervised');
      if (spec.mode === 'any') assert.equal(modeConflict(values, true) ?? modeConflict(values, false), null, key);
      else assert.ok(refused?.message.startsWith(`conflicting options: --${spec.flag} `), key);
    }
    assert.equal(modeConflict({ workers: '2' }, false)?.message, 'conflicting options: --workers needs the supervisor, not --no-supervise');
    assert.equal(
      modeConflict({ 'reopen-signal': 'USR1' }, true)?.message,
      'conflicting options: --reopen-signal is for --no-supervise (the supervisor reopens the logs itself)',
    );
    assert.equal(OPTIONS.supervise.flag, 'no-supervise');
  });
});

describe('readiness that the start could never wait for', () => {
  const refused = (input: StartOptions, flag: string, value: string, why: RegExp) =>
    assert.throws(
      () => norm(input, 'cli'),
      (e: unknown) => e instanceof UsageError && e.option === flag && e.value === value && why.test(e.message),
    );

  test('alive longer than --ready-timeout is refused, naming the option given and its value', () => {
    refused(
      { startSecs: 5, readyTimeout: 1 },
      '--start-secs',
      '5',
      /^invalid --start-secs '5': ready only once alive 5s, not within --ready-timeout 1s$/,
    );
    refused({ ready: 'alive:3', readyTimeout: 2 }, '--ready', 'alive:3', /not within --ready-timeout 2s$/);
    refused({ startSecs: 40 }, '--start-secs', '40', /not within --ready-timeout 30s$/);
    refused({ readyTimeout: 0.1 }, '--ready-timeout', '0.1', /alive 0\.2s \(--start-secs's default\)/);
  });

  test("daemonize()'s options (no command: its readiness is its own ready() call) are not held to it", () => {
    const o = normalize({ pidfile: join(box.dir, 'x.pid'), readyTimeout: 0.1 }, 'library', callerEnv, box.dir);
    assert.equal(o.readyTimeoutMs, 100);
  });

  test('alive within it, or another readiness, is fine', () => {
    assert.equal(norm({ startSecs: 0.5, readyTimeout: 1 }).startMs, 500);
    assert.equal(norm({ ready: 'notify', readyTimeout: 0.1 }).readyTimeoutMs, 100);
  });
});

test('--health-interval, --health-timeout and --health-failures without --health are refused, not ignored', () => {
  for (const [key, flag, value] of [
    ['healthInterval', '--health-interval', '2s'],
    ['healthTimeout', '--health-timeout', '1s'],
    ['healthFailures', '--health-failures', '5'],
  ] as const) {
    assert.throws(
      () => norm({ [key]: value }, 'cli'),
      (e: unknown) => e instanceof UsageError && e.option === flag && e.message === `conflicting options: ${flag} needs --health`,
    );
  }
});

test('--forward refuses a real-time signal (Node cannot catch one, so run would die of it), naming it', () => {
  for (const word of ['34', 'RTMIN', 'SIGRTMIN+2', '64']) {
    assert.throws(
      () => norm({ forward: [word] } as StartOptions, 'cli'),
      (e: unknown) => e instanceof UsageError && e.option === '--forward' && /real-time/.test(e.message),
      word,
    );
  }
});
