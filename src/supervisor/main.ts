// The supervisor: the process that called setsid and stays, holding the PID file lock, running N workers.
import { errorReport, receiveOrder } from '../core/session-link.js';
import { SupervisorRuntime } from './runtime.js';

receiveOrder((order, link) => {
  let runtime: SupervisorRuntime | null = null;
  const fail = (e: unknown) => {
    runtime?.releasePidfile();
    link.finish(errorReport(e), 1);
  };
  try {
    // `start` under systemd (Type=notify, NotifyAccess=all): the CLI's NOTIFY_SOCKET, and MAINPID= with READY=1.
    const env = order.options.source?.env ?? {};
    const manager = env.NOTIFY_SOCKET
      ? { NOTIFY_SOCKET: env.NOTIFY_SOCKET, WATCHDOG_USEC: env.WATCHDOG_USEC, WATCHDOG_PID: env.WATCHDOG_PID }
      : undefined;
    runtime = new SupervisorRuntime(order.options, order.daemon, order.steps, link, { manager, mainPid: true });
    runtime.start().catch(fail);
  } catch (e) {
    fail(e);
  }
});
