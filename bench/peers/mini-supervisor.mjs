// The floor for any supervisor written in Node: child_process.spawn and restart on exit (WORKERS=N for N workers).
import { spawn } from 'node:child_process';
const [cmd, ...args] = process.argv.slice(2);
const workers = new Set();
let stopping = false;
const run = () => { const c = spawn(cmd, args, { stdio: 'inherit' }); workers.add(c);
  c.on('exit', () => { workers.delete(c); if (!stopping) run(); }); };
process.on('SIGTERM', () => { stopping = true; for (const c of workers) c.kill('SIGTERM'); process.exitCode = 0; });
for (let i = 0; i < Number(process.env.WORKERS ?? 1); i++) run();
