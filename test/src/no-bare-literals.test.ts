// Outside src/sys/, no signal number, wait flag, open flag or stop delay is written as a bare number (docs/DESIGN.md, "Conventions").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2 } from '../../src/sys/signal.js';
import { WNOHANG } from '../../src/sys/wait.js';
import { O_CLOEXEC } from '../../src/sys/fcntl.js';

// A call's argument list, allowing one level of nested parentheses: kill(pids.get(i), 9).
const ARGS = String.raw`\(((?:[^()]|\([^()]*\))*)\)`;
const SIGNALLING_CALL = new RegExp(String.raw`\b(?:[\w.#]*[kK]ill\w*|[\w.#]*[sS]ignal\w*)\s*` + ARGS, 'g');
const WAIT_CALL = new RegExp(String.raw`\bwaitpid(?:Async)?\s*` + ARGS, 'g');
// A stop schedule spelled out, 'TERM/10/KILL/5' or "TERM/forever".
const SCHEDULE_STRING = /(['"`])(?:SIG)?[A-Z][A-Z0-9]*\/(?:\d+|forever)(?:\/(?:SIG)?[A-Z][A-Z0-9]*\/(?:\d+|forever))*\1/;
// Lines that send a signal, walk a stop schedule or wait on a process's pidfd: a long number there is a stop delay.
const STOP_CONTEXT = /\b(?:[\w.#]*[kK]ill\w*|\w*[sS]ignal\w*|schedule\w*|waitReadable)\s*[(:,)\]]|\bschedule\b/;
const MILLISECONDS = /\b\d{1,3}(?:_\d{3})+\b|\b\d{4,}\b/g;

/** The rules, each a name and a test of one line of code (comments already removed). */
const RULES: { name: string; hit: (code: string, raw: string) => boolean }[] = [
  {
    name: 'signal number passed to a signalling call',
    hit: (code) => [...code.matchAll(SIGNALLING_CALL)].some((m) => m[1]!.split(',').some((a) => /^\s*[1-9]\d*\s*$/.test(a))),
  },
  { name: 'wait flag as a number', hit: (code) => [...code.matchAll(WAIT_CALL)].some((m) => /,\s*\d+\s*$/.test(m[1]!)) },
  { name: 'number named only by a comment', hit: (_, raw) => /\b\d+\s*\/\*\s*(?:SIG[A-Z0-9]+|W[A-Z]+|O_[A-Z]+)\s*\*\//.test(raw) },
  {
    name: 'signal compared or assigned as a number',
    hit: (code) => /\b(?:signal|sig|signo|signum)\s*(?::|===?|!==?)\s*[1-9]\d*\b/.test(code),
  },
  {
    name: 'libc constant redefined outside src/sys/',
    hit: (code) => /\bconst\s+(?:SIG[A-Z0-9]+|WNOHANG|WUNTRACED|WCONTINUED|O_[A-Z]+)\s*=\s*\d/.test(code),
  },
  { name: 'O_CLOEXEC as a number', hit: (code) => /\b0o2000000\b|\b524288\b|\b0x80000\b/.test(code) },
  // A named constant may hold the default schedule; every other use goes through its name.
  {
    name: 'stop schedule as a string literal',
    hit: (code) => SCHEDULE_STRING.test(code) && !/\bconst\s+[A-Z][A-Z0-9_]*\s*(?::[^=]+)?=/.test(code),
  },
  {
    name: 'stop delay as a number',
    // 1000 alone is the unit (milliseconds a second), not a delay.
    hit: (code) => STOP_CONTEXT.test(code) && [...stripStrings(code).matchAll(MILLISECONDS)].some((m) => m[0] !== '1000'),
  },
];

/** Removes string and template text (keeping template ${...} code), so a number in a message is not code. */
function stripStrings(code: string): string {
  return code
    .replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''")
    .replace(/`(?:[^`\\$]|\\.|\$(?!\{))*`/g, '``')
    .replace(/`[^`]*`/g, (t) => [...t.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]).join(' '));
}

/** A line without its comment: whole-line // and JSDoc lines are dropped, a trailing // comment is cut. */
function codeOf(line: string): string {
  const t = line.trim();
  if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) return '';
  return line.replace(/\s\/\/\s.*$/, '');
}

export interface Offence {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** Every rule one source text breaks, line by line. */
export function offences(file: string, source: string): Offence[] {
  const found: Offence[] = [];
  source.split('\n').forEach((raw, i) => {
    const code = codeOf(raw);
    for (const rule of RULES)
      if (rule.hit(code, code === '' ? '' : raw)) found.push({ file, line: i + 1, rule: rule.name, text: raw.trim() });
  });
  return found;
}

/** The TypeScript files of src/ outside src/sys/, the only layer that may spell a libc number. */
function sourceFiles(): string[] {
  const src = join(repoRoot, 'src');
  return (readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.startsWith(`sys/`))
    .map((f) => join(src, f))
    .sort();
}

describe('the checker', () => {
  test('flags each kind of bare literal', () => {
    const bad: [string, string][] = [
      ['kill(daemonPid, 9);', 'signal number passed to a signalling call'],
      ['killGroup(pgid, 15)', 'signal number passed to a signalling call'],
      ['process.kill(pids.get(i), 15)', 'signal number passed to a signalling call'],
      ['pidfdSendSignal(fd, 9)', 'signal number passed to a signalling call'],
      ['r = waitpid(pid, 1);', 'wait flag as a number'],
      ['await waitpidAsync(pid, 1)', 'wait flag as a number'],
      ['x = f(pid, 1 /* WNOHANG */);', 'number named only by a comment'],
      ['const s = { signal: 9 };', 'signal compared or assigned as a number'],
      ['if (sig === 15) stop();', 'signal compared or assigned as a number'],
      ['const SIGKILL = 9;', 'libc constant redefined outside src/sys/'],
      ['const flags = O_WRONLY | 0o2000000;', 'O_CLOEXEC as a number'],
      ["parseStopSchedule('--retry', input.retry ?? 'TERM/10/KILL/5')", 'stop schedule as a string literal'],
      ['setTimeout(() => kill(pid, SIGKILL), 3000).unref();', 'stop delay as a number'],
      ['total += schedule[i]! < 0 ? 3_600_000 : schedule[i]!;', 'stop delay as a number'],
      ['if (await waitReadable(held.pidfd, 5000)) return;', 'stop delay as a number'],
    ];
    for (const [line, rule] of bad) {
      assert.ok(
        offences('x.ts', line).some((o) => o.rule === rule),
        `${line} should break "${rule}"`,
      );
    }
  });

  test('passes named constants, comments, messages and unit conversions', () => {
    const good = [
      'kill(daemonPid, SIGKILL);',
      'process.kill(pid, 0); // is it alive',
      'gone = waitpid(this.#pid, WNOHANG) !== null;',
      "const DEFAULT_STOP_SCHEDULE = 'TERM/10/KILL/5';",
      "const DEFAULT_RETRY: string = 'TERM/10/KILL/5';",
      '// kill(pid, 9) here would hit a recycled PID',
      ' * waitpid(pid, 1) is what WNOHANG spells',
      'setTimeout(() => kill(pid, SIGKILL), KILL_AFTER_MS).unref();',
      'finish(`killed it after ${o.readyTimeoutMs / 1000 + 5}s`);',
      "log('kill: sent 9000 signals');",
      "usage: 'daemonkit stop NAME [--retry TERM/10/KILL/5]',",
      'const timer = setTimeout(tick, 5000);',
    ];
    for (const line of good) assert.deepEqual(offences('x.ts', line), [], line);
  });
});

describe('src/ outside src/sys/', () => {
  test("src/sys/ names what the rest needs, with the kernel's values", () => {
    const { signals } = constants;
    assert.deepEqual(
      { SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2 },
      {
        SIGCHLD: signals.SIGCHLD,
        SIGCONT: signals.SIGCONT,
        SIGHUP: signals.SIGHUP,
        SIGINT: signals.SIGINT,
        SIGKILL: signals.SIGKILL,
        SIGSTOP: signals.SIGSTOP,
        SIGTERM: signals.SIGTERM,
        SIGUSR1: signals.SIGUSR1,
        SIGUSR2: signals.SIGUSR2,
      },
    );
    assert.equal(WNOHANG, 1); // <sys/wait.h>
    assert.equal(O_CLOEXEC, 0o2000000); // <asm-generic/fcntl.h>
  });

  test('spells no signal, wait flag, O_CLOEXEC or stop delay as a bare number', () => {
    const files = sourceFiles();
    assert.ok(files.length > 20, `found only ${files.length} files under src/`);
    const found = files.flatMap((f) => offences(relative(repoRoot, f), readFileSync(f, 'utf8')));
    assert.deepEqual(
      found.map((o) => `${o.file}:${o.line} [${o.rule}] ${o.text}`),
      [],
      'name these with the constants src/sys/ exports (or a named constant for a delay)',
    );
  });
});
