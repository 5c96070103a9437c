// What `--ready MODE` and `--health PROBE` mean, parsed once: when a supervised worker counts as ready, and how its
// liveness is checked. The probes themselves run in src/supervisor/readiness.ts and health.ts.
import { invalid, quote, UsageError } from '../errors.js';
import { parseDuration } from './option-values.js';

/** A check the supervisor runs against the service: connect, GET, or a command's exit status. */
export type Probe = { kind: 'tcp'; host: string; port: number } | { kind: 'http'; url: string } | { kind: 'exec'; command: string };

export type ReadySpec =
  /** Ready once alive this long: a program without a protocol (the old --start-secs). */
  | { kind: 'alive'; ms: number }
  /** Ready when the worker (or a process of its group) sends READY=1 to the service's NOTIFY_SOCKET. */
  | { kind: 'notify' }
  | Probe;

const LOCALHOST = '127.0.0.1';
const PORT_MAX = 65535;
/** The longest alive:DURATION, as --start-secs takes it. */
const ALIVE_MAX_MS = 3_600_000;

function parsePort(option: string, value: string, text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= PORT_MAX)) throw invalid(option, value, `port must be from 1 to ${PORT_MAX}`);
  return port;
}

/** `tcp:PORT`, `tcp:HOST:PORT`, `tcp:[ADDR]:PORT`, `http://...`/`http:URL`, `exec:COMMAND`; null for another kind. */
function parseProbe(option: string, value: string): Probe | null {
  if (value.startsWith('tcp:')) {
    const rest = value.slice('tcp:'.length);
    const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?([^:]*)$/.exec(rest);
    if (!m) throw invalid(option, value, 'expected tcp:PORT or tcp:HOST:PORT');
    const host = m[1] ?? m[2] ?? LOCALHOST;
    return { kind: 'tcp', host, port: parsePort(option, value, m[3]!) };
  }
  if (value.startsWith('http:') || value.startsWith('https:')) {
    // The URL itself (http://HOST:PORT/PATH), `http:URL`, or `http:HOST:PORT/PATH`.
    const rest = value.startsWith('http://') || value.startsWith('https:') ? value : value.slice('http:'.length);
    const text = rest.includes('://') ? rest : `http://${rest}`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalid(option, value, 'not a URL (expected http://HOST:PORT/PATH)');
    }
    if (url.protocol !== 'http:') throw invalid(option, value, 'only http:// URLs are probed (no TLS)');
    return { kind: 'http', url: url.href };
  }
  if (value.startsWith('exec:')) {
    const command = value.slice('exec:'.length);
    if (command.trim() === '') throw invalid(option, value, 'expected exec:COMMAND');
    if (command.includes('\0')) throw invalid(option, value, 'a command cannot contain NUL');
    return { kind: 'exec', command };
  }
  return null;
}

/** `alive:DURATION`, `notify`, `tcp:[HOST:]PORT`, `http:URL` or `exec:COMMAND`. */
export function parseReadySpec(option: string, value: string): ReadySpec {
  if (typeof value !== 'string') throw invalid(option, value, 'expected alive:DURATION, notify, tcp:PORT, http:URL or exec:COMMAND');
  if (value === 'notify') return { kind: 'notify' };
  if (value.startsWith('alive:')) {
    const text = value.slice('alive:'.length);
    try {
      return { kind: 'alive', ms: parseDuration(option, text, { maxMs: ALIVE_MAX_MS }) };
    } catch (e) {
      // The error names what was typed (alive:soon), not just the part after the colon.
      const prefix = `invalid ${option} ${quote(text)}: `;
      if (e instanceof UsageError && e.message.startsWith(prefix)) throw invalid(option, value, e.message.slice(prefix.length));
      throw e;
    }
  }
  const probe = parseProbe(option, value);
  if (probe) return probe;
  throw invalid(option, value, 'expected alive:DURATION, notify, tcp:PORT, tcp:HOST:PORT, http:URL or exec:COMMAND');
}

/** `http:URL`, `tcp:[HOST:]PORT` or `exec:COMMAND`. */
export function parseHealthProbe(option: string, value: string): Probe {
  const probe = typeof value === 'string' ? parseProbe(option, value) : null;
  if (!probe) throw invalid(option, value, 'expected http:URL, tcp:PORT, tcp:HOST:PORT or exec:COMMAND');
  return probe;
}

/** How a probe reads in status and messages: "tcp 127.0.0.1:8080", "http http://...", "exec ./check". */
export function describeProbe(p: Probe): string {
  switch (p.kind) {
    case 'tcp':
      return `tcp ${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
    case 'http':
      return `http ${p.url}`;
    case 'exec':
      return `exec ${p.command}`;
  }
}

/** The --ready text back from a spec, for `plan` and the help. */
export function formatReadySpec(r: ReadySpec): string {
  if (r.kind === 'alive') return `alive:${r.ms}ms`;
  if (r.kind === 'notify') return 'notify';
  return describeProbe(r).replace(' ', ':');
}
