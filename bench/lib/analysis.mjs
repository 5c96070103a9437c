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
    const koffiNative = med(R, 'load', 'load/koffi-native');
    const kind = t.id.endsWith('-node') ? 'node' : 'sleep';
    const parts = [];
    if (cliV != null && loadFloor != null)
      parts.push(
        `in the load measurement \`node dist/cli.js --version\` alone takes ${f(cliV)} ms against ${f(loadFloor)} ms for \`node -e ''\` ` +
          `(+${f(cliV - loadFloor)} ms: the ${f((R.measurements.load.rows.find((r) => r.id === 'size/cli.js')?.median ?? 0) / 1024, 0)} KiB bundle with the wasm in it, ` +
          `and koffi's native module, +${f(koffiNative - loadFloor)} ms alone; through koffi's own entry, which dist/ skips, it would be +${f(koffi - loadFloor)} ms), before start does anything`,
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
        'done: the bundles are CommonJS and koffi\'s native module is loaded directly (bench load: cli --version and the import rows); what is left is two Node startups in series, which cannot come under 2x one. Proposal (not measured): spawn the session process first thing in dist/cli.js, before the bundle plans, so its Node startup overlaps the CLI\'s work on the second core.',
    };
  },
  planner(t, R) {
    if (t.id !== 'plan-time') return null;
    const full = med(R, 'planner', 'plan/normalize + buildPlan');
    const bp = med(R, 'planner', 'plan/buildPlan');
    const wasm = med(R, 'planner', 'plan/wasm only: planSteps + stepOrderError + planFds');
    return {
      why: `buildPlan alone takes ${f(bp)} µs (the wasm calls ${f(wasm)} µs of it); normalize takes the other ${f(full - bp)} µs.`,
      fix: 'proposal: profile normalize() (src/options.ts) with --cpu-prof over many plans and cut what it repeats per call.',
    };
  },
  restart(t, R) {
    const dk = med(R, 'restart', 'restart/daemonkit');
    const mini = med(R, 'restart', 'restart/mini');
    const ahead = ['pm2', 'forever', 'supervisord'].map((id) => [id, med(R, 'restart', `restart/${id}`)]).filter(([, v]) => v != null && v <= dk);
    return {
      why:
        `daemonkit restarts in ${f(dk, 2)} ms against ${f(mini, 2)} ms for the 10-line supervisor${ahead.length ? ` and ${ahead.map(([id, v]) => `${f(v, 2)} ms for ${id}`).join(', ')}` : ''}; ` +
        `workers are posix_spawned straight into the target (no exec in between since the session guard replaced setpriv --pdeathsig), so the ${f(dk - mini, 2)} ms gap is the supervisor's own path from SIGCHLD to posix_spawn.`,
      fix: 'proposal: profile the SIGCHLD → waitpid → wasm decision → posix_spawn path with --cpu-prof (the per-worker log pipes and their Socket wrappers are the likeliest cost).',
    };
  },
  idle(t, R) {
    // What the fixed shape costs by itself (koffi's native module, the guard process), against the limit.
    const pssFix = (dk, mini, a, b) => {
      const fixed = Object.keys(a).filter((k) => /koffi|session guard/.test(k));
      const cost = fixed.reduce((sum, k) => sum + a[k] - (b[k] ?? 0), 0);
      const node = Object.keys(a).find((k) => /\/node$/.test(k));
      const nodeDiff = node ? a[node] - (b[node] ?? 0) : 0;
      return (
        `koffi's native module and the session guard alone, which the fixed shape requires, add ${f(cost, 2)} MiB: ${f((mini + cost) / mini, 2)}x before anything of ours is loaded; ` +
        `with the pages of node's binary that the supervisor touches and the 10-line one does not (+${f(nodeDiff, 2)} MiB; the supervisor's PSS measured the same with and without the optimizing compiler) it is ${f((mini + cost + nodeDiff) / mini, 2)}x, so no trimming of our own heap can bring it to 1.15x. ` +
        'It would take the guard inside the supervisor (not possible: it must outlive a SIGKILL) or a native layer smaller than koffi, outside the fixed shape.'
      );
    };
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
        fix: pssFix(dk, mini, a, b),
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
            : 'proposal: find the timer (setInterval, a polling loop) in src/supervisor/runtime.ts or the control socket; an idle supervisor blocks in epoll_wait with nothing armed.',
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
