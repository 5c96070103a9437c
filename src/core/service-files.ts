// Where a service's files live: a named service's control socket and record in the state directory under its name
// (wherever its PID file is); an unnamed one's (a library daemon with only a PID file) beside its PID file.
import {
  closeSync,
  constants as fs,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { sharedWithOthers, whereUnsafe, whereUnsafeDir } from './dir-safety.js';
import { asSysError } from '../sys/errors.js';
import type { Normalized } from '../options.js';
import { DamagedStateError, stateRecordError } from './state-record.js';

export interface ServiceFiles {
  pidfile: string;
  socket: string;
  state: string;
}

export function serviceFiles(pidfile: string): ServiceFiles {
  const stem = pidfile.endsWith('.pid') ? pidfile.slice(0, -4) : pidfile;
  return { pidfile, socket: `${stem}.sock`, state: `${stem}.json` };
}

/** A named service's files; its PID file is the one its record names (`--pidfile`), else STATE/NAME.pid. */
export function filesForName(stateDir: string, name: string): ServiceFiles {
  const state = join(stateDir, `${name}.json`);
  return { pidfile: recordedPidfile(state) ?? join(stateDir, `${name}.pid`), socket: join(stateDir, `${name}.sock`), state };
}

/** The files a start with these options makes; null without a PID file. */
export function filesOf(o: Pick<Normalized, 'name' | 'stateDir' | 'pidfile'>): ServiceFiles | null {
  if (!o.pidfile) return null;
  if (!o.name || !o.stateDir) return serviceFiles(o.pidfile);
  return { pidfile: o.pidfile, socket: join(o.stateDir, `${o.name}.sock`), state: join(o.stateDir, `${o.name}.json`) };
}

function recordedPidfile(state: string): string | null {
  try {
    const pidfile: unknown = readState(state)?.options.pidfile;
    return typeof pidfile === 'string' && isAbsolute(pidfile) ? pidfile : null;
  } catch {
    return null; // damaged, or not ours to believe: the PID file by its name
  }
}

/**
 * As root, why a named service's state directory may not hold root's record and control socket (users other than root
 * could swap them), or null. A PID file there is checked itself, and with it the directory.
 */
export function stateDirRefusal(
  o: Pick<Normalized, 'name' | 'stateDir' | 'pidfile'>,
): { message: string; code: 'EUNSAFE'; path: string } | null {
  const dir = o.stateDir;
  if (!dir || !o.name || !o.pidfile || dirname(o.pidfile) === dir) return null;
  const unsafe = sharedWithOthers(dir);
  if (!unsafe) return null;
  return {
    message: `refusing state directory ${dir}: ${whereUnsafeDir(unsafe, dir)} is writable by users other than root`,
    code: 'EUNSAFE',
    path: dir,
  };
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
  /** Ready by the service's --ready mode (absent in records from before it existed). */
  ready?: boolean;
  /** The last readiness or health probe (or READY=1) of this task: ok, what it said, epoch ms. */
  probe?: { ok: boolean; text: string; at: number } | null;
}

export interface ServiceStatus {
  name: string;
  pid: number;
  state: string;
  startedAt: number;
  workers: WorkerStatus[];
  failure: string | null;
  logError: string | null;
  /** Processes of the service's session that are not its workers (left by exited workers), if counted. */
  leftovers?: number;
  command: string[];
}

/** What the supervisor records for `status` after it is gone and for `restart`; 0600: it holds the environment. */
export interface StateRecord {
  version: 1;
  options: Normalized;
  status: ServiceStatus | null;
  exitCode: number | null;
  exitedAt: number | null;
  /** Signals the service declared it handles, for when no control socket answers; absent or null: send none. */
  signals?: { reload: number | null; reopen: number | null };
  /** 'run': the service runs in the foreground of whatever started it (systemd, a container), which restarts it. */
  startedBy?: 'run';
}

/** The temporary record is made new, never through a symlink or into a file someone left at its name. */
const TMP_FLAGS = fs.O_WRONLY | fs.O_CREAT | fs.O_EXCL | fs.O_NOFOLLOW;

/** Whole or not at all: a write that fails (a full disk) removes its temporary file and throws. */
export function writeState(path: string, record: StateRecord): void {
  const tmp = `${path}.${process.pid}.tmp`;
  let fd = -1;
  try {
    removeLeftover(tmp); // a link itself, not its target; one that comes back fails O_EXCL
    fd = openSync(tmp, TMP_FLAGS, 0o600);
    fchmodSync(fd, 0o600);
    writeFileSync(fd, `${JSON.stringify(record)}\n`);
    // close(2) frees the descriptor even when it reports an error (NFS's delayed write errors): never close it twice.
    const written = fd;
    fd = -1;
    closeSync(written);
    renameSync(tmp, path);
  } catch (e) {
    // The write's own error is the one to report, not one from cleaning up after it.
    try {
      if (fd >= 0) closeSync(fd);
    } catch {}
    try {
      removeLeftover(tmp);
    } catch {}
    throw e;
  }
}

/** unlink(2), gone already being fine: not rmSync, whose first call compiles Node's rimraf on a start's critical path. */
function removeLeftover(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * The supervisor PID the record last named, when the record can be trusted to be ours: a regular file of our own
 * user's, writable by nobody else, in a directory only we (and root) can change. Null: none, damaged, or untrusted.
 */
export function recordedSupervisor(statePath: string): number | null {
  try {
    return readState(statePath)?.status?.pid ?? null;
  } catch {
    return null; // a damaged or missing record proves nothing
  }
}

/** The record of a service that keeps none itself (no supervisor): its options and the signals it answers to. */
export function writeUnsupervisedRecord(path: string, options: Normalized, signals: StateRecord['signals']): void {
  writeState(path, { version: 1, options, status: null, exitCode: null, exitedAt: null, signals });
}

/**
 * The record, or null when there is none (or it is not ours to read). A damaged one throws DamagedStateError, and so
 * does one that someone else could have written (code EUNSAFE): restart runs what a record says, and stop signals
 * what its PID file names.
 */
export function readState(path: string): StateRecord | null {
  const text = trustedText(path);
  if (text === null) return null;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (e) {
    throw new DamagedStateError(path, `not JSON (${(e as Error).message})`);
  }
  const error = stateRecordError(record);
  if (error) throw new DamagedStateError(path, error);
  return record as StateRecord;
}

/** Opened without following a symlink or waiting on a FIFO; null when absent or unreadable to us. */
const RECORD_READ_FLAGS = fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NONBLOCK;

/** The record file's text if only its writer (this user) could have written it; null when there is none. */
function trustedText(path: string): string | null {
  let fd;
  try {
    fd = openSync(path, RECORD_READ_FLAGS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new DamagedStateError(path, 'a symlink', true);
    return null;
  }
  try {
    const why = untrusted(path, fstatSync(fd));
    if (why) throw new DamagedStateError(path, why, true);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Who else could have written the record: its owner, its mode, its directory (as root); null: nobody. */
function untrusted(path: string, st: Stats): string | null {
  if (!st.isFile()) return 'not a regular file';
  const uid = process.geteuid!();
  if (st.uid !== uid) return `owned by uid ${st.uid}, not by uid ${uid}`;
  if ((st.mode & 0o022) !== 0) return 'writable by others than its owner';
  const dir = dirname(path);
  const unsafe = sharedWithOthers(dir);
  return unsafe ? `${whereUnsafe(unsafe, dir)} is writable by users other than root` : null;
}

/** A state directory daemonkit creates: others may look, only its owner writes. */
const STATE_DIR_MODE = 0o755;

/** mkdir -p of a state directory (STATE_DIR_MODE); a failure is a SysError naming the path (the CLI's one line, exit 1). */
export function makeStateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  } catch (e) {
    throw asSysError(e);
  }
}
