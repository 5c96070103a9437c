// The one parser of /proc/PID/stat, plain ESM so bench/ and scripts/ import it without a build, and test/ through its .d.mts.
import { readFileSync } from 'node:fs';

/**
 * proc(5)'s stat line. comm sits in parentheses and may itself hold spaces or ')', so the fields are
 * counted from the last ')'; after it, field n of the man page is rest[n - 3].
 */
export function parseStat(text) {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return {
    pid: Number(text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    ttyNr: Number(rest[4]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
    // With the PID, the start time (clock ticks after boot) names one process for good: PIDs are recycled.
    starttime: Number(rest[19]),
  };
}

/** /proc/PID/stat parsed; throws (ENOENT) when there is no such process. */
export function stat(pid) {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
}

/** /proc/PID/stat parsed, or null when there is no such process (or it is not ours to read). */
export function statOrNull(pid) {
  try {
    return stat(pid);
  } catch {
    return null;
  }
}

/** Exists and has not finished: a zombie (Z) or a dead task (X) counts as gone. */
export function alive(pid) {
  const s = statOrNull(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

/** The start time of pid (see parseStat), or null when it is gone. */
export function startTime(pid) {
  return statOrNull(pid)?.starttime ?? null;
}
