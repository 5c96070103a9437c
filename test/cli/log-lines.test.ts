// The log's lines as a reader sees them: a line over the cap is cut into marked whole lines, never glued to another
// worker's; --log-time stamps workers' lines, and the supervisor's own lines always carry the time.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Sandbox } from '../helpers/sandbox.js';
import { cli } from '../helpers/run.js';
import { alive, waitFor } from '../helpers/proc.js';

const box = new Sandbox();
const started: number[] = [];
afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
    await waitFor(() => !alive(pid), 5000);
  }
});
after(() => box.cleanup());
const env = box.env();

const CONTINUED = ' …[continued]';
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
const PIECE = 4096;
const PIECES = 50;
/** The long line: 200 KB that say where they are, so a misplaced piece shows. */
const longLine = Array.from({ length: PIECES }, (_, i) =>
  `<${String(i).padStart(4, '0')}>`.padEnd(PIECE, String.fromCharCode(97 + (i % 26))),
).join('');

/** Task 0 writes the long line in 4 KB pieces, task 1 writes 200 short lines, both with small pauses so they interleave. */
function script(): string {
  const path = box.path('writers.mjs');
  writeFileSync(
    path,
    `const long = ${JSON.stringify(longLine)};
const pause = () => new Promise((r) => setTimeout(r, 2));
if (process.env.DAEMONKIT_TASK_ID === '0') {
  for (let i = 0; i < long.length; i += ${PIECE}) { process.stdout.write(long.slice(i, i + ${PIECE})); await pause(); }
  process.stdout.write('\\n');
} else {
  for (let i = 0; i < 200; i++) { process.stdout.write('SHORT-' + i + ' ' + 'y'.repeat(30) + '\\n'); await pause(); }
}
process.stdout.write('done ' + process.env.DAEMONKIT_TASK_ID + '\\n');
setInterval(() => {}, 1e9);
`,
  );
  return path;
}

async function startService(name: string, extra: string[], command: string[]): Promise<{ log: string; sup: number }> {
  const r = await cli(['start', '--name', name, '--start-secs', '0.05', ...extra, '--', ...command], { env });
  assert.equal(r.code, 0, r.stderr);
  const sup = box.track(Number(/supervisor pid (\d+)/.exec(r.stdout)![1]));
  started.push(sup);
  return { log: box.path(`${name}.log`), sup };
}

test("a 200 KB line written in pieces beside another worker's 200 short lines: every line starts a line, the long one is marked and whole", async () => {
  const { log } = await startService('long', ['--workers', '2'], [process.execPath, script()]);
  assert.ok(
    await waitFor(() => /^done 0$/m.test(readFileSync(log, 'utf8')) && /^done 1$/m.test(readFileSync(log, 'utf8')), 15_000),
    'both workers finished',
  );
  const lines = readFileSync(log, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the log ends with a whole line');
  const short = lines.filter((l) => l.includes('SHORT-'));
  assert.equal(short.length, 200, 'every short line is on a line of its own');
  for (const [i, l] of short.entries())
    assert.ok(new RegExp(`^SHORT-${i} y{30}$`).test(l), `a whole short line at a line start: ${JSON.stringify(l.slice(0, 80))}`);
  const pieces = lines.filter((l) => !l.includes('SHORT-') && !/^done \d$/.test(l) && !/ daemonkit supervisor\[/.test(l));
  assert.ok(pieces.length >= 4, `the long line was cut (${pieces.length} pieces)`);
  for (const p of pieces.slice(0, -1))
    assert.ok(p.endsWith(CONTINUED), `every piece but the last says it continues: …${JSON.stringify(p.slice(-30))}`);
  assert.ok(!pieces.at(-1)!.endsWith(CONTINUED), 'the last piece ends the line');
  assert.equal(
    pieces.map((p) => (p.endsWith(CONTINUED) ? p.slice(0, -CONTINUED.length) : p)).join(''),
    longLine,
    'the pieces reassemble to the line',
  );
});

test("--log-time stamps each worker line with UTC ISO-8601; the supervisor's own lines are stamped with or without it", async () => {
  const command = ['sh', '-c', 'echo "hello $DAEMONKIT_TASK_ID"; echo "two lines"; exec sleep 1000'];
  for (const [name, extra] of [
    ['stamped', ['--log-time']],
    ['plain', []],
  ] as const) {
    const { log, sup } = await startService(name, [...extra], command);
    assert.ok(await waitFor(() => readFileSync(log, 'utf8').includes('two lines'), 5000));
    // A worker's death is one of the supervisor's own lines.
    const status = await cli(['status', name, '--json'], { env });
    const worker = (JSON.parse(status.stdout) as { workers: { pid: number }[] }).workers[0]!.pid;
    process.kill(worker, 'SIGKILL');
    assert.ok(await waitFor(() => readFileSync(log, 'utf8').includes(`(pid ${worker}) killed by SIGKILL`), 5000));
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    const own = lines.find((l) => l.includes(`(pid ${worker}) killed by SIGKILL`))!;
    assert.match(own, new RegExp(`${STAMP.source}daemonkit supervisor\\[${sup}\\]: worker 0 \\(pid ${worker}\\) killed by SIGKILL$`));
    const hello = lines.filter((l) => l.includes('hello 0'));
    const stampedLine = new RegExp(`${STAMP.source}hello 0$`);
    if (name === 'stamped') {
      assert.ok(hello.length >= 1 && hello.every((l) => stampedLine.test(l)), hello.join('\n'));
      assert.ok(lines.filter((l) => l.includes('two lines')).every((l) => new RegExp(`${STAMP.source}two lines$`).test(l)));
      const at = Date.parse(hello[0]!.slice(0, 24));
      assert.ok(Math.abs(at - Date.now()) < 60_000, `a UTC time of now: ${hello[0]}`);
    } else assert.ok(hello.length >= 1 && hello.every((l) => l === 'hello 0'), hello.join('\n'));
  }
});

test('--log-time is a start option: shown in start --help, refused with --no-supervise', async () => {
  const h = await cli(['start', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--log-time +[^\n]*\n? *[^\n]*2024-05-01T12:34:56\.789Z/);
  // Without a supervisor nobody would write the time: one line, exit 2, nothing started.
  const r = await cli(['start', '--no-supervise', '--log-time', '--name', 'nosup', '--', 'sleep', '1000'], { env });
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'daemonkit: conflicting options: --log-time needs the supervisor, which writes the log (not with --no-supervise)\n',
  );
});
