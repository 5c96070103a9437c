// The koffi layer: thin typed wrappers around libc, one file per header.
export * from './errors.js';
export * from './libc.js';
export * from './spawn.js';
export * from './wait.js';
export * from './signal.js';
export * from './file.js';
export * from './fcntl.js';
export * from './unistd.js';
export * from './stat.js';
export * from './resource.js';
export * from './prctl.js';
export * from './pidfd.js';
export * from './socket.js';
export * from './malloc.js';
export * from './time.js';
export * from './fsuid.js';
