// Finds our own entry files (dist/intermediate.js, dist/supervisor.js) from wherever the running bundle lives.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function distFile(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, name))) return join(here, name);
  // Bundled elsewhere (a test bundle): walk up to the package and use its dist/.
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', name);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`daemonkit: cannot find ${name} near ${here}; run npm run build`);
  }
}
