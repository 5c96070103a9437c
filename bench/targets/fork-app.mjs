// forkProcesses() as the library shows it: the parent binds the socket once and runs one copy of this script, restarted
// at once on exit; the copy serves the socket it was given (http-app.mjs, no startup delay). Args: PORT MARKER.
import { forkProcesses } from '../../dist/index.mjs';

const port = process.argv[2];
await forkProcesses(1, { listen: `tcp:127.0.0.1:${port}`, backoffMin: 0, maxRestarts: 1_000_000, ready: 'alive:0' });
process.env.DELAY_MS = '0';
process.env.APP_LISTEN = 'fds';
await import('./http-app.mjs');
