// Loads the planner compiled from assembly/ (embedded in the bundle by esbuild's binary loader), synchronously:
// the module is small enough to compile at once, and no top-level await keeps the bundles CommonJS.
import bytes from '../../build/planner.wasm';
import { instantiate } from '../../build/planner.js';

export type Planner = ReturnType<typeof instantiate>;

export const planner: Planner = instantiate(new WebAssembly.Module(bytes), {});
