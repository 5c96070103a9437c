// The hello-world of the reload, serve and fork-restart measurements. It waits DELAY_MS (default 200) before it
// listens, as an app that loads its code first would, then answers every request with 12 bytes. APP_LISTEN says
// where: `fds` = the sockets daemonkit passed (listenFds(); readiness by notify('READY=1')), a port number = listen()
// on it (Node's cluster module and pm2 cluster mode share it through their primary). On SIGTERM or SIGINT it drains
// as test/fixtures/http-worker.mjs does: stops accepting, answers what it has with `connection: close`, exits.
// The last argument is the benchmark's marker, for the sweep.
import { createServer } from 'node:http';
import { Server as NetServer } from 'node:net';

const delayMs = Number(process.env.DELAY_MS ?? 200);
const where = process.env.APP_LISTEN ?? 'fds';
/** A drain that never ends (a client holding an idle connection) must not keep the process: exit after this. */
const DRAIN_LIMIT_MS = 10_000;

let draining = false;
const server = createServer((req, res) => {
  const headers = { 'content-type': 'text/plain', 'x-worker-pid': String(process.pid) };
  if (draining) headers.connection = 'close';
  res.writeHead(200, headers);
  res.end('hello world\n');
});
server.keepAliveTimeout = 60_000;

function drain() {
  if (draining) return;
  draining = true;
  setTimeout(() => process.exit(0), DRAIN_LIMIT_MS).unref();
  // net.Server's close, not http.Server's: that one also drops idle kept-alive connections under a client's next request.
  NetServer.prototype.close.call(server, () => process.exit(0));
}
process.on('SIGTERM', drain);
process.on('SIGINT', drain);
// pm2 asks a cluster worker to stop with a message before its signal.
process.on('message', (m) => m === 'shutdown' && drain());

const lib = where === 'fds' ? await import('../../dist/index.mjs') : null;
await new Promise((resolve) => setTimeout(resolve, delayMs));
if (lib) {
  const fds = lib.listenFds();
  if (fds.length === 0) {
    console.error('http-app: APP_LISTEN=fds but no socket was passed (LISTEN_FDS unset)');
    process.exit(3);
  }
  server.listen({ fd: fds[0].fd }, () => lib.notify('READY=1'));
} else {
  server.listen(Number(where), '127.0.0.1', () => process.send?.('ready'));
}
