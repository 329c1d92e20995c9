/**
 * ICMPv6 Neighbour Advertisement (RFC 4861 §4.4) and keepalived's unsolicited NA frame: Ethernet to
 * 33:33:00:00:00:01, IPv6 src = VIP, dst ff02::1, hop limit 255, NA with O=1, S=0, R only when the
 * interface forwards, and a Target Link-Layer Address option. Facts: shared/reference/wire-and-kernel.md §3.9, §6.
 */
import { internetChecksum, pseudoHeaderSum } from './checksum.js';
import { packetError as fail } from './errors.js';
import { bytesToMac, ETH_HEADER_LENGTH, ETHERTYPE_IPV6, encodeEthernet, macToBytes } from './ethernet.js';
import {
  addrToBytes,
  bytesToAddr,
  encodeIpv6Header,
  IPPROTO_ICMPV6,
  IPV6_HEADER_LENGTH,
  multicastMac,
} from './ip.js';

export const ICMPV6_NEIGHBOUR_ADVERT = 136;
export const NA_HEADER_LENGTH = 24;
export const ND_OPT_TARGET_LLADDR = 2;
const FLAG_R = 0x80000000;
const FLAG_S = 0x40000000;
const FLAG_O = 0x20000000;
export const ALL_NODES = 'ff02::1';

export interface NeighbourAdvert {
  router: boolean;
  solicited: boolean;
  override: boolean;
  target: string;
  /** Target Link-Layer Address option (MAC), if present. */
  tlla?: string;
}

export function neighbourAdvertLength(na: NeighbourAdvert): number {
  return NA_HEADER_LENGTH + (na.tlla === undefined ? 0 : 8);
}

/** Writes the ICMPv6 NA message with its checksum over the IPv6 pseudo-header of `src` -> `dst`. */
export function encodeNeighbourAdvert(
  na: NeighbourAdvert,
  src: string,
  dst: string,
  buf?: Buffer,
  offset = 0,
): Buffer {
  const target = addrToBytes(na.target, 6);
  const tlla = na.tlla === undefined ? undefined : macToBytes(na.tlla);
  const acc = pseudoHeaderSum(
    addrToBytes(src, 6),
    addrToBytes(dst, 6),
    IPPROTO_ICMPV6,
    neighbourAdvertLength(na),
  );
  const len = neighbourAdvertLength(na);
  const out = buf ? buf.subarray(offset, offset + len) : Buffer.alloc(len);
  if (out.length !== len) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small');
  out[0] = ICMPV6_NEIGHBOUR_ADVERT;
  out[1] = 0;
  out.writeUInt16BE(0, 2);
  const flags = (na.router ? FLAG_R : 0) | (na.solicited ? FLAG_S : 0) | (na.override ? FLAG_O : 0);
  out.writeUInt32BE(flags >>> 0, 4);
  target.copy(out, 8);
  if (tlla) {
    out[24] = ND_OPT_TARGET_LLADDR;
    out[25] = 1;
    tlla.copy(out, 26);
  }
  out.writeUInt16BE(internetChecksum(out, acc), 2);
  return out;
}

/**
 * Decodes an ICMPv6 NA. Checks: at least 24 bytes, type 136 code 0, options well formed (length > 0,
 * inside the message); with `pseudo`, the checksum. Unknown options are skipped (RFC 4861 §4.6).
 */
export function decodeNeighbourAdvert(buf: Buffer, pseudo?: { src: string; dst: string }): NeighbourAdvert {
  if (buf.length < NA_HEADER_LENGTH) fail('KA_ERR_NDISC_TRUNCATED', `NA of ${buf.length} bytes`);
  if (buf[0] !== ICMPV6_NEIGHBOUR_ADVERT || buf[1] !== 0) {
    fail('KA_ERR_NDISC_BAD_TYPE', `ICMPv6 type ${buf[0]} code ${buf[1]}`);
  }
  let tlla: string | undefined;
  for (let off = NA_HEADER_LENGTH; off < buf.length; ) {
    if (off + 2 > buf.length) fail('KA_ERR_NDISC_TRUNCATED', 'ND option header cut short');
    const olen = buf[off + 1]! * 8;
    if (olen === 0) fail('KA_ERR_NDISC_BAD_OPTION', `ND option ${buf[off]} of length 0`);
    if (off + olen > buf.length) fail('KA_ERR_NDISC_TRUNCATED', `ND option ${buf[off]} runs past the end`);
    if (buf[off] === ND_OPT_TARGET_LLADDR && olen >= 8 && tlla === undefined) {
      tlla = bytesToMac(buf.subarray(off + 2, off + 8));
    }
    off += olen;
  }
  if (pseudo) {
    const acc = pseudoHeaderSum(
      addrToBytes(pseudo.src, 6),
      addrToBytes(pseudo.dst, 6),
      IPPROTO_ICMPV6,
      buf.length,
    );
    if (internetChecksum(buf, acc) !== 0) fail('KA_ERR_NDISC_BAD_CHECKSUM', 'ICMPv6 checksum mismatch');
  }
  const flags = buf.readUInt32BE(4);
  return {
    router: (flags & FLAG_R) !== 0,
    solicited: (flags & FLAG_S) !== 0,
    override: (flags & FLAG_O) !== 0,
    target: bytesToAddr(buf.subarray(8, 24)),
    ...(tlla === undefined ? {} : { tlla }),
  };
}

export interface UnsolicitedNaOptions {
  /** MAC of the VIP's interface (the VMAC with use_vmac). */
  mac: string;
  vip: string;
  /** R flag: set only when net.ipv6.conf.<if>.forwarding = 1 (keepalived). */
  router: boolean;
}

export const UNSOLICITED_NA_FRAME_LENGTH = ETH_HEADER_LENGTH + IPV6_HEADER_LENGTH + NA_HEADER_LENGTH + 8;

/** The whole 86-byte unsolicited NA frame keepalived sends on an AF_PACKET socket. */
export function unsolicitedNaFrame(o: UnsolicitedNaOptions, buf?: Buffer, offset = 0): Buffer {
  const na = encodeNeighbourAdvert(
    { router: o.router, solicited: false, override: true, target: o.vip, tlla: o.mac },
    o.vip,
    ALL_NODES,
  );
  const ip6 = encodeIpv6Header({
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: na.length,
    nextHeader: IPPROTO_ICMPV6,
    hopLimit: 255,
    src: o.vip,
    dst: ALL_NODES,
  });
  return encodeEthernet(
    {
      dst: multicastMac(ALL_NODES),
      src: o.mac,
      etherType: ETHERTYPE_IPV6,
      payload: Buffer.concat([ip6, na]),
    },
    buf,
    offset,
  );
}
