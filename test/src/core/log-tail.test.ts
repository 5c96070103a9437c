// tailLines and followFile against real files, a real writer process and the real logrotate binary.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  renameSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { followFile, followFiles, tailLines, type Following } from '../../../src/core/log-tail.js';
import { followLines } from '../../../src/core/log-lines.js';
import { sleep, waitFor } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/sandbox.js';

const root = tempDir({ after }, 'daemonkit-logtail-');
let dirs = 0;
const freshDir = (): string => {
  const d = join(root, String(dirs++));
  mkdirSync(d, { mode: 0o700 });
  return d;
};

/** waitFor, failing the test with what never came. */
async function waitUntil(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  assert.ok(await waitFor(cond, ms, 5), `timed out waiting for ${what}`);
}

/** Collects what a follower passes on, checking that every chunk is made of whole lines. */
function collector() {
  const lines: string[] = [];
  return {
    lines,
    onData(chunk: string) {
      assert.ok(chunk.endsWith('\n'), `chunk is not whole lines: ${JSON.stringify(chunk.slice(-40))}`);
      lines.push(...chunk.slice(0, -1).split('\n'));
    },
  };
}

describe('tailLines', () => {
  const dir = freshDir();
  const file = (name: string, text: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  const cases: Array<[string, string, number, string]> = [
    ['last 2 of 4, trailing newline kept', 'a\nb\nc\nd\n', 2, 'c\nd\n'],
    ['no trailing newline: the partial last line counts', 'a\nb\nc', 2, 'b\nc'],
    ['more than there are: the whole file', 'a\nb\n', 10, 'a\nb\n'],
    ['exactly as many as there are', 'a\nb\n', 2, 'a\nb\n'],
    ['one', 'a\nb\n', 1, 'b\n'],
    ['empty lines are lines', 'a\n\n\n', 2, '\n\n'],
    ['a file that is one newline', '\n', 1, '\n'],
    ['empty file', '', 3, ''],
    ['n = 0', 'a\nb\n', 0, ''],
    ['n negative', 'a\nb\n', -1, ''],
    ['n fractional rounds down', 'a\nb\nc\n', 1.9, 'c\n'],
  ];
  for (const [name, text, n, want] of cases) {
    test(name, () => assert.equal(tailLines(file(`case-${name}`, text), n), want));
  }

  test('a missing file gives an empty string', () => {
    assert.equal(tailLines(join(dir, 'nope.log'), 5), '');
    assert.equal(tailLines(join(dir, 'nope', 'deeper.log'), 5), '');
  });

  test('lines and multi-byte characters across the 64 KiB chunk boundaries', () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `${i} ${'é☃'.repeat(i % 97)} ${'x'.repeat((i * 37) % 300)}`);
    lines.push('y'.repeat(200_000)); // one line longer than several chunks
    lines.push('last');
    const text = lines.join('\n') + '\n';
    const p = file('big.log', text);
    for (const n of [1, 2, 3, 50, 1000, 2999, 5000]) {
      assert.equal(
        tailLines(p, n),
        lines
          .slice(-n)
          .map((l) => l + '\n')
          .join(''),
        `n=${n}`,
      );
    }
  });

  test('reads backwards from the end: the tail of a 4 GiB sparse file comes back at once', () => {
    const p = join(dir, 'sparse.log');
    const fd = openSync(p, 'w');
    ftruncateSync(fd, 4 * 1024 ** 3);
    closeSync(fd);
    appendFileSync(p, '\nfirst\nsecond\n');
    const t0 = performance.now();
    assert.equal(tailLines(p, 2), 'first\nsecond\n');
    // Reading 4 GiB of zeros takes seconds; a backwards read touches a few pages.
    assert.ok(performance.now() - t0 < 200, `took ${performance.now() - t0} ms`);
    unlinkSync(p);
  });
});

describe('followFile on files we change by hand', () => {
  test('from the end by default: only what is appended, whole lines only, partial line flushed on stop', async () => {
    const p = join(freshDir(), 'app.log');
    writeFileSync(p, 'old 1\nold 2\n');
    const c = collector();
    const f = followFile(p, c.onData, { pollMs: 50 });
    try {
      appendFileSync(p, 'new 1\nnew ');
      await waitUntil('new 1', () => c.lines.length === 1);
      await sleep(100);
      assert.deepEqual(c.lines, ['new 1'], 'the partial line is held back');
      appendFileSync(p, '2\nnew 3');
      await waitUntil('new 2', () => c.lines.length === 2);
    } finally {
      f.stop();
    }
    assert.deepEqual(c.lines, ['new 1', 'new 2', 'new 3']);
    appendFileSync(p, 'after stop\n');
    await sleep(100);
    assert.equal(c.lines.length, 3, 'nothing after stop()');
  });

  test('fromEnd: false gives the whole file first; UTF-8 split across writes arrives intact', async () => {
    const p = join(freshDir(), 'app.log');
    writeFileSync(p, 'one\ntwo\n');
    const c = collector();
    const f = followFile(p, c.onData, { fromEnd: false, pollMs: 50 });
    try {
      const snow = Buffer.from('snow ☃\n');
      appendFileSync(p, snow.subarray(0, 7)); // cuts the snowman's three bytes after the first
      await sleep(60);
      appendFileSync(p, snow.subarray(7));
      await waitUntil('three lines', () => c.lines.length === 3);
    } finally {
      f.stop();
    }
    assert.deepEqual(c.lines, ['one', 'two', 'snow ☃']);
  });

  test('a missing file is waited for, then read from its start (also when its directory appears later)', async () => {
    const dir = join(freshDir(), 'later');
    const p = join(dir, 'app.log');
    const c = collector();
    const f = followFile(p, c.onData, { pollMs: 30 });
    try {
      await sleep(80);
      mkdirSync(dir);
      writeFileSync(p, 'first\nsecond\n');
      await waitUntil('both lines', () => c.lines.length === 2);
    } finally {
      f.stop();
    }
    assert.deepEqual(c.lines, ['first', 'second']);
  });

  test('rename rotation: what the writer still appends to the old file is read before the new file', async () => {
    const dir = freshDir();
    const p = join(dir, 'app.log');
    writeFileSync(p, '');
    const c = collector();
    const f = followFile(p, c.onData, { pollMs: 30 });
    let fd = openSync(p, 'a');
    try {
      writeSync(fd, 'L0\nL1\n');
      renameSync(p, `${p}.1`);
      await sleep(60); // the path is missing for a while
      writeSync(fd, 'L2\n');
      writeFileSync(p, ''); // logrotate's `create`: a new, empty file
      await sleep(60);
      writeSync(fd, 'L3\nL4\n'); // the writer has not reopened yet
      await sleep(60);
      closeSync(fd);
      fd = openSync(p, 'a'); // ... now it has
      writeSync(fd, 'L5\n');
      await waitUntil('L5', () => c.lines.includes('L5'));
      // and again, with the old file deleted instead of renamed
      unlinkSync(p);
      writeSync(fd, 'L6\n');
      closeSync(fd);
      fd = openSync(p, 'a');
      writeSync(fd, 'L7\n');
      await waitUntil('L7', () => c.lines.includes('L7'));
    } finally {
      closeSync(fd);
      f.stop();
    }
    assert.deepEqual(c.lines, ['L0', 'L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7']);
  });

  test('truncation (copytruncate) restarts from the beginning', async () => {
    const p = join(freshDir(), 'app.log');
    writeFileSync(p, '');
    const c = collector();
    const f = followFile(p, c.onData, { pollMs: 30 });
    try {
      appendFileSync(p, 'a fairly long first line\nanother one\n');
      await waitUntil('two', () => c.lines.length === 2);
      truncateSync(p, 0);
      await sleep(60);
      appendFileSync(p, 'after\n');
      await waitUntil('three', () => c.lines.length === 3);
    } finally {
      f.stop();
    }
    assert.deepEqual(c.lines, ['a fairly long first line', 'another one', 'after']);
  });

  test('followFiles follows each distinct file once and says which it came from', async () => {
    const dir = freshDir();
    const out = join(dir, 'out.log');
    const err = join(dir, 'err.log');
    writeFileSync(out, '');
    writeFileSync(err, '');
    symlinkSync(out, join(dir, 'link.log'));
    const got: Array<[string, string]> = [];
    const f = followFiles([out, `${dir}/./out.log`, join(dir, 'link.log'), err, err], (chunk, path) => got.push([path, chunk]), {
      pollMs: 30,
    });
    try {
      appendFileSync(out, 'to stdout\n');
      appendFileSync(err, 'to stderr\n');
      await waitUntil('both', () => got.length >= 2);
      await sleep(100);
    } finally {
      f.stop();
    }
    assert.deepEqual(got.sort(), [
      [err, 'to stderr\n'],
      [out, 'to stdout\n'],
    ]);
  });
});

const haveLogrotate = spawnSync('sh', ['-c', 'command -v logrotate']).status === 0;

/** A writer appending `line N` N = 0..count-1 with tiny pauses, reopening its file on SIGHUP (the postrotate signal). */
function startWriter(path: string, count: number): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs');
    const [path, count] = [process.argv[1], Number(process.argv[2])];
    let fd = fs.openSync(path, 'a');
    process.on('SIGHUP', () => { fs.closeSync(fd); fd = fs.openSync(path, 'a'); });
    process.stdout.write('ready\\n');
    (async () => {
      for (let i = 0; i < count; i++) {
        fs.writeSync(fd, 'line ' + i + '\\n');
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
      }
    })();
  `;
  const child = spawn(process.execPath, ['-e', script, path, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () => resolve(child));
  });
}

function runLogrotate(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('logrotate', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

async function underLogrotate(mode: 'create' | 'copytruncate') {
  const dir = freshDir();
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const count = 20_000;
  const c = collector();
  const follower: Following = followFile(log, c.onData, { fromEnd: false });
  let writer: ChildProcess | undefined;
  let rotations = 0;
  try {
    writer = await startWriter(log, count);
    const exited = new Promise<void>((r) => writer!.once('exit', () => r()));
    let done = false;
    void exited.then(() => (done = true));
    const config = join(dir, 'logrotate.conf');
    const body =
      mode === 'create'
        ? `  create 0644\n  postrotate\n    kill -HUP ${writer.pid} 2>/dev/null || true\n  endscript\n`
        : '  copytruncate\n';
    // The kill may come after the writer finished (a rotation racing its exit): that is not an error here.
    // logrotate refuses a config that others can write to.
    writeFileSync(config, `${log} {\n  rotate 50\n  missingok\n  nocompress\n${body}}\n`, { mode: 0o644 });
    while (!done) {
      await sleep(150);
      if (done) break;
      // Not spawnSync: the follower shares this event loop and must keep reading while logrotate works.
      const r = await runLogrotate(['-f', '-s', join(dir, 'state'), config]);
      assert.equal(r.code, 0, r.stderr);
      rotations++;
    }
    await exited;
    appendFileSync(log, 'end\n');
    await waitUntil('the end line', () => c.lines.at(-1) === 'end', 4000);
  } finally {
    if (writer?.exitCode === null) writer.kill('SIGKILL');
    follower.stop();
  }
  assert.ok(rotations >= 3, `only ${rotations} rotations happened while the writer ran`);
  assert.equal(c.lines.pop(), 'end');
  return { lines: c.lines, rotations, count };
}

describe(
  'followFile under the real logrotate, with a writer appending continuously',
  { skip: !haveLogrotate && 'logrotate is not installed' },
  () => {
    test('create (rename, new file, writer reopens on postrotate): every line exactly once, in order', async (t) => {
      const { lines, rotations, count } = await underLogrotate('create');
      t.diagnostic(`${rotations} rotations, ${lines.length} lines`);
      assert.equal(lines.length, count);
      for (let i = 0; i < count; i++) if (lines[i] !== `line ${i}`) assert.fail(`line ${i} is ${JSON.stringify(lines[i])}`);
    });

    // copytruncate copies the file then truncates it; what the writer appends between the two is in neither the
    // copy nor the live file as we see it, so lines can be lost by design: only order and no duplicates are promised.
    test('copytruncate: no duplicates, in order (lines between copy and truncate may be lost)', async (t) => {
      const { lines, rotations, count } = await underLogrotate('copytruncate');
      t.diagnostic(
        `${rotations} rotations, ${lines.length} of ${count} lines seen, ${count - lines.length} lost between copy and truncate`,
      );
      let prev = -1;
      for (const l of lines) {
        const m = /^line (\d+)$/.exec(l);
        assert.ok(m, `garbled line ${JSON.stringify(l)}`);
        const n = Number(m[1]);
        assert.ok(n > prev, `line ${n} after line ${prev}`);
        prev = n;
      }
      assert.ok(lines.length > count / 2, `only ${lines.length} lines seen`);
    });
  },
);

test('followLines: the last lines and what follows them meet, with a writer appending all the while', async (t) => {
  const dir = freshDir();
  const path = join(dir, 'busy.log');
  writeFileSync(path, '');
  // A writer numbering its lines, as fast as it can, until killed.
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'a'); let i = 0; for (;;) fs.writeSync(fd, (i++) + '\\n');`,
    ],
    { stdio: 'ignore' },
  );
  t.after(() => writer.kill('SIGKILL'));
  await waitUntil('the writer', () => tailLines(path, 1) !== '');
  for (let round = 0; round < 20; round++) {
    const lines: number[] = [];
    const it = followLines([path], 2);
    const until = Date.now() + 30;
    while (Date.now() < until || lines.length < 3) lines.push(Number((await it.next()).value));
    await it.return!();
    const gap = lines.findIndex((n, i) => i > 0 && n !== lines[i - 1]! + 1);
    assert.equal(gap, -1, `round ${round}: ${lines[gap - 1]} then ${lines[gap]}`);
  }
});
