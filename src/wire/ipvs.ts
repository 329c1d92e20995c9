/**
 * IPVS generic netlink codec (pure). Facts: shared/reference/wire-and-kernel.md §5.
 * Encoders build the attribute lists and whole messages for every command keepalived-ts uses;
 * decoders turn the kernel's replies into typed objects and fail only with KA_ERR_IPVS_BAD_REPLY
 * (or the framing codes of src/wire/netlink.ts).
 * Easy to get wrong (§8): PORT/TUN_PORT are be16, IPv4 NETMASK is a be32 mask while IPv6 NETMASK is a
 * host-order prefix length, ADDR is always 16 bytes, TUN_TYPE is u8, strings carry their NUL.
 */
import ipaddr from 'ipaddr.js';
import { KaError } from '../core/errors.js';
import { IpvsWireErrors } from './errors.js';
import {
  type AttrSpec,
  attrMap,
  be16,
  be32,
  bytes,
  decodeAttrs,
  decodeGenlHeader,
  encodeMsg,
  genlHeader,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  type NlMsg,
  readU8,
  readU16,
  strz,
  u8,
  u16,
  u32,
} from './netlink.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IpvsCmd = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

const CMD_ATTR = {
  SERVICE: 1,
  DEST: 2,
  DAEMON: 3,
  TIMEOUT_TCP: 4,
  TIMEOUT_TCP_FIN: 5,
  TIMEOUT_UDP: 6,
} as const;
const SVC = {
  AF: 1,
  PROTOCOL: 2,
  ADDR: 3,
  PORT: 4,
  FWMARK: 5,
  SCHED_NAME: 6,
  FLAGS: 7,
  TIMEOUT: 8,
  NETMASK: 9,
  STATS: 10,
  PE_NAME: 11,
  STATS64: 12,
} as const;
const DEST = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
const DAEMON = {
  STATE: 1,
  MCAST_IFN: 2,
  SYNC_ID: 3,
  SYNC_MAXLEN: 4,
  MCAST_GROUP: 5,
  MCAST_GROUP6: 6,
  MCAST_PORT: 7,
  MCAST_TTL: 8,
} as const;
const INFO = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
export type Af = typeof AF_INET | typeof AF_INET6;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

export const SvcFlag = {
  PERSISTENT: 0x1,
  HASHED: 0x2,
  ONEPACKET: 0x4,
  SCHED1: 0x8,
  SCHED2: 0x10,
  SCHED3: 0x20,
} as const;

/** IP_VS_CONN_F_* forwarding methods (FWD_METHOD & 0x7). */
export const Fwd = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3, BYPASS: 4 } as const;
export const TunType = { IPIP: 0, GUE: 1, GRE: 2 } as const;
/** IP_VS_TUNNEL_ENCAP_FLAG_*: NOCSUM is the absence of the others. */
export const TunFlag = { NOCSUM: 0, CSUM: 1, REMCSUM: 2 } as const;
export const DaemonState = { MASTER: 1, BACKUP: 2 } as const;

export const IP_VS_SCHEDNAME_MAXLEN = 16;
export const IP_VS_IFNAME_MAXLEN = 16;

/** A service's identity: fwmark services have `fwmark > 0` and protocol 0, the unspecified address, port 0. */
export interface IpvsServiceKey {
  af: Af;
  fwmark: number;
  protocol: number;
  /** Canonical text form (IPv4 dotted quad, IPv6 RFC 5952). */
  addr: string;
  port: number;
}

export interface IpvsService extends IpvsServiceKey {
  sched: string;
  /** IP_VS_SVC_F_* without HASHED (the kernel's own bookkeeping bit, stripped on decode and encode). */
  flags: number;
  /** Persistence timeout in seconds (0 = not persistent). */
  timeout: number;
  /** IPv4: the mask as an unsigned 32-bit number (0xffffffff = /32). IPv6: the prefix length 1..128. */
  netmask: number;
  /** Persistence engine (e.g. "sip"); undefined = none. */
  pe?: string | undefined;
}

export interface IpvsStats {
  conns: bigint;
  inpkts: bigint;
  outpkts: bigint;
  inbytes: bigint;
  outbytes: bigint;
  cps: bigint;
  inpps: bigint;
  outpps: bigint;
  inbps: bigint;
  outbps: bigint;
}

export interface IpvsServiceEntry extends IpvsService {
  stats?: IpvsStats | undefined;
}

export interface IpvsDestKey {
  addr: string;
  port: number;
}

export interface IpvsDest extends IpvsDestKey {
  /** Destination family; equals the service family except for tunnelled real servers. */
  af: Af;
  /** Fwd.* */
  fwd: number;
  weight: number;
  uThresh: number;
  lThresh: number;
  /** Only meaningful with Fwd.TUNNEL. */
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

export interface IpvsDestEntry extends IpvsDest {
  activeConns: number;
  inactConns: number;
  persistConns: number;
  stats?: IpvsStats | undefined;
}

export interface IpvsDaemon {
  /** DaemonState.* */
  state: number;
  mcastIfn: string;
  syncId: number;
  syncMaxlen?: number | undefined;
  mcastGroup?: string | undefined;
  mcastPort?: number | undefined;
  mcastTtl?: number | undefined;
}

export interface IpvsInfo {
  /** e.g. 0x00010201 = 1.2.1 */
  version: number;
  connTabSize: number;
}

export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

function badValue(message: string, details: Record<string, unknown>): never {
  throw new KaError(IpvsWireErrors.KA_ERR_IPVS_BAD_VALUE, message, details);
}
function badReply(message: string, details: Record<string, unknown> = {}): never {
  throw new KaError(IpvsWireErrors.KA_ERR_IPVS_BAD_REPLY, message, details);
}

// ---------------------------------------------------------------------------------------------
// Addresses

// Dotted quad without leading zeros: already canonical. Checked by hand because this path runs per
// destination on 10k-entry tables and ipaddr.js parse/format costs tens of µs per address.
const V4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses an address of family `af` into its canonical text form; typed error otherwise. */
export function canonicalAddr(af: Af, text: string): string {
  if (af === AF_INET) {
    if (V4.test(text)) return text;
    if (!ipaddr.IPv4.isValidFourPartDecimal(text))
      badValue(`"${text}" is not an IPv4 address`, { addr: text });
    return ipaddr.IPv4.parse(text).toString();
  }
  if (!ipaddr.IPv6.isValid(text) || text.includes('%'))
    badValue(`"${text}" is not an IPv6 address`, { addr: text });
  return ipaddr.IPv6.parse(text).toString();
}

/** Detects the family of an address literal (undefined when it is neither). */
export function addrFamily(text: string): Af | undefined {
  if (V4.test(text) || ipaddr.IPv4.isValidFourPartDecimal(text)) return AF_INET;
  if (ipaddr.IPv6.isValid(text) && !text.includes('%')) return AF_INET6;
  return undefined;
}

/** union nf_inet_addr: 16 bytes, IPv4 in the first 4. */
export function addrBytes(af: Af, text: string): Buffer {
  const out = Buffer.alloc(16);
  if (af === AF_INET) {
    const m = V4.exec(canonicalAddr(af, text)) as RegExpExecArray;
    for (let i = 0; i < 4; i++) out[i] = Number(m[i + 1]);
    return out;
  }
  Buffer.from(ipaddr.IPv6.parse(canonicalAddr(af, text)).toByteArray()).copy(out, 0);
  return out;
}

function addrText(af: Af, b: Buffer, what: string): string {
  const need = af === AF_INET ? 4 : 16;
  if (b.length < need) badReply(`${what} has ${b.length} bytes (need ${need})`, { what, len: b.length });
  if (af === AF_INET) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  return ipaddr.fromByteArray([...b.subarray(0, 16)]).toString();
}

const unspecified = (af: Af): string => (af === AF_INET ? '0.0.0.0' : '::');

export function serviceKeyString(k: IpvsServiceKey): string {
  const fam = k.af === AF_INET ? 'inet' : 'inet6';
  if (k.fwmark > 0) return `${fam} fwmark ${k.fwmark}`;
  const proto =
    k.protocol === IPPROTO_TCP
      ? 'tcp'
      : k.protocol === IPPROTO_UDP
        ? 'udp'
        : k.protocol === IPPROTO_SCTP
          ? 'sctp'
          : `proto${k.protocol}`;
  return k.af === AF_INET ? `${proto} ${k.addr}:${k.port}` : `${proto} [${k.addr}]:${k.port}`;
}

export function destKeyString(d: IpvsDestKey): string {
  return d.addr.includes(':') ? `[${d.addr}]:${d.port}` : `${d.addr}:${d.port}`;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function checkU16(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    badValue(`${what} ${v} is outside 0..65535`, { [what]: v });
}
function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    badValue(`${what} ${v} is outside 0..2^32-1`, { [what]: v });
}
function checkName(s: string, what: string, max = IP_VS_SCHEDNAME_MAXLEN - 1): void {
  if (Buffer.byteLength(s) > max || s.includes('\0'))
    badValue(`${what} "${s}" is longer than ${max} bytes`, { [what]: s });
}

/** The identity attributes of a service (enough for DEL/GET_SERVICE and for dest commands). */
export function serviceIdAttrs(k: IpvsServiceKey): AttrSpec[] {
  const out: AttrSpec[] = [u16(SVC.AF, k.af)];
  if (k.fwmark > 0) {
    checkU32(k.fwmark, 'fwmark');
    out.push(u32(SVC.FWMARK, k.fwmark));
    return out;
  }
  checkU16(k.protocol, 'protocol');
  checkU16(k.port, 'port');
  out.push(u16(SVC.PROTOCOL, k.protocol), bytes(SVC.ADDR, addrBytes(k.af, k.addr)), be16(SVC.PORT, k.port));
  return out;
}

/** The full service attributes (NEW/SET_SERVICE): id + SCHED_NAME, FLAGS, TIMEOUT, NETMASK [+ PE_NAME]. */
export function serviceAttrs(s: IpvsService): AttrSpec[] {
  checkName(s.sched, 'scheduler');
  checkU32(s.flags, 'flags');
  checkU32(s.timeout, 'timeout');
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE((s.flags & ~SvcFlag.HASHED) >>> 0, 0);
  flags.writeUInt32LE(0xffffffff, 4);
  const out = serviceIdAttrs(s);
  out.push(strz(SVC.SCHED_NAME, s.sched), bytes(SVC.FLAGS, flags), u32(SVC.TIMEOUT, s.timeout));
  if (s.af === AF_INET) {
    checkU32(s.netmask, 'netmask');
    out.push(be32(SVC.NETMASK, s.netmask));
  } else {
    if (!Number.isInteger(s.netmask) || s.netmask < 1 || s.netmask > 128) {
      badValue(`IPv6 persistence prefix length ${s.netmask} is outside 1..128`, { netmask: s.netmask });
    }
    out.push(u32(SVC.NETMASK, s.netmask));
  }
  if (s.pe !== undefined && s.pe !== '') {
    checkName(s.pe, 'pe');
    out.push(strz(SVC.PE_NAME, s.pe));
  }
  return out;
}

export function destIdAttrs(svcAf: Af, d: IpvsDestKey & { af?: Af }): AttrSpec[] {
  checkU16(d.port, 'port');
  const af = d.af ?? svcAf;
  return [bytes(DEST.ADDR, addrBytes(af, d.addr)), be16(DEST.PORT, d.port)];
}

/** Full dest attributes in keepalived's order: ADDR_FAMILY, ADDR, PORT, FWD, WEIGHT, [TUN_*], U/L_THRESH. */
export function destAttrs(d: IpvsDest): AttrSpec[] {
  checkU32(d.weight, 'weight');
  checkU32(d.uThresh, 'uThresh');
  checkU32(d.lThresh, 'lThresh');
  checkU32(d.fwd, 'fwd');
  const out: AttrSpec[] = [u16(DEST.ADDR_FAMILY, d.af), ...destIdAttrs(d.af, d), u32(DEST.FWD_METHOD, d.fwd)];
  out.push(u32(DEST.WEIGHT, d.weight));
  if (d.fwd === Fwd.TUNNEL) {
    checkU16(d.tunPort, 'tunPort');
    checkU16(d.tunFlags, 'tunFlags');
    out.push(u8(DEST.TUN_TYPE, d.tunType), be16(DEST.TUN_PORT, d.tunPort), u16(DEST.TUN_FLAGS, d.tunFlags));
  }
  out.push(u32(DEST.U_THRESH, d.uThresh), u32(DEST.L_THRESH, d.lThresh));
  return out;
}

export function daemonAttrs(d: IpvsDaemon): AttrSpec[] {
  checkName(d.mcastIfn, 'mcastIfn', IP_VS_IFNAME_MAXLEN - 1);
  checkU32(d.syncId, 'syncId');
  const out: AttrSpec[] = [
    u32(DAEMON.STATE, d.state),
    strz(DAEMON.MCAST_IFN, d.mcastIfn),
    u32(DAEMON.SYNC_ID, d.syncId),
  ];
  if (d.syncMaxlen !== undefined) {
    checkU16(d.syncMaxlen, 'syncMaxlen');
    out.push(u16(DAEMON.SYNC_MAXLEN, d.syncMaxlen));
  }
  if (d.mcastGroup !== undefined) {
    const af = addrFamily(d.mcastGroup);
    if (af === AF_INET)
      out.push(bytes(DAEMON.MCAST_GROUP, Buffer.from(ipaddr.IPv4.parse(d.mcastGroup).toByteArray())));
    else if (af === AF_INET6) out.push(bytes(DAEMON.MCAST_GROUP6, addrBytes(AF_INET6, d.mcastGroup)));
    else badValue(`sync group "${d.mcastGroup}" is not an address`, { mcastGroup: d.mcastGroup });
  }
  if (d.mcastPort !== undefined) {
    checkU16(d.mcastPort, 'mcastPort');
    out.push(u16(DAEMON.MCAST_PORT, d.mcastPort));
  }
  if (d.mcastTtl !== undefined) out.push(u8(DAEMON.MCAST_TTL, d.mcastTtl));
  return out;
}

/** A request before framing: genl command, netlink flags and top-level attributes. */
export interface IpvsRequest {
  cmd: number;
  flags: number;
  attrs: AttrSpec[];
}

// keepalived and the captured vectors send nests without NLA_F_NESTED; the kernel accepts both.
const nest = (type: number, children: AttrSpec[]): AttrSpec => ({ type, nest: children, plainNest: true });
const doit = NLM_F_REQUEST | NLM_F_ACK;
const dump = NLM_F_REQUEST | NLM_F_DUMP;

export const ipvsRequest = {
  newService: (s: IpvsService): IpvsRequest => ({
    cmd: IpvsCmd.NEW_SERVICE,
    flags: doit,
    attrs: [nest(CMD_ATTR.SERVICE, serviceAttrs(s))],
  }),
  setService: (s: IpvsService): IpvsRequest => ({
    cmd: IpvsCmd.SET_SERVICE,
    flags: doit,
    attrs: [nest(CMD_ATTR.SERVICE, serviceAttrs(s))],
  }),
  delService: (k: IpvsServiceKey): IpvsRequest => ({
    cmd: IpvsCmd.DEL_SERVICE,
    flags: doit,
    attrs: [nest(CMD_ATTR.SERVICE, serviceIdAttrs(k))],
  }),
  getService: (k: IpvsServiceKey): IpvsRequest => ({
    cmd: IpvsCmd.GET_SERVICE,
    flags: NLM_F_REQUEST,
    attrs: [nest(CMD_ATTR.SERVICE, serviceIdAttrs(k))],
  }),
  dumpServices: (): IpvsRequest => ({ cmd: IpvsCmd.GET_SERVICE, flags: dump, attrs: [] }),
  newDest: (k: IpvsServiceKey, d: IpvsDest): IpvsRequest => ({
    cmd: IpvsCmd.NEW_DEST,
    flags: doit,
    attrs: [nest(CMD_ATTR.SERVICE, serviceIdAttrs(k)), nest(CMD_ATTR.DEST, destAttrs(d))],
  }),
  setDest: (k: IpvsServiceKey, d: IpvsDest): IpvsRequest => ({
    cmd: IpvsCmd.SET_DEST,
    flags: doit,
    attrs: [nest(CMD_ATTR.SERVICE, serviceIdAttrs(k)), nest(CMD_ATTR.DEST, destAttrs(d))],
  }),
  delDest: (k: IpvsServiceKey, d: IpvsDestKey & { af?: Af }): IpvsRequest => ({
    cmd: IpvsCmd.DEL_DEST,
    flags: doit,
    attrs: [
      nest(CMD_ATTR.SERVICE, serviceIdAttrs(k)),
      nest(CMD_ATTR.DEST, [...(d.af ? [u16(DEST.ADDR_FAMILY, d.af)] : []), ...destIdAttrs(k.af, d)]),
    ],
  }),
  dumpDests: (k: IpvsServiceKey): IpvsRequest => ({
    cmd: IpvsCmd.GET_DEST,
    flags: dump,
    attrs: [nest(CMD_ATTR.SERVICE, serviceIdAttrs(k))],
  }),
  newDaemon: (d: IpvsDaemon): IpvsRequest => ({
    cmd: IpvsCmd.NEW_DAEMON,
    flags: doit,
    attrs: [nest(CMD_ATTR.DAEMON, daemonAttrs(d))],
  }),
  delDaemon: (state: number): IpvsRequest => ({
    cmd: IpvsCmd.DEL_DAEMON,
    flags: doit,
    attrs: [nest(CMD_ATTR.DAEMON, [u32(DAEMON.STATE, state)])],
  }),
  dumpDaemons: (): IpvsRequest => ({ cmd: IpvsCmd.GET_DAEMON, flags: dump, attrs: [] }),
  getConfig: (): IpvsRequest => ({ cmd: IpvsCmd.GET_CONFIG, flags: NLM_F_REQUEST, attrs: [] }),
  setConfig: (t: Partial<IpvsTimeouts>): IpvsRequest => {
    const attrs: AttrSpec[] = [];
    if (t.tcp !== undefined) attrs.push(u32(CMD_ATTR.TIMEOUT_TCP, t.tcp));
    if (t.tcpFin !== undefined) attrs.push(u32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin));
    if (t.udp !== undefined) attrs.push(u32(CMD_ATTR.TIMEOUT_UDP, t.udp));
    return { cmd: IpvsCmd.SET_CONFIG, flags: doit, attrs };
  },
  getInfo: (): IpvsRequest => ({ cmd: IpvsCmd.GET_INFO, flags: NLM_F_REQUEST, attrs: [] }),
  zero: (k?: IpvsServiceKey): IpvsRequest => ({
    cmd: IpvsCmd.ZERO,
    flags: doit,
    attrs: k ? [nest(CMD_ATTR.SERVICE, serviceIdAttrs(k))] : [],
  }),
  flush: (): IpvsRequest => ({ cmd: IpvsCmd.FLUSH, flags: doit, attrs: [] }),
};

/** Frames a request for the (dynamic) IPVS family id. */
export function encodeIpvsMsg(familyId: number, seq: number, r: IpvsRequest, pid = 0): Buffer {
  return encodeMsg({
    type: familyId,
    flags: r.flags,
    seq,
    pid,
    header: genlHeader(r.cmd, IPVS_GENL_VERSION),
    attrs: r.attrs,
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding

function reqU16(m: Map<number, Buffer>, t: number, what: string): number {
  const b = m.get(t);
  if (!b || b.length < 2) badReply(`${what} missing or shorter than 2 bytes`, { what });
  return b.readUInt16LE(0);
}
function reqU32(m: Map<number, Buffer>, t: number, what: string): number {
  const b = m.get(t);
  if (!b || b.length < 4) badReply(`${what} missing or shorter than 4 bytes`, { what });
  return b.readUInt32LE(0);
}
function optU32(m: Map<number, Buffer>, t: number, what: string): number {
  const b = m.get(t);
  if (b === undefined) return 0;
  if (b.length < 4) badReply(`${what} shorter than 4 bytes`, { what });
  return b.readUInt32LE(0);
}
function reqBe16(m: Map<number, Buffer>, t: number, what: string): number {
  const b = m.get(t);
  if (!b || b.length < 2) badReply(`${what} missing or shorter than 2 bytes`, { what });
  return b.readUInt16BE(0);
}
function reqStr(m: Map<number, Buffer>, t: number, what: string): string {
  const b = m.get(t);
  if (!b) badReply(`${what} missing`, { what });
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul === -1 ? b.length : nul);
}
function toAf(v: number, what: string): Af {
  if (v !== AF_INET && v !== AF_INET6)
    badReply(`${what} ${v} is neither AF_INET nor AF_INET6`, { what, af: v });
  return v;
}

const STAT_NAMES = [
  'conns',
  'inpkts',
  'outpkts',
  'inbytes',
  'outbytes',
  'cps',
  'inpps',
  'outpps',
  'inbps',
  'outbps',
] as const;

/** Decodes a STATS (mixed u32/u64) or STATS64 (all u64) nest. */
export function decodeStats(nestValue: Buffer, all64: boolean): IpvsStats {
  const m = attrMap(decodeAttrs(nestValue));
  const out = {} as IpvsStats;
  STAT_NAMES.forEach((name, i) => {
    const type = i + 1;
    const wide = all64 || type === 4 || type === 5;
    const b = m.get(type);
    if (b === undefined) {
      out[name] = 0n;
      return;
    }
    if (wide) {
      if (b.length < 8) badReply(`stats ${name} shorter than 8 bytes`, { what: name });
      out[name] = b.readBigUInt64LE(0);
    } else {
      if (b.length < 4) badReply(`stats ${name} shorter than 4 bytes`, { what: name });
      out[name] = BigInt(b.readUInt32LE(0));
    }
  });
  return out;
}

function statsOf(m: Map<number, Buffer>, t32: number, t64: number): IpvsStats | undefined {
  const s64 = m.get(t64);
  if (s64) return decodeStats(s64, true);
  const s32 = m.get(t32);
  return s32 ? decodeStats(s32, false) : undefined;
}

/** Decodes a SERVICE nest's value (as in GET_SERVICE replies). */
export function decodeServiceNest(v: Buffer): IpvsServiceEntry {
  const m = attrMap(decodeAttrs(v));
  const af = toAf(reqU16(m, SVC.AF, 'service AF'), 'service AF');
  const fwmark = m.has(SVC.FWMARK) ? reqU32(m, SVC.FWMARK, 'service FWMARK') : 0;
  let protocol = 0;
  let addr = unspecified(af);
  let port = 0;
  if (fwmark === 0) {
    protocol = reqU16(m, SVC.PROTOCOL, 'service PROTOCOL');
    const a = m.get(SVC.ADDR);
    if (!a) badReply('service ADDR missing', { what: 'service ADDR' });
    addr = addrText(af, a, 'service ADDR');
    port = reqBe16(m, SVC.PORT, 'service PORT');
  }
  const sched = reqStr(m, SVC.SCHED_NAME, 'service SCHED_NAME');
  const fl = m.get(SVC.FLAGS);
  if (!fl || fl.length < 8)
    badReply('service FLAGS missing or shorter than 8 bytes', { what: 'service FLAGS' });
  const flags = fl.readUInt32LE(0) & ~SvcFlag.HASHED;
  const timeout = reqU32(m, SVC.TIMEOUT, 'service TIMEOUT');
  const nm = m.get(SVC.NETMASK);
  if (!nm || nm.length < 4)
    badReply('service NETMASK missing or shorter than 4 bytes', { what: 'service NETMASK' });
  const netmask = af === AF_INET ? nm.readUInt32BE(0) : nm.readUInt32LE(0);
  const peBuf = m.get(SVC.PE_NAME);
  const pe = peBuf ? reqStr(m, SVC.PE_NAME, 'service PE_NAME') : undefined;
  const stats = statsOf(m, SVC.STATS, SVC.STATS64);
  return { af, fwmark, protocol, addr, port, sched, flags: flags >>> 0, timeout, netmask, pe, stats };
}

/** Decodes a DEST nest's value (GET_DEST replies). `svcAf` is used when ADDR_FAMILY is absent or 0. */
export function decodeDestNest(v: Buffer, svcAf: Af): IpvsDestEntry {
  const m = attrMap(decodeAttrs(v));
  const afRaw = readU16(m.get(DEST.ADDR_FAMILY)) ?? 0;
  const af = afRaw === 0 ? svcAf : toAf(afRaw, 'dest ADDR_FAMILY');
  const a = m.get(DEST.ADDR);
  if (!a) badReply('dest ADDR missing', { what: 'dest ADDR' });
  const fwd = reqU32(m, DEST.FWD_METHOD, 'dest FWD_METHOD') & 0x7;
  const tp = m.get(DEST.TUN_PORT);
  if (tp !== undefined && tp.length < 2)
    badReply('dest TUN_PORT shorter than 2 bytes', { what: 'dest TUN_PORT' });
  const tf = m.get(DEST.TUN_FLAGS);
  if (tf !== undefined && tf.length < 2)
    badReply('dest TUN_FLAGS shorter than 2 bytes', { what: 'dest TUN_FLAGS' });
  return {
    af,
    addr: addrText(af, a, 'dest ADDR'),
    port: reqBe16(m, DEST.PORT, 'dest PORT'),
    fwd,
    weight: reqU32(m, DEST.WEIGHT, 'dest WEIGHT'),
    uThresh: optU32(m, DEST.U_THRESH, 'dest U_THRESH'),
    lThresh: optU32(m, DEST.L_THRESH, 'dest L_THRESH'),
    tunType: readU8(m.get(DEST.TUN_TYPE)) ?? 0,
    tunPort: tp ? tp.readUInt16BE(0) : 0,
    tunFlags: tf ? tf.readUInt16LE(0) : 0,
    activeConns: optU32(m, DEST.ACTIVE_CONNS, 'dest ACTIVE_CONNS'),
    inactConns: optU32(m, DEST.INACT_CONNS, 'dest INACT_CONNS'),
    persistConns: optU32(m, DEST.PERSIST_CONNS, 'dest PERSIST_CONNS'),
    stats: statsOf(m, DEST.STATS, DEST.STATS64),
  };
}

export function decodeDaemonNest(v: Buffer): IpvsDaemon {
  const m = attrMap(decodeAttrs(v));
  const g4 = m.get(DAEMON.MCAST_GROUP);
  const g6 = m.get(DAEMON.MCAST_GROUP6);
  let mcastGroup: string | undefined;
  if (g4 && g4.length >= 4) mcastGroup = addrText(AF_INET, g4, 'daemon MCAST_GROUP');
  if (g6 && g6.length >= 16) mcastGroup = addrText(AF_INET6, g6, 'daemon MCAST_GROUP6');
  return {
    state: reqU32(m, DAEMON.STATE, 'daemon STATE'),
    mcastIfn: reqStr(m, DAEMON.MCAST_IFN, 'daemon MCAST_IFN'),
    syncId: reqU32(m, DAEMON.SYNC_ID, 'daemon SYNC_ID'),
    syncMaxlen: readU16(m.get(DAEMON.SYNC_MAXLEN)),
    mcastGroup,
    mcastPort: readU16(m.get(DAEMON.MCAST_PORT)),
    mcastTtl: readU8(m.get(DAEMON.MCAST_TTL)),
  };
}

function genlOf(msg: NlMsg, expectCmd: number, what: string): Map<number, Buffer> {
  const g = decodeGenlHeader(msg.payload);
  if (g.cmd !== expectCmd)
    badReply(`${what} reply has genl cmd ${g.cmd} (expected ${expectCmd})`, { what, cmd: g.cmd });
  return attrMap(g.attrs);
}

function nestOf(m: Map<number, Buffer>, t: number, what: string): Buffer {
  const b = m.get(t);
  if (!b) badReply(`${what} nest missing`, { what });
  return b;
}

/** One GET_SERVICE reply message (dump part or doit answer; genl cmd NEW_SERVICE). */
export function decodeServiceMsg(msg: NlMsg): IpvsServiceEntry {
  return decodeServiceNest(
    nestOf(genlOf(msg, IpvsCmd.NEW_SERVICE, 'GET_SERVICE'), CMD_ATTR.SERVICE, 'SERVICE'),
  );
}

/** One GET_DEST dump part (genl cmd NEW_DEST). */
export function decodeDestMsg(msg: NlMsg, svcAf: Af): IpvsDestEntry {
  return decodeDestNest(nestOf(genlOf(msg, IpvsCmd.NEW_DEST, 'GET_DEST'), CMD_ATTR.DEST, 'DEST'), svcAf);
}

export function decodeDaemonMsg(msg: NlMsg): IpvsDaemon {
  return decodeDaemonNest(nestOf(genlOf(msg, IpvsCmd.NEW_DAEMON, 'GET_DAEMON'), CMD_ATTR.DAEMON, 'DAEMON'));
}

export function decodeInfoMsg(msg: NlMsg): IpvsInfo {
  const m = genlOf(msg, IpvsCmd.SET_INFO, 'GET_INFO');
  return {
    version: reqU32(m, INFO.VERSION, 'INFO_VERSION'),
    connTabSize: reqU32(m, INFO.CONN_TAB_SIZE, 'INFO_CONN_TAB_SIZE'),
  };
}

export function decodeConfigMsg(msg: NlMsg): IpvsTimeouts {
  const m = genlOf(msg, IpvsCmd.SET_CONFIG, 'GET_CONFIG');
  return {
    tcp: reqU32(m, CMD_ATTR.TIMEOUT_TCP, 'TIMEOUT_TCP'),
    tcpFin: reqU32(m, CMD_ATTR.TIMEOUT_TCP_FIN, 'TIMEOUT_TCP_FIN'),
    udp: reqU32(m, CMD_ATTR.TIMEOUT_UDP, 'TIMEOUT_UDP'),
  };
}

/** "1.2.1" from 0x00010201. */
export function versionString(v: number): string {
  return `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
}
