/**
 * Routes and rules of the configuration (`ip route` / `ip rule` models) turned into rtnetlink
 * requests: virtual_routes / virtual_rules (installed with mastership) and static_routes /
 * static_rules (static-config.ts). The base messages come from src/wire/rtnetlink.ts; the options it
 * has no field for (rtm_tos, rtm_flags, RTA_METRICS, RTA_MULTIPATH, RTA_FLOW, RTA_PREF, RTA_EXPIRES,
 * the FRA_* extras) are added here with the netlink.ts attribute builders. Names of tables,
 * protocols, realms and dsfields: numbers, the kernel's fixed names, then /etc/iproute2/rt_*.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import type { RouteSpec as CfgRoute, RuleSpec as CfgRule } from '../config/model.js';
import { cU32, ipProto, rtGroup, rtTable } from '../config/rtnames.js';
import { routeTime } from '../config/values.js';
import { KaError } from '../core/errors.js';
import './vrrp-errors.js';
import { type AttrSpec, bytes, encodeAttrs, NLM_F_APPEND, u8, u32 } from '../wire/netlink.js';
import {
  addrBytes,
  delRoute,
  delRule,
  FR_ACT_BLACKHOLE,
  FR_ACT_GOTO,
  FR_ACT_TO_TBL,
  newRoute,
  newRule,
  type RouteSpec,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTA_GATEWAY,
  RTPROT_KEEPALIVED,
  type RtRequest,
  type RuleSpec,
} from '../wire/rtnetlink.js';

const FR_ACT_NOP = 3;
const FR_ACT_UNREACHABLE = 7;
const FR_ACT_PROHIBIT = 8;

// rtmsg / fib_rule_hdr byte offsets (wire-and-kernel.md §4.2): tos at 3, u32 flags at 8.
const HDR_TOS = 3;
const HDR_FLAGS = 8;

const RTA_METRICS = 8;
const RTA_MULTIPATH = 9;
const RTA_FLOW = 11;
const RTA_PREF = 20;
const RTA_EXPIRES = 23;
const RTNH_F_ONLINK = 4;
const RTAX_LOCK = 1;
const RTAX_FEATURE_ECN = 1;
/** RTAX_* of the `ip route` metric options (uapi linux/rtnetlink.h). */
const RTAX: Record<string, number> = {
  mtu: 2,
  window: 3,
  rtt: 4,
  rttvar: 5,
  ssthresh: 6,
  cwnd: 7,
  advmss: 8,
  reordering: 9,
  hoplimit: 10,
  initcwnd: 11,
  features: 12,
  rto_min: 13,
  initrwnd: 14,
  quickack: 15,
  congctl: 16,
  fastopen_no_cookie: 17,
};
/** ICMPV6_ROUTER_PREF_* for RTA_PREF. */
const PREFS: Record<string, number> = { low: 3, medium: 0, high: 1 };

const FRA_GOTO = 4;
const FRA_FLOW = 11;
const FRA_SUPPRESS_IFGROUP = 13;
const FRA_SUPPRESS_PREFIXLEN = 14;
const FRA_L3MDEV = 19;
const FRA_UID_RANGE = 20;
const FRA_IP_PROTO = 22;
const FRA_SPORT_RANGE = 23;
const FRA_DPORT_RANGE = 24;
const FIB_RULE_INVERT = 0x2;

/**
 * Route options that reach the kernel through this module. Options the parser accepts but that are
 * refused (the route is not installed, with KA_ERR_VRRP_ROUTE): `encap`, `vrf`, `ttl-propagate`.
 */
export const ROUTE_OPTIONS_APPLIED = [
  'tos',
  'dsfield',
  'protocol',
  'onlink',
  'append',
  'realms',
  'expires',
  'pref',
  ...Object.keys(RTAX),
] as const;
export const ROUTE_OPTIONS_REFUSED = ['encap', 'vrf', 'ttl-propagate'] as const;

const SCOPES: Record<string, number> = {
  global: RT_SCOPE_UNIVERSE,
  universe: RT_SCOPE_UNIVERSE,
  site: 200,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: 255,
};

/** A name table's entry, never one of Object's own properties (`constructor`, `toString`). */
function own<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** /etc/protocols names and aliases (`gre`, `TCP`), as the config accepts them for `ipproto`. */
const protocolNumber = (name: string) => ipProto(name);

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new KaError('KA_ERR_VRRP_ROUTE', message, details);
}

/** iproute2 name files (`ID NAME` lines), read once each. */
const nameFiles = new Map<string, Map<string, number>>();
function fromFile(file: string, name: string): number | undefined {
  let m = nameFiles.get(file);
  if (!m) {
    m = new Map();
    try {
      for (const line of readFileSync(`/etc/iproute2/${file}`, 'utf8').split('\n')) {
        const x = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)/.exec(line);
        if (x) m.set(x[2]!, Number(x[1]));
      }
    } catch {
      // no such file: numbers and the fixed names only
    }
    nameFiles.set(file, m);
  }
  return m.get(name);
}

/**
 * A C number (strtoul base 0: `010` is 8, `0x10` 16, a leading '+') in [0, max], else undefined:
 * how keepalived reads fwmark, realms, tos/dsfield, scope and protocol.
 */
function num(s: string, max: number): number | undefined {
  const n = cU32(s);
  return n !== undefined && n <= max ? n : undefined;
}

/** A decimal number with an optional '+' in [0, max], else undefined: keepalived's other numbers. */
function dec(s: string, max: number): number | undefined {
  if (!/^\+?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/**
 * Table id of a name or number (undefined: unknown name), as the config reads it (rtnames.ts): a
 * C unsigned number (octal, hex, a negative one wrapped to 32 bits) or an rt_tables name.
 */
export function tableId(name: string | undefined): number | undefined {
  if (name === undefined) return RT_TABLE_MAIN;
  const fixed: Record<string, number> = { main: RT_TABLE_MAIN, local: RT_TABLE_LOCAL, default: 253 };
  return rtTable(name) ?? own(fixed, name) ?? fromFile('rt_tables', name);
}

function protocolId(s: string): number {
  const fixed: Record<string, number> = { kernel: 2, boot: 3, static: 4, keepalived: RTPROT_KEEPALIVED };
  const v = num(s, 255) ?? own(fixed, s) ?? fromFile('rt_protos', s);
  return v ?? fail(`unknown protocol ${s}`);
}

function dsfield(s: string): number {
  return num(s, 255) ?? fromFile('rt_dsfield', s) ?? fail(`invalid tos/dsfield ${s}`);
}

/** `realms [FROM/]TO` -> RTA_FLOW / FRA_FLOW value (FROM << 16 | TO). */
function realms(s: string): number {
  const realm = (r: string): number =>
    num(r, 0xffff) ?? fromFile('rt_realms', r) ?? fail(`unknown realm ${r}`);
  const [a, b] = s.split('/');
  return b === undefined ? realm(a!) : ((realm(a!) << 16) | realm(b)) >>> 0;
}

/** `ADDR[/LEN]` or `default` -> address and prefix length. */
function prefix(s: string, family: 4 | 6): { addr: string; len: number } {
  if (s === 'default') return { addr: family === 4 ? '0.0.0.0' : '::', len: 0 };
  const [a, l] = s.split('/');
  const addr = ipaddr.parse(a!).toString();
  return { addr, len: l === undefined ? (family === 4 ? 32 : 128) : Number(l) };
}

export type Resolve = (dev: string) => number | undefined;

function ifindex(dev: string, resolve: Resolve): number {
  return resolve(dev) ?? fail(`interface ${dev} does not exist`, { dev });
}

/** The fields rtnetlink.ts encodes; multipath routes leave gateway/oif to RTA_MULTIPATH. */
function routeBase(r: CfgRoute, ifindexOf: Resolve): RouteSpec {
  const family = r.family === 'inet6' ? 6 : 4;
  const { addr, len } = prefix(r.to, family);
  const table = tableId(r.table);
  if (table === undefined) fail(`unknown routing table ${r.table}`);
  const multipath = r.nexthops.length > 0;
  const oif = r.dev === undefined || multipath ? undefined : ifindex(r.dev, ifindexOf);
  // every type word keepalived accepts (local, broadcast, nat, a number ...) as the RTN_* it sends;
  // with no scope given keepalived sends universe, which the kernel refuses for local/broadcast/...
  const type = r.rtnType;
  // keepalived 2.2.7 sends universe when no scope is given, a dev-only route too (`ip -d route`
  // shows "scope global" where `ip route add` would have chosen link)
  const scope =
    r.scope !== undefined
      ? (own(SCOPES, r.scope) ?? num(r.scope, 255) ?? fail(`invalid scope ${r.scope}`))
      : RT_SCOPE_UNIVERSE;
  // keepalived: the protocol option only holds for no_track routes; tracked ones are RTPROT_KEEPALIVED.
  const proto = r.options.protocol;
  return {
    family,
    dst: addr,
    dstLen: len,
    table,
    type,
    scope,
    ...(r.via !== undefined && !multipath ? { gateway: r.via } : {}),
    ...(oif !== undefined ? { oif } : {}),
    ...(r.src !== undefined ? { prefsrc: r.src } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
    ...(proto !== undefined && r.noTrack ? { protocol: protocolId(proto) } : {}),
  };
}

/**
 * Wire route of a configured one without its options (the fields rtnetlink.ts's RouteSpec has);
 * throws KA_ERR_VRRP_ROUTE when it cannot be expressed. Prefer `routeMessages`, which applies them.
 */
export function routeRequest(r: CfgRoute, ifindexOf: Resolve): RouteSpec {
  if (r.nexthops.length > 0) fail(`multipath route ${r.to} needs routeMessages()`);
  return routeBase(r, ifindexOf);
}

/** `VALUE` or `lock VALUE` of a metric option. */
function lockValue(v: string): { lock: boolean; value: string } {
  const m = /^lock\s+(\S+)$/.exec(v);
  return m ? { lock: true, value: m[1]! } : { lock: false, value: v };
}

function metricValue(name: string, v: string): AttrSpec {
  const type = RTAX[name]!;
  if (name === 'congctl') return bytes(type, Buffer.from(v, 'utf8'));
  if (name === 'features') return v === 'ecn' ? u32(type, RTAX_FEATURE_ECN) : fail(`route feature ${v}`);
  let n: number | undefined;
  // kernel units (RTAX_RTT is ms << 3, RTAX_RTTVAR ms << 2), kept in [200 ms, 120 s] as keepalived does
  if (name === 'rtt' || name === 'rttvar' || name === 'rto_min') n = routeTime(name, v).value;
  else n = dec(v, name === 'quickack' || name === 'fastopen_no_cookie' ? 1 : 0xffffffff);
  if (n === undefined || n > 0xffffffff) fail(`invalid ${name} ${v}`);
  return u32(type, n);
}

function nexthopsAttr(r: CfgRoute, family: 4 | 6, resolve: Resolve): AttrSpec {
  // `via A … or B` (deprecated): A is the first hop, as keepalived does.
  const hops =
    r.via !== undefined ? [{ via: r.via, dev: r.dev, weight: undefined }, ...r.nexthops] : r.nexthops;
  const parts = hops.map((h) => {
    // struct rtnexthop: u16 len, u8 flags, u8 hops (weight - 1), i32 ifindex; then its attributes
    const attrs =
      h.via !== undefined ? encodeAttrs([bytes(RTA_GATEWAY, addrBytes(h.via, family))]) : Buffer.alloc(0);
    const b = Buffer.alloc(8);
    b.writeUInt16LE(8 + attrs.length, 0);
    b.writeUInt8(r.options.onlink !== undefined ? RTNH_F_ONLINK : 0, 2);
    b.writeUInt8((h.weight ?? 1) - 1, 3);
    b.writeInt32LE(h.dev !== undefined ? ifindex(h.dev, resolve) : 0, 4);
    return Buffer.concat([b, attrs]);
  });
  return bytes(RTA_MULTIPATH, Buffer.concat(parts));
}

/** Adds what rtnetlink.ts's RouteSpec cannot carry; `add` selects NLM_F_APPEND for `append`. */
function routeOptions(
  r: CfgRoute,
  base: RouteSpec,
  req: RtRequest,
  add: boolean,
  resolve: Resolve,
): RtRequest {
  const o = r.options;
  for (const k of ROUTE_OPTIONS_REFUSED)
    if (o[k] !== undefined) fail(`route option ${k} is not supported`, { option: k });
  const header = Buffer.from(req.header);
  const tos = o.tos ?? o.dsfield;
  if (tos !== undefined) header.writeUInt8(dsfield(tos), HDR_TOS);
  if (o.onlink !== undefined && r.nexthops.length === 0) header.writeUInt32LE(RTNH_F_ONLINK, HDR_FLAGS);
  const attrs = [...req.attrs];
  if (r.nexthops.length > 0) attrs.push(nexthopsAttr(r, base.family, resolve));
  if (o.realms !== undefined) attrs.push(u32(RTA_FLOW, realms(o.realms)));
  if (o.pref !== undefined) {
    if (base.family !== 6) fail('pref is only valid for IPv6 routes');
    attrs.push(u8(RTA_PREF, own(PREFS, o.pref) ?? dec(o.pref, 255) ?? fail(`invalid pref ${o.pref}`)));
  }
  if (o.expires !== undefined) {
    if (base.family !== 6) fail('expires is only valid for IPv6 routes');
    attrs.push(u32(RTA_EXPIRES, dec(o.expires, 0xffffffff) ?? fail(`invalid expires ${o.expires}`)));
  }
  const metrics: AttrSpec[] = [];
  let lock = 0;
  for (const name of Object.keys(RTAX)) {
    const v = o[name];
    if (v === undefined) continue;
    const lv = lockValue(v);
    if (lv.lock) lock |= 1 << RTAX[name]!;
    metrics.push(metricValue(name, lv.value));
  }
  if (lock !== 0) metrics.push(u32(RTAX_LOCK, lock >>> 0));
  if (metrics.length > 0) attrs.push({ type: RTA_METRICS, plainNest: true, nest: metrics });
  const flags = add && o.append !== undefined ? req.flags | NLM_F_APPEND : req.flags;
  return { type: req.type, flags, header, attrs };
}

/** rtm_scope of a delete that matches any scope. */
const RT_SCOPE_NOWHERE = 255;

/** RTM_NEWROUTE and RTM_DELROUTE of a configured route, every supported option applied. */
export function routeMessages(r: CfgRoute, ifindexOf: Resolve): { add: RtRequest; del: RtRequest } {
  const base = routeBase(r, ifindexOf);
  return {
    add: routeOptions(r, base, newRoute(base), true, ifindexOf),
    // keepalived deletes with RT_SCOPE_NOWHERE unless a scope is configured: the kernel then
    // matches the route whatever its scope (one installed as link by an older build too)
    del: routeOptions(
      r,
      base,
      delRoute(r.scope !== undefined ? base : { ...base, scope: RT_SCOPE_NOWHERE }),
      false,
      ifindexOf,
    ),
  };
}

const RULE_ACTIONS: Readonly<Record<string, number>> = {
  blackhole: FR_ACT_BLACKHOLE,
  unreachable: FR_ACT_UNREACHABLE,
  prohibit: FR_ACT_PROHIBIT,
  goto: FR_ACT_GOTO,
  nop: FR_ACT_NOP,
};

/** Wire rule of a configured one (rtnetlink.ts fields); throws KA_ERR_VRRP_ROUTE when it cannot be expressed. */
export function ruleRequest(r: CfgRule): RuleSpec {
  const family = r.family === 'inet6' ? 6 : 4;
  const action =
    r.action === undefined || r.action === 'table' || r.action === 'lookup'
      ? FR_ACT_TO_TBL
      : own(RULE_ACTIONS, r.action);
  if (action === undefined) fail(`rule action ${r.action} is not supported`);
  const table = action === FR_ACT_TO_TBL ? tableId(r.table) : 0;
  if (table === undefined) fail(`unknown routing table ${r.table}`);
  const src = r.from !== undefined && r.from !== 'all' ? prefix(r.from, family) : undefined;
  const dst = r.to !== undefined && r.to !== 'all' ? prefix(r.to, family) : undefined;
  let fwmark: number | undefined;
  let fwmask: number | undefined;
  if (r.fwmark !== undefined) {
    const [m, k] = r.fwmark.split('/');
    fwmark = num(m!, 0xffffffff) ?? fail(`invalid fwmark ${r.fwmark}`);
    if (k !== undefined) fwmask = num(k, 0xffffffff) ?? fail(`invalid fwmark ${r.fwmark}`);
  }
  const o = r.options;
  const tos = o.tos ?? o.dsfield;
  return {
    family,
    table,
    action,
    ...(src ? { src: src.addr, srcLen: src.len } : {}),
    ...(dst ? { dst: dst.addr, dstLen: dst.len } : {}),
    ...(r.preference !== undefined ? { priority: r.preference } : {}),
    ...(fwmark !== undefined ? { fwmark } : {}),
    ...(fwmask !== undefined ? { fwmask } : {}),
    ...(r.iif !== undefined ? { iifname: r.iif } : {}),
    ...(r.oif !== undefined ? { oifname: r.oif } : {}),
    ...(tos !== undefined ? { tos: dsfield(tos) } : {}),
    ...(o.protocol !== undefined && r.noTrack ? { protocol: protocolId(o.protocol) } : {}),
  };
}

/** `A[-B]` port / uid range -> struct { start, end } of 2 (ports) or 4 (uids) byte fields. */
function range(name: string, v: string, width: 2 | 4): Buffer {
  const [a, b] = v.split('-');
  const max = width === 2 ? 0xffff : 0xffffffff;
  const lo = dec(a!, max) ?? fail(`invalid ${name} ${v}`);
  const hi = b === undefined ? lo : (dec(b, max) ?? fail(`invalid ${name} ${v}`));
  const buf = Buffer.alloc(width * 2);
  if (width === 2) {
    buf.writeUInt16LE(lo, 0);
    buf.writeUInt16LE(hi, 2);
  } else {
    buf.writeUInt32LE(lo, 0);
    buf.writeUInt32LE(hi, 4);
  }
  return buf;
}

const IP_PROTOS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, dccp: 33, icmp: 1, 'ipv6-icmp': 58 };

function ruleOptions(r: CfgRule, req: RtRequest): RtRequest {
  const o = r.options;
  const header = Buffer.from(req.header);
  if (o.not !== undefined) header.writeUInt32LE(FIB_RULE_INVERT, HDR_FLAGS);
  const attrs = [...req.attrs];
  if (o.goto !== undefined)
    attrs.push(u32(FRA_GOTO, dec(o.goto, 0xffffffff) ?? fail(`invalid goto ${o.goto}`)));
  if (o.realms !== undefined) attrs.push(u32(FRA_FLOW, realms(o.realms)));
  if (o.suppress_ifgroup !== undefined)
    attrs.push(
      u32(
        FRA_SUPPRESS_IFGROUP,
        rtGroup(o.suppress_ifgroup) ?? fail(`invalid suppress_ifgroup ${o.suppress_ifgroup}`),
      ),
    );
  if (o.suppress_prefixlength !== undefined)
    attrs.push(
      u32(
        FRA_SUPPRESS_PREFIXLEN,
        // keepalived 2.2.7 sends any value up to INT_MAX; the kernel keeps it (a rule then never suppresses)
        dec(o.suppress_prefixlength, 2147483647) ??
          fail(`invalid suppress_prefixlength ${o.suppress_prefixlength}`),
      ),
    );
  if (o.l3mdev !== undefined) attrs.push(u8(FRA_L3MDEV, 1));
  if (o.uidrange !== undefined) attrs.push(bytes(FRA_UID_RANGE, range('uidrange', o.uidrange, 4)));
  const ipProto = o.ip_proto ?? o.ipproto;
  if (ipProto !== undefined)
    attrs.push(
      u8(
        FRA_IP_PROTO,
        dec(ipProto, 255) ??
          own(IP_PROTOS, ipProto) ??
          protocolNumber(ipProto) ??
          fail(`invalid ip_proto ${ipProto}`),
      ),
    );
  if (o.sport !== undefined) attrs.push(bytes(FRA_SPORT_RANGE, range('sport', o.sport, 2)));
  if (o.dport !== undefined) attrs.push(bytes(FRA_DPORT_RANGE, range('dport', o.dport, 2)));
  return { type: req.type, flags: req.flags, header, attrs };
}

/** RTM_NEWRULE and RTM_DELRULE of a configured rule, every option applied. */
export function ruleMessages(r: CfgRule): { add: RtRequest; del: RtRequest } {
  const base = ruleRequest(r);
  return { add: ruleOptions(r, newRule(base)), del: ruleOptions(r, delRule(base)) };
}
