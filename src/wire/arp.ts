/**
 * ARP (RFC 826) for Ethernet/IPv4 and keepalived's gratuitous ARP frame: an ARP *request* with
 * sender = target = VIP and target MAC ff:ff:ff:ff:ff:ff, broadcast. Facts:
 * shared/reference/wire-and-kernel.md §3.7, §6.
 */
import { packetError as fail } from './errors.js';
import {
  BROADCAST_MAC,
  bytesToMac,
  ETH_HEADER_LENGTH,
  ETHERTYPE_ARP,
  encodeEthernet,
  macToBytes,
} from './ethernet.js';
import { addrToBytes, bytesToAddr } from './ip.js';

export const ARP_LENGTH = 28;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
const HTYPE_ETHER = 1;
const PTYPE_IPV4 = 0x0800;

/** An Ethernet/IPv4 ARP packet (htype 1, ptype 0x0800, hlen 6, plen 4 are implied). */
export interface ArpPacket {
  op: number;
  /** Sender hardware / protocol address, target hardware / protocol address. */
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

/** Writes the 28-byte ARP packet at `offset` of `buf` (allocated when absent). */
export function encodeArp(p: ArpPacket, buf?: Buffer, offset = 0): Buffer {
  if (!Number.isInteger(p.op) || p.op < 0 || p.op > 0xffff) fail('KA_ERR_WIRE_BAD_FIELD', `ARP op ${p.op}`);
  const parts = [macToBytes(p.sha), addrToBytes(p.spa, 4), macToBytes(p.tha), addrToBytes(p.tpa, 4)];
  const out = buf ? buf.subarray(offset, offset + ARP_LENGTH) : Buffer.alloc(ARP_LENGTH);
  if (out.length !== ARP_LENGTH) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small');
  out.writeUInt16BE(HTYPE_ETHER, 0);
  out.writeUInt16BE(PTYPE_IPV4, 2);
  out[4] = 6;
  out[5] = 4;
  out.writeUInt16BE(p.op, 6);
  let off = 8;
  for (const b of parts) off += b.copy(out, off);
  return out;
}

/** Decodes an ARP packet (trailing bytes, e.g. Ethernet padding, are ignored). */
export function decodeArp(buf: Buffer): ArpPacket {
  if (buf.length < ARP_LENGTH) fail('KA_ERR_ARP_TRUNCATED', `ARP packet of ${buf.length} bytes`);
  const htype = buf.readUInt16BE(0);
  const ptype = buf.readUInt16BE(2);
  if (htype !== HTYPE_ETHER || ptype !== PTYPE_IPV4 || buf[4] !== 6 || buf[5] !== 4) {
    fail(
      'KA_ERR_ARP_UNSUPPORTED',
      `ARP htype ${htype} ptype 0x${ptype.toString(16)} hlen ${buf[4]} plen ${buf[5]}`,
    );
  }
  return {
    op: buf.readUInt16BE(6),
    sha: bytesToMac(buf.subarray(8, 14)),
    spa: bytesToAddr(buf.subarray(14, 18)),
    tha: bytesToMac(buf.subarray(18, 24)),
    tpa: bytesToAddr(buf.subarray(24, 28)),
  };
}

/** The gratuitous ARP keepalived sends for `vip` from the MAC `mac` of the VIP's interface (VMAC if used). */
export function gratuitousArp(mac: string, vip: string): ArpPacket {
  return { op: ARP_OP_REQUEST, sha: mac, spa: vip, tha: BROADCAST_MAC, tpa: vip };
}

/** The whole 42-byte GARP frame (Ethernet broadcast + ARP request), ready for an AF_PACKET socket. */
export function gratuitousArpFrame(mac: string, vip: string, buf?: Buffer, offset = 0): Buffer {
  const arp = encodeArp(gratuitousArp(mac, vip));
  return encodeEthernet(
    { dst: BROADCAST_MAC, src: mac, etherType: ETHERTYPE_ARP, payload: arp },
    buf,
    offset,
  );
}

export const GARP_FRAME_LENGTH = ETH_HEADER_LENGTH + ARP_LENGTH;
