// Errors a user can cause: one line naming the option and the value; the CLI exits 2 on these.
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
