// The environment variables daemonkit passes to a library daemon; removed from process.env before user code sees them.
export const MARKERS = {
  role: 'DAEMONKIT_ROLE',
  readyFd: 'DAEMONKIT_READY_FD',
  pidfileFd: 'DAEMONKIT_PIDFILE_FD',
  pidfile: 'DAEMONKIT_PIDFILE',
} as const;
