// For every target not met: why, from the numbers in results.json (this run's or the last run of the measurement
// named), and what would fix it. "why" states only measured figures; "what would fix it" is a proposal and says so.

const row = (results, m, id) => results.measurements?.[m]?.rows?.find((r) => r.id === id && !r.skipped) ?? null;
const med = (results, m, id) => row(results, m, id)?.median ?? null;
const f = (x, d = 1) => (x == null ? '?' : Number(x).toFixed(d));

const WHY = {
  start(t, R) {
    const two = med(R, 'start', 'floor/node-node');
    const one = med(R, 'start', 'floor/node');
    const cliV = med(R, 'load', 'load/cli-version');
    const loadFloor = med(R, 'load', 'load/node');
    const kind = t.id.endsWith('-node') ? 'node' : 'sleep';
    const parts = [];
    if (t.id.startsWith('supervised-vs-pm2')) return { why: 'see the other start targets.', fix: null };
    const nosup = t.id.startsWith('no-supervise');
    const v = med(R, 'start', `${kind}/${nosup ? 'daemonkit-no-supervise' : 'daemonkit'}`);
    parts.push(
      `${nosup ? 'start --no-supervise' : 'supervised start'} takes ${f(v)} ms against ${f(two)} ms for two bare Node startups in series (${f(one)} ms for one): ${f(v - two)} ms over the floor, of which the limit allows ${f(two * 0.25)} ms`,
    );
    if (cliV != null && loadFloor != null)
      parts.push(
        `\`node dist/cli.js --version\` alone is ${f(cliV - loadFloor)} ms over \`node -e ''\` (compiling the CLI bundle and what it loads before it parses argv)`,
      );
    const shape = med(R, 'start', 'floor/shape');
    if (shape != null && two != null)
      parts.push(
        `the shape alone (bench/entries/shape-floor.cjs: a Node that loads koffi and posix_spawns a Node that loads koffi, compiles the wasm and posix_spawns /bin/true) takes ${f(shape)} ms, ${f(shape / two, 2)}x the floor, so the processes and native calls a start is made of do not block 1.25x: our work in them does`,
      );
    parts.push(
      `the second process (dist/${nosup ? 'intermediate' : 'supervisor'}.js) is spawned first thing now, so its bootstrap overlaps the CLI's parsing and planning, but what it does after its own bootstrap is still in series with it`,
    );
    return {
      why: `${parts.join('; ')}.`,
      fix:
        'done: a V8 code cache for each role; `start` spawning its session before it plans (session 8: supervised 66.0 to 59.5 ms, --no-supervise 63.6 to 56.6 ms); ' +
        "session 9: the spawn from a 17 KB bundle run before the CLI body is compiled, no node:module and no import.meta.url at any bundle's load, the --no-supervise intermediate reaped on its pidfd instead of a 1 ms poll (supervised 93.1 to 86.1 ms, --no-supervise 64.0 to 62.8 ms, alternating runs on a slower host). " +
        'Where the rest goes, timestamps in each process (21 supervised starts, medians, ms from launch, session 9, a slow host: `node -e` 24 ms): the CLI reaches its first JavaScript at 24.7 and has the spawn bundle loaded at 26.6; the session is spawned at 31.3 (koffi 1.2, the socketpair 0.3, posix_spawn 1.4); its Node bootstrap runs while the CLI plans, to its first JavaScript at 56.8; ' +
        "then its body 2.2, top level 1.6, the order with the log fds 2.6 (koffi loads here), the wasm machine 1.9, the log sink 1.2, the steps 9.0 (PID file 1.0, control socket 0.7, the state record 1.6, the session guard 1.6, the worker's spawn 2.8, the rest 1.3), the verdict at 77.0; the CLI wakes and exits (78.7), and the process is gone 3.6 ms later (the teardown the floor pays too). " +
        'So after its bootstrap the supervisor spends about 20 ms in series with it, in a dozen parts of 1 to 3 ms each; none is large enough to move the ratio alone. ' +
        "session 10: the supervisor's and the intermediate's code caches are made after a real start the build runs (a cache made right after compiling leaves the start's functions to compile lazily): alternating against the eager caches, supervised medians -0.6, -2.6, -3.1, -4.3 and -5.0 ms in five runs of 25 to 40 each, --no-supervise -1.9 ms (40); session 8 had measured no gain from a trained supervisor cache (64.5 vs 64.2 ms), made differently. " +
        "session 11: the CLI waits for its verdict blocked in poll(2) and writes its line with write(2), and its cache is trained on a real start (from the verdict reaching the CLI to its last line of JS, 1.57 -> 0.75 ms); the supervisor's cache is trained on a --ready notify start as well. Two full runs that day: on a slow host (the floor 96.4 ms) 1.16x-1.17x on all four rows; on a faster one (70.6 ms) 1.23x and 1.24x with the sleep target, 1.29x and 1.28x with the Node target, whose own Node start-up shares the 2 cores with the supervisor's last steps and the CLI's exit. " +
        "session 13, timestamps again (20 starts, medians): the supervisor's state record used rmSync, whose first call compiles Node's rimraf, and without Node's code cache since any V8 flag on the command line rejects it (the supervisor has four): 1.31 -> 0.84 ms with unlink(2); the session's spawn found dist/ through import.meta.url, loading node:url: 0.73 -> 0.26 ms; the CLI stopped loading node:child_process (and with it node:net and the stream stack) on every command for `unit`'s sake (status of a stopped service 46.6 -> 41.8 ms, 25 alternating runs; start 75.6 -> 74.5 ms, 30, within noise: the CLI is not the critical path). The supervisor with no V8 flags at all: 67.6 vs 66.8 ms (30 alternating starts): the builtins it compiles are mostly loaded after its verdict. " +
        "session 14: the CLI's scavenge of its young generation (1-1.8 ms) fell between its verdict and its exit on every start, and now falls in its wait (see readiness). " +
        'Tried and dropped: a larger young generation (no change), a V8 startup snapshot of the supervisor body (33 vs 33 ms to its first line), --v8-pool-size=1, --single-threaded or --jitless for the supervisor (no faster bootstrap); session 11: the supervisor loading node:net 20 ms after its verdict instead of at once, so as not to take a core from the exiting CLI (Node target, 20 alternating starts: 78.3 vs 80.2 ms, no gain). ' +
        "Proposal (not measured): the original binds the control socket and takes the PID file lock itself and passes them with the order (as it does the log fds), so the supervisor's steps shrink to the guard and the spawn.",
    };
  },
  load(t, R) {
    const esm = t.id === 'library-import';
    const v = med(R, 'load', `load/${esm ? 'index' : 'index-require'}`);
    const floor = med(R, 'load', esm ? 'load/node-esm' : 'load/node');
    const file = med(R, 'load', 'load/esm-file');
    const overCjs = med(R, 'load', 'load/esm-over-cjs');
    const size = (name) => R.measurements.load?.rows?.find((r) => r.id === `size/${name}`)?.median;
    const entry = `dist/index.js (${f((size('index.js') ?? 0) / 1024, 0)} KiB: the error classes, LSB, taskId, listenFds and notify; the rest, dist/library.js, loads on its first call)`;
    if (!esm)
      return {
        why: `require('daemonkit') takes ${f(v)} ms against ${f(floor)} ms: it loads ${entry} and dist/errors.js.`,
        fix: null,
      };
    return {
      why:
        `import 'daemonkit' takes ${f(v)} ms against ${f(floor)} ms for \`node --input-type=module -e ''\`. ` +
        (file != null && overCjs != null
          ? `Importing an empty .mjs file alone takes ${f(file)} ms (${f(file / floor, 2)}x), and an .mjs that requires an empty .cjs, which is what dist/index.mjs does to reach the CommonJS bundle, ${f(overCjs)} ms (${f(overCjs / floor, 2)}x): that is the floor of this entry's shape. `
          : '') +
        `What daemonkit adds on top is ${entry} and dist/errors.js.`,
      fix:
        'done (session 9): the entry no longer loads the library: 280 KiB became 10 KiB, and no bundle loads node:module or computes import.meta.url at load. ' +
        "What is left is the ES entry over CommonJS, which keeps one instance of the library (and of its error classes) for a program that both imports and requires it: Node's dual-package hazard. " +
        'An ES-only entry would save the CommonJS loader (the .cjs floor above) but give `require` users other classes. ' +
        'Measured (session 11, 25 alternating runs): src/index.ts bundled as an ES module with no CommonJS in it loaded in 40.66 ms, against 42.18 ms for dist/index.mjs and 31.81 ms for the bare ES module (1.28x against 1.33x). ' +
        'Not built: 1.5 ms, for which the two copies of the entry would need one set of error classes between them (a registry on the process) and one strerror hook. ' +
        "Measured in process (session 13, `await import()` timed with performance.now(), best 3 of 5): an .mjs over an empty .cjs 5.9 ms, dist/index.mjs 7.4 ms: daemonkit's own part is 1.5 ms, the rest is Node's ES loader starting, so in a run where that floor is 1.24x the target leaves daemonkit about 1.8 ms; spawn to exit, the rows above differ by more than that, in what the in-process timing does not see (start-up before the import, the exit) or this machine's noise; not measured apart.",
    };
  },
  planner(t, R) {
    if (t.id !== 'plan-time') return null;
    const full = med(R, 'planner', 'plan/normalize + buildPlan');
    const bp = med(R, 'planner', 'plan/buildPlan');
    const wasm = med(R, 'planner', 'plan/wasm only: planSteps + planFds');
    return {
      why: `buildPlan alone takes ${f(bp)} µs (the wasm calls ${f(wasm)} µs of it); normalize takes the other ${f(full - bp)} µs, of which the checks of the command and --cwd (two stat(2) and an access(2)) are about a quarter by --cpu-prof.`,
      fix:
        "done (session 10, from --cpu-prof): the default --retry schedule is formatted and parsed once, not on every normalize; the wasm's step order is no longer re-checked at run time (test/assembly/steps.test.ts checks all 65,536 inputs); an fd plan is one wasm call, not two; the wasm's constants are read once. " +
        'What is left is mostly the wasm calls and the filesystem checks a start needs anyway.',
    };
  },
  restart(t, R) {
    const dk = med(R, 'restart', 'restart/daemonkit');
    const mini = med(R, 'restart', 'restart/mini');
    const ahead = ['pm2', 'forever', 'supervisord']
      .map((id) => [id, med(R, 'restart', `restart/${id}`)])
      .filter(([, v]) => v != null && v <= dk);
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
        `with the pages of node's binary that the supervisor touches and the 10-line one does not (+${f(nodeDiff, 2)} MiB; the supervisor's PSS measured the same with and without the optimizing compiler) it is ${f((mini + cost + nodeDiff) / mini, 2)}x, the floor of this shape; the rest is our own heap and code. ` +
        'Done (session 13, from a heap snapshot and heaptrack of an idle supervisor): the bundles are ASCII-only (one U+2192 in a comment made V8 keep the 239 KB supervisor source as a two-byte string, 472 KB) and the wasm is read from dist/planner.wasm, no longer embedded as 87 KB of base64 in that source nor its bytes kept: 1.34x -> 1.30x. ' +
        "Measured, not shipped: any V8 flag on Node's command line (the supervisor's --max-semi-space-size=1, --no-opt, --liftoff-only, --expose-gc) makes Node compile the ~45 builtin modules the supervisor loads from source and keep a re-made cache of each: without the flags [heap] fell from 2.04 to 1.70 MiB (1.24x -> 1.22x in a run of just the two). " +
        'Keeping their effects without them means setting V8 flags while the supervisor runs, which Node documents as unpredictable; the flags hold its memory flat under churn (RELIABILITY.md), so they stay.'
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
          (diffs.length
            ? `; by mapping (/proc/PID/smaps, the largest mappings of each), the differences are ${diffs.map(([k, d]) => `${k} ${d > 0 ? '+' : ''}${f(d, 2)} MiB`).join(', ')}`
            : '') +
          '.',
        fix: pssFix(dk, mini, a, b),
      };
    }
    if (t.id === 'idle-pss-pm2') {
      const dk = med(R, 'idle', 'pss/daemonkit');
      const pm2 = med(R, 'idle', 'pss/pm2');
      const mini = med(R, 'idle', 'pss/mini');
      return {
        why: `the supervisor's PSS is ${f(dk)} MiB against ${f(pm2)} MiB for pm2's God daemon (${f(dk / pm2, 2)}x); both are Node processes, so the shared Node floor (the 10-line supervisor: ${f(mini)} MiB) is most of each.`,
        fix:
          mini != null && pm2 != null && mini > pm2 / 2
            ? `blocked by the floor: half of pm2's is ${f(pm2 / 2, 2)} MiB, less than the ${f(mini, 2)} MiB of a 10-line Node supervisor in the same windows, so no Node supervisor meets it here; what lowers the other PSS target lowers this one.`
            : 'see the PSS target against the 10-line supervisor: what lowers one lowers the other.',
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
            ? "none of them on the main thread: the event loop did not wake; the switches are on the other threads Node starts (the V8 platform's delayed-task scheduler and worker threads)"
            : `${onMain} of them on the main thread: the event loop woke up (a timer or a handle)`),
        fix:
          onMain === 0
            ? "proposal (to measure): these look like V8 delayed tasks (e.g. the memory reducer's GCs after startup); try the supervisor with --v8-pool-size=1 or --no-memory-reducer in its execArgv, and allocating less at startup (a smaller supervisor bundle)."
            : 'proposal: find the timer (setInterval, a polling loop) in src/supervisor/runtime.ts or the control socket; an idle supervisor blocks in epoll_wait with nothing armed.',
      };
    }
    return null;
  },
  scale(t, R) {
    if (t.id === 'scale-big-rss') {
      const pss = med(R, 'scale', 'big-pss/daemonkit');
      return {
        why: `measured: ${t.measured}; PSS ${f(pss)} MiB. Per worker the supervisor keeps a pipe pair and its Socket wrappers for stdout and stderr, a slot in the wasm machine and a pidfd.`,
        fix: "proposal (not measured): one shared pipe for all workers' output when no per-worker prefix is needed, and plain fds read with a single epoll-driven reader instead of a net.Socket per pipe.",
      };
    }
    const m = /spawn|recover/.exec(t.id)?.[0];
    return {
      why: `measured: ${t.measured}.${m ? ` The 10-line Node supervisor took ${f(med(R, 'scale', `${m}/mini`), 0)} ms for the same.` : ''}`,
      fix: m
        ? "proposal: profile the supervisor over the burst with --cpu-prof (posix_spawn through koffi per worker, the pipes' Socket wrappers, the machine's per-worker bookkeeping)."
        : null,
    };
  },
  reload(t, R) {
    const mode = t.id.endsWith('keep-alive') ? 'keep-alive' : 'close';
    const r = (k) => row(R, 'reload', `${k}/daemonkit/${mode}`);
    return {
      why: `measured: ${t.measured}; errors by code: ${r('errors')?.how ?? '–'}; answers: ${r('failed')?.how ?? '–'}; one reload took ${f(r('duration')?.median, 0)} ms (median).`,
      fix: t.id.startsWith('reload-zero')
        ? 'proposal: find which side closes: a reset on a kept-alive connection means a worker exited with a request in its socket buffer (drain must wait for in-flight requests); a refused or timed-out connection means the listening socket was closed or left unaccepted during the swap.'
        : (() => {
            const own = r('share')?.median;
            const floor = row(R, 'reload', `share/churn/${mode}`)?.median;
            return (
              `the floor in the same run, the same Node start-ups with no reload (each extra app started and stopped in turn while daemonkit serves), keeps ${f(floor, 1)}% of the quiet windows' throughput; daemonkit's reloads keep ${f(own, 1)}%. ` +
              'So a reload costs about what starting its replacement Node processes costs on these 2 cores, which the load generator and the servers already fill: below 90% whenever the floor is. ' +
              "done (session 11): the quiet windows and the reload phases now alternate in one load run (five phases of four reloads, each between two quiet windows). Before, a 15 s baseline came first and the reloads after it, and the host's drift went into the ratio: two runs back to back (the session's old and new builds) measured 59.8% and 87.7% while their baselines differed by a third (19,283 and 12,665 req/s). " +
              "What would reach 90% here is fewer or cheaper start-ups: the app's own start-up (Node and its imports) is most of each, or more cores than the load generator and 4 workers share."
            );
          })(),
    };
  },
  serve(t, R) {
    const k = t.id === 'serve-rps' ? 'rps' : 'p99';
    return {
      why: `measured: ${t.measured}. All three run the same app on 2 workers: daemonkit's workers accept on the one socket themselves (the kernel wakes one), cluster and pm2 route every connection through the primary. Throughput is also limited by the load generator, which shares the 2 cores with the servers.`,
      fix:
        k === 'rps'
          ? "measured (session 8): 50 kept-alive connections opened at once split 33/17 to 50/0 between the 2 workers (libuv accepts until the queue is empty); libuv's UV_TCP_SINGLE_ACCEPT=1 in the workers gave no steady gain over 4 alternating runs (32.9k, 31.8k, 29.8k, 28.4k req/s). SO_REUSEPORT would even the split but drops the connections queued on a worker's socket when it exits, which zero-downtime reload rules out. Proposal: rerun with more rounds; the gap to cluster has been within run-to-run noise (1-5%). " +
            "Measured (session 11, 8 s of 50 kept-alive connections per sample, req/s, four interleaved rounds): daemonkit 15.9k, 18.7k, 19.0k, 11.6k; cluster 20.4k, 18.9k, 16.9k, 14.2k; the same app on one shared socket with no daemonkit at all 23.5k, 16.6k, 12.6k, 14.4k. The host moved more than the peers differ. Per worker, daemonkit's answers split 80/20 to 88/12, cluster's about even. Two SO_REUSEPORT sockets, one a worker, against one shared socket (three pairs): 22.6k/22.2k, 25.4k/19.9k, 17.9k/19.8k, no clear gain."
          : 'the same: uneven accept distribution puts more connections on one worker, and its queue sets p99.',
    };
  },
  'fork-restart'(t, R) {
    const dk = med(R, 'fork-restart', 'fork-restart/daemonkit');
    const cl = med(R, 'fork-restart', 'fork-restart/cluster');
    const lib = med(R, 'load', 'load/index');
    const esm = med(R, 'load', 'load/node-esm');
    return {
      why: `the replacement answers ${f(dk - cl)} ms ${dk >= cl ? 'later' : 'sooner'} than cluster's. Both start a new Node process running the same server; daemonkit's worker also imports the entry to learn its task id and its socket (import 'daemonkit' is ${lib != null && esm != null ? `${f(lib - esm)} ms over an empty ES module in the load measurement` : 'measured in the load measurement'}), and the parent's restart goes SIGCHLD → waitpid → the wasm machine → posix_spawn, where cluster calls child_process.fork.`,
      fix: "done (session 11): in a worker, forkProcesses() answers from the environment without loading dist/library.js (282 KiB and its cache), which it did before on every restarted worker's way to serving: the worker's import and call, 40.6 -> 37.1 ms (median of 30 alternating); this measurement with the two builds alternating (n 25): 1.13x and 1.17x before, 0.98x and 0.97x after.",
    };
  },
  pid1(t, R) {
    const k = t.id === 'pid1-orphan' ? 'orphan' : 'stop';
    return {
      why: `measured: ${t.measured}. tini is a small C program blocked in sigtimedwait(); \`run\` is a Node process that sees SIGCHLD or SIGTERM through libuv's signal pipe and the event loop, then calls waitpid or kill through koffi.`,
      fix:
        k === 'orphan'
          ? 'proposal: reap orphans in the same pass as workers, straight from the SIGCHLD handler, with no timer or deferral between.'
          : "proposal: signal all workers at once with kill(-pgid) of the session's process group when they share one, instead of one kill per worker after the machine's decision.",
    };
  },
  readiness(t, R) {
    const a = row(R, 'readiness', 'readiness/notify');
    const b = row(R, 'readiness', 'readiness/alive');
    const [la, lb, floor] = ['notify', 'alive', 'exit'].map((id) => row(R, 'readiness', `readiness-lag/${id}`));
    return {
      why: `the target compares how long after the worker's line before notify() each start ended (its lag), so the worker's own start-up drops out: whole starts spread from ${f(a?.min)} to ${f(a?.max)} ms here, and the medians of whole starts moved by several ms from run to run (−4.8 to +12.9 ms apart in six runs of session 11). Under alive:0 start has long returned (at ${f(b?.returnedMedian)} ms), so its lag, ${f(lb?.median)} ms, is the harness finding the worker's PID file. Under notify the chain is serial: the datagram, the supervisor woken by SIGIO and its verdict, the CLI woken on the link, its last line and its exit: ${f(la?.median)} ms. The exit alone, a Node that has loaded koffi leaving by _exit(2), takes ${f(floor?.median)} ms (the floor row).`,
      fix:
        "done (session 11): the CLI waits for its verdict blocked in poll(2) and writes its line with write(2), so no Node stream, timer or promise job is on its path, and the CLI's and the supervisor's code caches are trained on starts that take it (the supervisor's on a --ready notify start too). From the verdict reaching the CLI to its last line of JS: 1.57 -> 0.75 ms (hrtime marks in a copy of the CLI, 8 starts each); the supervisor's SIGIO to its verdict: 1.37 -> 0.99 ms (strace --seccomp-bpf, 10 starts each); lags apart, alternating the two builds (n 20, three pairs): 3.31/4.76/4.00 ms before, 2.60/2.37/3.31 after. " +
        "Done (session 14): the CLI's young generation filled just as its verdict arrived, and the scavenge (1-1.8 ms, --trace-gc) ran between the verdict and its exit; the CLI now has it while it waits (src/core/young-collect.ts). From poll(2) returning the verdict to the _exit call, hrtime marks, 15 starts per build, two alternations: 2.51 and 2.36 ms before, 0.63 and 0.67 ms after; this bench alternating the two builds (n 15, two pairs): notify lags 5.18/4.44 ms before, 3.86/3.67 after, 4.12/2.99 ms apart before, 2.57/2.52 after; the run above, the first after the change, measured 2.89. " +
        "What is left beyond the exit floor and the harness's own lag is two processes woken from sleep in turn, each running its path once with cold caches: the CLI's first read(2) of the link took 0.25 ms there, where the same call takes 3 µs warm. Not tried yet: the supervisor reading the notify socket without a signal (libuv cannot watch a datagram socket, so SIGIO wakes it through Node's signal pipe).",
    };
  },
  logs(t) {
    return { why: `measured: ${t.measured}.`, fix: null };
  },
  stop(t) {
    return { why: `measured: ${t.measured}.`, fix: null };
  },
};

/** What a reader of a measurement should know whatever its targets say: run-to-run spread seen on this host. */
const CAVEATS = {
  start: () => [
    "the ratios move with the host more than with our code. Session 12 ran this bench three times: with n 10 (floor 61.7 ms) supervised 1.48x and --no-supervise 1.36x with the sleep target, 1.31x and 1.28x with the Node target; ten minutes later with n 20 (floor 71.1 ms) 1.14x, 1.10x, 1.21x and 1.19x; at the session's end with n 20 (floor 67.2 ms) 1.35x, 1.34x, 1.30x and 1.34x. Session 13, n 20 each: after the wasm left the bundles (floor 68.4 ms) 1.30x, 1.27x, 1.26x and 1.27x; at the session's end (floor 68.1 ms) 1.252x, 1.26x, 1.23x and 1.27x. Session 14, n 20, after the CLI's scavenge left the path from its verdict to its exit (floor 90.8 ms, a slower host, this run): 1.13x, 1.14x, 1.19x and 1.09x. Alternating builds on the same host found no slowdown in between: the session's first build against its middle one (3 x 25 supervised starts, sleep target) +1.9, -3.9 and -1.5 ms; that middle build against the last (25 each: supervised, --no-supervise, supervised) -0.5, -4.6 and -0.3 ms.",
  ],
};

export function annotate(results) {
  for (const [name, entry] of Object.entries(results.measurements ?? {})) {
    delete entry.caveats;
    const caveats = CAVEATS[name]?.(results);
    if (caveats?.length) entry.caveats = caveats;
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
