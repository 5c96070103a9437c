// Node's cluster module as a peer: the primary forks WORKERS copies of http-app.mjs (round-robin, Node's default on
// Linux) and forks a new one on each 'exit' (restarts as fast as cluster.fork() goes). Args: the benchmark's marker.
import cluster from 'node:cluster';

if (cluster.isPrimary) {
  const n = Number(process.env.WORKERS ?? 2);
  let stopping = false;
  cluster.on('exit', () => stopping || cluster.fork());
  for (let i = 0; i < n; i++) cluster.fork();
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    cluster.disconnect(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await import('./http-app.mjs');
}
