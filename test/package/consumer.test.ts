// The package as a user gets it: `npm pack`, installed into a fresh project with no registry, then imported from ESM
// and CommonJS and type-checked from a strict TypeScript consumer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'daemonkit-consumer-'));
const app = join(dir, 'app');
const node = (args: string[], cwd = app) =>
  execFileSync(process.execPath, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** The service-control functions the library exports today; the test holds each that exists to being a function. */
const CONTROL = ['start', 'stop', 'status'] as const;
let exported: string[] = [];

before(() => {
  // dist/*.js is built by `npm test`; the types are not, so they are built here (tsc, well under a second).
  node([join(repoRoot, 'scripts', 'build.mjs'), 'types'], repoRoot);
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: repoRoot, stdio: 'ignore' });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // koffi, the one dependency, and its prebuilt binary's package, from this checkout: the install needs no registry.
  for (const dep of ['koffi', '@koromix']) cpSync(join(repoRoot, 'node_modules', dep), join(app, 'node_modules', dep), { recursive: true });
  execFileSync(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--omit=dev', '--ignore-scripts', join(dir, tarball)],
    { cwd: app, stdio: 'ignore' },
  );
  exported = Object.keys(createRequire(join(app, 'package.json'))('daemonkit'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the tarball holds the bundles and the types, and nothing of the sources', () => {
  const files = readdirSync(join(app, 'node_modules', 'daemonkit'), { recursive: true }) as string[];
  for (const f of ['dist/index.js', 'dist/testing.js', 'dist/cli.js', 'dist/types/index.d.ts', 'dist/types/testing.d.ts'])
    assert.ok(files.includes(f), f);
  assert.equal(
    files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('assembly/')),
    false,
  );
});

// What each import style checks, once the import worked: that the import loaded neither the implementation nor koffi
// (Node's CommonJS cache lists every file required so far), the library's entry, that an error from daemonkit/testing
// is an instance of daemonkit's class, and a plan simulated and a model run.
const CHECKS = `
  const loaded = Object.keys(require('node:module').createRequire(__filename).cache);
  const early = loaded.filter((f) => /dist.library|koffi/.test(f)).map((f) => f.replace(/.*node_modules./, ''));
  let shared = null;
  try { testing.plan({ workers: 'lots', command: ['true'] }); } catch (e) { shared = e instanceof lib.UsageError; }
  const control = ${JSON.stringify(CONTROL)}.filter((k) => k in lib);
  const out = { early, shared, daemonize: typeof lib.daemonize, usage: new lib.UsageError('x') instanceof Error, control: control.map((k) => [k, typeof lib[k]]) };
  const p = testing.plan({ command: ['/bin/sleep', '1'], home: '/nonexistent' });
  const sim = testing.simulate(p);
  out.ok = sim.ok;
  out.leader = sim.daemons.map((d) => d.sessionLeader);
  const model = new testing.SupervisorModel();
  out.start = model.start().map((a) => a.kind);
  console.log(JSON.stringify(out));
`;

function checkOutput(text: string): void {
  const out = JSON.parse(text);
  assert.deepEqual(out.early, []);
  assert.equal(out.shared, true);
  assert.equal(out.daemonize, 'function');
  assert.equal(out.usage, true);
  assert.deepEqual(
    out.control,
    CONTROL.filter((k) => exported.includes(k)).map((k) => [k, 'function']),
  );
  assert.equal(out.ok, true);
  assert.deepEqual(out.leader, [false]);
  assert.deepEqual(out.start, ['spawn', 'arm-timer']);
}

test('ESM: import from daemonkit and daemonkit/testing', () => {
  writeFileSync(
    join(app, 'esm.mjs'),
    `import { createRequire } from 'node:module';\nimport * as lib from 'daemonkit';\nimport * as testing from 'daemonkit/testing';\nimport { daemonize, UsageError } from 'daemonkit';\nconst require = createRequire(import.meta.url);\nconst __filename = new URL(import.meta.url).pathname;\nimport { plan, simulate, SupervisorModel } from 'daemonkit/testing';\nif (![daemonize, UsageError, plan, simulate, SupervisorModel].every((f) => typeof f === 'function')) throw new Error('a named import is missing');\n${CHECKS}`,
  );
  checkOutput(node(['esm.mjs']));
});

test('CommonJS: require daemonkit and daemonkit/testing', () => {
  writeFileSync(join(app, 'cjs.cjs'), `const lib = require('daemonkit');\nconst testing = require('daemonkit/testing');\n${CHECKS}`);
  checkOutput(node(['cjs.cjs']));
});

test('TypeScript: a strict node16 consumer type-checks, and an option the library does not take is an error', () => {
  const control = CONTROL.filter((k) => exported.includes(k));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'node16',
        moduleResolution: 'node16',
        target: 'ES2022',
        noEmit: true,
        types: ['node'],
        typeRoots: [join(repoRoot, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  writeFileSync(
    join(app, 'consumer.ts'),
    `import { daemonize, UsageError${control.map((k) => `, ${k}`).join('')} } from 'daemonkit';
import { plan, planErrors, simulate, SupervisorModel, type DaemonPlan, type ModelAction, type Simulation } from 'daemonkit/testing';

export const entry: typeof daemonize = daemonize;
export const error: Error = new UsageError('bad');
${control.map((k) => `export const ${k}Fn: (...args: never[]) => unknown = ${k};`).join('\n')}
const p: DaemonPlan = plan({ command: ['/usr/bin/node', 'server.js'], pidfile: '/run/app.pid', user: 'www-data' }, { uid: 0 });
const sim: Simulation = simulate(p);
export const holds: boolean = sim.invariants.notSessionLeader && sim.daemons.every((d) => d.fds.length === 3);
export const errors: string[] = planErrors({ umask: '027' }).map((e) => e.message);
const model = new SupervisorModel({ maxRestarts: 5, restartWindow: '30s', backoffMin: '1s' });
const actions: ModelAction[] = model.start();
export const tasks: number[] = actions.flatMap((a) => (a.kind === 'spawn' ? [a.task] : []));
export const failure: string | null = model.failure;
// @ts-expect-error: pidFile is not an option (pidfile is)
plan({ pidFile: '/run/app.pid' });
// @ts-expect-error: the model takes the supervisor's options only
new SupervisorModel({ pidfile: '/run/app.pid' });
`,
  );
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', '.bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: app,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    assert.fail(`tsc failed:\n${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`);
  }
});
