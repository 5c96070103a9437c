// Node built-ins that bring a large part of Node's own JavaScript with them (worker_threads: the stream stack;
// crypto: its whole layer), loaded at first use so that importing daemonkit does not pay for them.
import { bundleRequire } from '../bundle-require.js';

type Crypto = typeof import('node:crypto');
type WorkerThreads = typeof import('node:worker_threads');
let crypto: Crypto | undefined;
let workerThreads: WorkerThreads | undefined;

export function nodeCrypto(): Crypto {
  return (crypto ??= bundleRequire()('node:crypto') as Crypto);
}

export function nodeWorkerThreads(): WorkerThreads {
  return (workerThreads ??= bundleRequire()('node:worker_threads') as WorkerThreads);
}
