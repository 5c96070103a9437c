# python3-daemon (PEP 3143): DaemonContext, then exec the target. argv: PIDFILE PROGRAM [ARGS...]
import os
import sys

import daemon

pidfile, argv = sys.argv[1], sys.argv[2:]
with daemon.DaemonContext():
    with open(pidfile, 'w') as f:
        f.write('%d\n' % os.getpid())
    os.execv(argv[0], argv)
