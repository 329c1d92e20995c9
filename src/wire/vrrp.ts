/**
 * VRRP v2 (RFC 3768) and v3 (RFC 5798) advertisement codec: pure functions between Buffers and
 * `VrrpAdvert`. The codec checks lengths and the packet's own rules only; policy (my VRID? my
 * interval? my peer?) belongs to src/vrrp/ (STYLE.md habit 2).
 * Facts: shared/reference/wire-and-kernel.md §1.3-1.6, §3.
 */
import { AH_LENGTH, encodeAh, sealAhPacket } from './ah.js';
import { checksumUpdate16, internetChecksum, pseudoHeaderSum } from './checksum.js';
import { packetError as fail } from './errors.js';
import {
  addrToBytes,
  bytesToAddr,
  encodeIpv4Header,
  IPPROTO_VRRP,
  IPV4_HEADER_LENGTH,
  vrrpIpv4Header,
} from './ip.js';

/** A decoded (or to-be-encoded) advertisement, without the IP header. */
export interface VrrpAdvert {
  version: 2 | 3;
  /** Type nibble; 1 = ADVERTISEMENT (anything else is rejected by receive validation). */
  type: number;
  vrid: number;
  priority: number;
  /** v2: seconds (8 bits). v3: centiseconds (12 bits). */
  advertInterval: number;
  /** v2 only: 0 none, 1 PASS, 2 AH. Always 0 for v3. */
  authType: number;
  /** v2 only: the 8 auth-data bytes (zeros unless PASS). Empty for v3. */
  authData: Buffer;
  /** Textual addresses (IPv4 dotted quad or IPv6), in packet order. */
  addresses: string[];
  family: 4 | 6;
  /** Checksum as found on the wire (decode) - encode computes it. */
  checksum: number;
}

/** What the receive path hands to the state machine: the advert plus what the IP layer told us. */
export interface ReceivedAdvert {
  advert: VrrpAdvert;
  /** Source address of the IP packet (textual). */
  src: string;
  /** Destination address of the IP packet (textual). */
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl: number;
  ifindex: number;
}

export const VRRP_TYPE_ADVERT = 1;
export const VRRP_HEADER_LENGTH = 8;
export const VRRP_AUTH_LENGTH = 8;
export const VRRP_AUTH_NONE = 0;
export const VRRP_AUTH_PASS = 1;
export const VRRP_AUTH_AH = 2;
/** Largest v3 Max Adver Int (12 bits of centiseconds). */
export const VRRP_V3_MAX_INTERVAL = 0x0fff;

const addrSize = (family: 4 | 6): number => (family === 4 ? 4 : 16);

/** Length of the VRRP message: 16 + 4n (v2), 8 + 4n (v3 IPv4), 8 + 16n (v3 IPv6). */
export function vrrpLength(a: Pick<VrrpAdvert, 'version' | 'family' | 'addresses'>): number {
  return (
    VRRP_HEADER_LENGTH + a.addresses.length * addrSize(a.family) + (a.version === 2 ? VRRP_AUTH_LENGTH : 0)
  );
}

/** The 8 auth-data bytes keepalived derives from `auth_pass` (PASS data and AH key): truncated to 8, zero-padded. */
export function authDataFromPassword(password: string): Buffer {
  const out = Buffer.alloc(VRRP_AUTH_LENGTH);
  Buffer.from(password, 'utf8').copy(out, 0, 0, VRRP_AUTH_LENGTH);
  return out;
}

/** Source and destination of the IP packet carrying the message (needed for the v3 pseudo-header). */
export interface VrrpPseudo {
  src: string;
  dst: string;
}

function pseudoSum(pseudo: VrrpPseudo, family: 4 | 6, length: number): number {
  return pseudoHeaderSum(
    addrToBytes(pseudo.src, family),
    addrToBytes(pseudo.dst, family),
    IPPROTO_VRRP,
    length,
  );
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    fail('KA_ERR_WIRE_BAD_FIELD', `VRRP ${name} out of range: ${v}`, { [name]: v });
  }
}

/**
 * Writes the message at `offset` of `buf` (allocated when absent) and returns its bytes, checksum
 * included. v2: over the message. v3: with the pseudo-header of `pseudo`; for v3 IPv6 without
 * `pseudo` the checksum is left 0 for the kernel (IPV6_CHECKSUM=6). `advert.checksum` is ignored.
 */
export function encodeVrrp(
  advert: Omit<VrrpAdvert, 'checksum'>,
  pseudo?: VrrpPseudo,
  buf?: Buffer,
  offset = 0,
): Buffer {
  const a = advert;
  if (a.version !== 2 && a.version !== 3)
    fail('KA_ERR_VRRP_BAD_VERSION', `VRRP version ${String(a.version)}`);
  if (a.family !== 4 && a.family !== 6) fail('KA_ERR_WIRE_BAD_FIELD', `family ${String(a.family)}`);
  if (a.version === 2 && a.family !== 4) fail('KA_ERR_VRRP_BAD_FAMILY', 'VRRPv2 is IPv4 only');
  checkInt('type', a.type, 0, 15);
  checkInt('vrid', a.vrid, 0, 255);
  checkInt('priority', a.priority, 0, 255);
  checkInt('naddr', a.addresses.length, 0, 255);
  if (a.version === 2) {
    checkInt('advertInterval', a.advertInterval, 0, 255);
    checkInt('authType', a.authType, 0, 255);
    if (a.authData.length > VRRP_AUTH_LENGTH) fail('KA_ERR_WIRE_BAD_FIELD', 'VRRPv2 auth data over 8 bytes');
  } else {
    checkInt('advertInterval', a.advertInterval, 0, VRRP_V3_MAX_INTERVAL);
    if (a.authType !== 0 || a.authData.length !== 0)
      fail('KA_ERR_WIRE_BAD_FIELD', 'VRRPv3 has no authentication');
    if (a.family === 4 && !pseudo) fail('KA_ERR_WIRE_BAD_FIELD', 'VRRPv3 IPv4 checksum needs src and dst');
  }
  const addrs = a.addresses.map((x) => addrToBytes(x, a.family));
  const pseudoAcc = a.version === 3 && pseudo ? pseudoSum(pseudo, a.family, vrrpLength(a)) : undefined;

  const len = vrrpLength(a);
  const out = buf ? buf.subarray(offset, offset + len) : Buffer.alloc(len);
  if (out.length !== len) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small', { len });
  out[0] = (a.version << 4) | a.type;
  out[1] = a.vrid;
  out[2] = a.priority;
  out[3] = a.addresses.length;
  if (a.version === 2) {
    out[4] = a.authType;
    out[5] = a.advertInterval;
  } else {
    out.writeUInt16BE(a.advertInterval, 4);
  }
  out.writeUInt16BE(0, 6);
  let off = VRRP_HEADER_LENGTH;
  for (const b of addrs) off += b.copy(out, off);
  if (a.version === 2) {
    out.fill(0, off, off + VRRP_AUTH_LENGTH);
    a.authData.copy(out, off);
    out.writeUInt16BE(internetChecksum(out), 6);
  } else if (pseudoAcc !== undefined) {
    out.writeUInt16BE(internetChecksum(out, pseudoAcc), 6);
  }
  return out;
}

/**
 * Decodes a VRRP message of the given family (IPv4 adverts: the bytes after the IP [and AH] header;
 * IPv6: the raw socket payload). Checks, in order: fixed header present, version 2 or 3, v2 only
 * with IPv4, exact length for `naddr`. Does not check the checksum (see `verifyVrrpChecksum`), type,
 * auth type or anything the instance decides. v3 reserved interval bits are ignored (RFC 5798 §5.2.7).
 */
export function decodeVrrp(buf: Buffer, family: 4 | 6): VrrpAdvert {
  if (buf.length < VRRP_HEADER_LENGTH) fail('KA_ERR_VRRP_TRUNCATED', `VRRP message of ${buf.length} bytes`);
  const version = buf[0]! >> 4;
  if (version !== 2 && version !== 3) fail('KA_ERR_VRRP_BAD_VERSION', `VRRP version ${version}`, { version });
  if (version === 2 && family !== 4) fail('KA_ERR_VRRP_BAD_FAMILY', 'VRRPv2 is IPv4 only');
  const naddr = buf[3]!;
  const expected = VRRP_HEADER_LENGTH + naddr * addrSize(family) + (version === 2 ? VRRP_AUTH_LENGTH : 0);
  if (buf.length < expected) {
    fail('KA_ERR_VRRP_TRUNCATED', `VRRP message of ${buf.length} bytes, ${naddr} addresses need ${expected}`);
  }
  if (buf.length > expected) {
    fail(
      'KA_ERR_VRRP_BAD_LENGTH',
      `VRRP message of ${buf.length} bytes, ${naddr} addresses need ${expected}`,
    );
  }
  const size = addrSize(family);
  const addresses: string[] = [];
  for (let i = 0; i < naddr; i++) {
    const at = VRRP_HEADER_LENGTH + i * size;
    addresses.push(bytesToAddr(buf.subarray(at, at + size)));
  }
  const authAt = VRRP_HEADER_LENGTH + naddr * size;
  return {
    version,
    type: buf[0]! & 0x0f,
    vrid: buf[1]!,
    priority: buf[2]!,
    advertInterval: version === 2 ? buf[5]! : buf.readUInt16BE(4) & VRRP_V3_MAX_INTERVAL,
    authType: version === 2 ? buf[4]! : 0,
    authData: version === 2 ? Buffer.from(buf.subarray(authAt, authAt + VRRP_AUTH_LENGTH)) : Buffer.alloc(0),
    addresses,
    family,
    checksum: buf.readUInt16BE(6),
  };
}

/**
 * True if the checksum of `msg` (a whole VRRP message) verifies: v2 over the message alone, v3 with
 * the pseudo-header of the IP src/dst (family taken from `pseudo.src`). `pseudo` is ignored for v2.
 */
export function verifyVrrpChecksum(msg: Buffer, pseudo: VrrpPseudo): boolean {
  if (msg.length < VRRP_HEADER_LENGTH) return false;
  if (msg[0]! >> 4 === 2) return internetChecksum(msg) === 0;
  const src = addrToBytes(pseudo.src);
  return internetChecksum(msg, pseudoHeaderSum(src, addrToBytes(pseudo.dst), IPPROTO_VRRP, msg.length)) === 0;
}

/**
 * Rewrites the priority of an encoded message in place and updates its checksum incrementally
 * (RFC 1624, as keepalived does for priority changes and the priority-0 advert). Returns `msg`.
 * For AH packets the ICV must be recomputed afterwards (`sealAhPacket`).
 */
export function updateVrrpPriority(msg: Buffer, priority: number): Buffer {
  checkInt('priority', priority, 0, 255);
  if (msg.length < VRRP_HEADER_LENGTH) fail('KA_ERR_VRRP_TRUNCATED', `VRRP message of ${msg.length} bytes`);
  const oldWord = msg.readUInt16BE(2);
  msg[2] = priority;
  msg.writeUInt16BE(checksumUpdate16(msg.readUInt16BE(6), oldWord, msg.readUInt16BE(2)), 6);
  return msg;
}

/** Inputs of `encodeVrrpIpv4Packet`: the advert plus the IPv4 (and AH) fields keepalived fills. */
export interface VrrpIpv4PacketOptions {
  advert: Omit<VrrpAdvert, 'checksum'>;
  /** IP ID (keepalived: per-instance counter from 1, see `nextIpId`). */
  id: number;
  src: string;
  dst: string;
  ttl?: number;
  /** Omit for 0 (kernel fills it on IP_HDRINCL sockets); `'compute'` to write it (captures, tests). */
  ipChecksum?: 'compute' | number;
  /** IPsec-AH mode (v2 auth type 2): key = `authDataFromPassword(auth_pass)`, seq = sequence number to send. */
  ah?: { key: Buffer; seq: number };
  /** Unicast peers configured: the AH ICV then also zeroes the TTL (keepalived). */
  unicast?: boolean;
}

/** A whole IPv4 advert as keepalived hands it to an IP_HDRINCL raw socket: IPv4 [+ AH] + VRRP. */
export function encodeVrrpIpv4Packet(o: VrrpIpv4PacketOptions, buf?: Buffer, offset = 0): Buffer {
  const vlen = vrrpLength(o.advert);
  const ahLen = o.ah ? AH_LENGTH : 0;
  const len = IPV4_HEADER_LENGTH + ahLen + vlen;
  const header = vrrpIpv4Header({
    id: o.id,
    src: o.src,
    dst: o.dst,
    payloadLength: ahLen + vlen,
    ah: o.ah !== undefined,
    ...(o.ttl === undefined ? {} : { ttl: o.ttl }),
    ...(o.ipChecksum === undefined ? {} : { checksum: o.ipChecksum }),
  });
  const out = buf ? buf.subarray(offset, offset + len) : Buffer.alloc(len);
  if (out.length !== len) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small', { len });
  // Encode the parts into a scratch buffer first so a bad field leaves `buf` untouched.
  const scratch = Buffer.alloc(len);
  encodeVrrp(o.advert, { src: o.src, dst: o.dst }, scratch, IPV4_HEADER_LENGTH + ahLen);
  if (o.ah) {
    encodeAh(
      {
        nextHeader: IPPROTO_VRRP,
        payloadLen: 4,
        reserved: 0,
        spi: addrToBytes(o.src, 4).readUInt32BE(0),
        seq: o.ah.seq,
      },
      scratch,
      IPV4_HEADER_LENGTH,
    );
  }
  encodeIpv4Header(header, scratch, 0);
  // The ICV zeroes the IP checksum field while hashing, so sealing after the header is final is fine.
  if (o.ah) sealAhPacket(scratch, o.ah.key, { unicast: o.unicast === true });
  scratch.copy(out);
  return out;
}
