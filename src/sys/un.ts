// sys/un.h: the unix socket address's size, apart from the koffi bindings so the normalizer can check names without them.

/** sizeof(sockaddr_un.sun_path), unix(7): a path and its NUL. */
export const SUN_PATH_MAX = 108;
