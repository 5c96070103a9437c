// pwd.h and grp.h: user and group lookups through glibc's NSS (files, LDAP, sssd, systemd...), not /etc/passwd by hand.
import { constants } from 'node:os';
import { koffi, cString, declare, once, EBADF, EINTR, ESRCH } from './libc.js';
import { sysError } from './errors.js';

const { ENOENT, EPERM, ERANGE } = constants.errno;

/** uid_t and gid_t are 32-bit unsigned; (uid_t)-1 means "no id" to the kernel, so no entry has it. */
const ID_MAX = 0xffff_fffe;
/** First buffer for an entry's strings; doubled on ERANGE (a group with many members needs more). */
const BUFFER_START = 4096;
/** Past this an entry is not plausible: stop growing and report ERANGE. */
const BUFFER_MAX = 1 << 24;

// The strings point into the caller's buffer; koffi copies them into JS strings on the way out.
// koffi's types are built on first use, like the functions (libc.ts: nothing native at import).
const types = once(() => {
  const passwd = koffi.struct({
    pw_name: 'const char *',
    pw_passwd: 'const char *',
    pw_uid: 'uint32_t',
    pw_gid: 'uint32_t',
    pw_gecos: 'const char *',
    pw_dir: 'const char *',
    pw_shell: 'const char *',
  });
  const group = koffi.struct({
    gr_name: 'const char *',
    gr_passwd: 'const char *',
    gr_gid: 'uint32_t',
    gr_mem: 'void *',
  });
  return {
    pwdOut: koffi.out(koffi.pointer(passwd)),
    grpOut: koffi.out(koffi.pointer(group)),
    // *result is NULL when there is no entry: only its nullness is read.
    resultOut: koffi.out(koffi.pointer('void *')),
  };
});
const getpwnamNative = declare((lib) =>
  lib.func('getpwnam_r', 'int', ['const char *', types().pwdOut, 'void *', 'size_t', types().resultOut]),
);
const getpwuidNative = declare((lib) => lib.func('getpwuid_r', 'int', ['uint32_t', types().pwdOut, 'void *', 'size_t', types().resultOut]));
const getgrnamNative = declare((lib) =>
  lib.func('getgrnam_r', 'int', ['const char *', types().grpOut, 'void *', 'size_t', types().resultOut]),
);
const getgrgidNative = declare((lib) => lib.func('getgrgid_r', 'int', ['uint32_t', types().grpOut, 'void *', 'size_t', types().resultOut]));

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
}

interface PasswdValue {
  pw_name: string;
  pw_uid: number;
  pw_gid: number;
  pw_dir: string | null;
  pw_shell: string | null;
}

interface GroupValue {
  gr_name: string;
  gr_gid: number;
}

// getpwnam_r(3) lists these besides 0 as meaning "not found", depending on the NSS module.
const NOT_FOUND = new Set([0, ENOENT, ESRCH, EBADF, EPERM]);

/** The *_r convention: the error number is returned; ERANGE asks for a bigger buffer, EINTR for another try. */
function lookup<T extends object>(call: (out: T, buf: Buffer, result: unknown[]) => number, syscall: string): T | null {
  for (let size = BUFFER_START; ;) {
    const out = {} as T;
    const result: unknown[] = [null];
    const ret = call(out, Buffer.alloc(size), result);
    if (ret === 0 && result[0] !== null) return out;
    if (ret === ERANGE && size < BUFFER_MAX) size *= 2;
    else if (ret !== EINTR) {
      if (NOT_FOUND.has(ret)) return null;
      throw sysError(ret, syscall);
    }
  }
}

function id(value: number, what: string): number | null {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what} must be a whole number >= 0, got ${String(value)}`);
  return value > ID_MAX ? null : value;
}

function passwdEntry(p: PasswdValue): PasswdEntry {
  return { name: p.pw_name, uid: p.pw_uid, gid: p.pw_gid, home: p.pw_dir ?? '', shell: p.pw_shell ?? '' };
}

function groupEntry(g: GroupValue): GroupEntry {
  return { name: g.gr_name, gid: g.gr_gid };
}

/** getpwnam_r(3): the user called name, or null if NSS knows none; lookup failures throw SysError. */
export function getpwnam(name: string): PasswdEntry | null {
  const n = cString(name, 'name');
  const p = lookup<PasswdValue>((out, buf, res) => getpwnamNative(n, out, buf, buf.length, res), 'getpwnam_r');
  return p && passwdEntry(p);
}

/** getpwuid_r(3): the user with this uid, or null (also for ids outside uid_t, which no entry can have). */
export function getpwuid(uid: number): PasswdEntry | null {
  const u = id(uid, 'uid');
  if (u === null) return null;
  const p = lookup<PasswdValue>((out, buf, res) => getpwuidNative(u, out, buf, buf.length, res), 'getpwuid_r');
  return p && passwdEntry(p);
}

/** getgrnam_r(3): the group called name, or null if NSS knows none; lookup failures throw SysError. */
export function getgrnam(name: string): GroupEntry | null {
  const n = cString(name, 'name');
  const g = lookup<GroupValue>((out, buf, res) => getgrnamNative(n, out, buf, buf.length, res), 'getgrnam_r');
  return g && groupEntry(g);
}

/** getgrgid_r(3): the group with this gid, or null (also for ids outside gid_t). */
export function getgrgid(gid: number): GroupEntry | null {
  const g0 = id(gid, 'gid');
  if (g0 === null) return null;
  const g = lookup<GroupValue>((out, buf, res) => getgrgidNative(g0, out, buf, buf.length, res), 'getgrgid_r');
  return g && groupEntry(g);
}
