// `daemonkit --version`: the version of the package that was built, as package.json states it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/run.js';
import { repoRoot } from '../helpers/paths.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

test('--version and -V print "daemonkit VERSION" from package.json and exit 0', async () => {
  assert.match(version, /^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `daemonkit ${version}\n`);
    assert.equal(r.stderr, '');
  }
});
