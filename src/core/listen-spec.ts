// `--listen [NAME=]SPEC`: the sockets the supervisor binds once and every worker inherits (socket activation's fds 3..).
import { resolve } from 'node:path';
import { invalid } from '../errors.js';
import { AF_INET, AF_INET6, inetPton } from '../sys/inet.js';
import { SUN_PATH_MAX } from '../sys/un.js';

export type ListenSpec =
  /** host null: every address, IPv6 and IPv4 on one dual-stack socket where the kernel has IPv6. */
  | { kind: 'tcp'; name: string; text: string; host: string | null; port: number }
  | { kind: 'tcp6'; name: string; text: string; host: string; port: number }
  /** path starting with '@': the abstract namespace, no file. */
  | { kind: 'unix'; name: string; text: string; path: string };

const OPTION = '--listen';
const MAX_PORT = 65535;
/** LISTEN_FDNAMES is colon-separated, and sd_listen_fds_with_names(3) caps a name at 255 characters. */
const NAME = /^[A-Za-z0-9_.-]{1,255}$/;
const FORMS = 'expected tcp:PORT, tcp:HOST:PORT, tcp6:[ADDR]:PORT or unix:PATH, optionally NAME= first';

function port(option: string, value: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > MAX_PORT)
    throw invalid(option, value, `port '${text}' is not a number from 0 to ${MAX_PORT}`);
  return Number(text);
}

/**
 * One `--listen` value. Without NAME=, the name is the spec's kind ('tcp', 'tcp6', 'unix'): what a worker reading
 * LISTEN_FDNAMES can tell apart without configuration. A relative unix path is taken from `base`. `option` is how
 * errors name it (`listen` in the library).
 */
export function parseListenSpec(value: string, base: string = process.cwd(), option: string = OPTION): ListenSpec {
  if (typeof value !== 'string') throw invalid(option, value, FORMS);
  // A name precedes the first ':'; an '=' later belongs to the address (a unix path may hold one).
  const named = /^([^:=]*)=/.exec(value);
  if (named && !NAME.test(named[1]!)) {
    throw invalid(option, value, `name '${named[1]}' must be 1 to 255 of A-Z a-z 0-9 _ . - (LISTEN_FDNAMES separates names with ':')`);
  }
  const text = named ? value.slice(named[0].length) : value;
  const colon = text.indexOf(':');
  const kind = colon < 0 ? '' : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  const name = named ? named[1]! : kind;
  switch (kind) {
    case 'tcp': {
      const sep = rest.lastIndexOf(':');
      if (sep < 0) return { kind, name, text, host: null, port: port(option, value, rest) };
      const host = rest.slice(0, sep);
      if (host.includes(':') || host.startsWith('[')) throw invalid(option, value, 'an IPv6 address takes tcp6:[ADDR]:PORT');
      if (!inetPton(AF_INET, host)) throw invalid(option, value, `'${host}' is not an IPv4 address (names are not resolved)`);
      return { kind, name, text, host, port: port(option, value, rest.slice(sep + 1)) };
    }
    case 'tcp6': {
      const m = /^\[([^\]]*)\]:(.*)$/.exec(rest);
      if (!m) throw invalid(option, value, 'expected tcp6:[ADDR]:PORT, e.g. tcp6:[::1]:8080');
      if (!inetPton(AF_INET6, m[1]!)) throw invalid(option, value, `'${m[1]}' is not an IPv6 address`);
      return { kind, name, text, host: m[1]!, port: port(option, value, m[2]!) };
    }
    case 'unix': {
      if (rest === '' || rest === '@') throw invalid(option, value, 'expected unix:PATH');
      if (rest.includes('\0')) throw invalid(option, value, 'a path cannot contain NUL');
      const path = rest.startsWith('@') ? rest : resolve(base, rest);
      const bytes = Buffer.byteLength(path);
      if (bytes >= SUN_PATH_MAX)
        throw invalid(option, value, `the path is ${bytes} bytes; a unix socket path holds at most ${SUN_PATH_MAX - 1}`);
      return { kind, name, text: `unix:${path}`, path };
    }
  }
  throw invalid(option, value, FORMS);
}

/** Every `--listen` value, in order (fd 3 is the first); the same address twice is refused here rather than at bind. */
export function parseListenSpecs(option: string, values: readonly string[], base: string = process.cwd()): ListenSpec[] {
  if (!Array.isArray(values)) throw invalid(option, values, FORMS);
  const specs = values.map((v) => parseListenSpec(v, base, option));
  specs.forEach((s, i) => {
    if (specs.findIndex((t) => t.text === s.text) !== i) throw invalid(option, values[i], `${s.text} is given twice`);
  });
  return specs;
}
