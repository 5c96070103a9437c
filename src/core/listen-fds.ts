// sd_listen_fds(3) for Node workers: the sockets a supervisor passed at fds 3.., for server.listen({ fd }).
import { setCloexec } from '../sys/fcntl.js';
import { ACTIVATION_VARS, LISTEN_FDS_START } from './socket-activation.js';

export interface ListenFd {
  /** From LISTEN_FDNAMES ('unknown' when it names fewer fds, as systemd says). */
  name: string;
  fd: number;
}

const UNNAMED = 'unknown';

let taken: ListenFd[] | null = null;

/**
 * The listening sockets passed to this process: [] unless LISTEN_PID is our own PID. The first call removes
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from process.env (so children do not take sockets meant for us) and
 * marks the fds close-on-exec; later calls return the same list.
 */
export function listenFds(): ListenFd[] {
  if (taken) return taken.slice();
  const { LISTEN_PID: pid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = process.env;
  for (const v of ACTIVATION_VARS) delete process.env[v];
  taken = [];
  if (pid !== String(process.pid) || count === undefined || !/^[1-9]\d{0,5}$/.test(count)) return [];
  const list = names === undefined ? [] : names.split(':');
  const fds: ListenFd[] = [];
  for (let i = 0; i < Number(count); i++) {
    const fd = LISTEN_FDS_START + i;
    setCloexec(fd, true);
    fds.push({ name: list[i] || UNNAMED, fd });
  }
  taken = fds;
  return fds.slice();
}
