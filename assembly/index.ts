// The wasm planner's public surface: every decision daemonkit makes, none of the I/O.
export * from './umask';
export * from './signals';
export * from './steps';
export * from './wait-status';
export * from './fd-plan';
export * from './supervisor';
export * from './supervisor-abi';
export * from './stop-schedule';
export * from './liveness';
