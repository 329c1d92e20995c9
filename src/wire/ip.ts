/**
 * IPv4 header codec (as keepalived builds it for IP_HDRINCL, and as raw IPv4 reads return it), IPv6
 * fixed header codec (for NA frames and captures), and address text <-> bytes helpers (ipaddr.js).
 * Facts: shared/reference/wire-and-kernel.md §1.2, §1.8, §3.
 */
import ipaddr from 'ipaddr.js';
import { internetChecksum } from './checksum.js';
import { packetError as fail } from './errors.js';

export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_AH = 51;
export const IPPROTO_VRRP = 112;
export const IPV4_HEADER_LENGTH = 20;
export const IPV6_HEADER_LENGTH = 40;
/** keepalived's TOS / traffic class for adverts: CS6, "internetwork control". */
export const VRRP_TOS = 0xc0;
export const VRRP_TTL = 255;
export const VRRP_GROUP4 = '224.0.0.18';
export const VRRP_GROUP6 = 'ff02::12';

/** Text -> 4 or 16 bytes. `family` restricts the accepted family. Throws KA_ERR_WIRE_BAD_ADDRESS. */
export function addrToBytes(addr: string, family?: 4 | 6): Buffer {
  // ipaddr.js alone also accepts "10.1" and octal/hex IPv4 forms; keepalived's inet_pton does not.
  if (family !== 6 && ipaddr.IPv4.isValidFourPartDecimal(addr))
    return Buffer.from(ipaddr.IPv4.parse(addr).toByteArray());
  if (family !== 4 && !addr.includes('%') && ipaddr.IPv6.isValid(addr)) {
    return Buffer.from(ipaddr.IPv6.parse(addr).toByteArray());
  }
  return fail('KA_ERR_WIRE_BAD_ADDRESS', `not an IPv${family ?? '4/6'} address: ${addr}`, { addr });
}

/** 4 or 16 bytes -> text (IPv6 in RFC 5952 compressed form). */
export function bytesToAddr(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) fail('KA_ERR_WIRE_BAD_ADDRESS', `address of ${b.length} bytes`);
  return ipaddr.fromByteArray(Array.from(b)).toString();
}

/** True for 224.0.0.0/4 and ff00::/8 (text or bytes). */
export function isMulticast(addr: string | Uint8Array): boolean {
  const b = typeof addr === 'string' ? addrToBytes(addr) : addr;
  return b.length === 4 ? (b[0]! & 0xf0) === 0xe0 : b[0] === 0xff;
}

/** Ethernet multicast MAC of an IPv4 (01:00:5e + low 23 bits) or IPv6 (33:33 + low 32 bits) group. */
export function multicastMac(group: string): string {
  const b = addrToBytes(group);
  const mac =
    b.length === 4 ? [1, 0, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!] : [0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!];
  return mac.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---------------------------------------------------------------------------------------------
// IPv4

export interface Ipv4Header {
  tos: number;
  /** be16 total length of header + payload. */
  totalLength: number;
  id: number;
  /** Flags (3 bits) and fragment offset (13 bits) as the be16 word. keepalived: 0 (DF not set). */
  flagsFragment: number;
  ttl: number;
  protocol: number;
  /** On decode: as found. On encode: written as given; omit it to have it computed. */
  checksum?: number;
  src: string;
  dst: string;
  /** Options bytes (IHL > 5); a multiple of 4. Empty for everything keepalived sends. */
  options: Buffer;
}

export function ipv4HeaderLength(h: Pick<Ipv4Header, 'options'>): number {
  return IPV4_HEADER_LENGTH + h.options.length;
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    fail('KA_ERR_WIRE_BAD_FIELD', `${name} out of range: ${v}`, { [name]: v });
}

/** Writes the IPv4 header at `offset` of `buf` (allocated when absent); returns the header bytes. */
export function encodeIpv4Header(h: Ipv4Header, buf?: Buffer, offset = 0): Buffer {
  const len = ipv4HeaderLength(h);
  if (h.options.length % 4 !== 0 || len > 60)
    fail('KA_ERR_WIRE_BAD_FIELD', 'IPv4 options must be 0..40 bytes, x4');
  checkUint('tos', h.tos, 0xff);
  checkUint('totalLength', h.totalLength, 0xffff);
  checkUint('id', h.id, 0xffff);
  checkUint('flagsFragment', h.flagsFragment, 0xffff);
  checkUint('ttl', h.ttl, 0xff);
  checkUint('protocol', h.protocol, 0xff);
  if (h.checksum !== undefined) checkUint('checksum', h.checksum, 0xffff);
  const src = addrToBytes(h.src, 4);
  const dst = addrToBytes(h.dst, 4);
  const out = buf ? buf.subarray(offset, offset + len) : Buffer.alloc(len);
  if (out.length !== len) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small', { len });
  out[0] = 0x40 | (len >> 2);
  out[1] = h.tos;
  out.writeUInt16BE(h.totalLength, 2);
  out.writeUInt16BE(h.id, 4);
  out.writeUInt16BE(h.flagsFragment, 6);
  out[8] = h.ttl;
  out[9] = h.protocol;
  out.writeUInt16BE(0, 10);
  src.copy(out, 12);
  dst.copy(out, 16);
  h.options.copy(out, IPV4_HEADER_LENGTH);
  out.writeUInt16BE(h.checksum ?? internetChecksum(out), 10);
  return out;
}

/** Decodes an IPv4 header (version, IHL and the buffer length are checked; total length is not). */
export function decodeIpv4Header(buf: Buffer): Ipv4Header {
  if (buf.length < IPV4_HEADER_LENGTH) fail('KA_ERR_IP_TRUNCATED', `IPv4 packet of ${buf.length} bytes`);
  const version = buf[0]! >> 4;
  const ihl = (buf[0]! & 0x0f) * 4;
  if (version !== 4 || ihl < IPV4_HEADER_LENGTH)
    fail('KA_ERR_IP_BAD_HEADER', `IPv4 version ${version}, IHL ${ihl}`);
  if (buf.length < ihl) fail('KA_ERR_IP_TRUNCATED', `IPv4 header of ${ihl} bytes in ${buf.length}`);
  return {
    tos: buf[1]!,
    totalLength: buf.readUInt16BE(2),
    id: buf.readUInt16BE(4),
    flagsFragment: buf.readUInt16BE(6),
    ttl: buf[8]!,
    protocol: buf[9]!,
    checksum: buf.readUInt16BE(10),
    src: bytesToAddr(buf.subarray(12, 16)),
    dst: bytesToAddr(buf.subarray(16, 20)),
    options: buf.subarray(IPV4_HEADER_LENGTH, ihl),
  };
}

/** Decodes an IPv4 packet; the payload ends at the total length (trailing bytes, e.g. padding, are ignored). */
export function decodeIpv4(buf: Buffer): { header: Ipv4Header; payload: Buffer } {
  const header = decodeIpv4Header(buf);
  const hl = ipv4HeaderLength(header);
  if (header.totalLength < hl)
    fail('KA_ERR_IP_BAD_HEADER', `IPv4 total length ${header.totalLength} < IHL ${hl}`);
  if (header.totalLength > buf.length) {
    fail('KA_ERR_IP_TRUNCATED', `IPv4 total length ${header.totalLength} in ${buf.length} bytes`);
  }
  return { header, payload: buf.subarray(hl, header.totalLength) };
}

/** True if the IPv4 header checksum verifies (the kernel checks it on receive; this is for captures). */
export function ipv4HeaderChecksumOk(buf: Buffer): boolean {
  const ihl = ((buf[0] ?? 0) & 0x0f) * 4;
  return ihl >= IPV4_HEADER_LENGTH && buf.length >= ihl && internetChecksum(buf.subarray(0, ihl)) === 0;
}

/** Next keepalived advert IP ID: +1 per advert, wrapping to 1 (0 would let the kernel pick one, breaking AH). */
export function nextIpId(id: number): number {
  return id >= 0xffff ? 1 : id + 1;
}

export interface VrrpIpv4HeaderOptions {
  id: number;
  src: string;
  /** 224.0.0.18 or the unicast peer. */
  dst: string;
  /** Bytes after the IPv4 header: [24 AH +] VRRP message. */
  payloadLength: number;
  /** IPsec-AH mode: protocol 51 instead of 112. */
  ah?: boolean;
  /** Default 255. */
  ttl?: number;
  /** Omit for 0 (the kernel fills it for IP_HDRINCL sockets); give `'compute'` for a finished packet. */
  checksum?: 'compute' | number;
}

/** The IPv4 header keepalived writes for an advert (§1.2): 0x45, TOS 0xc0, no DF, TTL 255, proto 112/51. */
export function vrrpIpv4Header(o: VrrpIpv4HeaderOptions): Ipv4Header {
  return {
    tos: VRRP_TOS,
    totalLength: IPV4_HEADER_LENGTH + o.payloadLength,
    id: o.id,
    flagsFragment: 0,
    ttl: o.ttl ?? VRRP_TTL,
    protocol: o.ah ? IPPROTO_AH : IPPROTO_VRRP,
    ...(o.checksum === 'compute' ? {} : { checksum: o.checksum ?? 0 }),
    src: o.src,
    dst: o.dst,
    options: Buffer.alloc(0),
  };
}

// ---------------------------------------------------------------------------------------------
// IPv6

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

/** Writes the 40-byte IPv6 fixed header at `offset` of `buf` (allocated when absent). */
export function encodeIpv6Header(h: Ipv6Header, buf?: Buffer, offset = 0): Buffer {
  checkUint('trafficClass', h.trafficClass, 0xff);
  checkUint('flowLabel', h.flowLabel, 0xfffff);
  checkUint('payloadLength', h.payloadLength, 0xffff);
  checkUint('nextHeader', h.nextHeader, 0xff);
  checkUint('hopLimit', h.hopLimit, 0xff);
  const src = addrToBytes(h.src, 6);
  const dst = addrToBytes(h.dst, 6);
  const out = buf ? buf.subarray(offset, offset + IPV6_HEADER_LENGTH) : Buffer.alloc(IPV6_HEADER_LENGTH);
  if (out.length !== IPV6_HEADER_LENGTH) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small');
  out.writeUInt32BE(((6 << 28) | (h.trafficClass << 20) | h.flowLabel) >>> 0, 0);
  out.writeUInt16BE(h.payloadLength, 4);
  out[6] = h.nextHeader;
  out[7] = h.hopLimit;
  src.copy(out, 8);
  dst.copy(out, 24);
  return out;
}

/** Decodes an IPv6 fixed header; the payload is `payloadLength` bytes (extension headers are not walked). */
export function decodeIpv6(buf: Buffer): { header: Ipv6Header; payload: Buffer } {
  if (buf.length < IPV6_HEADER_LENGTH) fail('KA_ERR_IP_TRUNCATED', `IPv6 packet of ${buf.length} bytes`);
  const w = buf.readUInt32BE(0);
  if (w >>> 28 !== 6) fail('KA_ERR_IP_BAD_HEADER', `IPv6 version ${w >>> 28}`);
  const payloadLength = buf.readUInt16BE(4);
  if (IPV6_HEADER_LENGTH + payloadLength > buf.length) {
    fail('KA_ERR_IP_TRUNCATED', `IPv6 payload length ${payloadLength} in ${buf.length} bytes`);
  }
  return {
    header: {
      trafficClass: (w >>> 20) & 0xff,
      flowLabel: w & 0xfffff,
      payloadLength,
      nextHeader: buf[6]!,
      hopLimit: buf[7]!,
      src: bytesToAddr(buf.subarray(8, 24)),
      dst: bytesToAddr(buf.subarray(24, 40)),
    },
    payload: buf.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + payloadLength),
  };
}
