/**
 * Ethernet II header codec and MAC address helpers (pure). Used to build GARP / NA frames for
 * AF_PACKET sockets and to strip captures in tests. Facts: shared/reference/wire-and-kernel.md §1.1, §3, §6.
 */
import { packetError as fail } from './errors.js';

export const ETH_HEADER_LENGTH = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** An Ethernet II frame: MACs as lower-case `aa:bb:cc:dd:ee:ff`. */
export interface EthernetFrame {
  dst: string;
  src: string;
  etherType: number;
  payload: Buffer;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** `02:00:00:00:55:01` -> 6 bytes. Throws KA_ERR_WIRE_BAD_ADDRESS on anything else. */
export function macToBytes(mac: string): Buffer {
  if (!MAC_RE.test(mac)) {
    fail('KA_ERR_WIRE_BAD_ADDRESS', `not a MAC address: ${mac}`, { mac });
  }
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** 6 bytes -> `aa:bb:cc:dd:ee:ff` (lower case). */
export function bytesToMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The VRRP virtual MAC of RFC 5798 §7.3: 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6). */
export function vrrpVmac(vrid: number, family: 4 | 6): string {
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) {
    fail('KA_ERR_WIRE_BAD_FIELD', `VRID out of range: ${vrid}`, { vrid });
  }
  return bytesToMac(Buffer.from([0, 0, 0x5e, 0, family === 4 ? 1 : 2, vrid]));
}

export function ethernetLength(f: EthernetFrame): number {
  return ETH_HEADER_LENGTH + f.payload.length;
}

/** Writes the frame at `offset` of `buf` (allocated when absent); returns the bytes written. */
export function encodeEthernet(f: EthernetFrame, buf?: Buffer, offset = 0): Buffer {
  const len = ethernetLength(f);
  const out = buf ? buf.subarray(offset, offset + len) : Buffer.alloc(len);
  if (out.length !== len) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small', { len });
  if (!Number.isInteger(f.etherType) || f.etherType < 0 || f.etherType > 0xffff) {
    fail('KA_ERR_WIRE_BAD_FIELD', `ethertype out of range: ${f.etherType}`, {});
  }
  const dst = macToBytes(f.dst);
  const src = macToBytes(f.src);
  dst.copy(out, 0);
  src.copy(out, 6);
  out.writeUInt16BE(f.etherType, 12);
  f.payload.copy(out, ETH_HEADER_LENGTH);
  return out;
}

/** Decodes an Ethernet II header; the payload is everything after it (padding included). */
export function decodeEthernet(buf: Buffer): EthernetFrame {
  if (buf.length < ETH_HEADER_LENGTH) {
    fail('KA_ERR_ETH_TRUNCATED', `Ethernet frame of ${buf.length} bytes`, { length: buf.length });
  }
  return {
    dst: bytesToMac(buf.subarray(0, 6)),
    src: bytesToMac(buf.subarray(6, 12)),
    etherType: buf.readUInt16BE(12),
    payload: buf.subarray(ETH_HEADER_LENGTH),
  };
}
