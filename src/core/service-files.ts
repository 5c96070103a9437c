// Where a service's files live: the PID file, and beside it the control socket and the state file.
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Normalized } from '../options.js';

export interface ServiceFiles {
  pidfile: string;
  socket: string;
  state: string;
}

export function serviceFiles(pidfile: string): ServiceFiles {
  const stem = pidfile.endsWith('.pid') ? pidfile.slice(0, -4) : pidfile;
  return { pidfile, socket: `${stem}.sock`, state: `${stem}.json` };
}

export function filesForName(stateDir: string, name: string): ServiceFiles {
  return serviceFiles(join(stateDir, `${name}.pid`));
}

export interface WorkerStatus {
  task: number;
  pid: number;
  state: string;
  restarts: number;
  /** Raw wait status of its last exit, or null. */
  lastStatus: number | null;
  lastExit: string | null;
  /** Epoch ms when the current process started, or null. */
  startedAt: number | null;
}

export interface ServiceStatus {
  name: string;
  pid: number;
  state: string;
  startedAt: number;
  workers: WorkerStatus[];
  failure: string | null;
  logError: string | null;
  command: string[];
}

/** What the supervisor records for `status` after it is gone and for `restart`; 0600: it holds the environment. */
export interface StateRecord {
  version: 1;
  options: Normalized;
  status: ServiceStatus | null;
  exitCode: number | null;
  exitedAt: number | null;
}

export function writeState(path: string, record: StateRecord): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function readState(path: string): StateRecord | null {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as StateRecord;
    return r.version === 1 ? r : null;
  } catch {
    return null;
  }
}
