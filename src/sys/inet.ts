// netinet/in.h and arpa/inet.h: IPv4/IPv6 socket addresses as the kernel reads and writes them, and the IPv6 option.
import { libc, cString } from './libc.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;

const IN_ADDR_BYTES = 4;
const IN6_ADDR_BYTES = 16;
/** sizeof(struct sockaddr_in) and sizeof(struct sockaddr_in6). */
const SOCKADDR_IN_BYTES = 16;
const SOCKADDR_IN6_BYTES = 28;
/** INET6_ADDRSTRLEN, with its NUL. */
const INET6_ADDRSTRLEN = 46;

const inetPtonNative = libc.func('int inet_pton(int af, const char *src, _Out_ uint8_t *dst)');
const inetNtopNative = libc.func('const char *inet_ntop(int af, const uint8_t *src, _Out_ uint8_t *dst, uint32_t size)');

/** inet_pton(3): the address's network-order bytes, or null when text is not an address of that family (returns 0). */
export function inetPton(family: typeof AF_INET | typeof AF_INET6, text: string): Buffer | null {
  const out = Buffer.alloc(family === AF_INET ? IN_ADDR_BYTES : IN6_ADDR_BYTES);
  return inetPtonNative(family, cString(text, 'address'), out) === 1 ? out : null;
}

/** inet_ntop(3): the canonical text of an address's bytes (IPv6 compressed, "::1"). */
export function inetNtop(family: typeof AF_INET | typeof AF_INET6, bytes: Buffer): string {
  const out = Buffer.alloc(INET6_ADDRSTRLEN);
  if (inetNtopNative(family, bytes, out, out.length) === null) throw new RangeError(`inet_ntop: ${bytes.length} bytes are not an address`);
  return out.toString('latin1', 0, out.indexOf(0));
}

/** struct sockaddr_in (ip(7)): family, port in network order, the 4 address bytes. */
export function sockaddrIn(address: Buffer, port: number): Buffer {
  const addr = Buffer.alloc(SOCKADDR_IN_BYTES);
  addr.writeUInt16LE(AF_INET, 0);
  addr.writeUInt16BE(port, 2);
  address.copy(addr, 4, 0, IN_ADDR_BYTES);
  return addr;
}

/** struct sockaddr_in6 (ipv6(7)): family, port in network order, flow info 0, the 16 address bytes, scope 0. */
export function sockaddrIn6(address: Buffer, port: number): Buffer {
  const addr = Buffer.alloc(SOCKADDR_IN6_BYTES);
  addr.writeUInt16LE(AF_INET6, 0);
  addr.writeUInt16BE(port, 2);
  address.copy(addr, 8, 0, IN6_ADDR_BYTES);
  return addr;
}

/** The family, address text and port of a sockaddr_in or sockaddr_in6 the kernel filled in (getsockname(2)). */
export function parseInetAddress(addr: Buffer): { family: typeof AF_INET | typeof AF_INET6; address: string; port: number } {
  const family = addr.readUInt16LE(0);
  const port = addr.readUInt16BE(2);
  if (family === AF_INET) return { family, address: inetNtop(AF_INET, addr.subarray(4, 4 + IN_ADDR_BYTES)), port };
  if (family === AF_INET6) return { family, address: inetNtop(AF_INET6, addr.subarray(8, 8 + IN6_ADDR_BYTES)), port };
  throw new RangeError(`not an inet socket address (family ${family})`);
}
