// Node's require for the running bundle, without loading node:module (its load costs every start; bench/RESULTS.md).
// dist/*.js are CommonJS, so the module's own `require` is there and resolves beside the bundle; an ES module bundle
// (the test bundles) has none and makes one with createRequire. `__filename` tells them apart: esbuild answers
// `typeof require` in an ES module bundle with its own stand-in, which cannot load a file.

type Require = (id: string) => unknown;
let made: Require | null = null;

export function bundleRequire(): Require {
  if (typeof __filename === 'string') return require;
  if (typeof process.getBuiltinModule !== 'function') throw new Error('daemonkit bundled as an ES module needs Node >= 20.16');
  return (made ??= (process.getBuiltinModule('node:module') as typeof import('node:module')).createRequire(import.meta.url));
}
