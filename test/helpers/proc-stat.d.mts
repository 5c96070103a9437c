// Types for proc-stat.mjs (plain ESM so bench/ and scripts/ run it without a build).
export interface Stat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie), T (stopped), X (dead)... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
  /** Clock ticks in user and kernel mode. */
  utime: number;
  stime: number;
  /** Clock ticks after boot: with the PID, names one process for good. */
  starttime: number;
}
export function parseStat(text: string): Stat;
export function stat(pid: number | string): Stat;
export function statOrNull(pid: number | string): Stat | null;
export function alive(pid: number): boolean;
export function startTime(pid: number): number | null;
