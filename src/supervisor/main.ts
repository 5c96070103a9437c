// The supervisor: the process that called setsid and stays, holding the PID file lock, running N workers.
import { takePidfile } from '../core/confine.js';
import { releasePidfile } from '../core/pidfile.js';
import { errorReport, receiveOrder } from '../core/session-link.js';
import { SupervisorRuntime } from './runtime.js';

receiveOrder((order, link) => {
  const o = order.options;
  let pidfd: number | null = null;
  const fail = (e: unknown) => {
    if (pidfd !== null) releasePidfile(o.pidfile!, pidfd);
    link.finish(errorReport(e), 1);
  };
  try {
    const got = takePidfile(o);
    if (!got.ok) return link.finish({ kind: 'busy', pid: got.pid }, 1);
    pidfd = got.fd;
    new SupervisorRuntime(o, order.daemon, pidfd, link).start().catch(fail);
  } catch (e) {
    fail(e);
  }
});
