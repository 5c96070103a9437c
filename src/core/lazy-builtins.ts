// Node built-ins that bring a large part of Node's own JavaScript with them (worker_threads: the stream stack;
// crypto: its whole layer; http: its parser and agents; child_process: node:net and the stream stack), loaded at first
// use so that importing daemonkit, a supervisor without an http probe, or a CLI command other than `unit` does not pay
// for them.
import { bundleRequire } from '../bundle-require.js';

type Crypto = typeof import('node:crypto');
type WorkerThreads = typeof import('node:worker_threads');
type Http = typeof import('node:http');
type ChildProcess = typeof import('node:child_process');
let crypto: Crypto | undefined;
let workerThreads: WorkerThreads | undefined;
let http: Http | undefined;
let childProcess: ChildProcess | undefined;

export function nodeCrypto(): Crypto {
  return (crypto ??= bundleRequire()('node:crypto') as Crypto);
}

export function nodeWorkerThreads(): WorkerThreads {
  return (workerThreads ??= bundleRequire()('node:worker_threads') as WorkerThreads);
}

export function nodeHttp(): Http {
  return (http ??= bundleRequire()('node:http') as Http);
}

export function nodeChildProcess(): ChildProcess {
  return (childProcess ??= bundleRequire()('node:child_process') as ChildProcess);
}
