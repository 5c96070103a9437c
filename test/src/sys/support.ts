// Shared by the sys tests: a /bin/sh child that reports what it inherited, child-node scenarios, cleanup.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import {
  spawn,
  waitpid,
  kill,
  libc,
  checkMinusOne,
  sigset,
  SIG_BLOCK,
  O_RDONLY,
  O_WRONLY,
  O_CREAT,
  O_TRUNC,
  type SpawnOptions,
  type SpawnFileAction,
} from '../../../src/sys/index.js';
import { parseStat } from '../../helpers/proc.js';

export const SIG = constants.signals;

// Test setup only, so it lives here and not in src/sys: daemonkit itself never changes its signal mask.
const sigprocmaskNative = libc.func('int sigprocmask(int how, const void *set, void *oldset)');

/** sigprocmask(2) SIG_BLOCK for the calling (main) thread, which posix_spawn children inherit. */
export function blockSignals(signals: readonly number[]): void {
  checkMinusOne(sigprocmaskNative(SIG_BLOCK, sigset(signals), null), 'sigprocmask');
}

/** For finally blocks: kill (if still there) and reap a child we spawned; never throws. */
export function killAndReap(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    kill(pid, SIG.SIGKILL);
    waitpid(pid);
  } catch {
    // already reaped
  }
}

/** The exit code of a normal exit, or -signal when killed. */
export function exitOf(status: number): number {
  return (status & 0x7f) === 0 ? (status >> 8) & 0xff : -(status & 0x7f);
}

// dash builtins run in the shell itself, so /proc/self is the spawned process; `ls /proc/$$/fd` lists its fds.
const REPORT = [
  'read -r stat < /proc/self/stat; echo "stat $stat"',
  'while read -r k v; do case "$k" in SigBlk:|SigIgn:) echo "$k $v";; esac; done < /proc/self/status',
  'echo fds; ls /proc/$$/fd; echo endfds',
  'printf "pwd "; pwd',
  'echo "arg $1"; echo "env $DK_VALUE"',
].join('\n');

export interface Report {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  ttyNr: number;
  sigBlk: bigint;
  sigIgn: bigint;
  fds: number[];
  pwd: string;
  arg: string;
  env: string;
  status: number;
}

export function parseReport(text: string, status: number): Report {
  const lines = text.split('\n');
  const line = (prefix: string) => {
    const found = lines.find((l) => l.startsWith(prefix));
    if (found === undefined) throw new Error(`no '${prefix}' in report:\n${text}`);
    return found.slice(prefix.length);
  };
  const stat = parseStat(line('stat '));
  const fds = lines.slice(lines.indexOf('fds') + 1, lines.indexOf('endfds')).map(Number);
  return {
    pid: stat.pid,
    ppid: stat.ppid,
    pgid: stat.pgrp,
    sid: stat.session,
    ttyNr: stat.ttyNr,
    sigBlk: BigInt('0x' + line('SigBlk: ')),
    sigIgn: BigInt('0x' + line('SigIgn: ')),
    fds,
    pwd: line('pwd '),
    arg: line('arg '),
    env: line('env '),
    status,
  };
}

/**
 * Spawns the reporting shell with `opts` (stdin /dev/null, stdout+stderr to a report file, then
 * `extraActions`), waits for it and returns what it saw. The child is reaped or killed here.
 */
export function spawnReport(dir: string, opts: Partial<SpawnOptions> = {}, extraActions: SpawnFileAction[] = []): Report {
  const out = join(dir, `report-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  let pid: number | undefined;
  try {
    pid = spawn({
      path: '/bin/sh',
      argv: ['sh', '-c', REPORT, 'sh', 'the-arg'],
      env: ['PATH=/usr/bin:/bin', 'DK_VALUE=the-env'],
      ...opts,
      fileActions: [
        { op: 'open', fd: 0, path: '/dev/null', flags: O_RDONLY, mode: 0 },
        { op: 'open', fd: 1, path: out, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644 },
        { op: 'dup2', fd: 1, newfd: 2 },
        ...extraActions,
        ...(opts.fileActions ?? []),
      ],
    });
    const result = waitpid(pid);
    pid = undefined;
    return parseReport(readFileSync(out, 'utf8'), result!.status);
  } finally {
    killAndReap(pid);
  }
}

/** Environment for a child node: this test's, minus the test runner's own markers. */
function childEnv(scenario: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, DK_SYS_CHILD: scenario };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs this same test bundle in a child node in scenario mode (its parent is not the test process). */
export function runScenario(
  bundle: string,
  scenario: string,
  opts: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), bundle], {
    env: childEnv(scenario, opts.env ?? {}),
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The JSON a scenario printed, or a failure carrying its stderr. */
export function scenarioJson<T>(bundle: string, scenario: string, env: Record<string, string> = {}): T {
  const r = runScenario(bundle, scenario, { env });
  if (r.status !== 0) throw new Error(`scenario ${scenario} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}
