// Wait status decoding in the compiled planner: Linux encodings by hand, every 16-bit value, real statuses via perl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { planner } from '../../src/core/wasm.js';

const EXITED = 0;
const KILLED = 1;
const STOPPED = 2;
const CONTINUED = 3;

// The Linux encoding, as the kernel writes it.
const exited = (code: number) => (code & 0xff) << 8;
const killed = (sig: number, core = false) => sig | (core ? 0x80 : 0);
const stopped = (sig: number) => (sig << 8) | 0x7f;
const continued = 0xffff;

test('the planner exports the kind constants this test assumes', () => {
  assert.equal(planner.WAIT_EXITED.value, EXITED);
  assert.equal(planner.WAIT_KILLED.value, KILLED);
  assert.equal(planner.WAIT_STOPPED.value, STOPPED);
  assert.equal(planner.WAIT_CONTINUED.value, CONTINUED);
});

test('hand-written statuses', () => {
  const S = constants.signals;
  const cases: [number, number, number, boolean, number, string][] = [
    // status, kind, code, core, shell code, description
    [exited(0), EXITED, 0, false, 0, 'exited 0'],
    [exited(1), EXITED, 1, false, 1, 'exited 1'],
    [exited(3), EXITED, 3, false, 3, 'exited 3'],
    [exited(255), EXITED, 255, false, 255, 'exited 255'],
    [exited(128 + 9), EXITED, 137, false, 137, 'exited 137'],
    [killed(S.SIGKILL), KILLED, 9, false, 137, 'killed by SIGKILL'],
    [killed(S.SIGTERM), KILLED, 15, false, 143, 'killed by SIGTERM'],
    [killed(S.SIGHUP), KILLED, 1, false, 129, 'killed by SIGHUP'],
    [killed(S.SIGSEGV), KILLED, 11, false, 139, 'killed by SIGSEGV'],
    [killed(S.SIGSEGV, true), KILLED, 11, true, 139, 'killed by SIGSEGV (core dumped)'],
    [killed(S.SIGABRT, true), KILLED, 6, true, 134, 'killed by SIGABRT (core dumped)'],
    [killed(S.SIGSYS), KILLED, 31, false, 159, 'killed by SIGSYS'],
    [killed(32), KILLED, 32, false, 160, 'killed by signal 32'],
    [killed(33), KILLED, 33, false, 161, 'killed by signal 33'],
    [killed(34), KILLED, 34, false, 162, 'killed by SIGRTMIN'],
    [killed(36), KILLED, 36, false, 164, 'killed by SIGRTMIN+2'],
    [killed(64), KILLED, 64, false, 192, 'killed by SIGRTMIN+30'],
    [killed(65), KILLED, 65, false, 193, 'killed by signal 65'],
    [killed(77), KILLED, 77, false, 205, 'killed by signal 77'],
    [killed(77, true), KILLED, 77, true, 205, 'killed by signal 77 (core dumped)'],
    [stopped(S.SIGSTOP), STOPPED, 19, false, 147, 'stopped by SIGSTOP'],
    [stopped(S.SIGTSTP), STOPPED, 20, false, 148, 'stopped by SIGTSTP'],
    [stopped(S.SIGTTIN), STOPPED, 21, false, 149, 'stopped by SIGTTIN'],
    [stopped(S.SIGTTOU), STOPPED, 22, false, 150, 'stopped by SIGTTOU'],
    [stopped(77), STOPPED, 77, false, 205, 'stopped by signal 77'],
    [continued, CONTINUED, 0, false, 0, 'continued'],
    // A ptrace event stop carries the event above bit 16; only the low 16 bits are read.
    [(1 << 16) | stopped(S.SIGTRAP), STOPPED, 5, false, 133, 'stopped by SIGTRAP'],
  ];
  for (const [status, kind, code, core, shell, text] of cases) {
    const at = `status 0x${status.toString(16)}`;
    assert.equal(planner.waitKind(status), kind, at);
    assert.equal(planner.waitCode(status), code, at);
    assert.equal(planner.waitCoreDumped(status), core, at);
    assert.equal(planner.shellExitCode(status), shell, at);
    assert.equal(planner.describeWaitStatus(status), text, at);
  }
});

test('every exit code and every signal, encoded the Linux way', () => {
  for (let code = 0; code < 256; code++) {
    const s = exited(code);
    assert.equal(planner.waitKind(s), EXITED);
    assert.equal(planner.waitCode(s), code);
    assert.equal(planner.shellExitCode(s), code);
    assert.equal(planner.waitCoreDumped(s), false);
    assert.equal(planner.describeWaitStatus(s), `exited ${code}`);
  }
  for (let sig = 1; sig < 0x7f; sig++) {
    const name = planner.signalName(sig) || `signal ${sig}`;
    for (const core of [false, true]) {
      const s = killed(sig, core);
      assert.equal(planner.waitKind(s), KILLED);
      assert.equal(planner.waitCode(s), sig);
      assert.equal(planner.waitCoreDumped(s), core);
      assert.equal(planner.shellExitCode(s), 128 + sig);
      assert.equal(planner.describeWaitStatus(s), `killed by ${name}${core ? ' (core dumped)' : ''}`);
    }
    const t = stopped(sig);
    assert.equal(planner.waitKind(t), STOPPED);
    assert.equal(planner.waitCode(t), sig);
    assert.equal(planner.shellExitCode(t), 128 + sig);
    assert.equal(planner.describeWaitStatus(t), `stopped by ${name}`);
  }
});

test('every signal Node knows is named the way Node names it', () => {
  for (const [name, sig] of Object.entries(constants.signals)) {
    if (name === 'SIGIOT' || name === 'SIGPOLL' || name === 'SIGUNUSED') continue; // aliases of SIGABRT, SIGIO, SIGSYS
    assert.equal(planner.describeWaitStatus(killed(sig)), `killed by ${name}`);
    assert.equal(planner.describeWaitStatus(stopped(sig)), `stopped by ${name}`);
  }
});

// Written from the glibc macros (WIFEXITED and friends), independently of the planner.
function reference(status: number) {
  if (status === 0xffff) return { kind: CONTINUED, code: 0, core: false };
  if ((status & 0xff) === 0x7f) return { kind: STOPPED, code: (status >> 8) & 0xff, core: false };
  if ((status & 0x7f) === 0) return { kind: EXITED, code: (status >> 8) & 0xff, core: false };
  return { kind: KILLED, code: status & 0x7f, core: (status & 0x80) !== 0 };
}

test('every status 0..0xffff decodes consistently', () => {
  for (let status = 0; status <= 0xffff; status++) {
    const want = reference(status);
    const kind = planner.waitKind(status);
    const code = planner.waitCode(status);
    const core = planner.waitCoreDumped(status);
    assert.equal(kind, want.kind, `kind of 0x${status.toString(16)}`);
    assert.equal(code, want.code, `code of 0x${status.toString(16)}`);
    assert.equal(core, want.core, `core of 0x${status.toString(16)}`);
    const shell = planner.shellExitCode(status);
    assert.equal(shell, kind === EXITED || kind === CONTINUED ? code : 128 + code);
    assert.ok(shell >= 0 && shell <= 255 + 128);
    // The upper bits (ptrace events) never change the answer.
    assert.equal(planner.waitKind(status | 0x30000), kind);
    assert.equal(planner.waitCode(status | 0x30000), code);
    const text = planner.describeWaitStatus(status);
    const name = planner.signalName(code) || `signal ${code}`;
    const expected =
      kind === EXITED
        ? `exited ${code}`
        : kind === KILLED
          ? `killed by ${name}${core ? ' (core dumped)' : ''}`
          : kind === STOPPED
            ? `stopped by ${name}`
            : 'continued';
    assert.equal(text, expected, `0x${status.toString(16)}`);
  }
});

const perl = '/usr/bin/perl';

const noPerl = !existsSync(perl) && 'no perl to read raw statuses';

test('real statuses from waitpid match the hand encoding', { skip: noPerl }, () => {
  // Perl's ${^CHILD_ERROR_NATIVE} is the raw status waitpid filled in; Node only ever shows it decoded.
  const script = `
    use POSIX ();
    sub run {
      my $p = fork; if (!$p) { exec('/bin/sh', '-c', $_[0]) or POSIX::_exit(127) }
      waitpid($p, 0); print "\${^CHILD_ERROR_NATIVE}\\n";
    }
    run('exit 0'); run('exit 3'); run('exit 255');
    run('kill -9 $$'); run('kill -TERM $$'); run('ulimit -c 0; kill -SEGV $$');
    # 2 and 8 are Linux's WUNTRACED and WCONTINUED.
    my $p = fork; if (!$p) { kill('STOP', $$); POSIX::_exit(0) }
    waitpid($p, 2); print "\${^CHILD_ERROR_NATIVE}\\n";
    kill('CONT', $p); waitpid($p, 8); print "\${^CHILD_ERROR_NATIVE}\\n";
    waitpid($p, 0); print "\${^CHILD_ERROR_NATIVE}\\n";
  `;
  const raw = execFileSync(perl, ['-e', script], { encoding: 'utf8' }).trim().split('\n').map(Number);
  const S = constants.signals;
  const want = [
    [exited(0), 'exited 0', 0],
    [exited(3), 'exited 3', 3],
    [exited(255), 'exited 255', 255],
    [killed(S.SIGKILL), 'killed by SIGKILL', 137],
    [killed(S.SIGTERM), 'killed by SIGTERM', 143],
    [killed(S.SIGSEGV), 'killed by SIGSEGV', 139],
    [stopped(S.SIGSTOP), 'stopped by SIGSTOP', 147],
    [continued, 'continued', 0],
    [exited(0), 'exited 0', 0],
  ] as const;
  assert.equal(raw.length, want.length);
  want.forEach(([status, text, shell], i) => {
    assert.equal(raw[i], status, `real status ${i}`);
    assert.equal(planner.describeWaitStatus(raw[i]!), text);
    assert.equal(planner.shellExitCode(raw[i]!), shell);
  });
});

test('shellExitCode matches what the shell reports for the same child', () => {
  const script = `sh -c 'exit 3'; echo $?; sh -c 'kill -9 $$'; echo $?; sh -c 'kill -TERM $$'; echo $?`;
  const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n').map(Number), [
    planner.shellExitCode(exited(3)),
    planner.shellExitCode(killed(constants.signals.SIGKILL)),
    planner.shellExitCode(killed(constants.signals.SIGTERM)),
  ]);
});
