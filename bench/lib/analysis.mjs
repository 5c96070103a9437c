// For every target not met: why, from the numbers in results.json (this run's or the last run of the measurement
// named), and what would fix it. "why" states only measured figures; "what would fix it" is a proposal and says so.

const row = (results, m, id) => results.measurements?.[m]?.rows?.find((r) => r.id === id && !r.skipped) ?? null;
const med = (results, m, id) => row(results, m, id)?.median ?? null;
const f = (x, d = 1) => (x == null ? '?' : Number(x).toFixed(d));

const WHY = {
  start(t, R) {
    const floor = med(R, 'start', 'floor/node');
    const cliV = med(R, 'load', 'load/cli-version');
    const loadFloor = med(R, 'load', 'load/node');
    const koffi = med(R, 'load', 'load/koffi');
    const wasm = med(R, 'load', 'load/wasm');
    const kind = t.id.endsWith('-node') ? 'node' : 'sleep';
    const parts = [];
    if (cliV != null && loadFloor != null)
      parts.push(
        `in the load measurement \`node dist/cli.js --version\` alone takes ${f(cliV)} ms against ${f(loadFloor)} ms for \`node -e ''\` ` +
          `(+${f(cliV - loadFloor)} ms: the ${f((R.measurements.load.rows.find((r) => r.id === 'size/cli.js')?.median ?? 0) / 1024, 0)} KiB bundle, ` +
          `koffi +${f(koffi - loadFloor)} ms and the wasm +${f(wasm - loadFloor)} ms when loaded alone), before start does anything`,
      );
    const nn = med(R, 'load', 'load/node-node');
    const seriesNote =
      nn != null && loadFloor != null
        ? `; two bare Node startups in series (node spawning node -e '') take ${f(nn)} ms = ${f(nn / loadFloor, 2)}x one, ${nn / loadFloor > (t.id.startsWith('no-supervise') ? 1.8 : 2.0) ? 'already over the limit, so the target cannot be met while the second process is a Node process that starts after the first' : 'under the limit: the room left is what the CLI and the second process load'}`
        : '';
    if (t.id.startsWith('no-supervise')) {
      const v = med(R, 'start', `${kind}/daemonkit-no-supervise`);
      parts.push(
        `then the intermediate (dist/intermediate.js) is a second Node process started after the CLI has loaded, so the two Node startups run one after the other: ${f(v)} ms in all against ${f(floor)} ms for one`,
      );
    } else if (t.id.startsWith('supervised-vs-node')) {
      const v = med(R, 'start', `${kind}/daemonkit`);
      parts.push(`then the supervisor (dist/supervisor.js) is a second Node process started after the CLI has loaded: ${f(v)} ms in all against ${f(floor)} ms for one Node startup`);
    } else if (t.id.startsWith('supervised-vs-pm2')) {
      parts.push('see the other start targets: two Node startups in series');
    }
    return {
      why: `${parts.join('; ')}${t.id.startsWith('supervised-vs-pm2') ? '' : seriesNote}.`,
      fix:
        'proposal (not measured here): spawn the session process (intermediate or supervisor) first thing in dist/cli.js — before the bundle imports koffi and compiles the wasm — with node:child_process and detached: true (setsid), and send it the order over the socket once the options are parsed, so its Node startup overlaps the CLI\'s on the second core; load koffi and the wasm lazily, only where a syscall or a plan is needed. Two Node startups in series cannot come under 2x one.',
    };
  },
  planner(t, R) {
    if (t.id !== 'plan-time') return null;
    const full = med(R, 'planner', 'plan/normalize + buildPlan');
    const plain = med(R, 'planner', 'plan/normalize (environment as a plain object) + buildPlan');
    const bp = med(R, 'planner', 'plan/buildPlan');
    const wasm = med(R, 'planner', 'plan/wasm only: planSteps + stepOrderError + planFds');
    return {
      why: `buildPlan alone takes ${f(bp)} µs (the wasm calls ${f(wasm)} µs of it); normalize takes the other ${f(full - bp)} µs. With the caller's environment passed as a plain object instead of process.env, normalize + buildPlan takes ${f(plain)} µs: buildEnv() in src/options.ts copies process.env, whose every read is a call into C++.`,
      fix: `proposal: in src/options.ts, read process.env once (one spread, at the call site or cached per process) or build the daemon's environment only when it is spawned; measured above with a plain object: ${f(full)} → ${f(plain)} µs.`,
    };
  },
  restart(t, R) {
    const dk = med(R, 'restart', 'restart/daemonkit');
    const mini = med(R, 'restart', 'restart/mini');
    const sp = med(R, 'load', 'load/setpriv');
    const tr = med(R, 'load', 'load/true');
    const ahead = ['pm2', 'forever', 'supervisord'].map((id) => [id, med(R, 'restart', `restart/${id}`)]).filter(([, v]) => v != null && v <= dk);
    return {
      why:
        `daemonkit restarts in ${f(dk, 2)} ms against ${f(mini, 2)} ms for the 10-line supervisor${ahead.length ? ` and ${ahead.map(([id, v]) => `${f(v, 2)} ms for ${id}`).join(', ')}` : ''}; ` +
        `every worker is exec'd through setpriv --pdeathsig KILL first (src/core/supervisor-runtime.ts), one more exec and dynamic link: in the load measurement \`setpriv --pdeathsig KILL -- /bin/true\` takes ${f(sp, 2)} ms against ${f(tr, 2)} ms for /bin/true alone, ` +
        `about ${f(sp - tr, 2)} ms of the ${f(dk - mini, 2)} ms gap to the 10-line supervisor; the rest is the supervisor's own path from SIGCHLD to posix_spawn.`,
      fix: 'proposal: keep the parent-death guarantee without the extra exec (e.g. workers hold the read end of a pipe whose write end only the supervisor has, checked by a tiny helper only for programs that need it, or accept a subreaper-based sweep), and check the SIGCHLD → waitpid → wasm decision → posix_spawn path with --cpu-prof.',
    };
  },
  idle(t, R) {
    if (t.id === 'idle-pss') {
      const dk = med(R, 'idle', 'pss/daemonkit');
      const mini = med(R, 'idle', 'pss/mini');
      const maps = R.measurements.idle?.pssByMapping ?? {};
      const a = maps.daemonkit ?? {};
      const b = maps.mini ?? {};
      const diffs = [...new Set([...Object.keys(a), ...Object.keys(b)])]
        .map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)])
        .filter(([, d]) => Math.abs(d) >= 0.1)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 5);
      return {
        why:
          `the supervisor's PSS is ${f(dk)} MiB against ${f(mini)} MiB for the 10-line supervisor` +
          (diffs.length ? `; by mapping (/proc/PID/smaps, the largest mappings of each), the differences are ${diffs.map(([k, d]) => `${k} ${d > 0 ? '+' : ''}${f(d, 2)} MiB`).join(', ')}` : '') +
          '.',
        fix: 'proposal: load less in the supervisor — koffi only for the calls it makes, the wasm instance once, dist/supervisor.js without CLI text or option parsing — then check the per-mapping PSS again.',
      };
    }
    if (t.id === 'idle-zero') {
      const all = row(R, 'idle', 'cs/daemonkit');
      const main = row(R, 'idle', 'main/daemonkit');
      const cpu = row(R, 'idle', 'cpu/daemonkit');
      const onMain = main?.max ?? null;
      return {
        why:
          `in windows starting ${R.measurements.idle?.params?.settleMs / 1000} s after start the supervisor had at most ${all?.max} context switches and ${cpu?.max} ms CPU per window, ` +
          (onMain === 0
            ? 'none of them on the main thread: the event loop did not wake; the switches are on the other threads Node starts (the V8 platform\'s delayed-task scheduler and worker threads)'
            : `${onMain} of them on the main thread: the event loop woke up (a timer or a handle)`),
        fix:
          onMain === 0
            ? 'proposal (to measure): these look like V8 delayed tasks (e.g. the memory reducer\'s GCs after startup); try the supervisor with --v8-pool-size=1 or --no-memory-reducer in its execArgv, and allocating less at startup (a smaller supervisor bundle).'
            : 'proposal: find the timer (setInterval, a polling loop) in src/core/supervisor-runtime.ts or the control socket; an idle supervisor blocks in epoll_wait with nothing armed.',
      };
    }
    return null;
  },
  scale(t) {
    return { why: `measured: ${t.measured}.`, fix: null };
  },
  logs(t) {
    return { why: `measured: ${t.measured}.`, fix: null };
  },
  stop(t) {
    return { why: `measured: ${t.measured}.`, fix: null };
  },
};

export function annotate(results) {
  for (const [name, entry] of Object.entries(results.measurements ?? {})) {
    for (const t of entry.targets ?? []) {
      delete t.why;
      delete t.fix;
      if (t.status !== 'not met') continue;
      const w = WHY[name]?.(t, results);
      if (w?.why) t.why = w.why;
      if (w?.fix) t.fix = w.fix;
    }
  }
  return results;
}
