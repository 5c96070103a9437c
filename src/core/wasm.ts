// Loads the planner compiled from assembly/ (embedded in the bundle by esbuild's binary loader).
import bytes from '../../build/planner.wasm';
import { instantiate } from '../../build/planner.js';

export type Planner = Awaited<ReturnType<typeof instantiate>>;

export const planner: Planner = await instantiate(await WebAssembly.compile(bytes), {});
