// How the supervisor's Node runs: its flags and environment. scripts/build.mjs makes the supervisor's code cache with
// these same flags (V8 rejects a cache made under other flags), so they live here, in a file it can load alone.

/**
 * The supervisor's stderr is the service's log file, and a write error on process.stderr (a full disk) would be
 * fatal: Node must never write there on its own (warnings). Our own lines go through the log sink, which holds them
 * until they can be written; not touching process.stderr at all also spares a start Node's stream modules.
 */
const NO_STRAY_WRITES = '--no-warnings';

/**
 * A supervisor lives long and allocates little, so its RSS must stay where it started: cap V8's young generation (it
 * otherwise grows under churn and keeps it) and glibc's malloc arenas (one per thread by default), and let it collect
 * in full before trimming (--expose-gc). No optimizing compiler (--no-opt, Liftoff only for the wasm): its code pages
 * cost RSS and bought no speed here (figures: RELIABILITY.md, "Figures behind rules in the code").
 */
export const SUPERVISOR_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc', '--no-opt', '--liftoff-only', NO_STRAY_WRITES];
export const SUPERVISOR_ENV = ['MALLOC_ARENA_MAX=2'];
