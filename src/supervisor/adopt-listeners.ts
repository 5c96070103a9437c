// Socket activation from the manager above us: the sockets systemd (a .socket unit) passed stand in for --listen's.
import type { ListenSpec } from '../core/listen-spec.js';
import type { Listener } from '../core/listen-sockets.js';
import { ListenError } from '../errors.js';
import type { ListenFd } from '../core/listen-fds.js';
import { AF_INET, AF_INET6, parseInetAddress } from '../sys/inet.js';
import { getsockname } from '../sys/socket.js';

/** The address of a passed socket as status and logs show it, best effort: a unix socket shows its spec. */
function addressOf(fd: number, spec: ListenSpec): { address: string; port: number | null } {
  if (spec.kind === 'unix') return { address: spec.path, port: null };
  try {
    const a = parseInetAddress(getsockname(fd));
    return {
      address: a.family === AF_INET6 ? `[${a.address}]:${a.port}` : a.family === AF_INET ? `${a.address}:${a.port}` : spec.text,
      port: a.port,
    };
  } catch {
    return { address: spec.text, port: null };
  }
}

/**
 * Each --listen gets the passed socket of its name (LISTEN_FDNAMES), else the next passed socket no name claimed, in
 * order (systemd-socket-activate names none). The files are the manager's: never removed by us (file null).
 */
export function adoptListeners(specs: readonly ListenSpec[], passed: readonly ListenFd[]): Listener[] {
  const taken = new Set<number>();
  const chosen = new Map<ListenSpec, ListenFd>();
  for (const spec of specs) {
    const named = passed.find((p) => p.name === spec.name && !taken.has(p.fd));
    if (named) {
      chosen.set(spec, named);
      taken.add(named.fd);
    }
  }
  for (const spec of specs) {
    if (chosen.has(spec)) continue;
    const next = passed.find((p) => !taken.has(p.fd) && !specs.some((s) => s.name === p.name));
    if (!next)
      throw new ListenError(
        spec,
        `the service manager passed no socket named ${spec.name}, and none unnamed is left (LISTEN_FDNAMES=${passed.map((p) => p.name).join(':')})`,
      );
    chosen.set(spec, next);
    taken.add(next.fd);
  }
  return specs.map((spec) => {
    const p = chosen.get(spec)!;
    return { name: spec.name, fd: p.fd, spec, ...addressOf(p.fd, spec), file: null };
  });
}
