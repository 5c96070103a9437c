// `daemonkit unit --install`: each unit file written whole through a new temporary file in the same directory and
// renamed over the target, never through a symlink, and never over a file daemonkit did not write (unless forced).
import { nodeCrypto } from './lazy-builtins.js';
import {
  closeSync,
  constants as fs,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { unitMarker, type UnitFile } from './systemd-units.js';

const UNIT_FILE_MODE = 0o644;

/**
 * Socket units an earlier install wrote for this service that the new units do not include (the --listen it had is
 * gone): ours by their marker and their Service= line. Left in place: systemctl can only disable what still exists.
 */
export function staleSocketUnits(dir: string, units: readonly UnitFile[]): string[] {
  const service = units.find((u) => u.file.endsWith('.service'))?.file;
  if (!service) return [];
  const name = service.slice(0, -'.service'.length);
  const wanted = new Set(units.map((u) => u.file));
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .filter((f) => (f === `${name}.socket` || (f.startsWith(`${name}-`) && f.endsWith('.socket'))) && !wanted.has(f))
    .map((f) => join(dir, f))
    .filter((path) => {
      try {
        return writtenByUs(path, unitMarker(basename(path))) && readFileSync(path, 'utf8').split('\n').includes(`Service=${service}`);
      } catch {
        return false;
      }
    });
}

/** A target refused before anything was written: `code` ESYMLINK, ENOTREG or EFOREIGN (someone else's file). */
export class UnitInstallError extends Error {
  constructor(
    readonly path: string,
    readonly code: 'ESYMLINK' | 'ENOTREG' | 'EFOREIGN',
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'UnitInstallError';
  }
}

/** Whether the regular file at `path` starts with our marker line; opened without following a symlink or blocking on a FIFO. */
function writtenByUs(path: string, marker: string): boolean {
  const fd = openSync(path, fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NONBLOCK | fs.O_NOCTTY);
  try {
    if (!fstatSync(fd).isFile()) return false;
    const head = Buffer.alloc(Buffer.byteLength(marker) + 1);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString() === `${marker}\n`;
  } finally {
    closeSync(fd);
  }
}

/** Refuses a target that is a symlink (a masked or linked unit), not a regular file, or not ours without `force`. */
function checkTarget(path: string, file: string, force: boolean): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isSymbolicLink())
    throw new UnitInstallError(path, 'ESYMLINK', 'is a symlink (a masked or linked unit?); nothing was written, remove it first');
  if (!st.isFile()) throw new UnitInstallError(path, 'ENOTREG', 'is not a regular file; nothing was written');
  if (!force && !writtenByUs(path, unitMarker(file))) {
    throw new UnitInstallError(path, 'EFOREIGN', 'exists and was not written by daemonkit unit; nothing was written (--force replaces it)');
  }
}

/** A new file beside the target, named as systemd names its own temporary files (`.#NAME...`: never loaded as a unit). */
function writeTemp(dir: string, unit: UnitFile): string {
  const path = join(dir, `.#${unit.file}${nodeCrypto().randomBytes(8).toString('hex')}`);
  const fd = openSync(path, fs.O_WRONLY | fs.O_CREAT | fs.O_EXCL | fs.O_NOFOLLOW, UNIT_FILE_MODE);
  try {
    fchmodSync(fd, UNIT_FILE_MODE);
    writeSync(fd, unit.text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(path);
    throw e;
  }
  closeSync(fd);
  return path;
}

/** A temporary file not renamed yet (a renamed one is gone from its name). */
function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Writes every unit into `dir`, or none when a target is refused; returns the paths written. */
export function installUnits(dir: string, units: readonly UnitFile[], force: boolean): string[] {
  const targets = units.map((u) => join(dir, u.file));
  units.forEach((u, i) => checkTarget(targets[i]!, u.file, force));
  const temps: string[] = [];
  try {
    for (const unit of units) temps.push(writeTemp(dir, unit));
    // rename(2) replaces a symlink planted since the check instead of following it.
    temps.forEach((temp, i) => renameSync(temp, targets[i]!));
  } catch (e) {
    for (const temp of temps) removeIfThere(temp);
    throw e;
  }
  const dirFd = openSync(dir, fs.O_RDONLY | fs.O_DIRECTORY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return targets;
}
