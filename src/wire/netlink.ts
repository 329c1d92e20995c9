/**
 * Netlink framing (pure): nlmsghdr, nlattr (incl. nesting), genlmsghdr and nlmsgerr.
 * Facts: shared/reference/wire-and-kernel.md §4.1-4.2. Header fields are host order (little-endian on
 * every platform keepalived-ts supports); attribute payload encodings are the caller's business, with
 * helpers for the common shapes. Hand-written: no maintained npm package encodes netlink without also
 * owning the socket, and the socket here belongs to the addon (STYLE.md: node_netlink's split).
 */
import { KaError } from '../core/errors.js';
import { WireErrors } from './errors.js';

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
export const GENL_HDRLEN = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

export const align4 = (n: number): number => (n + 3) & ~3;

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header, up to nlmsg_len (padding excluded). */
  payload: Buffer;
}

export interface NlAttr {
  type: number; // with NLA_F_* bits stripped
  nested: boolean;
  value: Buffer;
}

/** An attribute to encode: raw bytes, or children (encoded as a nest with NLA_F_NESTED unless `plainNest`). */
export type AttrSpec =
  | { type: number; value: Buffer }
  | { type: number; nest: AttrSpec[]; plainNest?: boolean };

function fail(code: string, message: string, details: Record<string, unknown>): never {
  throw new KaError(code, message, details);
}

export function attrsLength(attrs: readonly AttrSpec[]): number {
  let n = 0;
  for (const a of attrs) n += align4(NLA_HDRLEN + ('nest' in a ? attrsLength(a.nest) : a.value.length));
  return n;
}

/** Writes `attrs` into `buf` at `off`; returns the offset after the last (padded) attribute. */
export function writeAttrs(buf: Buffer, off: number, attrs: readonly AttrSpec[]): number {
  for (const a of attrs) {
    const start = off;
    if ('nest' in a) {
      const end = writeAttrs(buf, start + NLA_HDRLEN, a.nest);
      buf.writeUInt16LE(end - start, start);
      buf.writeUInt16LE(a.type | (a.plainNest ? 0 : NLA_F_NESTED), start + 2);
      off = end;
    } else {
      const len = NLA_HDRLEN + a.value.length;
      buf.writeUInt16LE(len, start);
      buf.writeUInt16LE(a.type, start + 2);
      a.value.copy(buf, start + NLA_HDRLEN);
      buf.fill(0, start + len, start + align4(len));
      off = start + align4(len);
    }
  }
  return off;
}

export function encodeAttrs(attrs: readonly AttrSpec[]): Buffer {
  const buf = Buffer.alloc(attrsLength(attrs));
  writeAttrs(buf, 0, attrs);
  return buf;
}

/** Decodes a run of attributes. Strict: a length that overruns the buffer is a typed error. */
export function decodeAttrs(buf: Buffer, off = 0, end = buf.length): NlAttr[] {
  const out: NlAttr[] = [];
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > end) {
      fail(WireErrors.KA_ERR_NL_BAD_ATTR, `netlink attribute at offset ${off} has length ${len}`, {
        offset: off,
        len,
        available: end - off,
      });
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      value: buf.subarray(off + NLA_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (last one wins, as the kernel's nla_parse does). */
export function attrMap(attrs: readonly NlAttr[]): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of attrs) m.set(a.type, a.value);
  return m;
}

export interface EncodeMsgOptions {
  type: number;
  flags: number;
  seq: number;
  pid?: number;
  /** Fixed header following nlmsghdr (ifinfomsg, genlmsghdr, …). */
  header?: Buffer;
  attrs?: readonly AttrSpec[];
}

export function encodeMsg(o: EncodeMsgOptions): Buffer {
  const hdr = o.header ?? Buffer.alloc(0);
  const attrs = o.attrs ?? [];
  const len = NLMSG_HDRLEN + align4(hdr.length) + attrsLength(attrs);
  const buf = Buffer.alloc(len);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(o.type, 4);
  buf.writeUInt16LE(o.flags, 6);
  buf.writeUInt32LE(o.seq >>> 0, 8);
  buf.writeUInt32LE((o.pid ?? 0) >>> 0, 12);
  hdr.copy(buf, NLMSG_HDRLEN);
  writeAttrs(buf, NLMSG_HDRLEN + align4(hdr.length), attrs);
  return buf;
}

/** Splits one datagram into netlink messages. Strict about lengths. */
export function decodeMsgs(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      fail(WireErrors.KA_ERR_NL_BAD_MSG, `netlink message at offset ${off} has length ${len}`, {
        offset: off,
        len,
        available: buf.length - off,
      });
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < buf.length && buf.length - off >= NLMSG_HDRLEN) {
    fail(WireErrors.KA_ERR_NL_BAD_MSG, 'trailing bytes after last netlink message', { offset: off });
  }
  return out;
}

export interface NlError {
  /** 0 = ACK, otherwise a negative errno. */
  error: number;
  /** The header of the request this answers. */
  orig: { len: number; type: number; flags: number; seq: number; pid: number };
  /** Extended ACK message (NLMSGERR_ATTR_MSG), if the kernel sent one. */
  extMessage?: string;
  /** Extended ACK offset of the offending attribute in the request. */
  extOffset?: number;
}

/** Decodes an NLMSG_ERROR payload (struct nlmsgerr + optional echoed request + optional ext-ack TLVs). */
export function decodeNlError(msg: NlMsg): NlError {
  const p = msg.payload;
  if (p.length < 20) {
    fail(WireErrors.KA_ERR_NL_BAD_MSG, `NLMSG_ERROR payload of ${p.length} bytes (need 20)`, {
      len: p.length,
    });
  }
  const orig = {
    len: p.readUInt32LE(4),
    type: p.readUInt16LE(8),
    flags: p.readUInt16LE(10),
    seq: p.readUInt32LE(12),
    pid: p.readUInt32LE(16),
  };
  const res: NlError = { error: p.readInt32LE(0), orig };
  if (msg.flags & NLM_F_ACK_TLVS) {
    // With NLM_F_CAPPED only the original header is echoed; otherwise the whole original message.
    const tlvStart = msg.flags & NLM_F_CAPPED ? 20 : 4 + align4(orig.len);
    if (tlvStart <= p.length) {
      for (const a of decodeAttrs(p, tlvStart)) {
        if (a.type === NLMSGERR_ATTR_MSG) res.extMessage = a.value.toString('utf8').replace(/\0.*$/s, '');
        else if (a.type === NLMSGERR_ATTR_OFFS && a.value.length >= 4)
          res.extOffset = a.value.readUInt32LE(0);
      }
    }
  }
  return res;
}

/** genlmsghdr: u8 cmd, u8 version, u16 reserved. */
export function genlHeader(cmd: number, version: number): Buffer {
  const b = Buffer.alloc(GENL_HDRLEN);
  b.writeUInt8(cmd, 0);
  b.writeUInt8(version, 1);
  return b;
}

export function decodeGenlHeader(payload: Buffer): { cmd: number; version: number; attrs: NlAttr[] } {
  if (payload.length < GENL_HDRLEN) {
    fail(WireErrors.KA_ERR_NL_BAD_MSG, `generic netlink payload of ${payload.length} bytes`, {
      len: payload.length,
    });
  }
  return {
    cmd: payload.readUInt8(0),
    version: payload.readUInt8(1),
    attrs: decodeAttrs(payload, GENL_HDRLEN),
  };
}

// Attribute payload helpers (host order unless the name says be).
export const u8 = (type: number, v: number): AttrSpec => ({ type, value: Buffer.from([v & 0xff]) });
export const u16 = (type: number, v: number): AttrSpec => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return { type, value: b };
};
export const be16 = (type: number, v: number): AttrSpec => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return { type, value: b };
};
export const u32 = (type: number, v: number): AttrSpec => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return { type, value: b };
};
export const be32 = (type: number, v: number): AttrSpec => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return { type, value: b };
};
/** NUL-terminated string (NLA_NUL_STRING needs the NUL; NLA_STRING accepts it). */
export const strz = (type: number, s: string): AttrSpec => ({ type, value: Buffer.from(`${s}\0`, 'utf8') });
export const bytes = (type: number, v: Buffer): AttrSpec => ({ type, value: v });

export function readU8(b: Buffer | undefined): number | undefined {
  return b && b.length >= 1 ? b.readUInt8(0) : undefined;
}
export function readU16(b: Buffer | undefined): number | undefined {
  return b && b.length >= 2 ? b.readUInt16LE(0) : undefined;
}
export function readBe16(b: Buffer | undefined): number | undefined {
  return b && b.length >= 2 ? b.readUInt16BE(0) : undefined;
}
export function readU32(b: Buffer | undefined): number | undefined {
  return b && b.length >= 4 ? b.readUInt32LE(0) : undefined;
}
export function readU64(b: Buffer | undefined): bigint | undefined {
  return b && b.length >= 8 ? b.readBigUInt64LE(0) : undefined;
}
export function readStr(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul === -1 ? b.length : nul);
}
