// The supervisor machine's ABI: every number that crosses to the host (actions, states, reasons, codes, config slots)
// is named here once, with a name function the host decodes it through; the host never redeclares them.

// ---- actions: 4-int records [kind, a, b, c] ----------------------------------------------------------------------
/** [task] spawn worker `task` (answer with supSpawned or supSpawnFailedWith). */
export const A_SPAWN: i32 = 1;
/** [pid, signal, toGroup] toGroup 1: the process group of pid, 0: pid alone. */
export const A_SIGNAL: i32 = 2;
/** [timerId, delayMs] answer with supTimer(timerId) unless cancelled. */
export const A_ARM_TIMER: i32 = 3;
/** [timerId] */
export const A_CANCEL_TIMER: i32 = 4;
/** every worker was ready once: `start` may exit 0. */
export const A_READY: i32 = 5;
/** [task, rawStatus, pid] a worker died (pid 0: could not be spawned) before the first A_READY. */
export const A_START_FAILED: i32 = 6;
/** [reason] one of GIVE_UP_*. */
export const A_GAVE_UP: i32 = 7;
/** [exitCode] one of SUP_EXIT_*: the supervisor exits now; nothing follows. */
export const A_EXIT: i32 = 8;
export const A_RELOADED: i32 = 9;
/** [task, rawStatus] rawStatus RELOAD_NOT_READY: the replacement was not ready in time. */
export const A_RELOAD_FAILED: i32 = 10;
/** [pid, fromStep, toStep] pid outlived stop step fromStep and gets toStep's signal (the A_SIGNAL that follows). */
export const A_ESCALATE: i32 = 11;
/** [pid, task, cause] the first answer to supExited: why the process is gone, one of EXIT_CAUSE_*. */
export const A_REAPED: i32 = 12;
/** [pgid, signal, step] signal what an exited worker left in its group; answer with supLeftoversSignalled. */
export const A_SIGNAL_LEFTOVERS: i32 = 13;
const ACTION_NAMES: string[] = [
  '',
  'spawn',
  'signal',
  'arm-timer',
  'cancel-timer',
  'ready',
  'start-failed',
  'give-up',
  'exit',
  'reloaded',
  'reload-failed',
  'escalate',
  'reaped',
  'signal-leftovers',
];

/** supSpawnFailedWith's errno for a spawn that failed with none (a plan refused): a failure like any other. */
export const SPAWN_ERRNO_UNKNOWN: i32 = -1;

/** A_RELOAD_FAILED's status when the replacement did not exit but was not ready in time. */
export const RELOAD_NOT_READY: i32 = -1;

// ---- the supervisor's state --------------------------------------------------------------------------------------
export const SUP_STARTING: i32 = 0;
export const SUP_RUNNING: i32 = 1;
export const SUP_RELOADING: i32 = 2;
export const SUP_STOPPING: i32 = 3;
export const SUP_FAILED: i32 = 4;
export const SUP_EXITED: i32 = 5;
const SUP_STATE_NAMES: string[] = ['starting', 'running', 'reloading', 'stopping', 'failed', 'exited'];

// ---- a worker's state --------------------------------------------------------------------------------------------
export const WORKER_STARTING: i32 = 0;
export const WORKER_RUNNING: i32 = 1;
export const WORKER_BACKOFF: i32 = 2;
export const WORKER_STOPPING: i32 = 3;
export const WORKER_EXITED: i32 = 4;
export const WORKER_FAILED: i32 = 5;
const WORKER_STATE_NAMES: string[] = ['starting', 'running', 'backoff', 'stopping', 'exited', 'failed'];

// ---- why it gave up ----------------------------------------------------------------------------------------------
export const GIVE_UP_CRASH_LOOP: i32 = 1;
export const GIVE_UP_STOP_RAN_OUT: i32 = 2;
export const GIVE_UP_READY_TIMEOUT: i32 = 3;
const GIVE_UP_NAMES: string[] = ['', 'crash-loop', 'stop-schedule-ran-out', 'ready-timeout'];

// ---- why a reaped process is gone ----------------------------------------------------------------------------------
/** Outside a stop and not retired: a crash or an exit, which the restart policy answers. */
export const EXIT_CAUSE_EXITED: i32 = 0;
/** An old worker a rolling reload retired once its replacement was ready. */
export const EXIT_CAUSE_REPLACED: i32 = 1;
/** During (or after) a stop. */
export const EXIT_CAUSE_STOPPED: i32 = 2;
const EXIT_CAUSE_NAMES: string[] = ['exited', 'replaced', 'stopped'];

// ---- the supervisor's exit codes ----------------------------------------------------------------------------------
export const SUP_EXIT_OK: i32 = 0;
export const SUP_EXIT_FAILED: i32 = 1;
export const SUP_EXIT_RAN_OUT: i32 = 2;

// ---- configuration: supCreate takes an Int32Array of CONFIG_LENGTH slots ----------------------------------------------
export const RESTART_ON_FAILURE: i32 = 0;
export const RESTART_ALWAYS: i32 = 1;
export const RESTART_NEVER: i32 = 2;
const RESTART_NAMES: string[] = ['on-failure', 'always', 'never'];
export const RELOAD_ROLLING: i32 = 0;
export const RELOAD_SIGNAL: i32 = 1;
const RELOAD_NAMES: string[] = ['rolling', 'signal'];

export const CONFIG_WORKERS: i32 = 0;
/** RESTART_* */
export const CONFIG_RESTART: i32 = 1;
export const CONFIG_BACKOFF_MIN_MS: i32 = 2;
export const CONFIG_BACKOFF_MAX_MS: i32 = 3;
export const CONFIG_MIN_UPTIME_MS: i32 = 4;
/** -1: no limit. */
export const CONFIG_MAX_RESTARTS: i32 = 5;
/** 0: count every restart ever. */
export const CONFIG_RESTART_WINDOW_MS: i32 = 6;
/** -1: wait for supReady. */
export const CONFIG_START_MS: i32 = 7;
/** 0: forever. */
export const CONFIG_READY_TIMEOUT_MS: i32 = 8;
/** RELOAD_* */
export const CONFIG_RELOAD: i32 = 9;
export const CONFIG_LENGTH: i32 = 10;
/** CONFIG_MAX_RESTARTS's "no limit". */
export const NO_RESTART_LIMIT: i32 = -1;
/** CONFIG_START_MS's "wait for supReady". */
export const START_WHEN_READY: i32 = -1;
/** The most workers one machine supervises (the CLI's --workers and forkProcesses() take it from here). */
export const MAX_WORKERS: i32 = 65536;

function nameIn(names: string[], code: i32): string {
  return code >= 0 && code < names.length ? names[code] : '';
}

function codeIn(names: string[], name: string): i32 {
  for (let i = 0; i < names.length; i++) if (names[i].length && names[i] == name) return i;
  return -1;
}

/** "spawn", "signal", ... for an A_* kind; "" for no action. */
export function actionName(kind: i32): string {
  return nameIn(ACTION_NAMES, kind);
}
/** "starting", "running", "reloading", "stopping", "failed", "exited"; "" for no state (a bad handle's -1). */
export function supStateName(state: i32): string {
  return nameIn(SUP_STATE_NAMES, state);
}
/** "starting", "running", "backoff", "stopping", "exited", "failed". */
export function workerStateName(state: i32): string {
  return nameIn(WORKER_STATE_NAMES, state);
}
/** "crash-loop", "stop-schedule-ran-out", "ready-timeout". */
export function giveUpReasonName(reason: i32): string {
  return nameIn(GIVE_UP_NAMES, reason);
}
/** "exited", "replaced", "stopped". */
export function exitCauseName(cause: i32): string {
  return nameIn(EXIT_CAUSE_NAMES, cause);
}
/** RESTART_* for "on-failure", "always", "never"; -1 otherwise. */
export function restartCode(name: string): i32 {
  return codeIn(RESTART_NAMES, name);
}
/** RELOAD_* for "rolling", "signal"; -1 otherwise. */
export function reloadModeCode(name: string): i32 {
  return codeIn(RELOAD_NAMES, name);
}
