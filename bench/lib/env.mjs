// Where things are, what machine this is, which versions run, and installing the peers that are missing.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './proc.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const benchDir = join(root, 'bench');
export const peersDir = join(benchDir, 'peers');
export const targetsDir = join(benchDir, 'targets');
export const node = process.execPath;
export const cli = join(root, 'dist', 'cli.js');
export const python = '/usr/bin/python3'; // Debian's, where python3-daemon and supervisor are installed

export const peerModule = (name, ...rest) => join(peersDir, 'node_modules', name, ...rest);
export const pm2Bin = peerModule('pm2', 'bin', 'pm2');
export const foreverBin = peerModule('forever', 'bin', 'forever');

const NPM_PEERS = ['pm2', 'forever', 'daemon'];
const DEBIAN = [
  { pkg: 'dpkg', check: () => existsSync('/usr/sbin/start-stop-daemon') || existsSync('/sbin/start-stop-daemon') },
  { pkg: 'daemonize', check: () => existsSync('/usr/bin/daemonize') || existsSync('/usr/sbin/daemonize') },
  { pkg: 'python3-daemon', check: () => existsSync('/usr/lib/python3/dist-packages/daemon/__init__.py') },
  { pkg: 'supervisor', check: () => existsSync('/usr/bin/supervisord') && existsSync('/usr/bin/supervisorctl') },
  { pkg: 'tini', check: () => existsSync('/usr/bin/tini') },
];
export const tiniBin = '/usr/bin/tini';

export const startStopDaemon = existsSync('/usr/sbin/start-stop-daemon') ? '/usr/sbin/start-stop-daemon' : '/sbin/start-stop-daemon';
export const daemonizeBin = existsSync('/usr/bin/daemonize') ? '/usr/bin/daemonize' : '/usr/sbin/daemonize';

/** Installs missing peers (npm into bench/peers/node_modules, Debian packages with apt-get); returns what is still missing. */
export async function ensurePeers({ install = true, log = () => {} } = {}) {
  const missing = {};
  const npmMissing = NPM_PEERS.filter((p) => !existsSync(peerModule(p, 'package.json')));
  if (npmMissing.length && install) {
    log(`installing npm peers into bench/peers (${npmMissing.join(', ')})`);
    const lock = existsSync(join(peersDir, 'package-lock.json'));
    const r = await run('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: peersDir,
      timeoutMs: 600_000,
    });
    if (r.code !== 0) log(`npm ${lock ? 'ci' : 'install'} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  for (const p of NPM_PEERS) if (!existsSync(peerModule(p, 'package.json'))) missing[p] = `npm package ${p} not installed in bench/peers`;

  let debMissing = DEBIAN.filter((d) => !d.check());
  if (debMissing.length && install) {
    if (process.getuid?.() !== 0) log(`not root: cannot apt-get install ${debMissing.map((d) => d.pkg).join(' ')}`);
    else {
      log(`installing Debian peers: ${debMissing.map((d) => d.pkg).join(' ')}`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let r = await run('apt-get', ['install', '-y', '-qq', ...debMissing.map((d) => d.pkg)], { env, timeoutMs: 600_000 });
      if (r.code !== 0) {
        await run('apt-get', ['update', '-qq'], { env, timeoutMs: 600_000 });
        r = await run('apt-get', ['install', '-y', '-qq', ...debMissing.map((d) => d.pkg)], { env, timeoutMs: 600_000 });
      }
      if (r.code !== 0) log(`apt-get install failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    debMissing = DEBIAN.filter((d) => !d.check());
  }
  for (const d of debMissing) missing[d.pkg] = `Debian package ${d.pkg} not installed`;
  return missing;
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'latin1');
  const meminfo = readFileSync('/proc/meminfo', 'latin1');
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'latin1') : '';
  return {
    nproc: cpus().length,
    memTotalMiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? totalmem() / 1024) / 1024),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]+)"?/m.exec(osRelease)?.[1] ?? 'unknown',
    pidMax: Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1')),
  };
}

function pkgVersion(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

export async function versions() {
  const out = { node: process.version };
  const git = await run('git', ['describe', '--always', '--dirty', '--abbrev=10'], { cwd: root });
  out.daemonkit = `${pkgVersion(root)}${git.code === 0 ? ` (${git.stdout.trim()})` : ''}`;
  out.koffi = pkgVersion(join(root, 'node_modules', 'koffi'));
  for (const p of NPM_PEERS) out[p === 'daemon' ? 'daemon (npm)' : p] = pkgVersion(peerModule(p));
  const q = await run('dpkg-query', [
    '-W',
    '-f',
    '${Package} ${Version}\n',
    'dpkg',
    'daemonize',
    'python3-daemon',
    'supervisor',
    'coreutils',
    'tini',
  ]);
  for (const line of q.stdout.trim().split('\n')) {
    const [pkg, v] = line.split(' ');
    if (pkg && v) out[pkg === 'dpkg' ? 'start-stop-daemon (dpkg)' : pkg] = v;
  }
  const py = await run(python, ['--version']);
  if (py.code === 0) out.python3 = (py.stdout || py.stderr).trim().replace(/^Python /, '');
  return out;
}

/** dist/ is stale when a source under src/, assembly/ or build/planner.* is newer than dist/cli.js. */
export function distIsStale() {
  const target = join(root, 'dist', 'cli.js');
  if (!existsSync(target)) return true;
  const t = statSync(target).mtimeMs;
  const newer = (dir) =>
    existsSync(dir) &&
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.ts') && statSync(join(dir, e.name)).mtimeMs > t,
    );
  return newer(join(root, 'src')) || newer(join(root, 'assembly'));
}

/**
 * What the daemonkit CLI can do right now. Supervised measurements need `start` without --no-supervise and the
 * control commands; until `daemonkit stop --help` exits 0 they are skipped with the reason.
 */
export async function daemonkitCaps() {
  const caps = {};
  const probe = async (args) => {
    const r = await run(node, [cli, ...args], { timeoutMs: 20_000 });
    return r.code === 0 ? null : `\`daemonkit ${args.join(' ')}\` exits ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  };
  caps.cli = existsSync(cli) ? await probe(['--help']) : 'dist/cli.js is missing (run npm run build)';
  caps.stop = caps.cli ?? (await probe(['stop', '--help']));
  caps.status = caps.cli ?? (await probe(['status', '--help']));
  caps.supervised = caps.stop;
  // `daemonkit run` (the foreground supervisor, PID 1 in containers) arrived after the rest: probed on its own.
  caps.run = caps.cli ?? (await probe(['run', '--help']));
  return caps; // each: null when available, else why not
}
