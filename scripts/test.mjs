#!/usr/bin/env node
// `npm test`: build what is stale, type-check and check the formatting, then run every test (or the given test files) with node --test.
// examples/*.test.mjs run as they are: they import daemonkit by its own name, so they test the built package.
import { execFileSync, spawnSync } from 'node:child_process';
import { buildWasm, buildDist, buildTests, filesUnder } from './build.mjs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const run = (args) => execFileSync(node, args, { cwd: root, stdio: 'inherit' });

// `npm test -- test/assembly/umask.test.ts` builds and runs just that file.
const picked = process.argv.slice(2).map((f) => resolve(root, f));
const isExample = (f) => f.endsWith('.mjs');
buildWasm();
await buildDist();
// Only examples picked: no test bundle to build (an empty list would build them all).
const pickedTests = picked.filter((f) => !isExample(f));
if (pickedTests.length || !picked.length) await buildTests(pickedTests);
if (!process.env.DAEMONKIT_SKIP_TYPECHECK) {
  run([join(root, 'node_modules', '.bin', 'tsc'), '--noEmit', '-p', 'tsconfig.json']);
  // One formatter for the tree (.prettierrc.json); `npm run format` rewrites what this refuses.
  run([join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '--log-level', 'warn', '.']);
}

// The bundles of the tests that exist in test/: build/test may still hold the bundle of a test deleted since.
const bundleOf = (f) => (isExample(f) ? f : f.replace(join(root, 'test'), join(root, 'build', 'test')).replace(/\.ts$/, '.js'));
const all = () => [...filesUnder(join(root, 'test'), '.test.ts').sort(), ...filesUnder(join(root, 'examples'), '.test.mjs').sort()];
const files = (picked.length ? picked : all()).map(bundleOf);
const r = spawnSync(node, ['--enable-source-maps', '--test', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
