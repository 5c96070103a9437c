#!/usr/bin/env node
// Builds what is stale: the wasm planner (asc), the bundles in dist/ (esbuild), the library's types (tsc), the test bundles.
// Usage: node scripts/build.mjs [wasm|dist|types|tests ...]   (no argument: all of them)
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const wanted = new Set(process.argv.slice(2));
const all = wanted.size === 0;

export function filesUnder(dir, suffix) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p, suffix));
    else if (entry.name.endsWith(suffix)) out.push(p);
  }
  return out;
}

const newest = (files) => Math.max(0, ...files.map((f) => statSync(f).mtimeMs));
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : -1);

export const esbuildCommon = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
};

export function buildWasm({ force = false } = {}) {
  const out = join(root, 'build', 'planner.wasm');
  const sources = [...filesUnder(join(root, 'assembly'), '.ts'), join(root, 'asconfig.json')];
  if (!force && mtime(out) >= newest(sources)) return false;
  execFileSync(process.execPath, [bin('asc'), 'assembly/index.ts', '--config', 'asconfig.json', '--target', 'release'], {
    cwd: root,
    stdio: 'inherit',
  });
  makeBindingsSync();
  return true;
}

/**
 * asc's raw bindings instantiate with `await`, which forces top-level await and so an ESM bundle with its slower loader.
 * The module is small enough to compile synchronously: rewrite the one awaited line (and its type).
 */
function makeBindingsSync() {
  const rewrite = (file, from, to) => {
    const path = join(root, 'build', file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) throw new Error(`build: ${file} from this asc version no longer contains: ${from}`);
    writeFileSync(path, text.replace(from, to));
  };
  rewrite(
    'planner.js',
    'export async function instantiate(module, imports = {}) {\n  const { exports } = await WebAssembly.instantiate(module, imports);',
    'export function instantiate(module, imports = {}) {\n  const { exports } = new WebAssembly.Instance(module, imports);',
  );
  rewrite('planner.d.ts', '}): Promise<typeof __AdaptedExports>;', '}): typeof __AdaptedExports;');
  if (/\bawait\b/.test(readFileSync(join(root, 'build', 'planner.js'), 'utf8'))) throw new Error('build: planner.js still awaits');
}

export async function buildDist() {
  const esbuild = await import('esbuild');
  // dist/NAME.js from each entry. The processes: the CLI (after `early`, its session's spawn), the two processes the
  // original spawns, and the supervisor runtime `daemonkit run` requires (so the CLI's other commands do not compile it);
  // and `errors`, built alone here because the library's bundles require it instead of carrying it.
  const processes = {
    cli: 'cli/main.ts',
    early: 'cli/early-start.ts',
    foreground: 'supervisor/foreground.ts',
    intermediate: 'intermediate/main.ts',
    supervisor: 'supervisor/main.ts',
    errors: 'errors.ts',
  };
  // What users import: the library's entry, its implementation (required on first call), daemonkit/testing. They share
  // dist/errors.js, so an error from one is an instance of the class exported by the other.
  const library = { index: 'index.ts', library: 'library.ts', testing: 'testing.ts' };
  // CommonJS: Node's CJS loader starts a bundle sooner than its ESM loader, twice per start (RELIABILITY.md).
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'package.json'), '{ "type": "commonjs" }\n');
  copyFileSync(join(root, 'build', 'planner.wasm'), join(root, 'dist', 'planner.wasm'));
  // Each bundle is built as a body, the function Node's CJS loader would wrap it in; a generated entry runs it with V8's
  // code cache, or, for the small ones (PLAIN), the body becomes the file itself. Strict, as the ES modules it comes from.
  const bodies = (entries) => Object.fromEntries(Object.entries(entries).map(([name, file]) => [`${name}.body`, join(root, 'src', file)]));
  const options = {
    ...esbuildCommon,
    format: 'cjs',
    // `daemonkit --version` says which package was built (src/cli/main.ts falls back to 'dev' when run unbundled).
    // The bundle's own directory (src/core/dist-path.ts): planner.wasm is copied beside it below.
    define: { 'import.meta.url': '__importMeta.url', __VERSION__: JSON.stringify(packageVersion()), __BUNDLE_DIR__: '__dirname' },
    outdir: join(root, 'dist'),
    minifySyntax: true,
    // import.meta.url on first use: node:url's pathToFileURL costs each bundle's load otherwise.
    banner: {
      js: `(function (${CJS_PARAMS}) {"use strict";const __importMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };`,
    },
    footer: { js: '})' },
  };
  await esbuild.build({ ...options, entryPoints: bodies(processes) });
  await esbuild.build({ ...options, entryPoints: bodies(library), plugins: [sharedFiles()] });
  for (const file of filesUnder(join(root, 'dist'), '.js')) asciiOnly(file);
  // The Node flags each role runs under, which its cache must be made under too.
  const supervisorFlags = await supervisorNodeFlags(esbuild);
  const flagsOf = (name) => (name === 'supervisor' ? supervisorFlags : []);
  for (const name of [...Object.keys(processes), ...Object.keys(library)]) {
    if (PLAIN.includes(name)) {
      unwrapBody(name);
      continue;
    }
    // A library entry's is written again below with its export names, which are read from this one.
    writeFileSync(join(root, 'dist', `${name}.js`), codeCacheEntry(name));
    makeCodeCache(name, flagsOf(name), name === 'cli' ? CLI_TRAINING : null);
  }
  for (const name of Object.keys(TRAINING_STARTS)) trainCodeCache(name, flagsOf(name));
  for (const name of LIBRARY_ENTRIES) {
    const names = exportNames(name);
    if (!PLAIN.includes(name)) writeFileSync(join(root, 'dist', `${name}.js`), codeCacheEntry(name, names));
    writeEsmEntry(name, names);
  }
}

/**
 * The small bundles, run as plain CommonJS files: for these the code cache's loader (node:vm, two more reads) costs
 * more than compiling them. early is required by dist/cli.js before the CLI's body; index is the library's entry.
 */
const PLAIN = ['early', 'errors', 'index'];

/**
 * esbuild escapes non-ASCII in strings but keeps it in comments, and one character above U+00FF there makes V8 hold
 * the whole source as a two-byte string, twice its size in every process for its life: escape what is left (in a
 * comment, an escape is just text).
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}

/** dist/NAME.body.js, the function's body, becomes dist/NAME.js: the same code with Node's own CommonJS wrapper. */
function unwrapBody(name) {
  const bodyFile = join(root, 'dist', `${name}.body.js`);
  const text = readFileSync(bodyFile, 'utf8');
  const start = `(function (${CJS_PARAMS}) {`;
  const end = text.lastIndexOf('})');
  if (!text.startsWith(start) || end < 0) throw new Error(`build: ${name}.body.js is not a wrapped body`);
  writeFileSync(join(root, 'dist', `${name}.js`), text.slice(start.length, end));
  rmSync(bodyFile);
  rmSync(join(root, 'dist', `${name}.code-cache`), { force: true });
}

/** Source files the library's bundles require from dist/ at run time instead of each carrying a copy of its own. */
const SHARED_FILES = new Map([
  [join(root, 'src', 'errors.ts'), './errors.js'],
  [join(root, 'src', 'sys', 'errors.ts'), './errors.js'],
  [join(root, 'src', 'library.ts'), './library.js'],
]);

function sharedFiles() {
  return {
    name: 'shared-files',
    setup(build) {
      build.onResolve({ filter: /\.js$/ }, (args) => {
        if (args.kind === 'entry-point' || !args.path.startsWith('.')) return undefined;
        const path = SHARED_FILES.get(join(args.resolveDir, args.path).replace(/\.js$/, '.ts'));
        return path ? { path, external: true } : undefined;
      });
    },
  };
}

/** The entries users import (the package's "." and "./testing"); the others are processes we start. */
const LIBRARY_ENTRIES = ['index', 'testing'];

const CJS_PARAMS = 'exports, require, module, __filename, __dirname';

/** What the CLI's cache is made after: a plan runs the parser, the normalizer and the wasm without side effects. */
const CLI_TRAINING = ['plan', '--name', 'code-cache', '--', 'true'];

/**
 * dist/NAME.js: compiles NAME.body.js with the code cache beside it and runs it as this module. V8 checks the cache
 * (its version, flags, the source's length) and compiles from source when it does not fit: a missing or stale cache
 * costs time, never correctness. The cache is as trusted as the body: both are written by this build, into dist/.
 */
function codeCacheEntry(name, names = []) {
  return `#!/usr/bin/env node
// Generated by scripts/build.mjs: runs ${name}.body.js with the V8 code cache made for it (docs/DESIGN.md, "Start-up").
'use strict';
${name === 'cli' ? "// `start` spawns its session first thing, before the CLI's body is even compiled (src/cli/early-start.ts).\nrequire('./early.js');\n" : ''}const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
const body = \`\${__dirname}/${name}.body.js\`;
let cachedData;
try {
  cachedData = readFileSync(\`\${__dirname}/${name}.code-cache\`);
} catch {
  cachedData = undefined;
}
new Script(readFileSync(body, 'utf8'), { filename: body, cachedData }).runInThisContext()(${CJS_PARAMS});
${names.length ? `// The names, for Node's import of this file (cjs-module-lexer reads this line; it never runs).\n0 && (module.exports = { ${names.join(', ')} });\n` : ''}`;
}

/**
 * dist/NAME.code-cache, made by a Node with the flags NAME runs under. With `training`, after the body's synchronous
 * part has run with those arguments (the functions it compiled lazily join the cache); else right after compiling.
 */
function makeCodeCache(name, flags, training) {
  const maker = `
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const [dir, name, training] = process.argv.slice(1);
const body = dir + '/' + name + '.body.js';
const script = new Script(readFileSync(body, 'utf8'), { filename: body });
const run = script.runInThisContext();
if (training) {
  process.argv = [process.argv[0], dir + '/' + name + '.js', ...JSON.parse(training)];
  const module = { exports: {} };
  run(module.exports, require('node:module').createRequire(body), module, dir + '/' + name + '.js', dir);
}
writeFileSync(dir + '/' + name + '.code-cache', script.createCachedData());
process.exit(0);
`;
  const args = [...flags, '-e', maker, join(root, 'dist'), name, ...(training ? [JSON.stringify(training)] : [])];
  execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** How long into a training process's life its cache is written: a supervisor is idle then, an intermediate waits. */
const TRAIN_AFTER_MS = 1500;
/** The longest any one command of a training run may take, and the wait for its cache. */
const TRAIN_WAIT_MS = 10_000;
/** The program of a training start: bounded, so a run the build lost track of ends by itself. */
const TRAINING_PROGRAM = ['/bin/sleep', '30'];
/** The same, saying READY=1 first on the notify socket it inherits (DAEMONKIT_NOTIFY_FD is "FD:INODE"). */
const NOTIFYING_PROGRAM = ['/bin/sh', '-c', `printf READY=1 >&"\${DAEMONKIT_NOTIFY_FD%%:*}" && exec ${TRAINING_PROGRAM.join(' ')}`];
/**
 * The starts each role is trained on, one after another, and when its cache is written: `later` (TRAIN_AFTER_MS in)
 * or `output` (as the CLI prints its verdict: it _exits right after). The supervisor's: ready when alive (the timer's
 * path), then on READY=1 (the notify socket's). The intermediate lives until its daemon has been alive --start-secs,
 * then reports and _exits: 2 s keeps it waiting when its cache is written.
 */
const TRAINING_STARTS = {
  supervisor: {
    starts: [
      ['--start-secs', '0', '--', ...TRAINING_PROGRAM],
      ['--ready', 'notify', '--', ...NOTIFYING_PROGRAM],
    ],
    when: 'later',
  },
  intermediate: { starts: [['--no-supervise', '--start-secs', '2', '--', ...TRAINING_PROGRAM]], when: 'later' },
  cli: { starts: [['--', ...TRAINING_PROGRAM]], when: 'output' },
};

/**
 * dist/NAME.code-cache again, from processes that have really started a service: a cache made right after compiling
 * holds only what V8 compiles eagerly, and a start then compiles the rest lazily on its critical path
 * (bench/RESULTS.md, start). The runs happen in a copy of dist/ under build/ whose loader writes the cache when
 * TRAINING_STARTS says, so dist/ itself never holds a training loader, even after an interrupted build. Each run loads
 * the cache the one before made: V8 keeps what it loaded and adds what this run compiles. The cache is installed only
 * if V8 accepts it for dist/'s body under the role's flags; anything failing keeps the eager cache.
 */
function trainCodeCache(name, flags) {
  const dist = join(root, 'dist');
  // Under the repository, so the copy finds koffi in node_modules as dist/ does.
  const copy = join(root, 'build', `train-${name}`);
  rmSync(copy, { recursive: true, force: true });
  // Named for this build only: a training process an interrupted build left behind writes elsewhere.
  const stamp = `${process.pid}-${Date.now()}`;
  const home = join(copy, 'home');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', DAEMONKIT_HOME: home };
  const cli = (...args) =>
    execFileSync(process.execPath, [join(copy, 'cli.js'), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: TRAIN_WAIT_MS });
  const { starts, when } = TRAINING_STARTS[name];
  // The last round's cache written: a later round that fails still leaves the rounds before it.
  let last = null;
  let rounds = 0;
  let failure = null;
  try {
    cpSync(dist, copy, { recursive: true });
    mkdirSync(home);
    for (const [round, args] of starts.entries()) {
      if (last) {
        stopTraining(cli, home);
        copyFileSync(last, join(copy, `${name}.code-cache`));
      }
      const trained = join(copy, `${name}.code-cache.${stamp}-${round}.trained`);
      writeFileSync(join(copy, `${name}.js`), trainingLoader(name, trained, when));
      cli('start', '--name', 'code-cache', ...args);
      // A status request as well: a supervisor's control server is compiled before its cache is written.
      cli('status', 'code-cache');
      const until = Date.now() + TRAIN_WAIT_MS;
      while (!existsSync(trained) && Date.now() < until) execFileSync('sleep', ['0.1']);
      if (!existsSync(trained)) throw new Error(`no cache within ${TRAIN_WAIT_MS / 1000}s`);
      [last, rounds] = [trained, round + 1];
    }
  } catch (e) {
    failure = e;
  }
  try {
    if (!last) throw failure;
    if (failure) console.warn(`build: ${name}.code-cache keeps ${rounds} of ${starts.length} training starts: ${failureText(failure)}`);
    if (cacheRejected(join(dist, `${name}.body.js`), last, flags)) throw new Error("V8 rejects it for dist's body");
    copyFileSync(last, join(dist, `${name}.code-cache`));
  } catch (e) {
    console.warn(`build: ${name}.code-cache stays untrained: ${failureText(e)}`);
  } finally {
    stopTraining(cli, home);
    rmSync(copy, { recursive: true, force: true });
  }
}

/** NAME's loader, writing its cache to `trained` when `when` says ('wx': the first only; status and stop print too). */
function trainingLoader(name, trained, when) {
  const write = `require('node:fs').writeFileSync(${JSON.stringify(trained)}, script.createCachedData(), { flag: 'wx' })`;
  const hook =
    when === 'later'
      ? `setTimeout(() => { try { ${write}; } catch {} }, ${TRAIN_AFTER_MS}).unref();`
      : `{ const fs = require('node:fs'); const writeSync = fs.writeSync; fs.writeSync = function (fd, ...rest) { if (fd === 1) { fs.writeSync = writeSync; try { ${write}; } catch {} } return writeSync.call(this, fd, ...rest); }; }`;
  const loader = codeCacheEntry(name);
  const training = loader.replace(
    /^new Script\((.*)\)\.runInThisContext\(\)\((.*)\);$/m,
    (_, script, params) => `const script = new Script(${script});\n${hook}\nscript.runInThisContext()(${params});`,
  );
  if (training === loader) throw new Error('the loader has no line to train');
  return training;
}

/** Stops the training service, if it got as far as a PID file; `stop` proves the PID before it signals. */
function stopTraining(cli, home) {
  if (!existsSync(join(home, 'code-cache.pid'))) return;
  try {
    cli('stop', 'code-cache');
  } catch (e) {
    console.warn(`build: could not stop the training service: ${failureText(e)}`);
  }
}

/** A failed command's own words (its stderr), else the error's. */
const failureText = (e) => e.stderr?.toString().trim() || e.message;

/** Whether V8 rejects `cache` for `body` in a Node started with `flags` (its version, flags and source must fit). */
function cacheRejected(body, cache, flags) {
  const probe = `const { readFileSync } = require('node:fs');
const s = new (require('node:vm').Script)(readFileSync(${JSON.stringify(body)}, 'utf8'), { filename: ${JSON.stringify(body)}, cachedData: readFileSync(${JSON.stringify(cache)}) });
process.stdout.write(String(s.cachedDataRejected));`;
  return execFileSync(process.execPath, [...flags, '-e', probe], { encoding: 'utf8' }) !== 'false';
}

/** The supervisor's Node flags, from src/core/node-flags.ts: its cache must be made under the same ones. */
async function supervisorNodeFlags(esbuild) {
  const out = await esbuild.build({ ...esbuildCommon, entryPoints: [join(root, 'src', 'core', 'node-flags.ts')], write: false });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
  return mod.SUPERVISOR_NODE_FLAGS;
}

/**
 * dist/NAME.mjs, the package's `import` entry: an ES module that requires the CommonJS entry and re-exports its names,
 * so Node's ESM loader neither translates nor lexes CommonJS at each import (bench/RESULTS.md, load).
 */
function writeEsmEntry(name, names) {
  writeFileSync(
    join(root, 'dist', `${name}.mjs`),
    `// Generated by scripts/build.mjs: the ES module entry over ${name}.js (one instance of the library for both).\n` +
      `import { createRequire } from 'node:module';\n\nconst lib = createRequire(import.meta.url)('./${name}.js');\n` +
      `export default lib;\nexport const { ${names.join(', ')} } = lib;\n`,
  );
}

function exportNames(name) {
  const path = join(root, 'dist', `${name}.js`);
  const require = createRequire(import.meta.url);
  delete require.cache[path];
  return Object.keys(require(path)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default');
}

function packageVersion() {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
}

function buildTypes() {
  execFileSync(process.execPath, [bin('tsc'), '-p', 'tsconfig.types.json'], { cwd: root, stdio: 'inherit' });
  // dist/types/core/wasm.d.ts names the planner's bindings by path: ship their types beside it, or Planner reads as any.
  mkdirSync(join(root, 'dist', 'build'), { recursive: true });
  copyFileSync(join(root, 'build', 'planner.d.ts'), join(root, 'dist', 'build', 'planner.d.ts'));
}

export async function buildTests(only = []) {
  const esbuild = await import('esbuild');
  const entryPoints = only.length ? only : filesUnder(join(root, 'test'), '.test.ts');
  if (entryPoints.length === 0) return;
  mkdirSync(join(root, 'build', 'test'), { recursive: true });
  await esbuild.build({
    ...esbuildCommon,
    entryPoints,
    outbase: join(root, 'test'),
    outdir: join(root, 'build', 'test'),
    define: { __BUNDLE_DIR__: JSON.stringify(join(root, 'build')) },
    sourcemap: 'inline',
  });
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) await main();

async function main() {
  if (all || wanted.has('wasm')) buildWasm();
  if (all || wanted.has('dist')) await buildDist();
  if (all || wanted.has('types')) buildTypes();
  if (all || wanted.has('tests')) await buildTests();
  if (!all)
    for (const w of wanted)
      if (!['wasm', 'dist', 'types', 'tests'].includes(w)) {
        console.error(`build: unknown part '${w}' (expected wasm, dist, types or tests)`);
        process.exit(2);
      }
}
