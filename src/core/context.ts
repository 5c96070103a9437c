// Reads what the planner needs to know about this process to decide whether it is already detached.
import { fstatSync } from 'node:fs';
import type { DetachContext } from './plan.js';
import { TASK_ID_VAR } from './fork-worker.js';

export function detachContext(env: NodeJS.ProcessEnv = process.env): DetachContext {
  let stdinIsSocket = false;
  try {
    stdinIsSocket = fstatSync(0).isSocket();
  } catch {
    // fd 0 closed: not a socket, and nothing to inherit
  }
  return {
    parentIsInit: process.ppid === 1,
    systemdInvocation: Boolean(env.INVOCATION_ID),
    notifySocket: Boolean(env.NOTIFY_SOCKET),
    stdinIsSocket,
    supervisedWorker: env[TASK_ID_VAR] !== undefined,
  };
}
