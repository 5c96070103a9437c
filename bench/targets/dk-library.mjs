// daemonkit's library as its fixture shows it: daemonize(), then ready() at once. argv: PIDFILE MARKER.
import { daemonize } from '../../dist/index.mjs';

const daemon = await daemonize({ pidfile: process.argv[2] });
daemon.ready();
setInterval(() => {}, 1e9);
