// Preloaded with `node -r` by the load measurement: prints, at exit, when Node finished bootstrapping and when the
// process exited, in ms since the process started (performance.timeOrigin), so module loading can be told apart.
const { performance } = require('node:perf_hooks');
process.on('exit', () => {
  const t = performance.nodeTiming;
  process.stderr.write(`\nDKBENCH_TIMING ${JSON.stringify({ bootstrapComplete: t.bootstrapComplete, exit: performance.now() })}\n`);
});
