// The V8 code caches scripts/build.mjs ships in dist/: accepted by this Node under the flags each entry runs with, and
// never needed for correctness (a missing or damaged cache only costs compile time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { SUPERVISOR_NODE_FLAGS } from '../../src/core/node-flags.js';

const dist = join(repoRoot, 'dist');
const entries = readdirSync(dist)
  .filter((f) => f.endsWith('.body.js'))
  .map((f) => f.slice(0, -'.body.js'.length));
const flagsOf = (name: string) => (name === 'supervisor' ? SUPERVISOR_NODE_FLAGS : []);

/** Whether V8 rejects dist/NAME.code-cache for dist/NAME.body.js in a Node started with `flags`. */
function rejected(name: string, flags: readonly string[]): boolean {
  const probe = `
const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
const body = ${JSON.stringify(join(dist, `${name}.body.js`))};
const s = new Script(readFileSync(body, 'utf8'), { filename: body, cachedData: readFileSync(${JSON.stringify(join(dist, `${name}.code-cache`))}) });
process.stdout.write(String(s.cachedDataRejected));`;
  return execFileSync(process.execPath, [...flags, '-e', probe], { encoding: 'utf8' }) === 'true';
}

test('every entry has a code cache that this Node accepts under the flags the entry runs with', () => {
  assert.deepEqual(entries.sort(), ['cli', 'foreground', 'intermediate', 'library', 'supervisor', 'testing']);
  for (const name of entries) assert.equal(rejected(name, flagsOf(name)), false, `${name}.code-cache rejected`);
});

test('a cache made under other flags is rejected, so the check above can fail', () => {
  assert.equal(rejected('supervisor', []), true);
});

test('without its cache, or with a damaged one, an entry still runs', () => {
  const copy = mkdtempSync(join(tmpdir(), 'daemonkit-code-cache-'));
  try {
    cpSync(dist, join(copy, 'dist'), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
    const version = () => execFileSync(process.execPath, [join(copy, 'dist', 'cli.js'), '--version'], { encoding: 'utf8' });
    const expected = version();
    assert.match(expected, /^daemonkit \d/);
    writeFileSync(join(copy, 'dist', 'cli.code-cache'), Buffer.alloc(4096, 0x5a));
    assert.equal(version(), expected);
    rmSync(join(copy, 'dist', 'cli.code-cache'));
    assert.equal(version(), expected);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

/**
 * The size of a cache made from dist/NAME.body.js under `flags`: right after compiling (what V8 compiles eagerly), or
 * after the body's synchronous part ran with `argv` (as the build makes the CLI's fallback cache after a `plan`).
 */
function cacheSize(name: string, flags: readonly string[], argv?: string[]): number {
  const probe = `
const { readFileSync, writeSync } = require('node:fs');
const { Script } = require('node:vm');
const body = ${JSON.stringify(join(dist, `${name}.body.js`))};
const script = new Script(readFileSync(body, 'utf8'), { filename: body });
const argv = ${JSON.stringify(argv ?? null)};
if (argv) {
  process.argv = [process.argv[0], ${JSON.stringify(join(dist, `${name}.js`))}, ...argv];
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require('node:module').createRequire(body), module, process.argv[1], ${JSON.stringify(dist)});
}
writeSync(2, String(script.createCachedData().length));
process.exit(0);`;
  // The size on stderr: what the body ran may print on stdout.
  const r = spawnSync(process.execPath, [...flags, '-e', probe], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 20_000,
  });
  return Number(r.stderr);
}

test("the CLI's cache comes from a start, past its verdict: bigger than the one a plan makes", () => {
  const trained = statSync(join(dist, 'cli.code-cache')).size;
  const plan = cacheSize('cli', [], ['plan', '--name', 'code-cache', '--', 'true']);
  assert.ok(plan > 0, 'the probe measured something');
  assert.ok(trained > plan * 1.05, `${trained} bytes from a start, ${plan} from a plan`);
});

test("the supervisor's, the intermediate's and the CLI's caches come from a real start, and the build left nothing of it", () => {
  for (const name of ['supervisor', 'intermediate', 'cli']) {
    const trained = statSync(join(dist, `${name}.code-cache`)).size;
    const eager = cacheSize(name, flagsOf(name));
    // A start compiles tens of KB of functions lazily: a cache that holds them is much bigger than an eager one.
    assert.ok(trained > eager * 1.2, `${name}: ${trained} bytes trained, ${eager} untrained`);
    const loader = readFileSync(join(dist, `${name}.js`), 'utf8');
    assert.equal(loader.includes('createCachedData'), false, `${name}.js never held the training loader`);
  }
  // The training ran in a copy under build/, which is gone, and so is every process it started.
  assert.deepEqual(
    readdirSync(join(repoRoot, 'build')).filter((f) => f.startsWith('train-')),
    [],
  );
  const training = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(join(repoRoot, 'build', 'train-'));
      } catch {
        return false; // gone while we looked
      }
    });
  assert.deepEqual(training, []);
});
