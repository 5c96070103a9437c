// The floor under the readiness lag: a Node process that has loaded koffi's native module, as the CLI has, writes the
// time (CLOCK_MONOTONIC, ns) to argv[2], then leaves through _exit(2) as the CLI does. From that line until its parent
// sees it gone is what any start command written in Node pays after its last line: the kernel tearing it down.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const koffi = require(
  join(root, 'node_modules', '@koromix', `koffi-${process.platform}-${process.arch}`, `${process.platform}_${process.arch}`, 'koffi.node'),
);
const exit = koffi.load('libc.so.6').func('void _exit(int)');
writeFileSync(process.argv[2], `${process.hrtime.bigint()}\n`);
exit(0);
