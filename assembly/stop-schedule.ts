// start-stop-daemon's `--retry` schedule: "TERM/10/KILL/5" as flat [signal, timeoutMs, ...] pairs.
// Items alternate signal/seconds; a bare number N is TERM/N/KILL/N; `forever` (only last, after a timeout)
// repeats the pair before it forever and is encoded as the pair [0, -1]. Seconds: 0..86400, up to 3 decimals.
import { signalName, signalNumber } from './signals';

const MAX_ITEMS: i32 = 16;
const MAX_MS: i32 = 86400000;
const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;
const MAX_SIGNAL: i32 = 64;
/** The `forever` marker's pair: [FOREVER_SIGNAL, FOREVER_MS]. */
export const FOREVER_SIGNAL: i32 = 0;
export const FOREVER_MS: i32 = -1;
/** What a `forever` step adds to a schedule's budget: callers give up waiting before. */
const FOREVER_BUDGET_MS: i32 = 3600000;

// Milliseconds for "10" or "0.5"; -1 not a number, -2 more than 3 decimals, -3 more than a day.
function secondsToMs(item: string): i32 {
  const n = item.length;
  let i = 0;
  let whole: i64 = 0;
  while (i < n && item.charCodeAt(i) >= 48 && item.charCodeAt(i) <= 57) {
    if (whole <= <i64>MAX_MS) whole = whole * 10 + <i64>(item.charCodeAt(i) - 48);
    i++;
  }
  if (i == 0) return -1;
  let frac: i64 = 0;
  let decimals = 0;
  if (i < n) {
    if (item.charCodeAt(i) != 46 || i + 1 == n) return -1;
    i++;
    while (i < n) {
      const c = item.charCodeAt(i);
      if (c < 48 || c > 57) return -1;
      decimals++;
      if (decimals <= 3) frac = frac * 10 + <i64>(c - 48);
      else if (c != 48) return -2;
      i++;
    }
  }
  for (let d = decimals; d < 3; d++) frac *= 10;
  const ms = whole * 1000 + frac;
  return ms > <i64>MAX_MS ? -3 : <i32>ms;
}

// The signal an item names ("TERM", "SIGTERM", "15", and start-stop-daemon's "-TERM"/"-15"), or -1.
function itemSignal(item: string): i32 {
  if (item.length > 1 && item.charCodeAt(0) == 45) return signalNumber(item.substring(1));
  return signalNumber(item);
}

// Case-insensitive, without toLowerCase, whose Unicode tables would grow the wasm (RELIABILITY.md).
function isForever(item: string): bool {
  const word = 'forever';
  if (item.length != word.length) return false;
  for (let i = 0; i < word.length; i++) if ((item.charCodeAt(i) | 32) != word.charCodeAt(i)) return false;
  return true;
}

function splitItems(text: string): string[] {
  const items: string[] = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i == text.length || text.charCodeAt(i) == 47) {
      items.push(text.substring(start, i));
      start = i + 1;
    }
  }
  return items;
}

// Parses into `out` and returns "" or the reason; shared by parseStopSchedule and stopScheduleError.
function parseInto(text: string, out: i32[]): string {
  const quoted = " in '" + text + "'";
  if (text.length == 0) return 'empty stop schedule';
  const items = splitItems(text);
  const n = items.length;
  if (n > MAX_ITEMS) return 'too many items (' + n.toString() + ', at most ' + MAX_ITEMS.toString() + ')' + quoted;
  for (let i = 0; i < n; i++) if (items[i].length == 0) return 'empty item' + quoted;
  if (n == 1) {
    const ms = secondsToMs(items[0]);
    if (ms >= 0) {
      out.push(SIGTERM);
      out.push(ms);
      out.push(SIGKILL);
      out.push(ms);
      return '';
    }
  }
  let wantSignal = true;
  for (let i = 0; i < n; i++) {
    const item = items[i];
    const generic = "'" + item + "' is not a signal or a number of seconds" + quoted;
    if (isForever(item)) {
      if (i == 0) return "'" + item + "' has nothing to repeat" + quoted;
      if (!wantSignal) return "expected a number of seconds after '" + items[i - 1] + "', got '" + item + "'" + quoted;
      if (i != n - 1) return "'" + item + "' must be the last item" + quoted;
      out.push(FOREVER_SIGNAL);
      out.push(FOREVER_MS);
      return '';
    }
    const ms = secondsToMs(item);
    if (wantSignal) {
      const sig = itemSignal(item);
      if (sig < 0) {
        if (ms == -1) return generic;
        return "'" + item + "' is not a signal (expected a signal" + (i > 0 ? " after '" + items[i - 1] + "')" : ')') + quoted;
      }
      out.push(sig);
    } else {
      if (ms == -2) return "'" + item + "' has more than 3 decimals" + quoted;
      if (ms == -3) return "'" + item + "' is more than a day (86400 seconds)" + quoted;
      if (ms < 0) {
        if (itemSignal(item) < 0) return generic;
        return "expected a number of seconds after '" + items[i - 1] + "', got '" + item + "'" + quoted;
      }
      out.push(ms);
    }
    wantSignal = !wantSignal;
  }
  if (!wantSignal) return "missing a number of seconds after '" + items[n - 1] + "'" + quoted;
  return '';
}

/** [signal, timeoutMs, ...]; the pair [0, -1] (last only) is `forever`. Empty on error (see stopScheduleError). */
export function parseStopSchedule(text: string): Int32Array {
  const out: i32[] = [];
  if (parseInto(text, out).length) return new Int32Array(0);
  const r = new Int32Array(out.length);
  for (let i = 0; i < out.length; i++) r[i] = out[i];
  return r;
}

/** "" when `text` is a valid schedule, else a one-line reason naming the bad item. */
export function stopScheduleError(text: string): string {
  const out: i32[] = [];
  return parseInto(text, out);
}

function formatSeconds(ms: i32): string {
  let s = (ms / 1000).toString();
  let frac = ms % 1000;
  if (frac == 0) return s;
  let digits = 3;
  while (frac % 10 == 0) {
    frac /= 10;
    digits--;
  }
  let f = frac.toString();
  while (f.length < digits) f = '0' + f;
  return s + '.' + f;
}

/** The canonical text of a parsed schedule ("TERM/10/KILL/5", "HUP/0.5/forever"); "" for an odd-length array. */
export function formatStopSchedule(pairs: Int32Array): string {
  if (pairs.length == 0 || (pairs.length & 1) != 0) return '';
  let s = '';
  for (let i = 0; i < pairs.length; i += 2) {
    if (i > 0) s += '/';
    const sig = pairs[i];
    const ms = pairs[i + 1];
    if (sig == FOREVER_SIGNAL && ms == FOREVER_MS) {
      s += 'forever';
      continue;
    }
    let name = signalName(sig);
    name = name.length ? name.substring(3) : sig.toString();
    s += name + '/' + (ms < 0 ? ms.toString() : formatSeconds(ms));
  }
  return s;
}

/** TERM/10/KILL/5: what `stop` does without --retry. */
export function defaultStopSchedule(): Int32Array {
  const r = new Int32Array(4);
  r[0] = SIGTERM;
  r[1] = 10000;
  r[2] = SIGKILL;
  r[3] = 5000;
  return r;
}

// ---- stepping: every stop (the supervisor's, an unsupervised daemon's, a start's cleanup) walks a schedule so ----

/** Whether `pairs` is a schedule the steppers accept: 1..16 pairs, signals 1..64, 0..86400 s, `forever` last only. */
export function validStopSchedule(pairs: Int32Array): bool {
  const n = pairs.length;
  if (n < 2 || n > MAX_ITEMS * 2 || (n & 1) != 0) return false;
  for (let i = 0; i < n; i += 2) {
    const sig = pairs[i];
    const ms = pairs[i + 1];
    if (sig == FOREVER_SIGNAL && ms == FOREVER_MS) {
      if (i == 0 || i != n - 2) return false;
    } else if (sig < 1 || sig > MAX_SIGNAL || ms < 0 || ms > MAX_MS) return false;
  }
  return true;
}

// A step index → the pair it runs: the `forever` marker runs the pair before it.
function pairOf(pairs: Int32Array, step: i32): i32 {
  return pairs[step * 2 + 1] == FOREVER_MS ? step - 1 : step;
}

/** Whether the schedule has no step `step`: it ran out (the process outlived every step). */
export function stopStepRanOut(pairs: Int32Array, step: i32): bool {
  return step < 0 || step * 2 + 1 >= pairs.length;
}

/** The signal step `step` sends (a `forever` step: its pair's); 0 past the end. */
export function stopStepSignal(pairs: Int32Array, step: i32): i32 {
  return stopStepRanOut(pairs, step) ? 0 : pairs[pairOf(pairs, step) * 2];
}

/** How long step `step` waits for the process to go before the next step; 0 past the end. */
export function stopStepTimeout(pairs: Int32Array, step: i32): i32 {
  return stopStepRanOut(pairs, step) ? 0 : pairs[pairOf(pairs, step) * 2 + 1];
}

/** The step after `step` (one that ran out when stopStepRanOut says so); `forever` stays where it is. */
export function stopNextStep(pairs: Int32Array, step: i32): i32 {
  if (stopStepRanOut(pairs, step)) return pairs.length >> 1;
  return pairs[step * 2 + 1] == FOREVER_MS ? step : step + 1;
}

/** Milliseconds the whole schedule may take; a `forever` step counts as an hour (a caller gives up before). */
export function stopScheduleBudgetMs(pairs: Int32Array): i32 {
  let total = 0;
  for (let i = 1; i < pairs.length; i += 2) total += pairs[i] == FOREVER_MS ? FOREVER_BUDGET_MS : pairs[i];
  return total;
}
