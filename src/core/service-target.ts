// What a service command names: a service in the state directory, or a PID file (and the named service recorded with
// it, else the files beside it). The library's `home` is the state directory the CLI finds in $DAEMONKIT_HOME.
import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { invalid, UnknownServiceError, UsageError } from '../errors.js';
import { pidfilePath } from './option-values.js';
import { checkName, defaultStateDir } from '../options.js';
import { findByPidfile, type Service } from './service-control.js';
import { filesForName, serviceFiles } from './service-files.js';

/** A service's name, or its PID file: `stop('web')`, `stop({ pidfile: '/run/web.pid' })`. */
export type ServiceTarget = string | { pidfile: string };

/** Where the service commands look: `home` (an option of every command), default as the CLI's. */
export interface HomeOption {
  /** The state directory (NAME.pid, NAME.log, NAME.sock, NAME.json). Default: $DAEMONKIT_HOME, else $XDG_STATE_HOME/daemonkit, else ~/.local/state/daemonkit. */
  home?: string;
}

/** The state directory `home` names (absolute), else the CLI's default. */
export function homeOf(home: unknown): string {
  if (home === undefined) return defaultStateDir();
  if (typeof home !== 'string' || home === '' || home.includes('\0')) throw invalid('home', home, 'expected a directory path');
  return resolve(home);
}

export function resolveTarget(target: ServiceTarget, home: string): Service {
  if (typeof target === 'string') return { name: checkName(target, 'name'), files: filesForName(home, target) };
  if (typeof target !== 'object' || target === null) {
    throw new UsageError(`invalid service ${String(target)}: expected a name or { pidfile }`, 'target');
  }
  const extra = Object.keys(target).find((k) => k !== 'pidfile');
  if (extra !== undefined) {
    const hint =
      extra.toLowerCase() === 'pidfile'
        ? ` (did you mean 'pidfile'?)`
        : extra === 'home'
          ? ': home goes in the options, the second argument'
          : ': a target is a name or { pidfile }';
    throw new UsageError(`invalid service target: unknown key '${extra}'${hint}`, 'target', extra);
  }
  const { pidfile } = target;
  if (typeof pidfile !== 'string') throw invalid('pidfile', pidfile, 'expected a path');
  const path = pidfilePath('pidfile', pidfile, process.cwd());
  const named = findByPidfile(home, path);
  if (named) return named;
  const files = serviceFiles(path);
  return { name: files.pidfile.replace(/^.*\//, '').replace(/\.pid$/, ''), files };
}

/** A name never started here has neither a record nor a PID file: an error, not a stopped service. */
export function checkKnown(target: ServiceTarget, service: Service, home: string): void {
  if (typeof target !== 'string') return;
  const exists = (path: string) => lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  if (!exists(service.files.state) && !exists(service.files.pidfile)) throw new UnknownServiceError(service.name, home);
}
