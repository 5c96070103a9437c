// umask parsing and mode math: octal ("022", "0o022") or `umask -S` symbolic ("u=rwx,g=rx,o="), and the modes.

// daemonkit's default: umask(0) would make world-writable files.
const DEFAULT_MASK: i32 = 0o022;
// Longer input is a mistake whatever it says; the cap keeps error lines short.
const MAX_TEXT: i32 = 64;

// The reason the last parse failed; parseUmask and umaskError share one parser.
let failure: string = '';

function fail(reason: string): i32 {
  failure = reason;
  return -1;
}

// Quotes one character for an error line, spelling out control characters so the line stays one line.
function showChar(c: i32): string {
  if (c < 32 || c == 127) return 'character ' + c.toString();
  return "'" + String.fromCharCode(c) + "'";
}

function quote(text: string): string {
  return "'" + text + "'";
}

function parseOctal(text: string): i32 {
  const n = text.length;
  let i = 0;
  if (n >= 2 && text.charCodeAt(0) == 48 && (text.charCodeAt(1) | 32) == 111) i = 2; // "0o" or "0O"
  if (i == n) return fail('no digits after ' + quote(text));
  let value = 0;
  for (let j = i; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c < 48 || c > 55) return fail(showChar(c) + ' is not an octal digit');
    value = (value << 3) | (c - 48);
  }
  if (n - i > 4) return fail('too long (at most 4 octal digits)');
  if (value > 0o777) return fail('out of range (at most 0777)');
  return value;
}

// The mask bits of the classes a WHO letter names; 0 if it names none.
function whoBits(c: i32): i32 {
  if (c == 117) return 0o700; // u
  if (c == 103) return 0o070; // g
  if (c == 111) return 0o007; // o
  if (c == 97) return 0o777; // a
  return 0;
}

// The permission bit a PERMS letter allows, for one class; 0 if it is not r, w or x.
function permBit(c: i32): i32 {
  if (c == 114) return 4; // r
  if (c == 119) return 2; // w
  if (c == 120) return 1; // x
  return 0;
}

function parseSymbolic(text: string): i32 {
  const n = text.length;
  let mask = DEFAULT_MASK;
  let start = 0;
  while (true) {
    let end = text.indexOf(',', start);
    if (end < 0) end = n;
    const clause = text.substring(start, end);
    const len = clause.length;
    if (len == 0) return fail('empty clause (stray comma)');
    let who = 0;
    let i = 0;
    while (i < len) {
      const bits = whoBits(clause.charCodeAt(i));
      if (bits == 0) break;
      who |= bits;
      i++;
    }
    if (i == len) return fail("missing '=' in " + quote(clause));
    const op = clause.charCodeAt(i);
    if (op == 43 || op == 45) {
      return fail('operator ' + showChar(op) + ' in ' + quote(clause) + " is not supported, only '=' as umask -S prints");
    }
    if (op != 61) return fail(showChar(op) + ' is not one of u, g, o, a in ' + quote(clause));
    if (who == 0) return fail("no class (u, g, o, a) before '=' in " + quote(clause));
    let allow = 0;
    for (i++; i < len; i++) {
      const c = clause.charCodeAt(i);
      const bit = permBit(c);
      if (bit == 0) return fail(showChar(c) + ' is not one of r, w, x in ' + quote(clause));
      allow |= bit;
    }
    // The clause names what is allowed; the mask of the named classes is its complement.
    mask = (mask & ~who) | (who & ~(allow * 0o111));
    if (end == n) break;
    start = end + 1;
  }
  return mask;
}

function parse(text: string): i32 {
  failure = '';
  const n = text.length;
  if (n == 0) return fail('empty');
  if (n > MAX_TEXT) return fail('too long');
  const c = text.charCodeAt(0);
  // A leading letter, '=', '+' or ',' can only be meant as symbolic; anything else reads as octal.
  const letter = (c | 32) >= 97 && (c | 32) <= 122;
  if (letter || c == 61 || c == 43 || c == 44) return parseSymbolic(text);
  return parseOctal(text);
}

/** The umask 0..0o777 that `text` names, or -1 if it is not a valid umask. */
export function parseUmask(text: string): i32 {
  return parse(text);
}

/** "" if `text` is a valid umask, else why not, to print after "invalid --umask 'X': ". */
export function umaskError(text: string): string {
  parse(text);
  return failure;
}

/** The mode a new file gets when created with 0666 under `mask`. */
export function fileMode(mask: i32): i32 {
  return 0o666 & ~mask;
}

/** The mode a new directory gets when created with 0777 under `mask`. */
export function dirMode(mask: i32): i32 {
  return 0o777 & ~mask;
}

/** "0022", as `umask` prints it; "" for a mask outside 0..0o777. */
export function formatUmaskOctal(mask: i32): string {
  if (mask < 0 || mask > 0o777) return '';
  let out = '0';
  for (let shift = 6; shift >= 0; shift -= 3) out += String.fromCharCode(48 + ((mask >> shift) & 7));
  return out;
}

/** "u=rwx,g=rx,o=rx", as `umask -S` prints it; "" for a mask outside 0..0o777. */
export function formatUmaskSymbolic(mask: i32): string {
  if (mask < 0 || mask > 0o777) return '';
  let out = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const allow = ~(mask >> shift) & 7;
    out += shift == 6 ? 'u=' : shift == 3 ? ',g=' : ',o=';
    if (allow & 4) out += 'r';
    if (allow & 2) out += 'w';
    if (allow & 1) out += 'x';
  }
  return out;
}
