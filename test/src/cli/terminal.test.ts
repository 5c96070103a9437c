// Terminal output: pure formatting table-driven, the TTY paths with a fake stream, and one real pty through script(1).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  colorEnabled,
  formatAge,
  formatDuration,
  paint,
  printable,
  spinner,
  stateColor,
  stripAnsi,
  table,
  visibleWidth,
} from '../../../src/cli/terminal.js';
import { repoRoot } from '../../helpers/paths.js';
import { tempDir } from '../../helpers/sandbox.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stand-in for process.stdout/stderr: our own formatting is under test here, not the kernel's tty. */
function fakeStream(isTTY: boolean, columns = 80) {
  const writes: string[] = [];
  const stream = { isTTY, columns, write: (s: string) => (writes.push(String(s)), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe('colorEnabled', () => {
  const tty = fakeStream(true).stream;
  const pipe = fakeStream(false).stream;
  const cases: Array<[string, NodeJS.WriteStream, NodeJS.ProcessEnv, boolean]> = [
    ['a TTY', tty, { TERM: 'xterm-256color' }, true],
    ['a TTY without TERM', tty, {}, true],
    ['not a TTY', pipe, { TERM: 'xterm' }, false],
    ['NO_COLOR=1 on a TTY', tty, { NO_COLOR: '1' }, false],
    ['NO_COLOR=0 still means no colour (any non-empty value)', tty, { NO_COLOR: '0' }, false],
    ['NO_COLOR empty is not set', tty, { NO_COLOR: '' }, true],
    ['TERM=dumb on a TTY', tty, { TERM: 'dumb' }, false],
    ['FORCE_COLOR=1 on a pipe', pipe, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=1 with TERM=dumb', tty, { FORCE_COLOR: '1', TERM: 'dumb' }, true],
    ['NO_COLOR beats FORCE_COLOR', tty, { FORCE_COLOR: '1', NO_COLOR: '1' }, false],
    ['FORCE_COLOR=0 on a TTY', tty, { FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR empty is not set', pipe, { FORCE_COLOR: '' }, false],
  ];
  for (const [name, stream, env, want] of cases) test(name, () => assert.equal(colorEnabled(stream, env), want));
});

describe('paint and stateColor', () => {
  test('paint wraps in SGR codes only when on', () => {
    const cases: Array<[Parameters<typeof paint>[1], string]> = [
      ['green', '\x1b[32mok\x1b[39m'],
      ['red', '\x1b[31mok\x1b[39m'],
      ['yellow', '\x1b[33mok\x1b[39m'],
      ['dim', '\x1b[2mok\x1b[22m'],
      ['bold', '\x1b[1mok\x1b[22m'],
    ];
    for (const [color, want] of cases) {
      assert.equal(paint('ok', color, true), want);
      assert.equal(paint('ok', color, false), 'ok');
    }
    assert.equal(paint('', 'red', true), '');
  });

  const states: Array<[string, string]> = [
    ['running', 'green'],
    ['ready', 'green'],
    ['Running', 'green'],
    ['starting', 'yellow'],
    ['reloading', 'yellow'],
    ['backoff', 'yellow'],
    ['backoff (restart in 400ms)', 'yellow'],
    ['stopping', 'yellow'],
    ['failed', 'red'],
    ['failed: crash loop', 'red'],
    ['dead', 'red'],
    ['exited abnormally', 'red'],
    ['exited 3', 'red'],
    ['killed by SIGKILL', 'red'],
    ['stopped', 'dim'],
    ['exited', 'dim'],
    ['exited 0', 'dim'],
    ['not running', 'dim'],
    ['something new', 'yellow'],
  ];
  for (const [state, want] of states) test(`stateColor(${JSON.stringify(state)}) is ${want}`, () => assert.equal(stateColor(state), want));
});

describe('table', () => {
  test('aligned columns, two spaces apart, right alignment, no trailing spaces, no final newline', () => {
    const out = table(
      [
        ['web', 'running', '1234', ''],
        ['queue-worker', 'failed', '-', 'crash loop'],
      ],
      { header: ['NAME', 'STATE', 'PID', 'NOTE'], align: ['left', 'left', 'right', 'left'] },
    );
    assert.equal(
      out,
      ['NAME          STATE     PID  NOTE', 'web           running  1234', 'queue-worker  failed      -  crash loop'].join('\n'),
    );
  });

  test('widths ignore escape codes, so coloured cells line up with plain ones', () => {
    const plain = table([
      ['a', 'running', 'x'],
      ['bb', 'failed', 'y'],
    ]);
    const coloured = table([
      ['a', paint('running', 'green', true), 'x'],
      ['bb', paint('failed', 'red', true), 'y'],
    ]);
    assert.equal(stripAnsi(coloured), plain);
    assert.equal(plain, 'a   running  x\nbb  failed   y');
  });

  test('ragged rows, a right-aligned last column, wide characters, empty input', () => {
    assert.equal(table([['a'], ['bb', 'c']]), 'a\nbb  c');
    assert.equal(
      table(
        [
          ['x', '1'],
          ['y', '100'],
        ],
        { align: ['left', 'right'] },
      ),
      'x    1\ny  100',
    );
    assert.equal(
      table([
        ['名前', 'a'],
        ['ab', 'b'],
      ]),
      '名前  a\nab    b',
    );
    assert.equal(table([]), '');
    assert.equal(table([], { header: ['A', 'B'] }), 'A  B');
    for (const line of table([
      ['a', ''],
      ['b', ''],
    ]).split('\n'))
      assert.doesNotMatch(line, / $/);
  });

  test('visibleWidth', () => {
    const cases: Array<[string, number]> = [
      ['abc', 3],
      [paint('abc', 'bold', true), 3],
      ['\x1b]8;;https://example.com\x07link\x1b]8;;\x07', 4],
      ['e\u0301', 1],
      ['日本', 4],
      ['🚀', 2],
      ['', 0],
    ];
    for (const [text, want] of cases) assert.equal(visibleWidth(text), want, JSON.stringify(text));
  });
});

describe('formatDuration and formatAge', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: Array<[number, string]> = [
    [0, '0ms'],
    [850, '850ms'],
    [999.9, '999ms'],
    [1000, '1s'],
    [45 * s, '45s'],
    [59 * s + 999, '59s'],
    [60 * s, '1m00s'],
    [3 * m + 12 * s, '3m12s'],
    [3 * m + 5 * s, '3m05s'],
    [59 * m + 59 * s, '59m59s'],
    [h, '1h00m'],
    [2 * h + 5 * m + 59 * s, '2h05m'],
    [23 * h + 59 * m, '23h59m'],
    [d, '1d0h'],
    [3 * d + 4 * h + 59 * m, '3d4h'],
    [400 * d, '400d0h'],
    [-5, '0ms'],
    [NaN, '0ms'],
  ];
  for (const [ms, want] of cases) test(`formatDuration(${ms}) = ${want}`, () => assert.equal(formatDuration(ms), want));

  test('formatAge is the time since, and a start in the future (clock skew) is 0', () => {
    assert.equal(formatAge(1_000_000, 1_000_000 + 3 * m + 12 * s), '3m12s');
    assert.equal(formatAge(2_000, 1_000), '0ms');
    assert.match(formatAge(Date.now() - 5 * s), /^[56]s$/);
  });
});

describe('spinner', () => {
  test('not a TTY: nothing while spinning, the final line on stop', async () => {
    const { stream, writes } = fakeStream(false);
    const spin = spinner(stream, 'starting web');
    spin.update('still starting web');
    await sleep(200);
    assert.deepEqual(writes, []);
    spin.stop('web is running');
    spin.stop('twice');
    assert.deepEqual(writes, ['web is running\n']);
    const quiet = fakeStream(false);
    spinner(quiet.stream, 'x').stop();
    assert.deepEqual(quiet.writes, []);
  });

  test('a TTY: frames redrawn in place every ~80 ms, update redraws at once, stop clears the line', async () => {
    const { stream, writes } = fakeStream(true);
    const spin = spinner(stream, 'starting web');
    assert.equal(writes.length, 1, 'the first frame is drawn at once');
    await sleep(300);
    const frames = writes.length;
    assert.ok(frames >= 2 && frames <= 5, `${frames} frames in 300 ms`); // 1 at once + ~3 more; fewer on a loaded machine
    for (const w of writes) assert.match(w, /^\r\x1b\[2K. starting web$/u);
    assert.ok(new Set(writes).size > 1, 'the frame changes');
    spin.update('waiting for 2 workers');
    assert.match(writes.at(-1)!, /^\r\x1b\[2K. waiting for 2 workers$/u);
    spin.stop('web is running');
    assert.deepEqual(writes.slice(-2), ['\r\x1b[2K', 'web is running\n']);
    const n = writes.length;
    await sleep(200);
    assert.equal(writes.length, n, 'no frame after stop');
  });

  test('a TTY: text wider than the terminal is cut, so \\r can redraw it in place', () => {
    const { stream, writes } = fakeStream(true, 20);
    const spin = spinner(stream, 'x'.repeat(50));
    spin.stop();
    assert.equal(visibleWidth(writes[0]!.slice('\r\x1b[2K'.length)), 19);
    assert.ok(writes[0]!.endsWith('x…'));
    assert.equal(writes.at(-1), '\r\x1b[2K');
  });

  test('tick(): a frame for a caller that blocks the event loop, on a TTY only, none after stop', () => {
    const tty = fakeStream(true);
    const spin = spinner(tty.stream, 'waiting');
    assert.equal(spin.frameMs, 80);
    spin.tick();
    spin.tick();
    assert.equal(tty.writes.length, 3, 'the first frame, then one a tick');
    assert.notEqual(tty.writes[1], tty.writes[2], 'each tick is the next frame');
    spin.stop();
    spin.tick();
    assert.equal(tty.writes.at(-1), '\r\x1b[2K', 'no frame after stop');
    const pipe = fakeStream(false);
    const quiet = spinner(pipe.stream, 'waiting');
    assert.equal(quiet.frameMs, Infinity, 'nothing to draw: a blocking caller need not wake');
    quiet.tick();
    quiet.stop();
    assert.deepEqual(pipe.writes, []);
  });
});

describe('on a real terminal', { skip: spawnSync('sh', ['-c', 'command -v script']).status !== 0 && 'script(1) is not installed' }, () => {
  const dir = tempDir({ after }, 'daemonkit-terminal-');
  const bundle = join(dir, 'terminal.mjs');
  const child = join(dir, 'child.mjs');
  const filler = join(dir, 'filler.mjs');
  // The child runs the real module against its real stdout: bundled on the fly, since Node 20 cannot import .ts.
  execFileSync(join(repoRoot, 'node_modules', '.bin', 'esbuild'), [
    join(repoRoot, 'src', 'cli', 'terminal.ts'),
    '--bundle',
    '--format=esm',
    '--platform=node',
    `--outfile=${bundle}`,
    '--log-level=warning',
  ]);
  writeFileSync(
    filler,
    `import { writeStdio } from ${JSON.stringify(bundle)};
     // More than a pipe holds, while the reader starts late: write(2) takes what fits (Node made the pipe
     // non-blocking: EAGAIN after), and the stream the rest (it waits for room), each line whole and in turn.
     for (let i = 0; i < 40; i++) {
       writeStdio(process.stdout, String(i % 10).repeat(64 * 1024 - 1) + '\\n');
       await new Promise((resolve) => setTimeout(resolve, 10));
     }
     writeStdio(process.stdout, 'END\\n');
    `,
  );
  writeFileSync(
    child,
    `import { colorEnabled, paint, spinner } from ${JSON.stringify(bundle)};
     const on = colorEnabled(process.stdout);
     process.stdout.write(paint('running', 'green', on) + '\\n');
     const spin = spinner(process.stdout, 'waiting');
     setTimeout(() => spin.stop('done'), 200);
     // A spinner left running must not keep the process alive: this one is never stopped.
     spinner(process.stdout, 'forgotten');
    `,
  );
  const env = (extra: Record<string, string>) => {
    const e: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...extra };
    return e;
  };
  const onPty = (extra: Record<string, string> = {}) => {
    const r = spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(child)}`, '/dev/null'], {
      env: env(extra),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 5000,
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  test('colour and the spinner appear on a pty', () => {
    const out = onPty();
    assert.ok(out.includes('\x1b[32mrunning\x1b[39m'), JSON.stringify(out));
    assert.ok(out.includes('\r\x1b[2K'), 'the spinner draws on a pty');
    assert.ok(out.includes('done'));
  });

  test('NO_COLOR=1 removes the colour on the same pty', () => {
    const out = onPty({ NO_COLOR: '1' });
    assert.ok(out.includes('running'));
    assert.ok(!out.includes('\x1b[32m'), JSON.stringify(out));
  });

  test('writeStdio to a pipe nobody reads yet: every byte, in order, once the reader comes', async () => {
    const c = spawn(process.execPath, [filler], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code)));
    c.stdout.pause();
    await sleep(150);
    const chunks: Buffer[] = [];
    const ended = new Promise((resolve) => c.stdout.on('end', resolve));
    c.stdout.on('data', (d: Buffer) => chunks.push(d)).resume();
    assert.equal(await exited, 0);
    await ended;
    const lines = Buffer.concat(chunks).toString('latin1').split('\n');
    assert.equal(lines.length, 42);
    for (let i = 0; i < 40; i++) assert.ok(lines[i] === String(i % 10).repeat(64 * 1024 - 1), `line ${i}`);
    assert.deepEqual(lines.slice(40), ['END', '']);
  });

  test('through a pipe: plain lines, no escape code at all, and the process still exits', () => {
    const r = spawnSync(process.execPath, [child], { env: env({}), encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'running\ndone\n');
  });
});

test('printable: control characters shown as \\xNN, tabs and newlines kept (escaped too on one line), text untouched', () => {
  assert.equal(printable('a\x1b[31mred\x07\r\n\tb\x7f\u009b'), 'a\\x1b[31mred\\x07\\x0d\n\tb\\x7f\\x9b');
  assert.equal(printable('one\ntwo\tthree', true), 'one\\x0atwo\\x09three');
  assert.equal(printable('plain ünïcödé ✓'), 'plain ünïcödé ✓');
});
