// Writing values into systemd unit files so systemd reads back exactly what was meant: systemd.syntax(7) "Quoting",
// systemd.service(5) "Command lines", systemd.exec(5) Environment=, and systemd.unit(5) specifiers.
import { invalid } from '../errors.js';

/** Characters a command-line word may hold without quotes (no quote, backslash, `$`, `%`, `;` or whitespace). */
const BARE_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/** `%` starts a specifier in every setting we write: `%%` is a literal one. */
function escapeSpecifiers(text: string): string {
  return text.replace(/%/g, '%%');
}

/** C-style escapes inside double quotes: `\` and `"` and every control character, so a word stays on its line. */
function cEscape(text: string): string {
  return text.replace(/[\x00-\x1f\x7f\\"]/g, (c) => {
    switch (c) {
      case '\\':
        return '\\\\';
      case '"':
        return '\\"';
      case '\n':
        return '\\n';
      case '\t':
        return '\\t';
      case '\r':
        return '\\r';
    }
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * One word of ExecStart= (or ExecReload=): bare when it is plain, else in double quotes with C escapes. `$` is
 * doubled, since systemd substitutes $VAR and ${VAR} in every word, quoted or not; `%` is doubled for specifiers.
 */
export function execWord(word: string): string {
  const text = escapeSpecifiers(word).replace(/\$/g, '$$$$');
  return BARE_WORD.test(word) ? text : `"${cEscape(text)}"`;
}

/** A whole command line for ExecStart=: words separated by one space. */
export function execLine(words: readonly string[]): string {
  return words.map(execWord).join(' ');
}

/** One `Environment=` value, `"K=V"` quoted: `$` has no special meaning there, `%` still starts a specifier. */
export function environmentValue(key: string, value: string): string {
  return `"${cEscape(escapeSpecifiers(`${key}=${value}`))}"`;
}

/**
 * A value written as is (a path, a user, an address): systemd takes the rest of the line, so it must hold no
 * control character and must not end in a backslash (a continued line) or in whitespace (stripped).
 */
export function plainValue(option: string, value: string): string {
  if (/[\x00-\x1f\x7f]/.test(value)) throw invalid(option, value, 'a unit file cannot hold a control character here');
  if (/[\\\s]$/.test(value) || /^\s/.test(value))
    throw invalid(option, value, 'a unit file cannot hold this value (leading or trailing blank, or a trailing backslash)');
  return escapeSpecifiers(value);
}
