// Service control from Node: `import { start, stop, status, ... } from 'daemonkit'`. The CLI's commands are these same
// functions with flags parsed in front and output rendered after; nothing here prints.
import { ControlError, DamagedStateError, NotRunningError, quote, StartError, AlreadyRunningError, UsageError } from '../errors.js';
import { logFileOf, normalize, parseCount, type Normalized } from '../options.js';
import { OPTIONS, parseOption } from './option-table.js';
import { describeFailure, startDetached, type BlockingWait } from './start.js';
import { ask, listServices, signalService, statusOf, stopService, type Service, type StopOutcome } from './service-control.js';
import { filesOf, readState, writeUnsupervisedRecord, type StateRecord } from './service-files.js';
import { inspectPidfile } from './pidfile.js';
import { planner } from './wasm.js';
import { SIGHUP } from '../sys/signal.js';
import { serviceReport, type ServiceReport } from './service-report.js';
import { checkKnown, homeOf, resolveTarget, type HomeOption, type ServiceTarget } from './service-target.js';
import { serviceOptions, type ServiceOptions } from './service-options.js';
import { followLines, lastLines } from './log-lines.js';

/** How long reload waits for the supervisor's answer: a rolling reload replaces every worker, each waiting to be ready. */
const RELOAD_ANSWER_MS = 600_000;
/** How long reopen waits for the supervisor's answer. */
const REOPEN_ANSWER_MS = 5000;
/** logs() without `lines`: as `daemonkit logs`. */
const DEFAULT_LOG_LINES = 50;
const MAX_LOG_LINES = 1_000_000;

export interface Started {
  name: string;
  /** The supervisor's PID, or the unsupervised daemon's (the running one's, when `alreadyRunning`). */
  pid: number | null;
  supervised: boolean;
  /** How many workers it was asked to run (1 unsupervised). */
  workers: number;
  pidfile: string | null;
  /** It was running already, and `okIfRunning` said that is fine: nothing was started. */
  alreadyRunning: boolean;
}

/** What stop() found and did: `stopped`, `not-running` (already stopped: not an error), `timeout`, `denied`. */
export type StopResult = StopOutcome & { name: string };

export interface StopOptions extends HomeOption {
  /**
   * The stop schedule, as start-stop-daemon's --retry: signal/seconds pairs, 'forever' repeats the last. Default: the
   * one the service was started with, else 'TERM/10/KILL/5'.
   */
  retry?: string;
}

export type ControlResult =
  /** The supervisor did it (a rolling reload finished; the logs were reopened). */
  | { name: string; via: 'supervisor'; message: string | null }
  /** No supervisor: the proven process got the signal it declared for the request. */
  | { name: string; via: 'signal'; pid: number; signal: string };

export interface LogsOptions extends HomeOption {
  /** How many of the last lines (of each log file). Default 50. */
  lines?: number;
  /** Then every line appended, across logrotate's rename or copytruncate, as an async iterator. */
  follow?: boolean;
  /** Ends a follow (the iterator returns). */
  signal?: AbortSignal;
}

/** Starts a service, as `daemonkit start`: resolves once it is ready, or rejects with a StartError saying why not. */
export async function start(options: ServiceOptions): Promise<Started> {
  const { options: o, okIfRunning } = serviceOptions(options);
  return startNormalized(o, okIfRunning);
}

/** start() after the options are normalized: the CLI comes in here with its flags, named as flags in its errors. */
export async function startNormalized(o: Normalized, okIfRunning: boolean, wait?: BlockingWait): Promise<Started> {
  const program = { path: o.command!.path, argv: o.command!.argv, readyProtocol: false };
  const result = await startDetached(o, program, o.supervise, wait);
  const name = o.name ?? 'daemon';
  const started = { name, supervised: o.supervise, workers: o.supervise ? o.workers : 1, pidfile: o.pidfile };
  if (result.kind === 'ready') {
    // What an unsupervised program answers to: SIGHUP to reload (the classic daemon's convention), and for reopen only
    // the signal the user declared.
    const files = o.supervise ? null : filesOf(o);
    if (files) writeUnsupervisedRecord(files.state, o, { reload: SIGHUP, reopen: o.reopenSignal });
    return { ...started, pid: result.pid, alreadyRunning: false };
  }
  if (result.kind === 'busy') {
    if (!okIfRunning) throw new AlreadyRunningError(result.pid, name);
    return { ...started, ...runningShape(o), pid: result.pid, alreadyRunning: true };
  }
  throw new StartError(name, `${name} failed to start: ${describeFailure(result)}`, result);
}

/** The running service's own shape, from its record: not what a start that found it running asked for. */
function runningShape(o: Normalized): { supervised: boolean; workers: number } | null {
  const files = filesOf(o);
  let running;
  try {
    running = files && readState(files.state)?.options;
  } catch {
    return null; // a damaged record: say what was asked
  }
  return running ? { supervised: running.supervise, workers: running.supervise ? running.workers : 1 } : null;
}

/** Stops the service and waits until it is gone. Not running is a result (`kind: 'not-running'`), not an error. */
export async function stop(target: ServiceTarget, options: StopOptions = {}): Promise<StopResult> {
  const service = resolveTarget(target, homeOf(options.home));
  const retry = (value: string | undefined) => parseOption('retry', value, { naming: 'library', base: process.cwd() });
  // Given, else the service's own (its record's), else the default.
  const schedule = options.retry !== undefined ? retry(options.retry) : (recordedSchedule(service) ?? retry(undefined));
  return { ...(await stopService(service, schedule)), name: service.name };
}

/** The stop schedule the service was started with (its --retry), from its record; null without a usable one. */
function recordedSchedule(service: Service): number[] | null {
  try {
    const schedule: unknown = readState(service.files.state)?.options.stopSchedule;
    return Array.isArray(schedule) && schedule.length > 0 && schedule.every(Number.isInteger) ? schedule : null;
  } catch {
    return null; // damaged, or not ours to believe: the default
  }
}

/** Stops the service if it runs, then starts it with the options recorded when it was last started. */
export async function restart(target: ServiceTarget, options: HomeOption = {}): Promise<Started & { stopped: StopResult }> {
  const service = resolveTarget(target, homeOf(options.home));
  const record = readState(service.files.state);
  if (!record)
    throw new UsageError(`no recorded options for ${service.name} (${service.files.state}): start it with daemonkit start first`);
  // Started again detached, it would no longer be the process its manager (systemd, a container) watches.
  if (record.startedBy === 'run')
    throw new UsageError(
      `${service.name} runs in the foreground (daemonkit run): restart it through what started it (systemctl restart, the container's restart); daemonkit reload ${service.name} replaces its workers in place`,
    );
  const o = replayed(service, record);
  const stopped = { ...(await stopService(service, o.stopSchedule)), name: service.name };
  if (stopped.kind === 'timeout') throw new ControlError(service.name, 'ETIMEDOUT', stopped.message);
  if (stopped.kind === 'denied') throw new ControlError(service.name, 'EACCES', stopped.message);
  return { ...(await startNormalized(o, false)), stopped };
}

/** What restart starts: the options as typed at start, normalized again, never the derived ones a record holds. */
function replayed(service: Service, record: StateRecord): Normalized {
  const path = service.files.state;
  const source = record.options.source as Normalized['source'] | undefined;
  if (!source)
    throw new UsageError(
      `${path} was written by an older daemonkit without the options as typed: start ${service.name} with daemonkit start`,
    );
  let options: Normalized;
  try {
    options = normalize(source.input, 'cli', source.env, source.cwd);
  } catch (e) {
    // Valid when it started, not now (a deleted program or directory): the service is left as it is.
    if (e instanceof UsageError)
      throw new UsageError(`cannot restart ${service.name} with the options recorded in ${path}: ${e.message}`, e.option, e.value);
    throw new DamagedStateError(path, `options.source cannot be normalized (${(e as Error).message})`);
  }
  if (options.name !== service.name) throw new DamagedStateError(path, `it records the options of ${quote(options.name)}`);
  return options;
}

/** Reload: a rolling replacement of the workers (or SIGHUP to them, `reload: 'signal'`); an unsupervised daemon gets SIGHUP. */
export async function reload(target: ServiceTarget, options: HomeOption = {}): Promise<ControlResult> {
  return control(resolveTarget(target, homeOf(options.home)), 'reload', RELOAD_ANSWER_MS);
}

/** Reopen the log files (logrotate's postrotate); an unsupervised program gets only the signal it declared. */
export async function reopen(target: ServiceTarget, options: HomeOption = {}): Promise<ControlResult> {
  return control(resolveTarget(target, homeOf(options.home)), 'reopen', REOPEN_ANSWER_MS);
}

/** Asks the supervisor; without one, sends the signal the service declared for this request, to the proven service only. */
async function control(service: Service, request: 'reload' | 'reopen', timeoutMs: number): Promise<ControlResult> {
  const answer = await ask(service, { cmd: request }, timeoutMs);
  if (answer && 'denied' in answer) throw new ControlError(service.name, 'EACCES', `permission denied on ${service.files.socket}`);
  if (answer?.ok) return { name: service.name, via: 'supervisor', message: answer.message ?? null };
  if (answer) throw new ControlError(service.name, 'EFAILED', answer.error ?? `${request} failed`);
  const signal = readState(service.files.state)?.signals?.[request] ?? null;
  if (signal === null) {
    if (inspectPidfile(service.files.pidfile).state !== 'running') throw new NotRunningError(service.name);
    const hint = request === 'reopen' ? ` (start it with --${OPTIONS.reopenSignal.flag} ${OPTIONS.reopenSignal.arg})` : '';
    throw new ControlError(
      service.name,
      'ENOSIGNAL',
      `no supervisor answered and the program declared no signal for ${request}${hint}; nothing was sent`,
    );
  }
  const pid = signalService(service, signal);
  if (pid === null) throw new NotRunningError(service.name);
  return { name: service.name, via: 'signal', pid, signal: planner.signalName(signal) };
}

/** The service's status: LSB code, state, supervisor and workers, restarts, last exits. A name never started: UnknownServiceError. */
export async function status(target: ServiceTarget, options: HomeOption = {}): Promise<ServiceReport> {
  const home = homeOf(options.home);
  const service = resolveTarget(target, home);
  checkKnown(target, service, home);
  return serviceReport(await statusOf(service));
}

/** Every service in the state directory (a PID file or a record), by name, with its status. */
export async function list(options: HomeOption = {}): Promise<ServiceReport[]> {
  const reports = await Promise.all(listServices(homeOf(options.home)).map(statusOf));
  return reports.map(serviceReport);
}

/** The log files a service writes (stdout's, and stderr's when it is another file). */
function logPaths(service: Service): string[] {
  const options = readState(service.files.state)?.options;
  const stdio = options
    ? [options.stdio[1], options.stdio[2]]
    : [{ kind: 'append' as const, path: service.files.pidfile.replace(/\.pid$/, '.log') }];
  return [...new Set(stdio.map(logFileOf).filter((p): p is string => p !== null))];
}

/** Where a service with no log file sends its output, for the one line that says there is nothing to show. */
function outputOf(service: Service): string {
  const stdio = readState(service.files.state)?.options?.stdio;
  return stdio?.[1]?.kind === 'inherit' || stdio?.[2]?.kind === 'inherit'
    ? "its output goes to run's own stdout and stderr: read it where those go (journalctl, docker logs)"
    : 'its output goes to /dev/null';
}

function logsOf(target: ServiceTarget, options: LogsOptions): { paths: string[]; lines: number } {
  const home = homeOf(options.home);
  const service = resolveTarget(target, home);
  const lines = options.lines === undefined ? DEFAULT_LOG_LINES : parseCount('lines', options.lines, 0, MAX_LOG_LINES);
  checkKnown(target, service, home);
  const paths = logPaths(service);
  if (paths.length === 0) throw new UsageError(`${service.name} has no log file (${outputOf(service)})`);
  return { paths, lines };
}

/**
 * The last lines of the service's logs, without their newlines. With `follow: true`, an async iterator instead: those
 * lines, then each line appended (across rotation) until you `break` or `signal` aborts; bad arguments throw at once.
 */
export function logs(target: ServiceTarget, options?: LogsOptions & { follow?: false }): Promise<string[]>;
export function logs(target: ServiceTarget, options: LogsOptions & { follow: true }): AsyncIterableIterator<string>;
export function logs(target: ServiceTarget, options: LogsOptions = {}): Promise<string[]> | AsyncIterableIterator<string> {
  if (options.follow) {
    const { paths, lines } = logsOf(target, options);
    return followLines(paths, lines, options.signal);
  }
  try {
    const { paths, lines } = logsOf(target, options);
    return Promise.resolve(lastLines(paths, lines));
  } catch (e) {
    return Promise.reject(e);
  }
}
