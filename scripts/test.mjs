#!/usr/bin/env node
// `npm test`: build what is stale, type-check, then run every test (or the given test files) with node --test.
import { execFileSync, spawnSync } from 'node:child_process';
import { buildWasm, buildDist, buildTests, filesUnder } from './build.mjs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const run = (args) => execFileSync(node, args, { cwd: root, stdio: 'inherit' });

// `npm test -- test/assembly/umask.test.ts` builds and runs just that file.
const picked = process.argv.slice(2).map((f) => resolve(root, f));
buildWasm();
await buildDist();
await buildTests(picked);
if (!process.env.DAEMONKIT_SKIP_TYPECHECK) run([join(root, 'node_modules', '.bin', 'tsc'), '--noEmit', '-p', 'tsconfig.json']);

// The bundles of the tests that exist in test/: build/test may still hold the bundle of a test deleted since.
const bundleOf = (f) => f.replace(join(root, 'test'), join(root, 'build', 'test')).replace(/\.ts$/, '.js');
const files = (picked.length ? picked : filesUnder(join(root, 'test'), '.test.ts').sort()).map(bundleOf);
const r = spawnSync(node, ['--enable-source-maps', '--test', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
