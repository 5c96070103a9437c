// The worker of the readiness measurement: writes its PID to argv[2] (whole, by rename), then says READY=1 on
// NOTIFY_SOCKET (under --ready alive:0 there is none and notify() returns false), then stays. argv[3]: the marker.
import { renameSync, writeFileSync } from 'node:fs';
import { notify } from '../../dist/index.mjs';

writeFileSync(`${process.argv[2]}.tmp`, `${process.pid}\n`);
renameSync(`${process.argv[2]}.tmp`, process.argv[2]);
notify('READY=1');
setInterval(() => {}, 1e9);
