// Loads the planner compiled from assembly/ (embedded in the bundle by esbuild's binary loader), synchronously:
// the module is small enough to compile at once, and no top-level await keeps the bundles CommonJS.
import bytes from '../../build/planner.wasm';
import { instantiate } from '../../build/planner.js';

export type Planner = ReturnType<typeof instantiate>;

let instance: Planner | null = null;

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
  return (instance ??= instantiate(new WebAssembly.Module(bytes), {}));
}

function exportNames(): string[] {
  const names: string[] = [];
  for (const key in compiled()) names.push(key);
  return names;
}
