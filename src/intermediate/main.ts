// The intermediate: the process that called setsid. It confines itself, takes the PID file, spawns the daemon
// (so the daemon is not a session leader), relays the readiness verdict to the original, and exits.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { releasePidfile, writePid } from '../core/pidfile.js';
import { confine, takePidfile } from '../core/confine.js';
import { daemonFdTargets, DAEMON_PIDFILE_FD, DAEMON_READY_FD, planFds } from '../core/plan.js';
import { onLines, type Report, type SessionOrder } from '../core/messages.js';
import { errorReport, receiveOrder, type SessionLink } from '../core/session-link.js';
import { nodeNet } from '../core/lazy-net.js';
import { spawnPlanned } from '../core/spawner.js';
import { planner } from '../core/wasm.js';
import { socketpair } from '../sys/socket.js';
import { waitpid } from '../sys/wait.js';
import { kill } from '../sys/signal.js';
import { MARKERS } from '../core/markers.js';
import { O_NOFOLLOW, O_NONBLOCK, O_RDONLY } from '../sys/fcntl.js';
import { logFileOf, type Normalized, type StdioTarget } from '../options.js';


/** Only what the daemon wrote to stderr during this start, not an old log's tail. */
function stderrTail(o: Normalized, from: number): string | undefined {
  const path = logFileOf(o.stdio[2]);
  if (!path) return undefined;
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - 4096);
    if (size <= start) return undefined;
    // Never blocked by a FIFO or led by a symlink planted there meanwhile: the log was opened that way too.
    const fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8').split('\n').slice(-20).join('\n').trimEnd() || undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function sizeOf(t: StdioTarget): number {
  const path = logFileOf(t);
  if (!path) return 0;
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function run(order: SessionOrder, link: SessionLink): void {
  const o = order.options;
  let reported = false;
  const report = (message: Report, exitCode: number) => {
    reported = true;
    link.finish(message, exitCode);
  };
  let pidfd: number | null = null;
  let daemonPid = 0;
  try {
    const got = takePidfile(o);
    if (!got.ok) return report({ kind: 'busy', pid: got.pid }, 1);
    pidfd = got.fd;
    confine(o);
  } catch (e) {
    if (pidfd !== null) releasePidfile(o.pidfile!, pidfd);
    return report(errorReport(e), 1);
  }

  let readyRead: number | null = null;
  let readyWrite: number | null = null;
  if (order.readyProtocol) [readyRead, readyWrite] = socketpair();
  const env = order.readyProtocol
    ? [...o.env, `${MARKERS.role}=daemon`, `${MARKERS.readyFd}=${DAEMON_READY_FD}`, ...(pidfd !== null ? [`${MARKERS.pidfileFd}=${DAEMON_PIDFILE_FD}`, `${MARKERS.pidfile}=${o.pidfile}`] : [])]
    : o.env;
  const stderrFrom = sizeOf(o.stdio[2]);

  let exited: number | null = null;
  let daemonFailure: Extract<Report, { kind: 'failed' }> | null = null;
  const settle = () => {
    if (exited === null) return;
    if (pidfd !== null) releasePidfile(o.pidfile!, pidfd);
    report(
      {
        kind: 'failed',
        pid: daemonPid,
        message: daemonFailure?.message ?? `${o.command ? o.command.path : 'the daemon'} ${planner.describeWaitStatus(exited)} before it was ready`,
        stack: daemonFailure?.stack,
        status: exited,
        statusText: planner.describeWaitStatus(exited),
        stderrTail: stderrTail(o, stderrFrom),
      },
      1,
    );
  };
  const reap = () => {
    if (!daemonPid || exited !== null) return;
    const r = waitpid(daemonPid, 1 /* WNOHANG */);
    if (r) {
      exited = r.status;
      settle();
    }
  };
  process.on('SIGCHLD', reap);
  // That listener does not keep Node's loop alive (DESIGN.md, fact 8), and no handle of ours may until the verdict.
  setInterval(() => {}, 2 ** 30);

  try {
    daemonPid = spawnPlanned({
      path: order.daemon.path,
      argv: order.daemon.argv,
      env,
      fds: planFds(daemonFdTargets(pidfd, readyWrite)),
    });
  } catch (e) {
    if (pidfd !== null) releasePidfile(o.pidfile!, pidfd);
    return report(errorReport(e), 1);
  } finally {
    if (readyWrite !== null) closeSync(readyWrite);
  }
  if (pidfd !== null) writePid(pidfd, daemonPid);
  link.send({ kind: 'spawned', pid: daemonPid });
  reap();

  const ready = () => {
    if (exited !== null || reported) return;
    // The daemon holds its own dup of the locked file now; ours can go.
    if (pidfd !== null) closeSync(pidfd);
    pidfd = null;
    report({ kind: 'ready', pid: daemonPid }, 0);
  };

  if (readyRead !== null) {
    const channel = new (nodeNet().Socket)({ fd: readyRead, readable: true, writable: false });
    onLines(channel, (m) => {
      const msg = m as Report;
      if (msg.kind === 'ready') ready();
      else if (msg.kind === 'failed') {
        // A timeout we already declared stays the reason; the daemon's own exit report follows from it.
        daemonFailure ??= msg;
        // It is on its way out; give it a moment to exit so we can report its status too.
        setTimeout(() => exited === null && kill(daemonPid, 9), 3000).unref();
      }
    });
    channel.on('error', () => {});
  } else {
    setTimeout(() => {
      reap();
      ready();
    }, o.startMs);
  }

  setTimeout(() => {
    if (exited !== null || reported) return;
    daemonFailure = { kind: 'failed', message: `not ready after ${o.readyTimeoutMs / 1000}s; stopped it` };
    kill(daemonPid, 15);
    setTimeout(() => exited === null && kill(daemonPid, 9), 2000).unref();
  }, o.readyTimeoutMs);
}

receiveOrder(run);
