// tornado's fork_processes() for Node: four copies of one HTTP server on one port, each restarted (with the same task
// id) if it crashes. Run `PORT=8080 node examples/fork-server.mjs`; Ctrl-C or SIGTERM stops the workers, then the parent.
import { createServer } from 'node:http';
import { forkProcesses, listenFds } from 'daemonkit';

const port = process.env.PORT ?? '8080';

// The parent binds the port once, runs this script 4 times, and supervises the copies: this await never returns there.
const taskId = await forkProcesses(4, { maxRestarts: 100, listen: [`tcp:127.0.0.1:${port}`] });

// Each worker (task 0..3) serves the socket it inherited.
createServer((req, res) => res.end(`hello from worker ${taskId} (pid ${process.pid})\n`)).listen({ fd: listenFds()[0].fd });
