// Node built-ins that bring a large part of Node's own JavaScript with them (worker_threads: the stream stack;
// crypto: its whole layer), loaded at first use so that importing daemonkit does not pay for them.
import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');
type WorkerThreads = typeof import('node:worker_threads');
let crypto: Crypto | undefined;
let workerThreads: WorkerThreads | undefined;

export function nodeCrypto(): Crypto {
  return (crypto ??= createRequire(import.meta.url)('node:crypto') as Crypto);
}

export function nodeWorkerThreads(): WorkerThreads {
  return (workerThreads ??= createRequire(import.meta.url)('node:worker_threads') as WorkerThreads);
}
