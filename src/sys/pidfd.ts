// pidfd_open(2) and poll(2): waiting for processes that are not our children (a pidfd turns readable at exit).
import { libc, koffi, cInt, declare, EBADF, EINTR, ESRCH } from './libc.js';
import { sysError } from './errors.js';
import { monotonicMs } from './time.js';

export const SYS_pidfd_open = 434; // from the table shared by x86_64, arm64 and the other modern ABIs

const POLLIN = 0x001;
const POLLERR = 0x008;
const POLLHUP = 0x010;
const POLLNVAL = 0x020;

// syscall(2) is variadic: koffi takes extra arguments as (type, value) pairs.
const syscallNative = libc.func('long syscall(long number, ...)');
// struct pollfd is passed in/out: koffi copies the object in and revents back out, sync or async.
const pollNative = declare((lib, k) =>
  lib.func('poll', 'int', [k.inout(k.pointer(k.struct({ fd: 'int', events: 'short', revents: 'short' }))), 'unsigned long', 'int']),
);

interface PollFdValue {
  fd: number;
  events: number;
  revents: number;
}

/** pidfd_open(2) via syscall(2): a close-on-exec fd for pid, or null for ESRCH (already gone). -1/errno convention. */
export function pidfdOpen(pid: number): number | null {
  const ret = Number(syscallNative(SYS_pidfd_open, 'int', cInt(pid, 'pid'), 'unsigned int', 0));
  if (ret >= 0) return ret;
  const errno = koffi.errno();
  if (errno === ESRCH) return null;
  throw sysError(errno, 'pidfd_open');
}

// Readable means a read would not block: data, end of file (POLLHUP) or a pending error.
function readable(pfd: PollFdValue): boolean {
  if (pfd.revents & POLLNVAL) throw sysError(EBADF, 'poll');
  return (pfd.revents & (POLLIN | POLLHUP | POLLERR)) !== 0;
}

function remaining(deadline: number): number {
  return deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - monotonicMs()));
}

function deadlineOf(timeoutMs: number): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs < -1) throw new RangeError(`timeoutMs must be -1 or >= 0, got ${String(timeoutMs)}`);
  return timeoutMs === -1 ? Infinity : monotonicMs() + timeoutMs;
}

/** poll(2) on one fd for readability, blocking the thread up to timeoutMs (-1: forever). -1/errno convention; retries EINTR. */
export function pollReadable(fd: number, timeoutMs: number): boolean {
  cInt(fd, 'fd');
  const deadline = deadlineOf(timeoutMs);
  for (;;) {
    const pfd: PollFdValue = { fd, events: POLLIN, revents: 0 };
    const ret = pollNative(pfd, 1, remaining(deadline));
    if (ret > 0) return readable(pfd);
    if (ret === 0) return false;
    const errno = koffi.errno();
    if (errno !== EINTR) throw sysError(errno, 'poll');
  }
}

/**
 * pollReadable on one of koffi's worker threads, leaving the event loop free. The pending call
 * keeps the loop alive and holds a worker (as many as cores) until it returns: prefer a finite timeout.
 */
export async function waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
  cInt(fd, 'fd');
  const deadline = deadlineOf(timeoutMs);
  for (;;) {
    const pfd: PollFdValue = { fd, events: POLLIN, revents: 0 };
    // errno is taken in the completion callback, before any other call can overwrite it.
    const { ret, errno } = await new Promise<{ ret: number; errno: number }>((resolve, reject) => {
      pollNative.async(pfd, 1, remaining(deadline), (err: unknown, ret: number) => {
        if (err) reject(err);
        else resolve({ ret, errno: ret === -1 ? koffi.errno() : 0 });
      });
    });
    if (ret > 0) return readable(pfd);
    if (ret === 0) return false;
    if (errno !== EINTR) throw sysError(errno, 'poll');
  }
}

export const SYS_pidfd_send_signal = 424;

/** pidfd_send_signal(2) via syscall(2), -1/errno: signals exactly the process the pidfd was opened for; false if it has exited. */
export function pidfdSendSignal(pidfd: number, signal: number): boolean {
  const ret = Number(
    syscallNative(SYS_pidfd_send_signal, 'int', cInt(pidfd, 'pidfd'), 'int', cInt(signal, 'signal'), 'void *', null, 'unsigned int', 0),
  );
  if (ret === 0) return true;
  const errno = koffi.errno();
  if (errno === ESRCH) return false;
  throw sysError(errno, 'pidfd_send_signal');
}
