// The original process's side of a start: spawn the new session, hand it the order, wait for its verdict.
import { closeSync, lstatSync, readSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { logFileOf, type Normalized } from '../options.js';
import { contextBits, optionBits, plannedSteps, sessionLogPaths } from './plan.js';
import { runSteps, type PlannedStep, type StepTable } from './step-runner.js';
import { detachContext } from './context.js';
import { lineSplitter, onLines, REPORT_MAX_BYTES, type Report, type SessionOrder } from './messages.js';
import { inspectPidfile, PidfileError } from './pidfile.js';
import { openLogFile, serviceUserOf } from './log-file-open.js';
import { LogFileError } from '../errors.js';
import { claimEarlySession, killAndReap, spawnSessionOn, type SessionEntry } from './session-spawn.js';
import { cwdHint } from './cwd-hint.js';
import { makeStateDir, stateDirRefusal } from './service-files.js';
import { sendWithFds, socketpair } from '../sys/socket.js';
import { waitpid, WNOHANG } from '../sys/wait.js';
import { kill } from '../sys/signal.js';
import { pidfdOpen, pidfdSendSignal, pollReadable, waitReadable } from '../sys/pidfd.js';
import { monotonicMs } from '../sys/time.js';
import { runStopSchedule, stopScheduleBudgetMs } from './supervisor-machine.js';
import { idsOf } from './proc-scan.js';
import { planner } from './wasm.js';
import { nodeNet } from './lazy-net.js';
import { collectYoungGeneration } from './young-collect.js';

export type StartResult =
  | { kind: 'ready'; pid: number }
  | { kind: 'busy'; pid: number | null }
  | {
      kind: 'failed';
      message: string;
      pid?: number;
      stack?: string;
      statusText?: string;
      stderrTail?: string;
      code?: string;
      path?: string;
      hint?: string;
    };

/**
 * How the original waits for its verdict when it has nothing else to do (the CLI): blocked in poll(2) on the link, and
 * tick() every tickMs (a spinner's frame; Infinity for none). No stream, timer or promise job stands between the
 * verdict and the caller: a Node stream's first read and teardown cost a start about a millisecond (bench/RESULTS.md).
 */
export interface BlockingWait {
  tickMs: number;
  tick(): void;
}

export interface DaemonProgram {
  path: string;
  argv: string[];
  readyProtocol: boolean;
}

/**
 * Opens the new session's log files here, the safe way (openLogFile), so a bad path fails with its name and the session
 * gets them by fd; `logs` collects them (path to fd) for the spawn, which closes them after.
 */
function prepareFiles(o: Normalized, created: string[], logs: Map<string, number>): StartResult | null {
  // A named service's socket and record live in the state directory even when its PID file is elsewhere.
  if (o.stateDir && (o.name || (o.pidfile && dirname(o.pidfile) === o.stateDir))) makeStateDir(o.stateDir);
  const refusal = stateDirRefusal(o);
  if (refusal) return { kind: 'failed', ...refusal };
  for (const path of o.stdio.map(logFileOf)) {
    if (!path || logs.has(path)) continue;
    try {
      if (o.stateDir && dirname(path) === o.stateDir) makeStateDir(o.stateDir);
      if (!present(path)) created.push(path);
      logs.set(path, openLogFile(path, serviceUserOf(o)));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return {
        kind: 'failed',
        message: e instanceof LogFileError ? e.message : `cannot open log file ${path}: ${err.code ?? err.message}`,
        code: err.code,
        path,
      };
    }
  }
  return null;
}

/** A start that did not happen leaves nothing behind: log files it created and nobody wrote to go again. */
function removeUnused(paths: string[]): void {
  for (const path of new Set(paths)) {
    try {
      const st = lstatSync(path);
      if (st.isFile() && st.size === 0) unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** How long a new session that gave its verdict (or closed the link) is waited for: it exits right after. */
const REAP_WAIT_MS = 5000;
const REAP_POLL_MS = 1;

/**
 * The new session exits right after its verdict: reap it (within REAP_WAIT_MS) so it never lingers as a zombie. Woken by
 * its pidfd when it exits, not by polling: a `--no-supervise` start returns only once its intermediate is reaped.
 */
async function reapSoon(pid: number, block = false): Promise<number | null> {
  // undefined: still running; null: not our child to reap (any more).
  const reap = (): number | null | undefined => {
    try {
      return waitpid(pid, WNOHANG)?.status;
    } catch {
      return null;
    }
  };
  const now = reap();
  if (now !== undefined) return now;
  try {
    const fd = pidfdOpen(pid);
    if (fd !== null) {
      try {
        if (block) pollReadable(fd, REAP_WAIT_MS);
        else await waitReadable(fd, REAP_WAIT_MS);
      } finally {
        closeSync(fd);
      }
    }
  } catch {
    // No pidfd (EMFILE, a seccomp filter that refuses pidfd_open): look every millisecond instead.
    for (let waited = 0; waited < REAP_WAIT_MS; waited += REAP_POLL_MS) {
      const status = reap();
      if (status !== undefined) return status;
      await new Promise((resolve) => setTimeout(resolve, REAP_POLL_MS));
    }
  }
  return reap() ?? null;
}

/** How often a hung session is looked at while a stop step waits for it to go. */
const HUNG_POLL_MS = 20;
/** What a new session may take beyond its ready timeout and stop schedule before the original gives up on it. */
const BACKSTOP_SLACK_MS = 5000;

/**
 * A new session that gave no verdict in time, and the daemon it spawned, get the stop schedule. The session is our
 * child: it is gone once it is a zombie (kill(2) still finds those; reapSoon reaps it after).
 */
async function stopHung(sessionPid: number, daemon: ReportedDaemon, schedule: readonly number[]): Promise<void> {
  const alive = (pid: number) => pid > 0 && idsOf(pid) !== null;
  await runStopSchedule(schedule, {
    send: (signal) => {
      if (alive(sessionPid)) kill(sessionPid, signal);
      daemon.signal(signal);
      return true;
    },
    gone: async (ms) => {
      const until = Date.now() + ms;
      while (alive(sessionPid) || !daemon.gone()) {
        if (Date.now() >= until) return false;
        await new Promise((r) => setTimeout(r, Math.min(HUNG_POLL_MS, until - Date.now())));
      }
      return true;
    },
  });
}

/**
 * The daemon a session reported spawning, pinned by a pidfd the moment it is named: not our child, so its PID could be
 * a stranger's by the time a hung start is stopped; the pidfd reaches that daemon or nothing.
 */
class ReportedDaemon {
  #fd: number | null = null;

  /** The 'spawned' report's PID; one already gone (or a second report) pins nothing. */
  name(pid: number): void {
    if (this.#fd !== null || !(pid > 0)) return;
    try {
      this.#fd = pidfdOpen(pid);
    } catch {
      this.#fd = null; // not a PID we may open: nothing to stop
    }
  }

  signal(signal: number): void {
    if (this.#fd !== null) pidfdSendSignal(this.#fd, signal);
  }

  gone(): boolean {
    return this.#fd === null || pollReadable(this.#fd, 0);
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

/** Starts a daemon the classic way (original → session leader → daemon) and resolves with the verdict. */
export async function startDetached(
  o: Normalized,
  program: DaemonProgram,
  supervisorEntry = false,
  wait?: BlockingWait,
): Promise<StartResult> {
  if (o.pidfile) {
    let now;
    try {
      now = inspectPidfile(o.pidfile);
    } catch (e) {
      // A symlink planted at the PID file path: refused here, before anything is spawned or created.
      if (e instanceof PidfileError) return { kind: 'failed', message: e.message, code: e.code, path: e.path };
      throw e;
    }
    // Locked with no PID yet: its holder is starting; the new session's own try waits for the PID to name it.
    if (now.state === 'running' || now.state === 'unverified') return { kind: 'busy', pid: now.pid };
  }
  const created: string[] = [];
  const logs = new Map<string, number>();
  let result: StartResult;
  try {
    result = prepareFiles(o, created, logs) ?? (await launch(o, program, supervisorEntry, logs, wait));
  } finally {
    for (const fd of logs.values()) closeSync(fd);
  }
  if (result.kind === 'failed') {
    removeUnused(created);
    const hint = cwdHint(o);
    if (hint) result = { ...result, hint };
  }
  return result;
}

/** The original's state through its steps. */
interface Launch {
  o: Normalized;
  program: DaemonProgram;
  supervisorEntry: boolean;
  /** The log files opened for the new session (path to fd): sent with the order, closed by startDetached. */
  logs: Map<string, number>;
  steps: PlannedStep[];
  /** The ready socket: ours, and the end the new session gets as its fd 3 (-1 once it has it). */
  mine: number;
  theirs: number;
  sessionPid: number;
  verdict: StartResult | null;
  /** Given: the verdict is awaited blocked in poll(2) (verdictBlocking). */
  wait?: BlockingWait;
}

const entryOf = (l: Launch): SessionEntry => (l.supervisorEntry ? 'supervisor' : 'intermediate');

/** The original's steps (the caller's own process: nothing here changes it). */
export const ORIGINAL_STEPS: StepTable<Launch> = {
  // Both already done when the CLI spawned this session first thing (session-spawn.ts): it is the same spawn, earlier.
  'ready-pipe': (l) => {
    const early = claimEarlySession(entryOf(l));
    if (early) [l.mine, l.sessionPid] = [early.socket, early.pid];
    else [l.mine, l.theirs] = socketpair();
  },
  'spawn-session': (l) => {
    if (l.sessionPid) return;
    try {
      l.sessionPid = spawnSessionOn(entryOf(l), l.theirs);
    } finally {
      closeSync(l.theirs);
      l.theirs = -1;
    }
  },
  'await-ready': async (l) => {
    l.verdict = await awaitVerdict(l);
  },
};

async function launch(
  o: Normalized,
  program: DaemonProgram,
  supervisorEntry: boolean,
  logs: Map<string, number>,
  wait: BlockingWait | undefined,
): Promise<StartResult> {
  const l: Launch = { o, program, supervisorEntry, logs, steps: [], mine: -1, theirs: -1, sessionPid: 0, verdict: null, wait };
  try {
    l.steps = plannedSteps(optionBits(o, program.readyProtocol), contextBits(detachContext()));
    await runSteps(l.steps, 'original', ORIGINAL_STEPS, l);
  } catch (e) {
    abandonSession(l);
    const err = e as NodeJS.ErrnoException;
    return { kind: 'failed', message: err.message, code: err.code, path: err.path };
  }
  return l.verdict ?? { kind: 'failed', message: 'the plan leaves nothing to start: this process is already detached' };
}

/** await-ready: hand the new session the order, then wait for its verdict. */
async function awaitVerdict(l: Launch): Promise<StartResult> {
  const { o, program, mine, sessionPid } = l;
  const order: SessionOrder = {
    kind: 'order',
    options: o,
    daemon: { path: program.path, argv: program.argv },
    readyProtocol: program.readyProtocol,
    steps: l.steps,
  };
  const line = Buffer.from(`${JSON.stringify(order)}\n`);
  const sent = sendOrderStart(
    mine,
    line,
    sessionLogPaths(o).map((path) => l.logs.get(path)!),
  );
  // An order too long for one send (a huge environment) needs the event loop to write its rest while waiting.
  if (l.wait && sent === line.length) return verdictBlocking(l, l.wait);
  // node:net only now: it loads while the new session's Node starts up.
  const link = new (nodeNet().Socket)({ fd: mine, readable: true, writable: true });
  l.mine = -1; // the Socket owns it now
  // The rest, if any, without blocking: the backstop below covers a session that never reads it.
  if (sent < line.length) link.write(line.subarray(sent));

  return await new Promise<StartResult>((resolve) => {
    const daemon = new ReportedDaemon();
    let done = false;
    let givingUp = false;
    const finish = (r: StartResult) => {
      if (done) return;
      done = true;
      clearTimeout(backstop);
      link.destroy();
      daemon.close();
      void settle(l, r).then(resolve);
    };
    // The session and its daemon get the stop schedule; their end of the link closing meanwhile is no verdict.
    const giveUp = (r: StartResult) => {
      if (done || givingUp) return;
      givingUp = true;
      clearTimeout(backstop);
      link.destroy();
      void stopHung(sessionPid, daemon, o.stopSchedule).then(() => finish(r));
    };
    const backstopMs = backstopMsOf(o);
    const backstop = setTimeout(() => giveUp(hungFor(backstopMs)), backstopMs);
    onLines(
      link,
      (m) => {
        const r = m as Report;
        if (r.kind === 'spawned') daemon.name(r.pid);
        const verdict = verdictOf(r);
        if (verdict) finish(verdict);
      },
      { maxBytes: REPORT_MAX_BYTES, tooLong: () => giveUp(OVERLONG) },
    );
    link.on('error', () => {});
    link.on('close', () => {
      if (done || givingUp) return;
      done = true;
      clearTimeout(backstop);
      daemon.close();
      void reapSoon(sessionPid).then((status) => resolve(endedWithout(status)));
    });
  });
}

/** How much of a read the blocking wait takes from the link at once: reports are a line each, a failure's the longest. */
const LINK_READ_BYTES = 64 * 1024;

/** awaitVerdict blocked in poll(2) on the link (the CLI's wait), ticking between polls; the same verdicts. */
async function verdictBlocking(l: Launch, wait: BlockingWait): Promise<StartResult> {
  const { o, sessionPid, mine } = l;
  const daemon = new ReportedDaemon();
  const got: { verdict: StartResult | null } = { verdict: null };
  let overlong = false;
  const lines = lineSplitter(
    (m) => {
      const r = m as Report;
      if (r.kind === 'spawned') daemon.name(r.pid);
      got.verdict = verdictOf(r);
      if (got.verdict) lines.stop();
    },
    { maxBytes: REPORT_MAX_BYTES, tooLong: () => (overlong = true) },
  );
  let backstopMs = 0;
  let ended = false;
  try {
    l.mine = -1; // closed below, whatever happens
    backstopMs = backstopMsOf(o);
    const deadline = monotonicMs() + backstopMs;
    const buf = Buffer.allocUnsafe(LINK_READ_BYTES);
    // Idle until the session answers: the young generation's collection goes here, not after the verdict.
    if (!pollLink(mine, 0)) collectYoungGeneration();
    while (!got.verdict && !ended && !overlong) {
      const left = deadline - monotonicMs();
      if (left <= 0) break;
      if (!pollLink(mine, Math.ceil(Math.min(left, wait.tickMs)))) {
        wait.tick();
        continue;
      }
      const n = readLink(mine, buf);
      if (n === 0) ended = true;
      else if (n > 0) lines.push(buf.subarray(0, n));
    }
  } finally {
    closeSync(mine);
  }
  try {
    if (got.verdict) return await settle(l, got.verdict, true);
    if (ended) return endedWithout(await reapSoon(sessionPid, true));
    await stopHung(sessionPid, daemon, o.stopSchedule);
  } finally {
    daemon.close();
  }
  return settle(l, overlong ? OVERLONG : hungFor(backstopMs), true);
}

/**
 * One read(2) of the link once poll says so: bytes read, -1 to poll again, 0 at its end. Any other error ends the link
 * too, as a stream's 'error' then 'close' would: the verdict is then the session's exit status.
 */
function readLink(fd: number, buf: Buffer): number {
  try {
    return readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EAGAIN' || code === 'EINTR' ? -1 : 0;
  }
}

/** poll(2) on the link; an fd poll refuses (EBADF and the like) counts as readable, so that readLink sees its end. */
function pollLink(fd: number, timeoutMs: number): boolean {
  try {
    return pollReadable(fd, timeoutMs);
  } catch {
    return true;
  }
}

/** The verdict a report gives; none for 'spawned' (it names the daemon) or a report of a kind we do not know. */
function verdictOf(r: Report): StartResult | null {
  switch (r.kind) {
    case 'ready':
      return { kind: 'ready', pid: r.pid };
    case 'busy':
      return { kind: 'busy', pid: r.pid };
    case 'failed':
      return { ...r, kind: 'failed' };
    case 'error':
      return { kind: 'failed', message: r.message, code: r.code, path: r.path };
    default:
      return null;
  }
}

/** A ready supervisor stays; anything else (the intermediate, a failed supervisor) is exiting: reap it first. */
async function settle(l: Launch, r: StartResult, block = false): Promise<StartResult> {
  if (!(l.supervisorEntry && r.kind === 'ready')) await reapSoon(l.sessionPid, block);
  return r;
}

/**
 * The new session enforces the ready timeout itself (then stops what it started with the schedule); the original's
 * backstop only covers it dying or hanging: it and its daemon get the stop schedule, then the start fails.
 */
const backstopMsOf = (o: Normalized) => o.readyTimeoutMs + stopScheduleBudgetMs(o.stopSchedule) + BACKSTOP_SLACK_MS;

const hungFor = (ms: number): StartResult => ({
  kind: 'failed',
  message: `no verdict from the new session after ${ms / 1000}s; stopped it`,
});

/** The link is written by the new session, which may run as the service user by then: what it sends is bounded. */
const OVERLONG: StartResult = {
  kind: 'failed',
  message: `the new session sent a report over ${REPORT_MAX_BYTES / 1024} KiB; stopped it`,
};

const endedWithout = (status: number | null): StartResult => ({
  kind: 'failed',
  message: `the new session ended without a verdict (${status === null ? 'status unknown' : planner.describeWaitStatus(status)})`,
});

/** What the first send of an order may hold: an empty unix socket's buffer takes it at once, so it never blocks. */
const ORDER_FIRST_BYTES = 16 * 1024;

/**
 * The order's first bytes with the log files attached (SCM_RIGHTS), sent on the still blocking socket; returns how
 * many bytes went. A session that died meanwhile is not an error here: its end closes, and the verdict says how it
 * ended (all of it counts as sent).
 */
function sendOrderStart(fd: number, line: Buffer, logFds: number[]): number {
  try {
    return sendWithFds(fd, line.subarray(0, ORDER_FIRST_BYTES), logFds);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPIPE' && code !== 'ECONNRESET') throw e;
    return line.length;
  }
}

/** A launch that failed before its verdict: the session it spawned never got a whole order, so it goes, reaped. */
function abandonSession(l: Launch): void {
  if (l.mine >= 0) closeSync(l.mine);
  l.mine = -1;
  if (l.sessionPid && l.verdict === null) killAndReap(l.sessionPid);
}

/** One-line (or few-line) text for a failed start, as the CLI and the library print it. */
export function describeFailure(r: Extract<StartResult, { kind: 'failed' }>): string {
  const lines = [r.message];
  if (r.stack && r.stack !== r.message)
    lines.push(
      r.stack
        .split('\n')
        .slice(r.stack.startsWith(r.message) ? 1 : 0)
        .join('\n'),
    );
  if (r.statusText && !r.message.includes(r.statusText)) lines.push(`(${r.statusText})`);
  if (r.stderrTail) lines.push('last lines of its stderr:', ...r.stderrTail.split('\n').map((l) => `  ${l}`));
  if (r.hint) lines.push(r.hint);
  return lines.filter(Boolean).join('\n');
}
