// Bench entry for the planner (bundled by bench/planner.mjs with the same esbuild settings as dist/): times
// normalize + buildPlan, buildPlan alone, and the bare wasm calls, in this process, many times over.
import { logFileOf, normalize, type StartOptions } from '../../src/options.js';
import { buildPlan, planFds, sessionFdTargets, optionBits, contextBits } from '../../src/core/plan.js';
import { planner } from '../../src/core/wasm.js';

const context = { parentIsInit: false, systemdInvocation: false, notifySocket: false, stdinIsSocket: false };

/** The plans a user asks for most: a supervised service with a log, and a classic daemon with a PID file and umask. */
export function inputs(stateDir: string): StartOptions[] {
  return [
    { command: ['/bin/sleep', '1000'], name: 'web', supervise: true, workers: 4, log: `${stateDir}/web.log`, stateDir, forceDetach: true },
    {
      command: ['/bin/sleep', '1000'],
      name: 'sleeper',
      supervise: false,
      pidfile: `${stateDir}/s.pid`,
      umask: 'u=rwx,g=rx,o=',
      cwd: '/tmp',
      stateDir,
      forceDetach: true,
    },
  ];
}

const hr = () => Number(process.hrtime.bigint());

/** µs per operation, one figure per batch. */
export function measure(stateDir: string, batches: number, perBatch: number) {
  const opts = inputs(stateDir);
  const plainEnv = { ...process.env };
  const normalized = opts.map((o) => normalize(o, 'cli'));
  const bits = normalized.map((o) => [optionBits(o, false), contextBits(context)] as const);
  // Log files as the original holds them when it spawns: stand-in fds 21.. for their paths.
  const fdTargets = normalized.map((o) => sessionFdTargets(o, 20, new Map(o.stdio.map((t, i) => [logFileOf(t) ?? '', 21 + i]))));
  const ops: Record<string, (i: number) => unknown> = {
    'normalize + buildPlan': (i) => buildPlan(normalize(opts[i % opts.length]!, 'cli'), context),
    // The daemon's environment is copied from process.env (an accessor object: every read is a call into C++) only
    // when first read, at the spawn; shown apart, as a start pays it once after planning.
    "normalize + buildPlan + the daemon's environment (read at spawn)": (i) => {
      const o = normalize(opts[i % opts.length]!, 'cli');
      const plan = buildPlan(o, context);
      return o.env.length + plan.steps.length;
    },
    'normalize (environment as a plain object) + buildPlan + the environment': (i) => {
      const o = normalize(opts[i % opts.length]!, 'cli', plainEnv);
      return buildPlan(o, context).steps.length + o.env.length;
    },
    buildPlan: (i) => buildPlan(normalized[i % normalized.length]!, context),
    'wasm only: planSteps + planFds': (i) => {
      const [o, c] = bits[i % bits.length]!;
      planner.planSteps(o, c);
      return planFds(fdTargets[i % fdTargets.length]!);
    },
  };
  const out: Record<string, number[]> = {};
  for (const [name, op] of Object.entries(ops)) {
    for (let i = 0; i < perBatch; i++) op(i); // warm-up: JIT and the wasm's own tiers
    out[name] = [];
  }
  // Interleaved: batch b of every operation before batch b + 1 of any.
  for (let b = 0; b < batches; b++) {
    for (const [name, op] of Object.entries(ops)) {
      const t0 = hr();
      for (let i = 0; i < perBatch; i++) op(i);
      out[name]!.push((hr() - t0) / 1000 / perBatch);
    }
  }
  const memoryBytes = (planner as unknown as { memory?: WebAssembly.Memory }).memory?.buffer.byteLength ?? null;
  return { perOp: out, memoryBytes };
}
