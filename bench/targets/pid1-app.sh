#!/bin/sh
# The program under PID 1 in the pid1 measurement. Args: WORKER_MARKER [ORPHAN_MARKER...]. Each orphan marker becomes a
# /bin/sleep whose parent (a subshell) exits at once, so it is reparented to PID 1; then this shell becomes the worker.
w=$1
shift
for m in "$@"; do (/bin/sleep "$m" &); done
exec /bin/sleep "$w"
