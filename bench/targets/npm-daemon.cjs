// The npm `daemon` package as its README shows it. argv: PIDFILE MARKER. The PID file is written by the daemon
// once it runs past daemon(): the point where daemonkit's library target calls ready().
const { writeFileSync } = require('node:fs');
// daemon 1.1.0 passes process.cwd (the function) to spawn unless given cwd, which Node >= 16 rejects.
require('../peers/node_modules/daemon')({ cwd: process.cwd() });
writeFileSync(process.argv[2], `${process.pid}\n`);
setInterval(() => {}, 1e9);
