// A daemonized HTTP server, started, asked and stopped from Node through daemonkit's service API.
//   node examples/http-daemon.mjs        starts it under the supervisor, sends it a request, prints its status, stops it
//   node examples/http-daemon.mjs serve  is the server itself: what the supervisor runs as its worker
import { createServer, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { logs, start, status, stop } from 'daemonkit';

const name = 'hello-http';

if (process.argv[2] === 'serve') {
  const server = createServer((req, res) => res.end(`hello from worker ${process.env.DAEMONKIT_TASK_ID} (pid ${process.pid})\n`));
  // Port 0: the kernel picks one; the line goes to the service's log, where the starter reads it.
  server.listen(0, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  // Resolves once the worker has stayed up startSecs; rejects with a StartError (its stderr tail) if it does not.
  const started = await start({
    name,
    command: [process.execPath, fileURLToPath(import.meta.url), 'serve'],
    startSecs: 0.3, // durations are seconds when a number, as on the command line; or '300ms'
  });
  console.log(`started ${started.name} (supervisor pid ${started.pid})`);
  try {
    // The log from its start: earlier lines first, then each new one as the worker writes it.
    const following = logs(name, { lines: 1000, follow: true, signal: AbortSignal.timeout(10_000) });
    let port = null;
    for await (const line of following) {
      port = /listening on 127\.0\.0\.1:(\d+)/.exec(line)?.[1] ?? null;
      if (port) break;
    }
    if (!port) throw new Error('the server never said where it listens');
    console.log(`GET / -> ${(await request(Number(port))).trim()}`);
    const s = await status(name);
    console.log(`status: ${s.state} (LSB ${s.lsb}), ${s.workers.map((w) => `worker ${w.task} pid ${w.pid} ${w.state}`).join(', ')}`);
  } finally {
    const stopped = await stop(name);
    console.log(stopped.kind === 'stopped' ? `stopped ${name} (pid ${stopped.pid})` : `stop: ${stopped.kind}`);
  }
}

function request(port) {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
