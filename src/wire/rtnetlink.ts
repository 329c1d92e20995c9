/**
 * rtnetlink codecs (pure): requests for links, addresses, routes and rules as keepalived sends them,
 * and decoders for link and address messages (dump replies and notifications).
 * Facts: shared/reference/wire-and-kernel.md §4.2-4.5 (struct layouts, constants, captured bytes).
 * Encoders return a request without seq/pid (the transport numbers it): pass it to
 * `NetlinkSocket.request`, or to `encodeMsg({ ...req, seq })`.
 */
import { KaError } from '../core/errors.js';
import { PacketErrors, RtnlErrors } from './errors.js';
import { macToBytes } from './ethernet.js';
import { addrToBytes, bytesToAddr } from './ip.js';
import {
  type AttrSpec,
  attrMap,
  bytes,
  decodeAttrs,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  type NlMsg,
  readStr,
  readU8,
  readU32,
  u8,
  u32,
} from './netlink.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;

export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV4_RULE = 8;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;
export const RTNLGRP_IPV6_RULE = 19;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_CACHEINFO = 6;
export const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x1;
export const IFA_F_NODAD = 0x2;
export const IFA_F_DADFAILED = 0x8;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_AF_SPEC = 26;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_MACVLAN_MODE = 1;
export const MACVLAN_MODE_PRIVATE = 1;
export const MACVLAN_MODE_VEPA = 2;
export const MACVLAN_MODE_BRIDGE = 4;
export const IFLA_INET_CONF = 1;
export const IFLA_INET6_ADDR_GEN_MODE = 8;
export const IN6_ADDR_GEN_MODE_EUI64 = 0;
export const IN6_ADDR_GEN_MODE_NONE = 1;

export const IPV4_DEVCONF_FORWARDING = 1;
export const IPV4_DEVCONF_RP_FILTER = 8;
export const IPV4_DEVCONF_ARPFILTER = 13;
export const IPV4_DEVCONF_ARP_ANNOUNCE = 18;
export const IPV4_DEVCONF_ARP_IGNORE = 19;
export const IPV4_DEVCONF_PROMOTE_SECONDARIES = 20;
export const IPV4_DEVCONF_ACCEPT_LOCAL = 23;

export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;

export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;
export const RTPROT_KEEPALIVED = 18;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;

export const FRA_DST = 1;
export const FRA_SRC = 2;
export const FRA_IIFNAME = 3;
export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
export const FRA_OIFNAME = 17;
export const FRA_PROTOCOL = 21;
export const FR_ACT_TO_TBL = 1;
export const FR_ACT_GOTO = 2;
export const FR_ACT_BLACKHOLE = 6;

export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;
export const RTMSG_LEN = 12;
export const FIB_RULE_HDR_LEN = 12;

/** A request ready for `NetlinkSocket.request` (or `encodeMsg` once given a seq). */
export interface RtRequest {
  type: number;
  flags: number;
  header: Buffer;
  attrs: AttrSpec[];
}

const REQ_ACK = NLM_F_REQUEST | NLM_F_ACK;
const REQ_DUMP = NLM_F_REQUEST | NLM_F_DUMP;
const REQ_CREATE = REQ_ACK | NLM_F_CREATE | NLM_F_EXCL;

export type Family = 4 | 6;
const afOf = (f: Family): number => (f === 4 ? AF_INET : AF_INET6);

function badField(message: string, details: Record<string, unknown> = {}): never {
  throw new KaError(PacketErrors.KA_ERR_WIRE_BAD_FIELD, message, details);
}

function badMsg(message: string, details: Record<string, unknown> = {}): never {
  throw new KaError(RtnlErrors.KA_ERR_RTNL_BAD_MSG, message, details);
}

/** Address text → bytes, checking the family (KA_ERR_WIRE_BAD_ADDRESS). */
export const addrBytes = (addr: string, family: Family): Buffer => addrToBytes(String(addr), family);

/** Any link-layer address length (Ethernet 6, others up to 32), colon-separated lower-case hex. */
const linkAddrText = (b: Buffer): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    badField(`${name} ${String(v)} out of range ${min}..${max}`, { [name]: v });
  return v;
}

function ifname(type: number, name: string): AttrSpec {
  // NLA_STRING: sent without NUL, as keepalived does (the pad byte follows); IFNAMSIZ is 16 incl. NUL.
  const b = Buffer.from(String(name), 'utf8');
  if (b.length === 0 || b.length > 15 || b.includes(0))
    badField(`bad interface name ${JSON.stringify(name)}`);
  return bytes(type, b);
}

// ---- struct encoders ----

/** ifinfomsg: u8 family, u8 pad, u16 type, i32 index, u32 flags, u32 change. */
export function ifinfomsg(
  o: { family?: number; type?: number; index?: number; flags?: number; change?: number } = {},
): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(o.family ?? AF_UNSPEC, 0);
  b.writeUInt16LE(o.type ?? 0, 2);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE((o.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((o.change ?? 0) >>> 0, 12);
  return b;
}

/** ifaddrmsg: u8 family, u8 prefixlen, u8 flags, u8 scope, u32 index. */
export function ifaddrmsg(o: {
  family: number;
  prefixlen?: number;
  flags?: number;
  scope?: number;
  index?: number;
}): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.prefixlen ?? 0, 1);
  b.writeUInt8(o.flags ?? 0, 2);
  b.writeUInt8(o.scope ?? 0, 3);
  b.writeUInt32LE((o.index ?? 0) >>> 0, 4);
  return b;
}

/** rtmsg and fib_rule_hdr share a layout: eight u8 fields then u32 flags. */
function hdr8(fields: readonly number[], flags: number): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  fields.forEach((v, i) => {
    b.writeUInt8(v, i);
  });
  b.writeUInt32LE(flags >>> 0, 8);
  return b;
}

// ---- dumps ----

export function getLinkDump(): RtRequest {
  return { type: RTM_GETLINK, flags: REQ_DUMP, header: ifinfomsg(), attrs: [] };
}

/** RTM_GETADDR dump; family 0 = both. */
export function getAddrDump(family: Family | 0 = 0): RtRequest {
  return {
    type: RTM_GETADDR,
    flags: REQ_DUMP,
    header: ifaddrmsg({ family: family === 0 ? 0 : afOf(family) }),
    attrs: [],
  };
}

// ---- addresses ----

export interface AddrSpec {
  family: Family;
  ifindex: number;
  address: string;
  prefixlen: number;
  /** IPv4 broadcast (IFA_BROADCAST). */
  broadcast?: string;
  /** IPv4 label (IFA_LABEL), e.g. "eth0:vip". */
  label?: string;
  /** IPv4 point-to-point peer (IFA_ADDRESS). */
  peer?: string;
  /** IPv6: IFA_F_NODAD (default true, as keepalived). */
  nodad?: boolean;
  /** IPv6: IFA_CACHEINFO preferred lifetime (0 = deprecated, as `preferred_lft 0`); valid stays forever. */
  preferredLft?: number;
  scope?: number;
}

function addrHeader(a: AddrSpec): Buffer {
  if (a.family !== 4 && a.family !== 6) badField(`bad family ${String(a.family)}`);
  checkInt('prefixlen', a.prefixlen, 0, a.family === 4 ? 32 : 128);
  checkInt('ifindex', a.ifindex, 1, 0x7fffffff);
  return ifaddrmsg({ family: afOf(a.family), prefixlen: a.prefixlen, scope: a.scope ?? 0, index: a.ifindex });
}

/** RTM_NEWADDR as keepalived adds a VIP (flags REQUEST|ACK; pass `create` to add CREATE|EXCL). */
export function newAddr(a: AddrSpec, o: { create?: boolean } = {}): RtRequest {
  const header = addrHeader(a);
  const attrs: AttrSpec[] = [bytes(IFA_LOCAL, addrBytes(a.address, a.family))];
  if (a.family === 4) {
    if (a.peer !== undefined) attrs.push(bytes(IFA_ADDRESS, addrBytes(a.peer, 4)));
    if (a.broadcast !== undefined) attrs.push(bytes(IFA_BROADCAST, addrBytes(a.broadcast, 4)));
    if (a.label !== undefined) {
      const l = Buffer.from(`${a.label}\0`, 'utf8');
      if (l.length > 16 || l.length < 2) badField(`bad address label ${JSON.stringify(a.label)}`);
      attrs.push(bytes(IFA_LABEL, l));
    }
  } else {
    if (a.nodad !== false) attrs.push(u32(IFA_FLAGS, IFA_F_NODAD));
    if (a.preferredLft !== undefined) {
      const ci = Buffer.alloc(16);
      ci.writeUInt32LE(checkInt('preferredLft', a.preferredLft, 0, 0xffffffff), 0);
      ci.writeUInt32LE(0xffffffff, 4);
      attrs.push(bytes(IFA_CACHEINFO, ci));
    }
  }
  return { type: RTM_NEWADDR, flags: o.create ? REQ_CREATE : REQ_ACK, header, attrs };
}

/** RTM_DELADDR: IFA_LOCAL, and for IPv4 also IFA_ADDRESS (the peer, or the same address). */
export function delAddr(
  a: Pick<AddrSpec, 'family' | 'ifindex' | 'address' | 'prefixlen' | 'peer'>,
): RtRequest {
  const header = addrHeader(a);
  const attrs: AttrSpec[] = [bytes(IFA_LOCAL, addrBytes(a.address, a.family))];
  if (a.family === 4) attrs.push(bytes(IFA_ADDRESS, addrBytes(a.peer ?? a.address, 4)));
  return { type: RTM_DELADDR, flags: REQ_ACK, header, attrs };
}

// ---- links ----

/** RTM_NEWLINK creating a macvlan (keepalived's VMAC), flags REQUEST|ACK|CREATE|EXCL. */
export function newMacvlan(o: { name: string; parentIndex: number; mac: string; mode?: number }): RtRequest {
  checkInt('parentIndex', o.parentIndex, 1, 0x7fffffff);
  return {
    type: RTM_NEWLINK,
    flags: REQ_CREATE,
    header: ifinfomsg(),
    attrs: [
      {
        type: IFLA_LINKINFO,
        plainNest: true,
        nest: [
          bytes(IFLA_INFO_KIND, Buffer.from('macvlan')),
          {
            type: IFLA_INFO_DATA,
            plainNest: true,
            nest: [u32(IFLA_MACVLAN_MODE, checkInt('mode', o.mode ?? MACVLAN_MODE_PRIVATE, 0, 0xffffffff))],
          },
        ],
      },
      u32(IFLA_LINK, o.parentIndex),
      ifname(IFLA_IFNAME, o.name),
      bytes(IFLA_ADDRESS, macToBytes(o.mac)),
    ],
  };
}

/** RTM_NEWLINK on `ifindex` carrying IFLA_AF_SPEC { family { attrs } } (nests without NLA_F_NESTED, as keepalived). */
function afSpec(ifindex: number, family: number, attrs: AttrSpec[]): RtRequest {
  checkInt('ifindex', ifindex, 1, 0x7fffffff);
  return {
    type: RTM_NEWLINK,
    flags: REQ_ACK,
    header: ifinfomsg({ index: ifindex }),
    attrs: [{ type: IFLA_AF_SPEC, plainNest: true, nest: [{ type: family, plainNest: true, nest: attrs }] }],
  };
}

/** IPv4 devconf values (IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF): [IPV4_DEVCONF_x, value] in order. */
export function setInetConf(ifindex: number, conf: ReadonlyArray<readonly [number, number]>): RtRequest {
  const entries = conf.map(([id, v]) => u32(checkInt('devconf id', id, 1, 0x3fff), v));
  return afSpec(ifindex, AF_INET, [{ type: IFLA_INET_CONF, plainNest: true, nest: entries }]);
}

/** IPv6 addr_gen_mode (IFLA_AF_SPEC / AF_INET6 / IFLA_INET6_ADDR_GEN_MODE u8); a separate message from create. */
export function setAddrGenMode(ifindex: number, mode: number): RtRequest {
  return afSpec(ifindex, AF_INET6, [u8(IFLA_INET6_ADDR_GEN_MODE, checkInt('mode', mode, 0, 255))]);
}

/** Sets IFF_UP (or clears it with up=false). */
export function setLinkUp(ifindex: number, up = true): RtRequest {
  checkInt('ifindex', ifindex, 1, 0x7fffffff);
  return {
    type: RTM_NEWLINK,
    flags: REQ_ACK,
    header: ifinfomsg({ index: ifindex, flags: up ? IFF_UP : 0, change: IFF_UP }),
    attrs: [],
  };
}

/** RTM_DELLINK (ifinfomsg family AF_INET, as keepalived). */
export function delLink(ifindex: number): RtRequest {
  checkInt('ifindex', ifindex, 1, 0x7fffffff);
  return {
    type: RTM_DELLINK,
    flags: REQ_ACK,
    header: ifinfomsg({ family: AF_INET, index: ifindex }),
    attrs: [],
  };
}

// ---- routes ----

export interface RouteSpec {
  family: Family;
  dst: string;
  dstLen: number;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
  /** RTA_PRIORITY (metric). */
  metric?: number;
  /** Default RT_TABLE_MAIN; ids above 255 go into RTA_TABLE. */
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
}

function routeBody(r: RouteSpec): { header: Buffer; attrs: AttrSpec[] } {
  if (r.family !== 4 && r.family !== 6) badField(`bad family ${String(r.family)}`);
  checkInt('dstLen', r.dstLen, 0, r.family === 4 ? 32 : 128);
  const table = checkInt('table', r.table ?? RT_TABLE_MAIN, 0, 0xffffffff);
  const header = hdr8(
    [
      afOf(r.family),
      r.dstLen,
      0,
      0,
      table > 255 ? RT_TABLE_UNSPEC : table,
      checkInt('protocol', r.protocol ?? RTPROT_KEEPALIVED, 0, 255),
      checkInt('scope', r.scope ?? RT_SCOPE_UNIVERSE, 0, 255),
      checkInt('type', r.type ?? RTN_UNICAST, 0, 255),
    ],
    0,
  );
  const attrs: AttrSpec[] = [bytes(RTA_DST, addrBytes(r.dst, r.family))];
  if (r.gateway !== undefined) attrs.push(bytes(RTA_GATEWAY, addrBytes(r.gateway, r.family)));
  if (r.oif !== undefined) attrs.push(u32(RTA_OIF, checkInt('oif', r.oif, 1, 0x7fffffff)));
  if (r.prefsrc !== undefined) attrs.push(bytes(RTA_PREFSRC, addrBytes(r.prefsrc, r.family)));
  if (r.metric !== undefined) attrs.push(u32(RTA_PRIORITY, checkInt('metric', r.metric, 0, 0xffffffff)));
  if (table > 255) attrs.push(u32(RTA_TABLE, table));
  return { header, attrs };
}

/** RTM_NEWROUTE, flags REQUEST|ACK|CREATE (as keepalived). */
export function newRoute(r: RouteSpec): RtRequest {
  return { type: RTM_NEWROUTE, flags: REQ_ACK | NLM_F_CREATE, ...routeBody(r) };
}

export function delRoute(r: RouteSpec): RtRequest {
  return { type: RTM_DELROUTE, flags: REQ_ACK, ...routeBody(r) };
}

// ---- rules ----

export interface RuleSpec {
  family: Family;
  src?: string;
  srcLen?: number;
  dst?: string;
  dstLen?: number;
  table: number;
  /** Default FR_ACT_TO_TBL. */
  action?: number;
  priority?: number;
  fwmark?: number;
  fwmask?: number;
  iifname?: string;
  oifname?: string;
  tos?: number;
  protocol?: number;
}

function ruleBody(r: RuleSpec): { header: Buffer; attrs: AttrSpec[] } {
  if (r.family !== 4 && r.family !== 6) badField(`bad family ${String(r.family)}`);
  const max = r.family === 4 ? 32 : 128;
  const table = checkInt('table', r.table, 0, 0xffffffff);
  const srcLen = r.src !== undefined ? checkInt('srcLen', r.srcLen ?? max, 0, max) : 0;
  const dstLen = r.dst !== undefined ? checkInt('dstLen', r.dstLen ?? max, 0, max) : 0;
  const header = hdr8(
    [
      afOf(r.family),
      dstLen,
      srcLen,
      checkInt('tos', r.tos ?? 0, 0, 255),
      table > 255 ? RT_TABLE_UNSPEC : table,
      0,
      0,
      checkInt('action', r.action ?? FR_ACT_TO_TBL, 0, 255),
    ],
    0,
  );
  const attrs: AttrSpec[] = [];
  if (r.dst !== undefined) attrs.push(bytes(FRA_DST, addrBytes(r.dst, r.family)));
  if (r.src !== undefined) attrs.push(bytes(FRA_SRC, addrBytes(r.src, r.family)));
  if (r.priority !== undefined)
    attrs.push(u32(FRA_PRIORITY, checkInt('priority', r.priority, 0, 0xffffffff)));
  if (table > 255) attrs.push(u32(FRA_TABLE, table));
  if (r.fwmark !== undefined) attrs.push(u32(FRA_FWMARK, checkInt('fwmark', r.fwmark, 0, 0xffffffff)));
  if (r.fwmask !== undefined) attrs.push(u32(FRA_FWMASK, checkInt('fwmask', r.fwmask, 0, 0xffffffff)));
  if (r.iifname !== undefined) attrs.push(ifname(FRA_IIFNAME, r.iifname));
  if (r.oifname !== undefined) attrs.push(ifname(FRA_OIFNAME, r.oifname));
  attrs.push(u8(FRA_PROTOCOL, checkInt('protocol', r.protocol ?? RTPROT_KEEPALIVED, 0, 255)));
  return { header, attrs };
}

/** RTM_NEWRULE, flags REQUEST|ACK|CREATE|EXCL. */
export function newRule(r: RuleSpec): RtRequest {
  return { type: RTM_NEWRULE, flags: REQ_CREATE, ...ruleBody(r) };
}

export function delRule(r: RuleSpec): RtRequest {
  return { type: RTM_DELRULE, flags: REQ_ACK, ...ruleBody(r) };
}

// ---- decoders ----

export interface LinkInfo {
  /** RTM_NEWLINK or RTM_DELLINK. */
  deleted: boolean;
  ifindex: number;
  name: string;
  /** ifi_flags (IFF_*). */
  flags: number;
  /** ARPHRD_* (1 = Ethernet, 772 = loopback). */
  linkType: number;
  mtu: number | undefined;
  /** Link-layer address, lower-case colon-separated; undefined when the link has none. */
  mac: string | undefined;
  /** IFLA_INFO_KIND ("macvlan", "veth", ...). */
  kind: string | undefined;
  /** Parent link (IFLA_LINK), e.g. a macvlan's lower device. */
  parentIndex: number | undefined;
  master: number | undefined;
  operstate: number | undefined;
}

/** Decodes an RTM_NEWLINK / RTM_DELLINK message (dump part or notification). */
export function decodeLink(msg: NlMsg): LinkInfo {
  if (msg.type !== RTM_NEWLINK && msg.type !== RTM_DELLINK)
    badMsg(`message type ${msg.type} is not a link message`);
  const p = msg.payload;
  if (p.length < IFINFOMSG_LEN) badMsg(`ifinfomsg of ${p.length} bytes`, { len: p.length });
  const attrs = attrMap(decodeAttrs(p, IFINFOMSG_LEN));
  const mtuB = attrs.get(IFLA_MTU);
  if (mtuB !== undefined && mtuB.length !== 4) badMsg(`IFLA_MTU of ${mtuB.length} bytes`);
  const macB = attrs.get(IFLA_ADDRESS);
  const infoB = attrs.get(IFLA_LINKINFO);
  const info = infoB ? attrMap(decodeAttrs(infoB)) : undefined;
  return {
    deleted: msg.type === RTM_DELLINK,
    ifindex: p.readInt32LE(4),
    name: readStr(attrs.get(IFLA_IFNAME)) ?? '',
    flags: p.readUInt32LE(8),
    linkType: p.readUInt16LE(2),
    mtu: readU32(mtuB),
    mac: macB && macB.length > 0 ? linkAddrText(macB) : undefined,
    kind: readStr(info?.get(IFLA_INFO_KIND)),
    parentIndex: readU32(attrs.get(IFLA_LINK)),
    master: readU32(attrs.get(IFLA_MASTER)),
    operstate: readU8(attrs.get(IFLA_OPERSTATE)),
  };
}

export interface AddrCacheInfo {
  preferred: number;
  valid: number;
  cstamp: number;
  tstamp: number;
}

export interface AddrInfo {
  /** RTM_NEWADDR or RTM_DELADDR. */
  deleted: boolean;
  family: Family;
  ifindex: number;
  prefixlen: number;
  /** IFA_F_* (IFA_FLAGS attribute when present, which carries the bits above 0xff). */
  flags: number;
  scope: number;
  /** The local address (IFA_LOCAL, else IFA_ADDRESS). */
  address: string;
  /** IFA_ADDRESS when it differs from IFA_LOCAL (point-to-point peer). */
  peer: string | undefined;
  broadcast: string | undefined;
  label: string | undefined;
  cacheinfo: AddrCacheInfo | undefined;
}

function addrAttr(b: Buffer | undefined, family: Family, what: string): string | undefined {
  if (b === undefined) return undefined;
  if (b.length !== (family === 4 ? 4 : 16))
    badMsg(`${what} of ${b.length} bytes for IPv${family}`, { len: b.length });
  return bytesToAddr(b);
}

/** Decodes an RTM_NEWADDR / RTM_DELADDR message (dump part or notification). */
export function decodeAddr(msg: NlMsg): AddrInfo {
  if (msg.type !== RTM_NEWADDR && msg.type !== RTM_DELADDR)
    badMsg(`message type ${msg.type} is not an address message`);
  const p = msg.payload;
  if (p.length < IFADDRMSG_LEN) badMsg(`ifaddrmsg of ${p.length} bytes`, { len: p.length });
  const af = p.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) badMsg(`address family ${af}`, { family: af });
  const family: Family = af === AF_INET ? 4 : 6;
  const attrs = attrMap(decodeAttrs(p, IFADDRMSG_LEN));
  const local = addrAttr(attrs.get(IFA_LOCAL), family, 'IFA_LOCAL');
  const address = addrAttr(attrs.get(IFA_ADDRESS), family, 'IFA_ADDRESS');
  const primary = local ?? address;
  if (primary === undefined) badMsg('address message without IFA_LOCAL or IFA_ADDRESS');
  const ciB = attrs.get(IFA_CACHEINFO);
  if (ciB !== undefined && ciB.length < 16) badMsg(`IFA_CACHEINFO of ${ciB.length} bytes`);
  const flagsB = attrs.get(IFA_FLAGS);
  return {
    deleted: msg.type === RTM_DELADDR,
    family,
    ifindex: p.readUInt32LE(4),
    prefixlen: p.readUInt8(1),
    flags: flagsB && flagsB.length >= 4 ? flagsB.readUInt32LE(0) : p.readUInt8(2),
    scope: p.readUInt8(3),
    address: primary,
    peer: local !== undefined && address !== undefined && address !== local ? address : undefined,
    broadcast: addrAttr(attrs.get(IFA_BROADCAST), family, 'IFA_BROADCAST'),
    label: readStr(attrs.get(IFA_LABEL)),
    cacheinfo: ciB
      ? {
          preferred: ciB.readUInt32LE(0),
          valid: ciB.readUInt32LE(4),
          cstamp: ciB.readUInt32LE(8),
          tstamp: ciB.readUInt32LE(12),
        }
      : undefined,
  };
}

export type RtnlEvent = { kind: 'link'; link: LinkInfo } | { kind: 'addr'; addr: AddrInfo };

/** Decodes link and address messages; undefined for other rtnetlink types (routes, rules, ...). */
export function decodeRtnl(msg: NlMsg): RtnlEvent | undefined {
  if (msg.type === RTM_NEWLINK || msg.type === RTM_DELLINK) return { kind: 'link', link: decodeLink(msg) };
  if (msg.type === RTM_NEWADDR || msg.type === RTM_DELADDR) return { kind: 'addr', addr: decodeAddr(msg) };
  return undefined;
}
