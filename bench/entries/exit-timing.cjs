// Preloaded with `node -r` by the load measurement: prints when Node finished bootstrapping and when the program
// wrote its first output (or exited, if sooner), in ms since the process started (performance.timeOrigin), so module
// loading can be told apart. At the first output, not only at 'exit': the CLI leaves through _exit(2), with no event.
const { writeSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
let done = false;
function report() {
  if (done) return;
  done = true;
  const t = performance.nodeTiming;
  writeSync(2, `\nDKBENCH_TIMING ${JSON.stringify({ bootstrapComplete: t.bootstrapComplete, exit: performance.now() })}\n`);
}
const write = process.stdout.write;
process.stdout.write = function (...args) {
  report();
  return write.apply(this, args);
};
process.on('exit', report);
