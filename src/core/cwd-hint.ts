// A failed start whose command named a file relative to the caller's directory: the daemon runs elsewhere (/).
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Normalized } from '../options.js';
import { quote } from '../errors.js';

/**
 * One line for a failed start when an argument of its command is a relative path that exists from the caller's
 * directory but not from the daemon's (`node app.js` from the app's directory); null when none is.
 */
export function cwdHint(o: Normalized, callerCwd = process.cwd()): string | null {
  if (!o.command) return null;
  const daemonCwd = o.chroot ? join(o.chroot, o.cwd) : o.cwd;
  if (resolve(callerCwd) === resolve(daemonCwd)) return null;
  for (const arg of o.command.argv.slice(1)) {
    // Options and their attached values are the program's business; a bare word naming a file is the usual case.
    if (!arg || arg.startsWith('-') || isAbsolute(arg)) continue;
    if (existsSync(resolve(callerCwd, arg)) && !existsSync(resolve(daemonCwd, arg))) {
      const shown = /^[\w@%+=:,./-]+$/.test(arg) ? arg : quote(arg);
      return `hint: ${shown} is relative and the daemon runs in ${o.cwd}; use --cwd or an absolute path`;
    }
  }
  return null;
}
