// The values of `run`'s own options: --exit-map FROM=TO (tini's -e, generalized) and --forward SIG.
import { invalid } from '../errors.js';
import { constants } from 'node:os';
import { parseSignal } from './option-values.js';
import { SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGUSR1 } from '../sys/signal.js';

/** An exit status is a byte. */
const MAX_STATUS = 255;
/** The signals Node can listen for (os.constants.signals): no real-time one is among them. */
const CATCHABLE: ReadonlySet<number> = new Set(Object.values(constants.signals));

/** What `run` does with these itself: forwarding them would be a second, different meaning. */
const OWN_SIGNALS: Record<number, string> = {
  [SIGTERM]: 'stops the service',
  [SIGINT]: 'stops the service',
  [SIGHUP]: 'reloads the service (--reload signal sends it to the workers)',
  [SIGUSR1]: 'reopens the logs',
  [SIGCHLD]: 'is how the supervisor learns of exits',
  [SIGKILL]: 'cannot be caught',
  [SIGSTOP]: 'cannot be caught',
};

function status(option: string, value: string, text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) > MAX_STATUS)
    throw invalid(option, value, `'${text}' is not an exit status from 0 to ${MAX_STATUS}`);
  return Number(text);
}

/** `143=0`, each given once: the service's exit status FROM becomes TO. */
export function parseExitMap(option: string, values: readonly string[]): Array<[number, number]> {
  const out = new Map<number, number>();
  for (const value of values) {
    const m = /^([^=]*)=(.*)$/.exec(String(value));
    if (!m) throw invalid(option, value, 'expected FROM=TO, e.g. 143=0');
    const from = status(option, value, m[1]!);
    if (out.has(from)) throw invalid(option, value, `status ${from} is mapped twice`);
    out.set(from, status(option, value, m[2]!));
  }
  return [...out];
}

/** The exit status after the map. */
export function mapExit(map: ReadonlyArray<readonly [number, number]>, code: number): number {
  return map.find(([from]) => from === code)?.[1] ?? code;
}

/** Signals to pass on to every worker's process group: not one `run` answers itself. */
export function parseForwardSignals(option: string, values: readonly string[]): number[] {
  const out: number[] = [];
  for (const value of values) {
    for (const word of String(value).split(',')) {
      const signal = parseSignal(option, word);
      const own = OWN_SIGNALS[signal];
      if (own) throw invalid(option, value, `${word} ${own}; it cannot be forwarded`);
      // Node can only listen for the signals it names: a real-time one would kill run (or, as PID 1, be dropped).
      if (!CATCHABLE.has(signal)) throw invalid(option, value, `${word} is a real-time signal, which run cannot catch to forward`);
      if (!out.includes(signal)) out.push(signal);
    }
  }
  return out;
}
