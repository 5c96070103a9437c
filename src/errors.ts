// Every error daemonkit throws at a caller, from one module: `import { UsageError, ... } from 'daemonkit'`. Each has a
// `code`, like Node's own errors. Expected outcomes (a service not running when stopped) are return values instead.
// The library's bundles share one copy of this file and sys/errors.ts (dist/errors.js), so instanceof holds across them.
import type { ListenSpec } from './core/listen-spec.js';

export * from './sys/errors.js';

/** Bad input: one line naming the option and the value; the CLI exits 2 on these. */
export class UsageError extends Error {
  readonly code = 'EUSAGE';
  constructor(
    message: string,
    readonly option?: string,
    readonly value?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** "invalid --umask '999': '9' is not an octal digit" */
export function invalid(option: string, value: unknown, reason: string): UsageError {
  return new UsageError(`invalid ${option} ${quote(value)}: ${reason}`, option, String(value));
}

/** Quotes a value for an error line; control characters are escaped so the message stays one line. */
export function quote(value: unknown): string {
  const text = String(value);
  const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return `'${shown.replace(/[\x00-\x1f\x7f\\']/g, (c) => (c === "'" ? "\\'" : c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}'`;
}

/** A log file refused (a symlink, a FIFO, a directory others can write as root) or that cannot be opened. */
export class LogFileError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly code: string,
    /** A refusal for safety (symlink, not a regular file, a directory others can write), as opposed to a failed open. */
    readonly refused = false,
    /** The refusal said of the path, for a reopen: "/srv/app.log is a symbolic link". */
    readonly short = message,
  ) {
    super(message);
    this.name = 'LogFileError';
  }
}

/** A PID file refused (a symlink, a directory others can write as root) or that cannot be created; `code` says which. */
export class PidfileError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PidfileError';
  }
}

/** One `--listen` failed: "--listen tcp:8080: address already in use"; `cause` holds the system error. */
export class ListenError extends Error {
  readonly code = 'ELISTEN';
  constructor(
    readonly spec: ListenSpec,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`--listen ${spec.text}: ${reason}`, options);
    this.name = 'ListenError';
  }
}

/** A service's record (STATE/NAME.json) that is there but cannot be trusted; the CLI says this one line (exit 2). */
export class DamagedStateError extends Error {
  /** EDAMAGED: not a record; EUNSAFE: someone other than its writer could have written it (untrusted). */
  readonly code: 'EDAMAGED' | 'EUNSAFE';
  constructor(
    readonly path: string,
    reason: string,
    untrusted = false,
  ) {
    super(`${untrusted ? 'refusing' : 'damaged'} state record ${path}: ${reason}`);
    this.name = 'DamagedStateError';
    this.code = untrusted ? 'EUNSAFE' : 'EDAMAGED';
  }
}

/** The service (or its PID file) is held by a live process: `start()` without `okIfRunning`, or `daemonize()` in place. */
export class AlreadyRunningError extends Error {
  readonly code = 'EALREADY';
  constructor(
    readonly pid: number | null,
    /** The service's name, when it has one. */
    readonly service: string | null = null,
  ) {
    super(`${service ? `${service} ` : ''}already running (pid ${pid ?? 'unknown'})`);
    this.name = 'AlreadyRunningError';
  }
}

/** `reload()` or `reopen()` of a service that is not running: there is nothing to ask. (`stop()` returns instead.) */
export class NotRunningError extends Error {
  readonly code = 'ENOTRUNNING';
  constructor(readonly service: string) {
    super(`${service} is not running`);
    this.name = 'NotRunningError';
  }
}

/** A name never started in this state directory: neither a record nor a PID file (`status()`, `logs()`). */
export class UnknownServiceError extends Error {
  readonly code = 'ENOSERVICE';
  constructor(
    readonly service: string,
    /** The state directory that was looked in. */
    readonly home: string,
  ) {
    super(`no service named ${service} in ${home}`);
    this.name = 'UnknownServiceError';
  }
}

/** A start that failed: the daemon's own error, or its exit status and the end of its stderr, or a timeout. */
export class StartError extends Error {
  /** The errno-style code when the failure was one (ENOENT for a log directory...), else 'ESTART'. */
  readonly code: string;
  readonly path?: string;
  /** The daemon's PID, when it got as far as being spawned. */
  readonly pid?: number;
  /** The stack the daemon reported with daemon.fail(err) or an uncaught exception. */
  readonly daemonStack?: string;
  /** Its decoded exit status ("exited 3", "killed by SIGSEGV"). */
  readonly statusText?: string;
  /** The last lines it wrote to stderr. */
  readonly stderrTail?: string;
  readonly hint?: string;
  constructor(
    readonly service: string | null,
    message: string,
    details: { code?: string; path?: string; pid?: number; stack?: string; statusText?: string; stderrTail?: string; hint?: string } = {},
  ) {
    super(message);
    this.name = 'StartError';
    this.code = details.code ?? 'ESTART';
    this.path = details.path;
    this.pid = details.pid;
    this.daemonStack = details.stack;
    this.statusText = details.statusText;
    this.stderrTail = details.stderrTail;
    this.hint = details.hint;
  }
}

/**
 * A running service that could not do what was asked: `code` EACCES (its control socket or process is another
 * user's), EFAILED (its supervisor answered with an error), ETIMEDOUT (a stop schedule ran out, in `restart()`),
 * ENOSIGNAL (no supervisor, and the program declared no signal for the request; nothing was sent).
 */
export class ControlError extends Error {
  constructor(
    readonly service: string,
    readonly code: 'EACCES' | 'EFAILED' | 'ETIMEDOUT' | 'ENOSIGNAL',
    reason: string,
  ) {
    super(`${service}: ${reason}`);
    this.name = 'ControlError';
  }
}
