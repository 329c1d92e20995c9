/**
 * BFD Control packet codec (RFC 5880 §4.1, carried in UDP per RFC 5881 / RFC 5883): pure functions
 * between Buffers and `BfdPacket`. Lengths are checked first, then the packet's own rules of
 * RFC 5880 §6.8.6 that need no session; session lookup, TTL (GTSM) and the A bit's policy belong to
 * src/bfd/ (STYLE.md habit 2). Every failure is a KaError with a KA_ERR_BFD_* code.
 */

import { BfdErrors } from '../bfd/errors.js';
import { KaError } from '../core/errors.js';

/** RFC 5880 §4.1 Sta values. */
export const BFD_STATE = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type BfdStateValue = (typeof BFD_STATE)[keyof typeof BFD_STATE];
export const BFD_STATE_NAMES = ['AdminDown', 'Down', 'Init', 'Up'] as const;
export type BfdStateName = (typeof BFD_STATE_NAMES)[number];

/** RFC 5880 §4.1 Diag values (0-8 defined; 9-31 reserved). */
export const BFD_DIAG = {
  None: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;

/** The last defined Diag value; 9-31 are reserved. */
export const BFD_DIAG_MAX = BFD_DIAG.ReverseConcatenatedPathDown;

/** Diagnostic texts as keepalived logs them ("Local diagnostic - %s"). */
export const BFD_DIAG_TEXT: readonly string[] = [
  'No Diagnostic',
  'Control Detection Time Expired',
  'Echo Function Failed',
  'Neighbor Signaled Session Down',
  'Forwarding Plane Reset',
  'Path Down',
  'Concatenated Path Down',
  'Administratively Down',
  'Reverse Concatenated Path Down',
];

export const BFD_VERSION = 1;
export const BFD_HEADER_LENGTH = 24;
/** RFC 5881 §4 single hop, RFC 5883 §5 multihop. */
export const BFD_PORT_SINGLE_HOP = 3784;
export const BFD_PORT_MULTI_HOP = 4784;

/** Optional authentication section (§4.2-4.4), kept as raw bytes: keepalived implements none. */
export interface BfdAuth {
  type: number;
  /** The section's bytes after Auth Type and Auth Len. */
  data: Buffer;
}

export interface BfdPacket {
  diag: number;
  state: BfdStateValue;
  poll: boolean;
  final: boolean;
  controlPlaneIndependent: boolean;
  demand: boolean;
  multipoint: boolean;
  detectMult: number;
  myDiscriminator: number;
  yourDiscriminator: number;
  /** µs */
  desiredMinTx: number;
  /** µs */
  requiredMinRx: number;
  /** µs */
  requiredMinEchoRx: number;
  auth: BfdAuth | undefined;
}

// Field offsets, declared once (RFC 5880 §4.1).
const OFF_VERS_DIAG = 0;
const OFF_FLAGS = 1;
const OFF_MULT = 2;
const OFF_LEN = 3;
const OFF_MY = 4;
const OFF_YOUR = 8;
const OFF_TX = 12;
const OFF_RX = 16;
const OFF_ECHO = 20;
const OFF_AUTH = 24;

const F_POLL = 0x20;
const F_FINAL = 0x10;
const F_CPI = 0x08;
const F_AUTH = 0x04;
const F_DEMAND = 0x02;
const F_MULTIPOINT = 0x01;

function fail(code: keyof typeof BfdErrors, message: string, details: Record<string, unknown> = {}): never {
  throw new KaError(code, message, details);
}

/** Length of the encoded packet: 24, plus 2 + auth data with an authentication section. */
export function bfdLength(p: Pick<BfdPacket, 'auth'>): number {
  return BFD_HEADER_LENGTH + (p.auth ? 2 + p.auth.data.length : 0);
}

/**
 * Decodes the UDP payload starting at `offset` (to the end of `buf`). keepalived (as this decoder)
 * requires the Length field to equal the datagram length.
 */
export function decodeBfd(buf: Buffer, offset = 0): BfdPacket {
  const avail = buf.length - offset;
  if (offset < 0 || avail < BFD_HEADER_LENGTH)
    fail(BfdErrors.KA_ERR_BFD_TRUNCATED, `BFD packet of ${Math.max(avail, 0)} bytes is shorter than 24`, {
      length: avail,
    });
  const b0 = buf.readUInt8(offset + OFF_VERS_DIAG);
  const flags = buf.readUInt8(offset + OFF_FLAGS);
  const len = buf.readUInt8(offset + OFF_LEN);
  const hasAuth = (flags & F_AUTH) !== 0;
  const minLen = hasAuth ? BFD_HEADER_LENGTH + 2 : BFD_HEADER_LENGTH;
  if (len < minLen)
    fail(BfdErrors.KA_ERR_BFD_BAD_LENGTH, `BFD Length field ${len} is below ${minLen}`, { length: len });
  if (len > avail)
    fail(BfdErrors.KA_ERR_BFD_TRUNCATED, `BFD Length field ${len} exceeds the ${avail}-byte datagram`, {
      length: len,
      available: avail,
    });
  if (len !== avail)
    fail(BfdErrors.KA_ERR_BFD_BAD_LENGTH, `BFD Length field ${len} differs from the ${avail}-byte datagram`, {
      length: len,
      available: avail,
    });
  let auth: BfdAuth | undefined;
  if (hasAuth) {
    const authLen = buf.readUInt8(offset + OFF_AUTH + 1);
    if (authLen < 2 || OFF_AUTH + authLen !== len)
      fail(BfdErrors.KA_ERR_BFD_BAD_LENGTH, `BFD Auth Len ${authLen} does not fill the packet of ${len}`, {
        authLen,
        length: len,
      });
    auth = {
      type: buf.readUInt8(offset + OFF_AUTH),
      data: Buffer.from(buf.subarray(offset + OFF_AUTH + 2, offset + len)),
    };
  } else if (len !== BFD_HEADER_LENGTH) {
    fail(BfdErrors.KA_ERR_BFD_BAD_LENGTH, `BFD Length field ${len} without the A bit is not 24`, {
      length: len,
    });
  }
  const version = b0 >> 5;
  if (version !== BFD_VERSION)
    fail(BfdErrors.KA_ERR_BFD_BAD_VERSION, `BFD version ${version} is not 1`, { version });
  const p: BfdPacket = {
    diag: b0 & 0x1f,
    state: (flags >> 6) as BfdStateValue,
    poll: (flags & F_POLL) !== 0,
    final: (flags & F_FINAL) !== 0,
    controlPlaneIndependent: (flags & F_CPI) !== 0,
    demand: (flags & F_DEMAND) !== 0,
    multipoint: (flags & F_MULTIPOINT) !== 0,
    detectMult: buf.readUInt8(offset + OFF_MULT),
    myDiscriminator: buf.readUInt32BE(offset + OFF_MY),
    yourDiscriminator: buf.readUInt32BE(offset + OFF_YOUR),
    desiredMinTx: buf.readUInt32BE(offset + OFF_TX),
    requiredMinRx: buf.readUInt32BE(offset + OFF_RX),
    requiredMinEchoRx: buf.readUInt32BE(offset + OFF_ECHO),
    auth,
  };
  // keepalived (BFD_VALID_DIAG) rejects the reserved Diag values 9-31.
  if (p.diag > BFD_DIAG_MAX)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, `BFD Diag ${p.diag} is reserved`, { field: 'diag' });
  // RFC 5880 §6.8.6: rules that need no session state.
  if (p.detectMult === 0)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, 'BFD Detect Mult is 0', { field: 'detectMult' });
  if (p.multipoint)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, 'BFD Multipoint bit is set', { field: 'multipoint' });
  if (p.myDiscriminator === 0)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, 'BFD My Discriminator is 0', { field: 'myDiscriminator' });
  if (p.yourDiscriminator === 0 && p.state !== BFD_STATE.Down && p.state !== BFD_STATE.AdminDown)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, `BFD Your Discriminator is 0 in state ${BFD_STATE_NAMES[p.state]}`, {
      field: 'yourDiscriminator',
    });
  // Not an RFC rule but keepalived's (bfd_check_packet): a packet is a Poll or a Final, never both.
  if (p.poll && p.final)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, 'BFD Poll and Final are both set', { field: 'poll' });
  return p;
}

function checkField(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, `BFD field ${name}=${v} is out of range 0..${max}`, { field: name });
}

/** Writes `p` into `buf` at `offset`; returns the number of bytes written. */
export function encodeBfdInto(p: BfdPacket, buf: Buffer, offset = 0): number {
  checkField('diag', p.diag, BFD_DIAG_MAX);
  checkField('state', p.state, 3);
  checkField('detectMult', p.detectMult, 255);
  checkField('myDiscriminator', p.myDiscriminator, 0xffffffff);
  checkField('yourDiscriminator', p.yourDiscriminator, 0xffffffff);
  checkField('desiredMinTx', p.desiredMinTx, 0xffffffff);
  checkField('requiredMinRx', p.requiredMinRx, 0xffffffff);
  checkField('requiredMinEchoRx', p.requiredMinEchoRx, 0xffffffff);
  const len = bfdLength(p);
  if (len > 255)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, `BFD packet of ${len} bytes exceeds 255`, { field: 'auth' });
  if (p.auth) checkField('auth.type', p.auth.type, 255);
  if (offset < 0 || buf.length - offset < len)
    fail(BfdErrors.KA_ERR_BFD_BAD_FIELD, `buffer too small for a ${len}-byte BFD packet`, {
      field: 'buffer',
    });
  const flags =
    (p.state << 6) |
    (p.poll ? F_POLL : 0) |
    (p.final ? F_FINAL : 0) |
    (p.controlPlaneIndependent ? F_CPI : 0) |
    (p.auth ? F_AUTH : 0) |
    (p.demand ? F_DEMAND : 0) |
    (p.multipoint ? F_MULTIPOINT : 0);
  buf.writeUInt8((BFD_VERSION << 5) | p.diag, offset + OFF_VERS_DIAG);
  buf.writeUInt8(flags, offset + OFF_FLAGS);
  buf.writeUInt8(p.detectMult, offset + OFF_MULT);
  buf.writeUInt8(len, offset + OFF_LEN);
  buf.writeUInt32BE(p.myDiscriminator, offset + OFF_MY);
  buf.writeUInt32BE(p.yourDiscriminator, offset + OFF_YOUR);
  buf.writeUInt32BE(p.desiredMinTx, offset + OFF_TX);
  buf.writeUInt32BE(p.requiredMinRx, offset + OFF_RX);
  buf.writeUInt32BE(p.requiredMinEchoRx, offset + OFF_ECHO);
  if (p.auth) {
    buf.writeUInt8(p.auth.type, offset + OFF_AUTH);
    buf.writeUInt8(2 + p.auth.data.length, offset + OFF_AUTH + 1);
    p.auth.data.copy(buf, offset + OFF_AUTH + 2);
  }
  return len;
}

/** Encodes `p` into a new Buffer of `bfdLength(p)` bytes. */
export function encodeBfd(p: BfdPacket): Buffer {
  const out = Buffer.alloc(bfdLength(p));
  encodeBfdInto(p, out, 0);
  return out;
}
