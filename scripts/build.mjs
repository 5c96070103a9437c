#!/usr/bin/env node
// Builds what is stale: the wasm planner (asc), the bundles in dist/ (esbuild), the library's types (tsc), the test bundles.
// Usage: node scripts/build.mjs [wasm|dist|types|tests ...]   (no argument: all of them)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
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
  loader: { '.wasm': 'binary' },
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
  // dist/NAME.js from each role's entry: the CLI, the library, the two processes the original spawns, and daemonkit/testing.
  const entryPoints = { cli: 'cli/main.ts', index: 'index.ts', intermediate: 'intermediate/main.ts', supervisor: 'supervisor/main.ts', testing: 'testing.ts' };
  for (const [name, file] of Object.entries(entryPoints)) entryPoints[name] = join(root, 'src', file);
  // CommonJS: Node's CJS loader starts a bundle sooner than its ESM loader, twice per start (RELIABILITY.md).
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'package.json'), '{ "type": "commonjs" }\n');
  await esbuild.build({
    ...esbuildCommon,
    format: 'cjs',
    // `daemonkit --version` says which package was built (src/cli/main.ts falls back to 'dev' when run unbundled).
    define: { 'import.meta.url': '__importMetaUrl', __VERSION__: JSON.stringify(packageVersion()) },
    entryPoints,
    outdir: join(root, 'dist'),
    minifySyntax: true,
    banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
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
if (!all) for (const w of wanted) if (!['wasm', 'dist', 'types', 'tests'].includes(w)) {
  console.error(`build: unknown part '${w}' (expected wasm, dist, types or tests)`);
  process.exit(2);
}
}
