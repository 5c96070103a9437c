// Loads the planner compiled from assembly/, synchronously: the module is small enough to compile at once, and no
// top-level await keeps the bundles CommonJS. Its bytes come from a file beside the bundle, not from the bundle
// itself: V8 keeps a bundle's whole source for the process's life, and a supervisor lives long.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { instantiate } from '../../build/planner.js';
import { bundleDir } from './dist-path.js';

export type Planner = ReturnType<typeof instantiate>;

/**
 * Read when the module loads, compiled on first use: a process that chroots or drops its ids in between (the
 * intermediate) may no longer reach the file by then. A failed read is thrown where the planner is first needed.
 */
let bytes: Buffer | Error | null = readBytes();
let instance: Planner | null = null;

function readBytes(): Buffer | Error {
  let path = 'planner.wasm';
  try {
    path = join(bundleDir(), path);
    return readFileSync(path);
  } catch (e) {
    return new Error(`daemonkit: cannot read its planner ${path}: ${(e as Error).message} (reinstall it, or npm run build)`, { cause: e });
  }
}

/** The planner, compiled on first use: importing daemonkit compiles no wasm until something asks it a question. */
export const planner: Planner = new Proxy({} as Planner, {
  get: (_, key) => Reflect.get(compiled(), key),
  has: (_, key) => key in compiled(),
  // Enumerable like the exports themselves (for..in, Object.keys), inherited ones included.
  ownKeys: () => exportNames(),
  getOwnPropertyDescriptor: (_, key) =>
    key in compiled() ? { value: Reflect.get(compiled(), key), enumerable: true, configurable: true, writable: false } : undefined,
});

function compiled(): Planner {
  if (instance) return instance;
  if (bytes instanceof Error) throw bytes;
  instance = instantiate(new WebAssembly.Module(bytes!), {});
  // Only the compiled module is needed from here on.
  bytes = null;
  return instance;
}

function exportNames(): string[] {
  const names: string[] = [];
  for (const key in compiled()) names.push(key);
  return names;
}
