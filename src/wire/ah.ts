/**
 * The IPsec-AH mode of VRRPv2 (RFC 2338 / RFC 2402) exactly as keepalived 2.2.7 does it: a 24-byte AH
 * header between the IPv4 header and VRRP, SPI = IPv4 source address, ICV = HMAC-MD5-96 keyed with the
 * 8-byte zero-padded password over the IPv4 header (TOS, flags/fragment and checksum zeroed; TTL too
 * when unicast) + AH (ICV zeroed) + VRRP. Facts: shared/reference/wire-and-kernel.md §1.6, vector §3.8.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { packetError as fail } from './errors.js';

export const AH_LENGTH = 24;
/** AH payload length field for a 12-byte ICV: (24 / 4) - 2. */
export const AH_PAYLOAD_LEN = 4;
export const AH_ICV_LENGTH = 12;
const ICV_OFFSET = 12;
/** keepalived stops incrementing above this value and flags the counter as cycled. */
export const AH_SEQ_CYCLE = 0xfffffffd;

export interface AhHeader {
  nextHeader: number;
  payloadLen: number;
  reserved: number;
  /** be32; keepalived: the IPv4 source address as a number. */
  spi: number;
  seq: number;
  /** 12 bytes (zeros while computing). */
  icv: Buffer;
}

/** Decodes the 24-byte AH header at the start of `buf` (bytes after it are the protected payload). */
export function decodeAh(buf: Buffer): AhHeader {
  if (buf.length < AH_LENGTH) fail('KA_ERR_AH_TRUNCATED', `AH header of ${buf.length} bytes`);
  return {
    nextHeader: buf[0]!,
    payloadLen: buf[1]!,
    reserved: buf.readUInt16BE(2),
    spi: buf.readUInt32BE(4),
    seq: buf.readUInt32BE(8),
    icv: Buffer.from(buf.subarray(ICV_OFFSET, AH_LENGTH)),
  };
}

/** Writes the AH header at `offset` of `buf` (allocated when absent); an ICV shorter than 12 bytes is zero-padded. */
export function encodeAh(h: Omit<AhHeader, 'icv'> & { icv?: Buffer }, buf?: Buffer, offset = 0): Buffer {
  const fields: [string, number, number][] = [
    ['nextHeader', h.nextHeader, 0xff],
    ['payloadLen', h.payloadLen, 0xff],
    ['reserved', h.reserved, 0xffff],
    ['spi', h.spi, 0xffffffff],
    ['seq', h.seq, 0xffffffff],
  ];
  for (const [name, v, max] of fields) {
    if (!Number.isInteger(v) || v < 0 || v > max)
      fail('KA_ERR_WIRE_BAD_FIELD', `AH ${name} out of range: ${v}`);
  }
  if (h.icv && h.icv.length > AH_ICV_LENGTH) fail('KA_ERR_WIRE_BAD_FIELD', 'AH ICV over 12 bytes');
  const out = buf ? buf.subarray(offset, offset + AH_LENGTH) : Buffer.alloc(AH_LENGTH);
  if (out.length !== AH_LENGTH) fail('KA_ERR_WIRE_BAD_FIELD', 'target buffer too small');
  out[0] = h.nextHeader;
  out[1] = h.payloadLen;
  out.writeUInt16BE(h.reserved, 2);
  out.writeUInt32BE(h.spi, 4);
  out.writeUInt32BE(h.seq, 8);
  out.fill(0, ICV_OFFSET, AH_LENGTH);
  h.icv?.copy(out, ICV_OFFSET);
  return out;
}

export interface AhIcvOptions {
  /** keepalived zeroes the TTL in the ICV input when the instance has unicast peers. */
  unicast?: boolean;
}

function ahOffset(packet: Buffer): number {
  if (packet.length < 1) fail('KA_ERR_AH_TRUNCATED', 'empty packet');
  const ihl = (packet[0]! & 0x0f) * 4;
  if (ihl < 20 || packet.length < ihl + AH_LENGTH) {
    fail(
      'KA_ERR_AH_TRUNCATED',
      `IPv4 (IHL ${ihl}) + AH needs ${ihl + AH_LENGTH} bytes, have ${packet.length}`,
    );
  }
  return ihl;
}

/**
 * HMAC-MD5-96 ICV of an IPv4 + AH + VRRP packet (`packet` is not modified). `key` = the 8 auth-data
 * bytes (`authDataFromPassword`). Mutable fields are zeroed in a copy as keepalived does.
 */
export function computeAhIcv(packet: Buffer, key: Buffer, opts: AhIcvOptions = {}): Buffer {
  const ihl = ahOffset(packet);
  const copy = Buffer.from(packet);
  copy[1] = 0; // TOS
  copy.writeUInt16BE(0, 6); // flags + fragment offset
  copy.writeUInt16BE(0, 10); // header checksum
  if (opts.unicast) copy[8] = 0; // TTL
  copy.fill(0, ihl + ICV_OFFSET, ihl + AH_LENGTH);
  return createHmac('md5', key).update(copy).digest().subarray(0, AH_ICV_LENGTH);
}

/** Computes the ICV and writes it into the packet's AH header (in place); returns `packet`. */
export function sealAhPacket(packet: Buffer, key: Buffer, opts: AhIcvOptions = {}): Buffer {
  const icv = computeAhIcv(packet, key, opts);
  icv.copy(packet, ahOffset(packet) + ICV_OFFSET);
  return packet;
}

/** Constant-time check of the packet's ICV. */
export function verifyAhIcv(packet: Buffer, key: Buffer, opts: AhIcvOptions = {}): boolean {
  const ihl = ahOffset(packet);
  return timingSafeEqual(computeAhIcv(packet, key, opts), packet.subarray(ihl + ICV_OFFSET, ihl + AH_LENGTH));
}

/**
 * Sender side: the sequence number for the next advert given the last one used (or last one seen as
 * backup). keepalived increments before each advert; once above AH_SEQ_CYCLE it stops and flags the
 * counter as cycled (keepalived then stops sending and leaves MASTER).
 */
export function ahNextTxSeq(last: number): { seq: number; cycled: boolean } {
  return last > AH_SEQ_CYCLE ? { seq: last, cycled: true } : { seq: last + 1, cycled: false };
}

/** Receiver side: accept only a strictly greater sequence number (the caller then stores `rx`). */
export function ahAcceptRxSeq(lastSeen: number, rx: number): boolean {
  return rx > lastSeen;
}

/** A master receiving a lower-priority AH advert continues its counter from the sender's: `rx + 1`. */
export function ahSeqAfterLowerPriority(rx: number): number {
  return Math.min(rx + 1, 0xffffffff);
}
