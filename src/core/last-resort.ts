// Where a supervisor says what it cannot say in its own log (that log's disk is full, its directory gone).
import { closeSync, openSync, writeSync } from 'node:fs';

/** syslog's priority for facility daemon (3), severity err (3): 3 * 8 + 3. */
const DAEMON_ERR = 27;

/**
 * One line to the kernel log (/dev/kmsg), which journald and rsyslog both collect and `dmesg` shows even when no
 * syslog runs. Needs root (the device is 0644); returns false when it could not be written. Never throws.
 */
export function toKernelLog(tag: string, line: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync('/dev/kmsg', 'w');
    // One record per write(2); the kernel rate-limits user records, so callers write on changes only.
    writeSync(fd, `<${DAEMON_ERR}>${tag}: ${line.replace(/\n/g, ' ')}\n`);
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
