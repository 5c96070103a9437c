// The supervisor: the process that called setsid and stays, holding the PID file lock, running N workers.
import { Socket } from 'node:net';
import { SESSION_READY_FD } from './core/plan.js';
import { onLines, type Report, type SessionOrder } from './core/messages.js';
import { takePidfile } from './core/confine.js';
import { releasePidfile } from './core/pidfile.js';
import { SupervisorRuntime } from './core/supervisor-runtime.js';

const link = new Socket({ fd: SESSION_READY_FD, readable: true, writable: true });

function fail(message: Report): void {
  link.end(`${JSON.stringify(message)}\n`, () => process.exit(1));
  setTimeout(() => process.exit(1), 2000).unref();
}

link.on('error', () => {});
let started = false;
onLines(link, (m) => {
  const order = m as SessionOrder;
  if (started || order.kind !== 'order') return;
  started = true;
  const o = order.options;
  let pidfd: number | null = null;
  try {
    const got = takePidfile(o);
    if (!got.ok) return fail({ kind: 'busy', pid: got.pid });
    pidfd = got.fd;
    new SupervisorRuntime(o, order.daemon, pidfd, link).start().catch((e: NodeJS.ErrnoException) => {
      if (pidfd !== null) releasePidfile(o.pidfile!, pidfd);
      fail({ kind: 'error', message: e.message, code: e.code, path: e.path });
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (pidfd !== null) releasePidfile(o.pidfile!, pidfd);
    fail({ kind: 'error', message: err.message, code: err.code, path: err.path });
  }
});
