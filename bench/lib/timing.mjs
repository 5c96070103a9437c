// The timed core shared by the measurements: start a command, poll /proc synchronously until the condition holds.
import { launch, now, pids, pollSync, stat, cmdline, alive, runs, track } from './proc.mjs';

/**
 * Times one start: from just before spawn until (a) the command has returned — it is a zombie we have not reaped
 * yet, since this loop never yields to the event loop — when `returns`, and (b) locate() names a PID that is alive
 * and has exec'd the expected program, looked for once (a) holds. Returns { ms, returnedMs, endAt (on now()'s clock), pid,
 * launcher } or { error }.
 */
export async function timedStart({ cmd, args, env, cwd, returns = true, locate, expect, stepMs = 0.25, timeoutMs = 20_000 }) {
  const before = new Set(pids());
  const t0 = now();
  const { pid: launcher, exited } = launch(cmd, args, { env, cwd });
  track(launcher);
  let returnedAt = returns ? null : t0;
  let target = locate ? null : -1;
  const ok = pollSync(
    () => {
      if (returnedAt === null) {
        const s = stat(launcher);
        if (!s || s.state === 'Z') returnedAt = now();
      }
      // Looked for only once the command has returned (or at once when it does not return): a /proc scan every step
      // while it runs would take a core from the very start being timed, and the floors it is compared with pay none.
      if (target === null && returnedAt !== null) {
        const p = locate(before);
        if (p && runs(p, expect)) target = p;
      }
      return returnedAt !== null && target !== null;
    },
    { stepMs, timeoutMs },
  );
  const t1 = now();
  if (target && target > 0) track(target);
  const status = returns ? await exited : { code: null };
  if (!ok) {
    return {
      error: `not ready after ${timeoutMs} ms (returned: ${returnedAt !== null}${returns ? `, exit ${status.code}` : ''}, target found: ${target !== null})`,
      launcher,
      pid: target > 0 ? target : null,
    };
  }
  if (returns && status.code !== 0)
    return { error: `command exited ${status.code ?? status.signal}`, launcher, pid: target > 0 ? target : null };
  return { ms: t1 - t0, returnedMs: returnedAt - t0, endAt: t1, pid: target > 0 ? target : null, launcher };
}

/** A locate() for a process that carries `marker` in argv and satisfies expect; only PIDs new since `before` are read. */
export function byMarker(marker, expect, { exclude = null } = {}) {
  let calls = 0;
  return (before) => {
    const full = ++calls % 64 === 0; // a recycled PID number would hide in `before`: look at everything now and then
    for (const pid of pids()) {
      if (!full && before.has(pid)) continue;
      if (exclude && exclude.has(pid)) continue;
      const argv = cmdline(pid);
      if (argv && argv.includes(marker) && runs(pid, expect)) return pid;
    }
    return null;
  };
}

/** All live PIDs carrying marker and satisfying expect (a full scan). */
export function allByMarker(marker, expect) {
  const out = [];
  for (const pid of pids()) {
    const argv = cmdline(pid);
    if (argv && argv.includes(marker) && runs(pid, expect)) out.push(pid);
  }
  return out;
}

export { alive };
