/**
 * Linux socket ABI structs, built and parsed in TypeScript so the addon stays syscalls-only:
 * sockaddr_in/in6/nl/ll/un, ip_mreqn, ipv6_mreq, in_pktinfo, in6_pktinfo and control messages.
 * Host-order fields are little-endian (every platform keepalived-ts supports); `cmsghdr` layout
 * follows the platform's size_t (8 on 64-bit). Pure: no addon import.
 */
import { constants as osConstants } from 'node:os';
import { addrToBytes, bytesToAddr } from '../wire/ip.js';
import { SysError, SysErrors } from './errors.js';

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

function badArg(message: string, details: Record<string, unknown> = {}): never {
  throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, message, '', '', details);
}

/** Parses IPv4 dotted-quad or IPv6 text (no zone id) into 4 or 16 bytes; SysError KA_ERR_SYS_BAD_ARG otherwise. */
export function addrBytes(addr: string, family?: 4 | 6): Buffer {
  try {
    return addrToBytes(String(addr), family);
  } catch {
    return badArg(`not an IPv${family ?? '4/6'} address: ${String(addr)}`, { addr });
  }
}

/** Formats 4 or 16 address bytes (IPv6 in RFC 5952 form). */
export function addrText(b: Buffer): string {
  if (b.length !== 4 && b.length !== 16) badArg(`address of ${b.length} bytes`);
  return bytesToAddr(b);
}

export function familyOf(addr: string): 4 | 6 {
  return addrBytes(addr).length === 4 ? 4 : 6;
}

export function sockaddrIn(addr: string, port = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  addrBytes(addr, 4).copy(b, 4);
  return b;
}

export function sockaddrIn6(addr: string, port = 0, scopeId = 0): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  addrBytes(addr, 6).copy(b, 8);
  b.writeUInt32LE(scopeId >>> 0, 24);
  return b;
}

export function sockaddrInet(addr: string, port = 0, scopeId = 0): Buffer {
  return familyOf(addr) === 4 ? sockaddrIn(addr, port) : sockaddrIn6(addr, port, scopeId);
}

export interface InetSockaddr {
  family: 4 | 6;
  addr: string;
  port: number;
  scopeId: number;
}

/** Decodes a sockaddr_in / sockaddr_in6 returned by recvmsg; undefined for anything else. */
export function decodeSockaddrInet(b: Buffer): InetSockaddr | undefined {
  if (b.length < 2) return undefined;
  const fam = b.readUInt16LE(0);
  if (fam === AF_INET && b.length >= 8) {
    return { family: 4, addr: addrText(b.subarray(4, 8)), port: b.readUInt16BE(2), scopeId: 0 };
  }
  if (fam === AF_INET6 && b.length >= 28) {
    return {
      family: 6,
      addr: addrText(b.subarray(8, 24)),
      port: b.readUInt16BE(2),
      scopeId: b.readUInt32LE(24),
    };
  }
  return undefined;
}

export function sockaddrNl(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid >>> 0, 4);
  b.writeUInt32LE(groups >>> 0, 8);
  return b;
}

export function decodeSockaddrNl(b: Buffer): { pid: number; groups: number } | undefined {
  if (b.length < 12 || b.readUInt16LE(0) !== AF_NETLINK) return undefined;
  return { pid: b.readUInt32LE(4), groups: b.readUInt32LE(8) };
}

export interface SockaddrLl {
  protocol: number;
  ifindex: number;
  hatype: number;
  pkttype: number;
  addr: Buffer;
}

export function sockaddrLl(o: { protocol: number; ifindex: number; hatype?: number; addr?: Buffer }): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(o.protocol & 0xffff, 2);
  b.writeInt32LE(o.ifindex, 4);
  b.writeUInt16LE(o.hatype ?? 0, 8);
  const addr = o.addr ?? Buffer.alloc(0);
  if (addr.length > 8) badArg(`link-layer address of ${addr.length} bytes`);
  b.writeUInt8(addr.length, 11);
  addr.copy(b, 12);
  return b;
}

export function decodeSockaddrLl(b: Buffer): SockaddrLl | undefined {
  if (b.length < 20 || b.readUInt16LE(0) !== AF_PACKET) return undefined;
  const halen = Math.min(b.readUInt8(11), 8);
  return {
    protocol: b.readUInt16BE(2),
    ifindex: b.readInt32LE(4),
    hatype: b.readUInt16LE(8),
    pkttype: b.readUInt8(10),
    addr: Buffer.from(b.subarray(12, 12 + halen)),
  };
}

/** sockaddr_un for a filesystem path, or an abstract name when `path` starts with '@'. */
export function sockaddrUn(path: string): Buffer {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path, 'utf8');
  if (name.length === 0 || name.length > 107 || (!abstract && name.includes(0)))
    badArg(`bad unix socket path ${path}`);
  // Abstract: leading NUL and exact length (no terminator); path: NUL-terminated.
  const b = Buffer.alloc(2 + 1 + name.length);
  b.writeUInt16LE(AF_UNIX, 0);
  if (abstract) name.copy(b, 3);
  else name.copy(b, 2);
  return b;
}

/** struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex; } */
export function ipMreqn(group: string, ifindex: number, local = '0.0.0.0'): Buffer {
  const b = Buffer.alloc(12);
  addrBytes(group, 4).copy(b, 0);
  addrBytes(local, 4).copy(b, 4);
  b.writeInt32LE(ifindex, 8);
  return b;
}

/** struct ipv6_mreq { in6_addr multiaddr; unsigned ifindex; } */
export function ipv6Mreq(group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  addrBytes(group, 6).copy(b, 0);
  b.writeUInt32LE(ifindex >>> 0, 16);
  return b;
}

/** SO_BINDTODEVICE value: the NUL-terminated interface name (IFNAMSIZ 16). */
export function ifnameOpt(name: string): Buffer {
  const b = Buffer.from(`${name}\0`, 'utf8');
  if (b.length > 16 || name.length === 0 || name.includes('\0'))
    badArg(`bad interface name ${JSON.stringify(name)}`);
  return b;
}

/** struct in6_pktinfo { in6_addr addr; int ifindex; } */
export function in6Pktinfo(addr: string, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  addrBytes(addr, 6).copy(b, 0);
  b.writeInt32LE(ifindex, 16);
  return b;
}

export interface Cmsg {
  level: number;
  type: number;
  data: Buffer;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Encodes control messages (CMSG_SPACE each; header = size_t len, int level, int type). */
export function encodeCmsgs(list: readonly Cmsg[], sizeT = 8): Buffer {
  const hdr = align(sizeT + 8, sizeT);
  const total = list.reduce((n, c) => n + hdr + align(c.data.length, sizeT), 0);
  const b = Buffer.alloc(total);
  let off = 0;
  for (const c of list) {
    if (sizeT === 8) b.writeBigUInt64LE(BigInt(hdr + c.data.length), off);
    else b.writeUInt32LE(hdr + c.data.length, off);
    b.writeInt32LE(c.level, off + sizeT);
    b.writeInt32LE(c.type, off + sizeT + 4);
    c.data.copy(b, off + hdr);
    off += hdr + align(c.data.length, sizeT);
  }
  return b;
}

/** Decodes a recvmsg control buffer; stops at the first malformed header (as CMSG_NXTHDR does). */
export function decodeCmsgs(b: Buffer, sizeT = 8): Cmsg[] {
  const hdr = align(sizeT + 8, sizeT);
  const out: Cmsg[] = [];
  let off = 0;
  while (off + hdr <= b.length) {
    const len = sizeT === 8 ? Number(b.readBigUInt64LE(off)) : b.readUInt32LE(off);
    if (len < hdr || off + len > b.length) break;
    out.push({
      level: b.readInt32LE(off + sizeT),
      type: b.readInt32LE(off + sizeT + 4),
      data: b.subarray(off + hdr, off + len),
    });
    off += align(len, sizeT);
  }
  return out;
}

/** struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; } */
export function decodeInPktinfo(d: Buffer): { ifindex: number; dst: string } | undefined {
  if (d.length < 12) return undefined;
  return { ifindex: d.readInt32LE(0), dst: addrText(d.subarray(8, 12)) };
}

export function decodeIn6Pktinfo(d: Buffer): { ifindex: number; dst: string } | undefined {
  if (d.length < 20) return undefined;
  return { ifindex: d.readInt32LE(16), dst: addrText(d.subarray(0, 16)) };
}

/** int-valued control message (IP_TTL, IPV6_HOPLIMIT); IP_TTL may arrive as one byte on old kernels. */
export function decodeCmsgInt(d: Buffer): number | undefined {
  if (d.length >= 4) return d.readInt32LE(0);
  if (d.length >= 1) return d.readUInt8(0);
  return undefined;
}

/**
 * SCM_TIMESTAMPNS payload (struct timespec: tv_sec and tv_nsec, each a `long`) as µs, fractional;
 * undefined when the payload is short or out of range.
 */
export function decodeCmsgTimespecUs(d: Buffer, sizeT = 8): number | undefined {
  if (d.length < 2 * sizeT) return undefined;
  const sec = sizeT === 8 ? Number(d.readBigInt64LE(0)) : d.readInt32LE(0);
  const nsec = sizeT === 8 ? Number(d.readBigInt64LE(8)) : d.readInt32LE(4);
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return undefined;
  return sec * 1e6 + nsec / 1e3;
}

/**
 * Maps a kernel receive stamp (CLOCK_REALTIME, µs) onto CLOCK_MONOTONIC using both clocks as read
 * just after recvmsg: the packet's age is the same on either clock. Undefined when the age is negative
 * or over `maxAgeUs` (the realtime clock was stepped in between).
 */
export function stampToMonotonicUs(
  stampRealtimeUs: number,
  realtimeUs: number,
  monotonicUs: number,
  maxAgeUs = 1_000_000,
): number | undefined {
  const age = realtimeUs - stampRealtimeUs;
  if (!(age >= 0 && age <= maxAgeUs)) return undefined;
  return monotonicUs - age;
}

let errnoNames: Map<number, string> | undefined;

/** errno number → name ('ENODEV'), from Node's own table; `E<n>` when unknown. */
export function errnoName(n: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, num] of Object.entries(osConstants.errno))
      if (!errnoNames.has(num)) errnoNames.set(num, name);
  }
  return errnoNames.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}
