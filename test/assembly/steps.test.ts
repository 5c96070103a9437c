import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';

const p = planner;
/** The single bits of a mask (OPT_ALL, CTX_ALL: every flag the planner knows). */
const bitsOf = (mask: number) => Array.from({ length: 31 }, (_, i) => 1 << i).filter((b) => (mask & b) !== 0);
const OPTS = bitsOf(p.OPT_ALL.value);
const CTXS = bitsOf(p.CTX_ALL.value);
const allOptions = Array.from({ length: 1 << OPTS.length }, (_, i) => OPTS.reduce((acc, bit, j) => (i & (1 << j) ? acc | bit : acc), 0));
const allContexts = Array.from({ length: 1 << CTXS.length }, (_, i) => CTXS.reduce((acc, bit, j) => (i & (1 << j) ? acc | bit : acc), 0));

function names(plan: Int32Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < plan.length; i += 2) out.push(`${p.roleName(plan[i]!)}:${p.stepName(plan[i + 1]!)}`);
  return out;
}
function encode(steps: string[]): Int32Array {
  const roles = ['original', 'intermediate', 'supervisor', 'daemon'];
  const stepIds = new Map<string, number>();
  for (let s = p.STEP_FIRST.value; s <= p.STEP_LAST.value; s++) stepIds.set(p.stepName(s), s);
  return Int32Array.from(
    steps.flatMap((s) => {
      const [role, step] = s.split(':');
      return [roles.indexOf(role!), stepIds.get(step!)!];
    }),
  );
}

test('every option and context combination yields a plan that keeps every rule', () => {
  let n = 0;
  for (const o of allOptions)
    for (const c of allContexts) {
      const plan = p.planSteps(o, c);
      assert.equal(p.stepOrderError(plan), '', `options ${o} context ${c}: ${names(plan).join(' ')}`);
      n++;
    }
  assert.equal(n, 2048 * 32);
});

test("run's plan (foreground) is the supervisor in the caller's process, whatever the context says", () => {
  const FG = p.OPT_FOREGROUND.value;
  for (const o of allOptions)
    for (const c of allContexts) {
      if ((o & FG) === 0) continue;
      const steps = names(p.planSteps(o, c));
      assert.ok(
        steps.every((s) => s.startsWith('supervisor:') || s.startsWith('daemon:')),
        steps.join(' '),
      );
      assert.ok(!steps.includes('supervisor:session-guard'), steps.join(' '));
      assert.ok(steps.indexOf('supervisor:spawn-workers') < steps.indexOf('daemon:exec'), steps.join(' '));
      assert.equal(steps.at(-1), o & p.OPT_PIDFILE.value ? 'supervisor:pidfile.release' : 'supervisor:supervise');
    }
  const good = names(p.planSteps(FG | p.OPT_PIDFILE.value, 0));
  assert.match(p.stepOrderError(encode(['original:ready-pipe', ...good])), /no original or intermediate/);
  assert.match(p.stepOrderError(encode([...good.slice(0, 1), 'supervisor:session-guard', ...good.slice(1)])), /no session guard/);
});

test('detaching is skipped exactly when already detached and not forced', () => {
  for (const o of allOptions)
    for (const c of allContexts) {
      if (o & p.OPT_FOREGROUND.value) continue; // run's plan: the test above
      const skip = p.detachSkipReason(c, o);
      const forced = (o & p.OPT_FORCE_DETACH.value) !== 0;
      assert.equal(skip !== 0, c !== 0 && !forced);
      const plan = names(p.planSteps(o, c));
      assert.equal(plan.includes('original:spawn-session'), skip === 0);
      if (skip !== 0)
        assert.ok(
          plan.every((s) => s.startsWith('daemon:')),
          plan.join(' '),
        );
    }
  assert.equal(p.detachSkipText(p.detachSkipReason(p.CTX_PARENT_IS_INIT.value, 0)), 'parent is PID 1');
  assert.match(p.detachSkipText(p.detachSkipReason(p.CTX_SYSTEMD_INVOCATION.value, 0)), /INVOCATION_ID/);
  assert.match(p.detachSkipText(p.detachSkipReason(p.CTX_NOTIFY_SOCKET.value, 0)), /NOTIFY_SOCKET/);
  assert.match(p.detachSkipText(p.detachSkipReason(p.CTX_STDIN_SOCKET.value, 0)), /socket/);
  assert.match(p.detachSkipText(p.detachSkipReason(p.CTX_SUPERVISED.value, 0)), /DAEMONKIT_TASK_ID/);
});

test('the unsupervised plan is the classic double fork', () => {
  const all = OPTS.reduce((a, b) => a | b, 0) & ~p.OPT_SUPERVISE.value & ~p.OPT_READY_PROTOCOL.value & ~p.OPT_FOREGROUND.value;
  assert.deepEqual(names(p.planSteps(all, 0)), [
    'original:ready-pipe',
    'original:spawn-session',
    'intermediate:session-stdio',
    'intermediate:umask',
    'intermediate:no-core-dumps',
    'intermediate:pidfile.lock',
    'intermediate:setgroups',
    'intermediate:chroot',
    'intermediate:chdir',
    'intermediate:setgid',
    'intermediate:setuid',
    'intermediate:spawn-daemon',
    'intermediate:pidfile.write',
    'daemon:exec',
    'intermediate:report-exit',
    'original:await-ready',
  ]);
  // A library daemon (ready protocol) also removes its PID file; a foreign program cannot.
  assert.equal(names(p.planSteps(all | p.OPT_READY_PROTOCOL.value, 0)).at(-1), 'daemon:pidfile.release');
});

test('the supervised plan takes the PID file in the supervisor, which keeps root; each worker drops before exec', () => {
  const steps = names(p.planSteps(p.OPT_SUPERVISE.value | p.OPT_PIDFILE.value | p.OPT_USER.value, 0));
  assert.deepEqual(steps.slice(0, 6), [
    'original:ready-pipe',
    'original:spawn-session',
    'supervisor:session-stdio',
    'supervisor:umask',
    'supervisor:pidfile.lock',
    'supervisor:pidfile.write',
  ]);
  assert.ok(!steps.some((s) => /^supervisor:set/.test(s)), steps.join(' '));
  const at = (s: string) => steps.indexOf(s);
  assert.ok(at('supervisor:spawn-workers') < at('daemon:setgroups'));
  assert.ok(at('daemon:setgroups') < at('daemon:setgid') && at('daemon:setgid') < at('daemon:setuid'));
  assert.ok(at('daemon:setuid') < at('daemon:exec'));
  const bad = [...steps];
  [bad[at('daemon:setuid')], bad[at('daemon:exec')]] = [bad[at('daemon:exec')]!, bad[at('daemon:setuid')]!];
  assert.match(p.stepOrderError(encode(bad)), /before the program runs/);
  const unsupervised = names(p.planSteps(p.OPT_PIDFILE.value | p.OPT_USER.value, 0)).map((s) =>
    s.replace('intermediate:setuid', 'daemon:setuid'),
  );
  assert.match(p.stepOrderError(encode(unsupervised)), /only a supervised worker drops its own privileges/);
});

test('orders that break a rule are rejected with the rule', () => {
  const good = names(
    p.planSteps(OPTS.reduce((a, b) => a | b, 0) & ~p.OPT_SUPERVISE.value & ~p.OPT_FORCE_DETACH.value & ~p.OPT_FOREGROUND.value, 0),
  );
  assert.equal(p.stepOrderError(encode(good)), '');
  const swap = (list: string[], a: string, b: string) => {
    const out = [...list];
    const i = out.indexOf(a),
      j = out.indexOf(b);
    assert.ok(i >= 0 && j >= 0, `${a} / ${b}`);
    [out[i], out[j]] = [out[j]!, out[i]!];
    return out;
  };
  const cases: Array<[string[], RegExp]> = [
    [swap(good, 'intermediate:chroot', 'intermediate:chdir'), /chdir must come after chroot/],
    [swap(good, 'intermediate:setgid', 'intermediate:setuid'), /setgid must come before setuid/],
    [swap(good, 'intermediate:setgroups', 'intermediate:setgid'), /setgroups must come before/],
    [swap(good, 'intermediate:setgroups', 'intermediate:chroot'), /setgroups must come before chroot/],
    [
      swap(names(p.planSteps(p.OPT_PIDFILE.value | p.OPT_USER.value, 0)), 'intermediate:pidfile.lock', 'intermediate:setuid'),
      /before privileges are dropped/,
    ],
    [swap(good, 'intermediate:pidfile.lock', 'intermediate:chroot'), /before chroot/],
    [swap(good, 'intermediate:spawn-daemon', 'intermediate:pidfile.write'), /after the last fork/],
    [swap(good, 'intermediate:setuid', 'intermediate:spawn-daemon'), /privileges must be dropped before/],
    [good.map((s) => (s === 'intermediate:pidfile.lock' ? 'original:pidfile.lock' : s)), /original process must not hold|after the fork/],
    [['original:pidfile.lock', ...good.filter((s) => s !== 'intermediate:pidfile.lock')], /after the fork into the new session/],
    [good.map((s) => (s === 'intermediate:umask' ? 'original:umask' : s)), /must not run in the original/],
    [good.filter((s) => s !== 'original:spawn-session'), /second fork/],
    [good.map((s) => (s === 'intermediate:spawn-daemon' ? 'original:spawn-daemon' : s)), /spawned by the intermediate/],
    [[...good, 'intermediate:umask'], /umask appears more than once/],
    [good.filter((s) => s !== 'intermediate:pidfile.write'), /go together/],
    [good.filter((s) => s !== 'intermediate:session-stdio'), /session-stdio comes with spawn-session/],
    [swap(good, 'intermediate:session-stdio', 'intermediate:umask'), /session-stdio is the new session's first step/],
    [good.map((s) => (s === 'intermediate:session-stdio' ? 'original:session-stdio' : s)), /session-stdio is the new session's first step/],
  ];
  for (const [plan, why] of cases) assert.match(p.stepOrderError(encode(plan)), why, plan.join(' '));
  assert.match(p.stepOrderError(Int32Array.from([0])), /pairs/);
  assert.match(p.stepOrderError(Int32Array.from([9, 1])), /unknown role/);
  assert.match(p.stepOrderError(Int32Array.from([0, 99])), /unknown step/);
});

test('a supervised plan starts its session guard before the workers', () => {
  for (const o of allOptions) {
    if ((o & p.OPT_SUPERVISE.value) === 0 || (o & p.OPT_FORCE_DETACH.value) === 0 || (o & p.OPT_FOREGROUND.value) !== 0) continue;
    const steps = names(p.planSteps(o, 0));
    const at = (s: string) => steps.indexOf(s);
    assert.ok(at('supervisor:session-guard') > at('supervisor:pidfile.lock'), steps.join(' '));
    assert.ok(at('supervisor:session-guard') < at('supervisor:spawn-workers'), steps.join(' '));
  }
  assert.ok(!names(p.planSteps(p.OPT_PIDFILE.value, 0)).some((s) => s.endsWith(':session-guard')), 'not unsupervised');
  const good = names(p.planSteps(p.OPT_SUPERVISE.value | p.OPT_PIDFILE.value | p.OPT_CHROOT.value, 0));
  const without = good.filter((s) => s !== 'supervisor:session-guard');
  assert.match(p.stepOrderError(encode(without)), /session guard must run before the workers/);
  assert.match(p.stepOrderError(encode([...without, 'supervisor:session-guard'])), /session guard must run before the workers/);
  assert.match(
    p.stepOrderError(encode(good.map((s) => (s === 'supervisor:session-guard' ? 'original:session-guard' : s)))),
    /only the supervisor/,
  );
});

test('a supervisor with --listen binds after the PID file lock, before chroot, the id drop and the workers', () => {
  for (const o of allOptions) {
    const steps = names(p.planSteps(o, 0));
    const supervised = (o & (p.OPT_SUPERVISE.value | p.OPT_FOREGROUND.value)) !== 0;
    const listen = (o & p.OPT_LISTEN.value) !== 0;
    assert.equal(steps.filter((s) => s.endsWith(':bind-sockets')).length, supervised && listen ? 1 : 0, steps.join(' '));
    if (!supervised || !listen) continue;
    const at = (s: string) => steps.indexOf(s);
    assert.ok(at('supervisor:bind-sockets') < at('supervisor:spawn-workers'), steps.join(' '));
    if (o & p.OPT_PIDFILE.value) assert.ok(at('supervisor:bind-sockets') > at('supervisor:pidfile.lock'), steps.join(' '));
  }
  const good = names(
    p.planSteps(p.OPT_SUPERVISE.value | p.OPT_PIDFILE.value | p.OPT_CHROOT.value | p.OPT_USER.value | p.OPT_LISTEN.value, 0),
  );
  assert.equal(p.stepOrderError(encode(good)), '');
  const moved = (after: string) =>
    good.filter((s) => s !== 'supervisor:bind-sockets').flatMap((s) => (s === after ? [s, 'supervisor:bind-sockets'] : [s]));
  assert.match(
    p.stepOrderError(encode(['supervisor:bind-sockets', ...good.filter((s) => s !== 'supervisor:bind-sockets')])),
    /after pidfile.lock/,
  );
  assert.match(p.stepOrderError(encode(moved('supervisor:spawn-workers'))), /before the workers are spawned/);
  const noChroot = names(p.planSteps(p.OPT_SUPERVISE.value | p.OPT_PIDFILE.value | p.OPT_USER.value | p.OPT_LISTEN.value, 0)).filter(
    (s) => s !== 'supervisor:bind-sockets',
  );
  assert.match(
    p.stepOrderError(
      encode([
        ...noChroot.slice(0, noChroot.indexOf('daemon:setuid') + 1),
        'supervisor:bind-sockets',
        ...noChroot.slice(noChroot.indexOf('daemon:setuid') + 1),
      ]),
    ),
    /before privileges are dropped/,
  );
  const afterWorkers = noChroot.flatMap((s) => (s === 'supervisor:spawn-workers' ? [s, 'supervisor:bind-sockets'] : [s]));
  assert.match(p.stepOrderError(encode(afterWorkers)), /before the workers are spawned/);
  assert.match(
    p.stepOrderError(encode(good.map((s) => (s === 'supervisor:bind-sockets' ? 'daemon:bind-sockets' : s)))),
    /only the supervisor binds/,
  );
});

test('a supervisor never enters a chroot: each worker does, from outside, then drops with no groups looked up inside', () => {
  for (const o of allOptions) {
    if ((o & (p.OPT_SUPERVISE.value | p.OPT_FOREGROUND.value)) === 0 || (o & p.OPT_CHROOT.value) === 0) continue;
    for (const c of allContexts) {
      const steps = names(p.planSteps(o, c));
      if (!steps.includes('supervisor:spawn-workers')) continue;
      const at = (s: string) => steps.indexOf(s);
      assert.ok(!steps.some((s) => /^supervisor:ch(root|dir)$/.test(s)), steps.join(' '));
      assert.ok(at('supervisor:spawn-workers') < at('daemon:chroot') && at('daemon:chroot') < at('daemon:chdir'), steps.join(' '));
      assert.ok(at('daemon:chdir') < at('daemon:exec'), steps.join(' '));
      for (const drop of ['daemon:setgid', 'daemon:setuid']) if (at(drop) >= 0) assert.ok(at('daemon:chdir') < at(drop), steps.join(' '));
      assert.ok(!steps.includes('daemon:setgroups'), steps.join(' '));
      assert.equal(p.stepOrderError(encode(steps)), '');
      const inSupervisor = steps.map((s) => (s.startsWith('daemon:ch') ? s.replace('daemon:', 'supervisor:') : s));
      assert.match(p.stepOrderError(encode(inSupervisor)), /a supervisor never enters the chroot/);
    }
  }
  // Unsupervised, the intermediate drops its own ids: the user's groups are looked up before it enters the jail.
  const steps = names(p.planSteps(p.OPT_CHROOT.value | p.OPT_USER.value, 0));
  assert.ok(steps.indexOf('intermediate:setgroups') < steps.indexOf('intermediate:chroot'), steps.join(' '));
});

test('every step and role has a name', () => {
  for (let s = p.STEP_FIRST.value; s <= p.STEP_LAST.value; s++) assert.notEqual(p.stepName(s), '', `step ${s}`);
  assert.equal(p.stepName(p.STEP_FIRST.value - 1), '');
  assert.equal(p.stepName(p.STEP_LAST.value + 1), '');
  assert.deepEqual(
    [0, 1, 2, 3].map((r) => p.roleName(r)),
    ['original', 'intermediate', 'supervisor', 'daemon'],
  );
});
