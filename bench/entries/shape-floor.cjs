// The floor of daemonkit's start shape, without daemonkit: this Node loads koffi's native module and posix_spawns a
// second Node (this file, argv[2] = the pipe's fd) that loads koffi, compiles the planner's wasm, posix_spawns
// /bin/true and writes one byte; the first exits once it has read it. No options, no plan, no files.
const { closeSync, readFileSync, readSync, writeSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const koffi = require(
  join(root, 'node_modules', '@koromix', `koffi-${process.platform}-${process.arch}`, `${process.platform}_${process.arch}`, 'koffi.node'),
);
const libc = koffi.load('libc.so.6');
const spawn = libc.func(
  'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
);
const pid = new Int32Array(1);

if (process.argv[2] === undefined) {
  const fds = new Int32Array(2);
  libc.func('int pipe(_Out_ int *fds)')(fds);
  spawn(pid, process.execPath, null, null, [process.execPath, __filename, String(fds[1]), null], [null]);
  closeSync(fds[1]);
  readSync(fds[0], Buffer.alloc(1));
  process.reallyExit(0);
} else {
  new WebAssembly.Module(readFileSync(join(root, 'build', 'planner.wasm')));
  spawn(pid, '/bin/true', null, null, ['true', null], [null]);
  writeSync(Number(process.argv[2]), 'x');
}
