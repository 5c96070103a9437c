// Finds our own files (dist/intermediate.js, dist/supervisor.js, planner.wasm) from wherever the running bundle lives.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where our files are: the dist bundle's own directory (its __dirname), or build/ for test and bench bundles (scripts/build.mjs). */
declare const __BUNDLE_DIR__: string;

/** That directory, found without node:url (import.meta.url would load it on a start's critical path). */
export function bundleDir(): string {
  if (typeof __BUNDLE_DIR__ !== 'string') throw new Error('daemonkit: this bundle was built without __BUNDLE_DIR__ (scripts/build.mjs)');
  return __BUNDLE_DIR__;
}

export function distFile(name: string): string {
  const here = bundleDir();
  if (existsSync(join(here, name))) return join(here, name);
  // Bundled elsewhere (a test bundle): walk up to the package and use its dist/.
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', name);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`daemonkit: cannot find ${name} near ${here}; run npm run build`);
  }
}
