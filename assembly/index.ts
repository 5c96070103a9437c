// The wasm planner's public surface: every decision daemonkit makes, none of the I/O.
export * from "./umask";
export * from "./signals";
