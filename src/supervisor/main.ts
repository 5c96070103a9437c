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
    runtime = new SupervisorRuntime(order.options, order.daemon, order.steps, link);
    runtime.start().catch(fail);
  } catch (e) {
    fail(e);
  }
});
