// Node built-ins that bring a large part of Node's own JavaScript with them (worker_threads: the stream stack;
// crypto: its whole layer; http: its parser and agents), loaded at first use so that importing daemonkit, or a
// supervisor without an http probe, does not pay for them.
import { bundleRequire } from '../bundle-require.js';

type Crypto = typeof import('node:crypto');
type WorkerThreads = typeof import('node:worker_threads');
type Http = typeof import('node:http');
let crypto: Crypto | undefined;
let workerThreads: WorkerThreads | undefined;
let http: Http | undefined;

export function nodeCrypto(): Crypto {
  return (crypto ??= bundleRequire()('node:crypto') as Crypto);
}

export function nodeWorkerThreads(): WorkerThreads {
  return (workerThreads ??= bundleRequire()('node:worker_threads') as WorkerThreads);
}

export function nodeHttp(): Http {
  return (http ??= bundleRequire()('node:http') as Http);
}
