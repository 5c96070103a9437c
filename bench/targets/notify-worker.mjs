// The worker of the readiness measurement: writes the time (to argv[2].at) and its PID to argv[2] (whole, by rename),
// then says READY=1 on NOTIFY_SOCKET (under --ready alive:0 there is none and notify() returns false), then stays.
// argv[3]: the marker.
import { renameSync, writeFileSync } from 'node:fs';
import { notify } from '../../dist/index.mjs';

// When it got here, on the harness's clock (CLOCK_MONOTONIC, ns), before the PID that says it did.
writeFileSync(`${process.argv[2]}.at`, `${process.hrtime.bigint()}\n`);
writeFileSync(`${process.argv[2]}.tmp`, `${process.pid}\n`);
renameSync(`${process.argv[2]}.tmp`, process.argv[2]);
notify('READY=1');
setInterval(() => {}, 1e9);
