// umask parsing, formatting and mode math in the compiled planner: tables, whole ranges, the real shell and kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planner } from '../../src/core/wasm.js';

const ALL_MASKS = Array.from({ length: 512 }, (_, m) => m);

// Written independently of the planner: `umask -S` clauses over the default 022.
function referenceSymbolic(text: string): number {
  let mask = 0o022;
  for (const clause of text.split(',')) {
    const [who, perms] = clause.split('=') as [string, string];
    let classes = 0;
    for (const c of who) classes |= c === 'u' ? 0o700 : c === 'g' ? 0o070 : c === 'o' ? 0o007 : 0o777;
    let allow = 0;
    for (const c of perms) allow |= c === 'r' ? 0o444 : c === 'w' ? 0o222 : 0o111;
    mask = (mask & ~classes) | (classes & ~allow);
  }
  return mask;
}

test('valid octal umasks', () => {
  const cases: [string, number][] = [
    ['022', 0o022],
    ['0022', 0o022],
    ['0o022', 0o022],
    ['0O022', 0o022],
    ['0o22', 0o022],
    ['777', 0o777],
    ['0777', 0o777],
    ['0o777', 0o777],
    ['0', 0],
    ['00', 0],
    ['0000', 0],
    ['0o0', 0],
    ['0o0000', 0],
    ['7', 7],
    ['077', 0o077],
    ['027', 0o027],
    ['0o0777', 0o777],
    ['1', 1],
    ['100', 0o100],
  ];
  for (const [text, mask] of cases) {
    assert.equal(planner.parseUmask(text), mask, text);
    assert.equal(planner.umaskError(text), '', text);
  }
});

test('valid symbolic umasks', () => {
  const cases: [string, number][] = [
    ['u=rwx,g=rx,o=rx', 0o022],
    ['u=rwx,g=rx,o=', 0o027],
    ['u=rwx,g=,o=', 0o077],
    ['u=,g=,o=', 0o777],
    ['a=rwx', 0],
    ['a=', 0o777],
    ['ugo=rx', 0o222],
    ['o=', 0o027],
    ['g=', 0o072],
    ['u=rx', 0o222],
    ['o=r', 0o023],
    ['g=rwx', 0o002],
    ['u=xwr', 0o022],
    ['go=', 0o077],
    ['og=r', 0o033],
    ['uu=rr', 0o322],
    ['a=r,u=rwx', 0o033],
    ['u=r,u=w', 0o522],
    ['o=rwx', 0o020],
    ['a=x', 0o666],
    ['g=w,o=x', 0o056],
  ];
  for (const [text, mask] of cases) {
    assert.equal(planner.parseUmask(text), mask, text);
    assert.equal(planner.umaskError(text), '', text);
    assert.equal(referenceSymbolic(text), mask, `reference disagrees on ${text}`);
  }
});

test('invalid umasks are rejected with a reason', () => {
  const cases: [string, string][] = [
    ['', 'empty'],
    ['9', "'9' is not an octal digit"],
    ['8', "'8' is not an octal digit"],
    ['0x12', "'x' is not an octal digit"],
    ['-1', "'-' is not an octal digit"],
    [' 022', "' ' is not an octal digit"],
    ['022 ', "' ' is not an octal digit"],
    ['02\n', 'character 10 is not an octal digit'],
    ['1000', 'out of range (at most 0777)'],
    ['0o1000', 'out of range (at most 0777)'],
    ['7777', 'out of range (at most 0777)'],
    ['00000', 'too long (at most 4 octal digits)'],
    ['0o00000', 'too long (at most 4 octal digits)'],
    ['0'.repeat(40), 'too long (at most 4 octal digits)'],
    ['1'.repeat(65), 'too long'],
    ['u=rwx,'.repeat(11), 'too long'],
    ['0o', "no digits after '0o'"],
    ['0O', "no digits after '0O'"],
    ['0o8', "'8' is not an octal digit"],
    ['0oo', "'o' is not an octal digit"],
    ['u=rwz', "'z' is not one of r, w, x in 'u=rwz'"],
    ['u=rwX', "'X' is not one of r, w, x in 'u=rwX'"],
    ['u=rws', "'s' is not one of r, w, x in 'u=rws'"],
    ['u=r=w', "'=' is not one of r, w, x in 'u=r=w'"],
    ['u=r w', "' ' is not one of r, w, x in 'u=r w'"],
    ['u=r+w', "'+' is not one of r, w, x in 'u=r+w'"],
    ['u+x', "operator '+' in 'u+x' is not supported, only '=' as umask -S prints"],
    ['go-w', "operator '-' in 'go-w' is not supported, only '=' as umask -S prints"],
    ['+x', "operator '+' in '+x' is not supported, only '=' as umask -S prints"],
    ['u=rwx,,o=', 'empty clause (stray comma)'],
    [',u=rwx', 'empty clause (stray comma)'],
    ['u=rwx,', 'empty clause (stray comma)'],
    [',', 'empty clause (stray comma)'],
    ['u', "missing '=' in 'u'"],
    ['ugo', "missing '=' in 'ugo'"],
    ['u=rwx,g', "missing '=' in 'g'"],
    ['=rx', "no class (u, g, o, a) before '=' in '=rx'"],
    ['z=rx', "'z' is not one of u, g, o, a in 'z=rx'"],
    ['uz=rx', "'z' is not one of u, g, o, a in 'uz=rx'"],
    ['U=rwx', "'U' is not one of u, g, o, a in 'U=rwx'"],
    ['u=rwx;g=rx', "';' is not one of r, w, x in 'u=rwx;g=rx'"],
    ['abc', "'b' is not one of u, g, o, a in 'abc'"],
    ['u=rwx, g=rx', "' ' is not one of u, g, o, a in ' g=rx'"],
  ];
  for (const [text, reason] of cases) {
    assert.equal(planner.parseUmask(text), -1, JSON.stringify(text));
    assert.equal(planner.umaskError(text), reason, JSON.stringify(text));
  }
});

test('every one-character input agrees between parseUmask and umaskError', () => {
  for (let c = 0; c < 0x180; c++) {
    const text = String.fromCharCode(c);
    const mask = planner.parseUmask(text);
    const reason = planner.umaskError(text);
    const octal = c >= 0x30 && c <= 0x37;
    assert.equal(mask, octal ? c - 0x30 : -1, `U+${c.toString(16)}`);
    assert.equal(reason === '', octal, `U+${c.toString(16)}: ${reason}`);
    assert.ok(!reason.includes('\n'), 'one-line reason');
  }
});

test('all 512 masks round-trip through both formats', () => {
  for (const mask of ALL_MASKS) {
    const octal = planner.formatUmaskOctal(mask);
    assert.match(octal, /^0[0-7]{3}$/);
    assert.equal(octal, '0' + mask.toString(8).padStart(3, '0'));
    assert.equal(planner.parseUmask(octal), mask, octal);
    assert.equal(planner.parseUmask(octal.slice(1)), mask);
    assert.equal(planner.parseUmask('0o' + mask.toString(8)), mask);
    assert.equal(planner.parseUmask(mask.toString(8)), mask);
    const symbolic = planner.formatUmaskSymbolic(mask);
    assert.match(symbolic, /^u=r?w?x?,g=r?w?x?,o=r?w?x?$/);
    assert.equal(planner.parseUmask(symbolic), mask, symbolic);
    assert.equal(planner.umaskError(symbolic), '', symbolic);
    assert.equal(referenceSymbolic(symbolic), mask, symbolic);
  }
});

test('formatting masks outside 0..0777 yields ""', () => {
  for (const mask of [-1, 0o1000, 0o7777, -0o1000, 0x7fffffff]) {
    assert.equal(planner.formatUmaskOctal(mask), '');
    assert.equal(planner.formatUmaskSymbolic(mask), '');
  }
});

test('four-digit octal covers exactly 0..0777', () => {
  for (let n = 0; n < 0o10000; n++) {
    const text = n.toString(8).padStart(4, '0');
    assert.equal(planner.parseUmask(text), n <= 0o777 ? n : -1, text);
    assert.equal(planner.umaskError(text), n <= 0o777 ? '' : 'out of range (at most 0777)', text);
  }
});

test('file and directory modes for all 512 masks', () => {
  for (const mask of ALL_MASKS) {
    assert.equal(planner.fileMode(mask), 0o666 & ~mask);
    assert.equal(planner.dirMode(mask), 0o777 & ~mask);
  }
  assert.equal(planner.fileMode(0o022), 0o644);
  assert.equal(planner.dirMode(0o022), 0o755);
  assert.equal(planner.fileMode(0o077), 0o600);
  assert.equal(planner.dirMode(0o027), 0o750);
});

test('the kernel creates files and directories with the computed modes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daemonkit-umask-'));
  const saved = process.umask();
  try {
    for (const mask of ALL_MASKS) {
      process.umask(mask);
      const file = join(dir, `f${mask}`);
      const sub = join(dir, `d${mask}`);
      writeFileSync(file, '', { mode: 0o666 });
      mkdirSync(sub, { mode: 0o777 });
      assert.equal(statSync(file).mode & 0o777, planner.fileMode(mask), `file under ${mask.toString(8)}`);
      assert.equal(statSync(sub).mode & 0o777, planner.dirMode(mask), `dir under ${mask.toString(8)}`);
    }
  } finally {
    process.umask(saved);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('formats match what the shell prints, and symbolic parsing matches the shell', () => {
  // One shell run prints `umask` and `umask -S` for every mask; another applies symbolic clauses over 022.
  const script = ALL_MASKS.map((m) => `umask ${m.toString(8)}; umask; umask -S`).join('\n');
  const lines = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }).trim().split('\n');
  for (const mask of ALL_MASKS) {
    assert.equal(planner.formatUmaskOctal(mask), lines[2 * mask], `umask ${mask.toString(8)}`);
    assert.equal(planner.formatUmaskSymbolic(mask), lines[2 * mask + 1], `umask -S ${mask.toString(8)}`);
  }
  const clauses = [
    'u=rwx,g=rx,o=',
    'o=',
    'g=',
    'a=',
    'a=rwx',
    'ugo=rx',
    'go=',
    'o=r',
    'u=rx,g=w',
    'a=r,u=rwx',
    'g=w,o=x',
    'uu=rr',
    'u=r,u=w',
    'u=xwr',
  ];
  const shell = execFileSync('/bin/sh', ['-c', clauses.map((c) => `umask 022; umask ${c}; umask`).join('\n')], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n');
  clauses.forEach((c, i) => assert.equal(planner.parseUmask(c), Number.parseInt(shell[i]!, 8), c));
});
