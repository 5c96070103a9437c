// Types for poll.mjs (plain ESM so bench/ and scripts/ run it without a build).
export interface PollOptions {
  /** Pause between calls; default 10 ms. */
  stepMs?: number;
  /** Give up after this long; default 5000 ms. */
  timeoutMs?: number;
}
export function sleepSync(ms: number): void;
export function sleep(ms: number): Promise<void>;
export function now(): number;
export function poll<T>(cond: () => T | Promise<T>, options?: PollOptions): Promise<NonNullable<T> | null>;
export function pollSync<T>(cond: () => T, options?: PollOptions): NonNullable<T> | null;
export function waitFor(cond: () => unknown | Promise<unknown>, timeoutMs?: number, stepMs?: number): Promise<boolean>;
