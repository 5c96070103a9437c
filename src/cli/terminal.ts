// What the CLI looks like on a terminal: colour (respecting NO_COLOR), aligned tables, a spinner; plain text elsewhere.
import { writeSync } from 'node:fs';

/**
 * Writes text to stdout or stderr with write(2) itself when nothing is queued on the stream, the usual case: a Node
 * stream's first write costs a command's return a third of a millisecond. What write(2) does not take (a full pipe, a
 * reader gone) goes on through the stream, in order, which handles it as any write (EPIPE included).
 */
export function writeStdio(stream: NodeJS.WriteStream & { fd: number }, text: string): void {
  if (stream.writableLength > 0) return void stream.write(text);
  const data = Buffer.from(text);
  let off = 0;
  try {
    while (off < data.length) off += writeSync(stream.fd, data, off);
  } catch {
    stream.write(data.subarray(off));
  }
}

/** C0 controls but tab and newline, DEL and C1: what could move the cursor, retitle or recolour a terminal. */
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
const CONTROLS_AND_BREAKS = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * Text a service wrote (its stderr, its STATUS=, its error) as it may reach a terminal: each control character shown
 * as \xNN. oneLine: tabs and newlines too, for a table cell or a one-line reason.
 */
export function printable(text: string, oneLine = false): string {
  return text.replace(oneLine ? CONTROLS_AND_BREAKS : CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export type Color = 'green' | 'red' | 'yellow' | 'dim' | 'bold';

/**
 * Whether to colour what goes to stream. NO_COLOR (any non-empty value) always wins; FORCE_COLOR forces colour on
 * (FORCE_COLOR=0 or false forces it off); otherwise only a TTY whose TERM is not "dumb".
 */
export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

// Each colour closes with its own reset (39 default colour, 22 normal intensity) so it nests inside other styles.
const SGR: Record<Color, [number, number]> = {
  green: [32, 39],
  red: [31, 39],
  yellow: [33, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export function paint(text: string, color: Color, on: boolean): string {
  if (!on || text === '') return text;
  const [open, close] = SGR[color];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

/**
 * The colour of a service or worker state: running/ready green; starting/reloading/backoff/stopping yellow;
 * failed/dead/killed/exited abnormally (a non-zero "exited N") red; stopped/exited/exited 0 dim. Unknown ones yellow.
 */
export function stateColor(state: string): Exclude<Color, 'bold'> {
  const s = state.trim().toLowerCase();
  const word = s.split(/[\s:(,]/, 1)[0] ?? '';
  if (word === 'running' || word === 'ready') return 'green';
  if (['starting', 'reloading', 'backoff', 'stopping', 'restarting'].includes(word)) return 'yellow';
  if (['failed', 'dead', 'stale', 'crashed', 'killed'].includes(word)) return 'red';
  if (word === 'exited') {
    // "exited 3" and "exited abnormally" are failures; "exited 0" or a bare "exited" a clean end.
    const code = /^exited\s+(\d+)/.exec(s);
    return /^exited\s+abnormally/.test(s) || (code && code[1] !== '0') ? 'red' : 'dim';
  }
  if (word === 'stopped' || s.startsWith('not running')) return 'dim';
  return 'yellow';
}

// CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks), which take no columns.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}]/u;

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f6ff) ||
    (cp >= 0x1f900 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns a string takes on a terminal: escape codes count 0, combining marks 0, CJK and emoji 2. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (const ch of stripAnsi(text)) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || ZERO_WIDTH.test(ch)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

/** Rows as aligned columns (widths measured without escape codes), two spaces apart, no trailing spaces, no final newline. */
export function table(rows: string[][], opts: { header?: string[]; align?: ('left' | 'right')[] } = {}): string {
  const all = opts.header ? [opts.header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(0, ...all.map((r) => visibleWidth(r[c] ?? ''))));
  return all
    .map((row) => {
      const cells = widths.map((w, c) => {
        const cell = row[c] ?? '';
        const pad = ' '.repeat(w - visibleWidth(cell));
        return opts.align?.[c] === 'right' ? pad + cell : cell + pad;
      });
      return cells.join('  ').replace(/ +$/, '');
    })
    .join('\n');
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

export interface Spinner {
  update(text: string): void;
  stop(finalLine?: string): void;
  /** Its next frame, drawn by a caller that blocks the event loop (its timer cannot fire then). */
  tick(): void;
  /** How often a blocking caller should tick: FRAME_MS on a TTY, Infinity where nothing is drawn. */
  frameMs: number;
}

/** A spinner's frame interval. */
const FRAME_MS = 80;

/**
 * A one-line spinner while the CLI waits. On a TTY it redraws every 80 ms with \r and clear-line; elsewhere it
 * prints nothing until stop(finalLine). Its timer is unref'd: a spinner never keeps the process alive.
 */
export function spinner(stream: NodeJS.WriteStream, text: string): Spinner {
  const live = stream.isTTY === true && process.env.TERM !== 'dumb';
  let current = text;
  let frame = 0;
  let stopped = false;
  const draw = () => {
    // Cut to the terminal's width: a wrapped line could not be redrawn in place with \r.
    const room = (stream.columns || 80) - 3;
    const shown = visibleWidth(current) > room ? truncate(current, room) : current;
    stream.write(`${CLEAR_LINE}${FRAMES[frame]} ${shown}`);
    frame = (frame + 1) % FRAMES.length;
  };
  let timer: NodeJS.Timeout | undefined;
  if (live) {
    draw();
    timer = setInterval(draw, FRAME_MS);
    timer.unref();
  }
  return {
    frameMs: live ? FRAME_MS : Infinity,
    tick() {
      if (live && !stopped) draw();
    },
    update(next: string) {
      current = next;
      if (live && !stopped) draw();
    },
    stop(finalLine?: string) {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      if (live) stream.write(CLEAR_LINE);
      if (finalLine !== undefined) stream.write(`${finalLine}\n`);
    },
  };
}

function truncate(text: string, room: number): string {
  let out = '';
  let width = 0;
  for (const ch of stripAnsi(text)) {
    const w = visibleWidth(ch);
    if (width + w > room - 1) break;
    out += ch;
    width += w;
  }
  return `${out}…`;
}

/** "850ms", "45s", "3m12s", "2h05m", "3d4h": the two largest units, the second zero-padded below a day. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < 1000) return `${Math.floor(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

/** How long ago sinceMs (epoch ms) was, as formatDuration; a time in the future (clock skew) counts as 0. */
export function formatAge(sinceMs: number, now: number = Date.now()): string {
  return formatDuration(now - sinceMs);
}
