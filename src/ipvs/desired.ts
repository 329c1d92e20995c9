/**
 * Desired IPVS table from keepalived's virtual_server semantics (keepalived-surface.md §2.10-2.12,
 * §4.6-4.7). Pure: (specs, health, previous quorum state) -> (table, quorum state, quorum events).
 * Address ranges are expanded with ipaddr.js for parsing; the range arithmetic is on BigInt because
 * ipaddr.js has no range iterator.
 */
import ipaddr from 'ipaddr.js';
import { KaError } from '../core/errors.js';
import {
  AF_INET,
  AF_INET6,
  type Af,
  addrFamily,
  canonicalAddr,
  Fwd,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type IpvsDest,
  type IpvsService,
  SvcFlag,
  serviceKeyString,
  TunFlag,
  TunType,
} from '../wire/ipvs.js';
import { IpvsErrors } from './errors.js';
import { type IpvsTable, SCHEDULERS, type Scheduler } from './types.js';

export type LbMethod = 'NAT' | 'DR' | 'TUN';

export interface LbKind {
  method: LbMethod;
  /** TUN only: `type ipip|gue port N|gre` and checksum option. */
  tunnel?: { type: 'ipip' | 'gue' | 'gre'; port?: number; csum?: 'nocsum' | 'csum' | 'remcsum' } | undefined;
}

export interface RealServerSpec {
  addr: string;
  /** Defaults to the service port. */
  port?: number | undefined;
  weight: number;
  lbKind?: LbKind | undefined;
  uThreshold?: number | undefined;
  lThreshold?: number | undefined;
  inhibitOnFailure?: boolean | undefined;
  alpha?: boolean | undefined;
  /** false: no checker, the server counts as up (as in keepalived). */
  hasCheckers: boolean;
}

export type VsGroupEntry =
  | {
      kind: 'addr' /** IP, `a.b.c.d-e`, `start-end`, `a.b.c.d/nn` (IPv6 likewise) */;
      range: string;
      port?: number;
    }
  | { kind: 'fwmark'; fwmark: number; family?: 'inet' | 'inet6' | undefined };

export type VsTarget =
  | { kind: 'addr'; addr: string; port?: number | undefined }
  | { kind: 'fwmark'; fwmark: number }
  | { kind: 'group'; name: string; entries: VsGroupEntry[] };

export interface SchedFlags {
  flag1?: boolean;
  flag2?: boolean;
  flag3?: boolean;
  shPort?: boolean;
  shFallback?: boolean;
  mhPort?: boolean;
  mhFallback?: boolean;
}

export interface VirtualServerSpec {
  /** For messages and health keys, e.g. "10.0.0.1 80" or "fwmark 5" or "group G1". */
  name: string;
  target: VsTarget;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** For fwmark services; defaults to the family of the real servers, else inet. */
  ipFamily?: 'inet' | 'inet6' | undefined;
  lbAlgo: string;
  lbKind: LbKind;
  schedFlags?: SchedFlags | undefined;
  ops?: boolean | undefined;
  persistenceTimeout?: number | undefined;
  /** IPv4 mask ("255.255.255.0") or prefix length ("24"). */
  persistenceGranularity?: string | undefined;
  persistenceEngine?: string | undefined;
  quorum?: number | undefined;
  hysteresis?: number | undefined;
  inhibitOnFailure?: boolean | undefined;
  alpha?: boolean | undefined;
  omega?: boolean | undefined;
  haSuspend?: boolean | undefined;
  sorryServer?: { addr: string; port?: number | undefined; lbKind?: LbKind | undefined } | undefined;
  sorryServerInhibit?: boolean | undefined;
  realServers: RealServerSpec[];
}

/** A checker result: up/down and an optional dynamic weight (misc_dynamic). */
export interface RsHealth {
  up: boolean;
  weight?: number | undefined;
}

export type HealthMap = ReadonlyMap<string, RsHealth>;

export interface QuorumEvent {
  /** The virtual server's identity, vsKey(spec) (not its name: TCP and UDP may share the name). */
  vs: string;
  kind: 'quorum-up' | 'quorum-down';
  weightSum: number;
  /** What the live weight was compared with: quorum+hysteresis from down, quorum-hysteresis from up. */
  threshold: number;
  /**
   * A decision of keepalived's init_service_vs, worded "Starting with quorum up/down": `start` for
   * a virtual server's first programming (at start, or new in a reload), `reload` for a kept one
   * the first pass after a reload decides. Absent for a transition on checker results.
   */
  init?: 'start' | 'reload';
  /** omega's notification at stop (shutdownEvents), not a decision on live weight. */
  stopping?: true;
}

/** The first pass after a reload (keepalived's init_services after clear_diff_services). */
export interface ReloadPass {
  /** Kept virtual servers (vsKey) whose sorry server the reload added or replaced (not yet in the pool). */
  newSorry: ReadonlySet<string>;
}

export interface DesiredResult {
  table: IpvsTable;
  /** Quorum state per virtual server (vsKey); feed back as `prevQuorum` on the next build. */
  quorum: Map<string, boolean>;
  /** Transitions since `prevQuorum` (the quorum_up / quorum_down notifiers). */
  events: QuorumEvent[];
  /** Which virtual server (vsKey) produced each service key. */
  origin: Map<string, string>;
}

function bad(vs: string, message: string, details: Record<string, unknown> = {}): never {
  throw new KaError(IpvsErrors.KA_ERR_IPVS_BAD_SPEC, `virtual_server ${vs}: ${message}`, { vs, ...details });
}

/**
 * The identity of a virtual server. Quorum state, health ids, checker ids and the reload diff are
 * keyed by it; texts keep `name`. As keepalived's vs_iseq: an address virtual server is its address,
 * port and protocol (TCP and UDP on one address and port are two); a fwmark one is its mark and
 * address family (the kernel's own key for it). A group is its name, protocol and family: keepalived
 * keeps a separate virtual server (quorum, real servers) per `virtual_server group` block, and the
 * group's entries count users per protocol and family; its reload match (name only) would pair a
 * TCP block with a UDP one of the same group, so ours also compares protocol and family.
 */
export function vsKey(
  vs: Pick<VirtualServerSpec, 'name' | 'target' | 'protocol' | 'ipFamily' | 'realServers'>,
): string {
  const t = vs.target;
  if (t.kind === 'addr') return `${vs.name} ${vs.protocol}`;
  const fam = vsFamilyName(vs);
  return t.kind === 'fwmark' ? `${vs.name} ${fam}` : `${vs.name} ${vs.protocol} ${fam}`;
}

/**
 * Which old virtual servers a reload keeps under a new key (old vsKey -> new vsKey), as keepalived's
 * vs_iseq pairs them: a `virtual_server group` one by its group name alone, so a reload that changes
 * only its protocol or its family keeps its real servers' checker state and its quorum (only the
 * kernel services whose key changed are replaced). Every other virtual server is kept by an equal
 * vsKey. An old group virtual server left unmatched by key takes the first new one on the same
 * group that no old one matches by key or took before (keepalived would pair a TCP and a UDP block
 * of one group with the same new block; one new block keeps at most one old).
 */
export function reloadRenames(
  old: readonly VirtualServerSpec[],
  next: readonly VirtualServerSpec[],
): Map<string, string> {
  const oldKeys = new Set(old.map((vs) => vsKey(vs)));
  const free = next.filter((vs) => vs.target.kind === 'group' && !oldKeys.has(vsKey(vs)));
  const nextKeys = new Set(next.map((vs) => vsKey(vs)));
  const out = new Map<string, string>();
  for (const vs of old) {
    const t = vs.target;
    if (t.kind !== 'group' || nextKeys.has(vsKey(vs))) continue;
    const i = free.findIndex((n) => n.target.kind === 'group' && n.target.name === t.name);
    const match = free[i];
    if (!match) continue;
    free.splice(i, 1);
    out.set(vsKey(vs), vsKey(match));
  }
  return out;
}

/** An id kept per virtual server (`<vsKey>|…`: health, checker) under the virtual server's new key. */
export function rekey(id: string, from: string, to: string): string {
  return id.startsWith(`${from}|`) ? `${to}${id.slice(from.length)}` : id;
}

/** A virtual server's family as its key and metrics name it: its address's, else vsFamily's. */
export function vsFamilyName(
  vs: Pick<VirtualServerSpec, 'target' | 'ipFamily' | 'realServers'>,
): 'inet' | 'inet6' {
  const af = vs.target.kind === 'addr' ? (addrFamily(vs.target.addr) ?? AF_INET) : vsFamily(vs);
  return af === AF_INET ? 'inet' : 'inet6';
}

/** The family of a fwmark service: ip_family, else the first real server's, else inet. */
function vsFamily(vs: Pick<VirtualServerSpec, 'ipFamily' | 'realServers'>): Af {
  if (vs.ipFamily) return vs.ipFamily === 'inet' ? AF_INET : AF_INET6;
  const first = vs.realServers[0];
  return (first && addrFamily(first.addr)) || AF_INET;
}

/** Key of a real server in the health map: "<vsKey>|<addr>:<port>". */
export function realServerId(vs: VirtualServerSpec, rs: RealServerSpec): string {
  return `${vsKey(vs)}|${rs.addr}:${rs.port ?? defaultPort(vs)}`;
}

/** The port a real server or sorry server without one takes: the virtual server's. */
export function defaultPort(vs: Pick<VirtualServerSpec, 'target'>): number {
  return vs.target.kind === 'addr' ? (vs.target.port ?? 0) : 0;
}

const PROTO = { TCP: IPPROTO_TCP, UDP: IPPROTO_UDP, SCTP: IPPROTO_SCTP } as const;

const MAX_RANGE = 65536;

/** Expands one virtual_server_group address entry into canonical addresses. */
export function expandRange(vs: string, text: string): { af: Af; addrs: string[] } {
  const direct = addrFamily(text);
  if (direct !== undefined) return { af: direct, addrs: [canonicalAddr(direct, text)] };
  const slash = text.indexOf('/');
  const dash = text.lastIndexOf('-');
  if (slash > 0) {
    try {
      const [net, len] = ipaddr.parseCIDR(text);
      const bits = net.kind() === 'ipv4' ? 32 : 128;
      const first = toBig(net.toByteArray()) & ~((1n << BigInt(bits - len)) - 1n);
      const last = first | ((1n << BigInt(bits - len)) - 1n);
      const af: Af = bits === 32 ? AF_INET : AF_INET6;
      return { af, addrs: rangeAddrs(vs, text, af, first, last) };
    } catch (e) {
      if (e instanceof KaError) throw e;
      bad(vs, `bad address range "${text}"`, { range: text });
    }
  }
  if (dash <= 0) bad(vs, `bad address "${text}"`, { range: text });
  const start = text.slice(0, dash);
  let end = text.slice(dash + 1);
  const af = addrFamily(start);
  if (af === undefined) bad(vs, `bad address range "${text}"`, { range: text });
  if (addrFamily(end) !== af) {
    // Short form: only the last byte (IPv4) or the last group (IPv6) after the dash.
    const isHex = af === AF_INET6;
    if (!(isHex ? /^[0-9a-f]{1,4}$/i : /^[0-9]{1,3}$/).test(end))
      bad(vs, `bad address range "${text}"`, { range: text });
    const sep = isHex ? ':' : '.';
    const cut = start.lastIndexOf(sep);
    end = `${start.slice(0, cut + 1)}${end}`;
    if (addrFamily(end) !== af) bad(vs, `bad address range "${text}"`, { range: text });
  }
  const a = toBig(ipaddr.parse(start).toByteArray());
  const b = toBig(ipaddr.parse(end).toByteArray());
  if (b < a) bad(vs, `address range "${text}" ends before it starts`, { range: text });
  return { af, addrs: rangeAddrs(vs, text, af, a, b) };
}

function toBig(bytes: number[]): bigint {
  let v = 0n;
  for (const x of bytes) v = (v << 8n) | BigInt(x);
  return v;
}

function rangeAddrs(vs: string, text: string, af: Af, a: bigint, b: bigint): string[] {
  if (b - a + 1n > BigInt(MAX_RANGE))
    bad(vs, `address range "${text}" has more than ${MAX_RANGE} addresses`, { range: text });
  const n = af === AF_INET ? 4 : 16;
  const out: string[] = [];
  for (let v = a; v <= b; v++) {
    const bytes: number[] = new Array(n);
    let x = v;
    for (let i = n - 1; i >= 0; i--) {
      bytes[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    out.push(ipaddr.fromByteArray(bytes).toString());
  }
  return out;
}

function fwdOf(vs: string, k: LbKind): Pick<IpvsDest, 'fwd' | 'tunType' | 'tunPort' | 'tunFlags'> {
  if (k.method === 'NAT') return { fwd: Fwd.MASQ, tunType: 0, tunPort: 0, tunFlags: 0 };
  if (k.method === 'DR') return { fwd: Fwd.DROUTE, tunType: 0, tunPort: 0, tunFlags: 0 };
  const t = k.tunnel;
  const tunType = t?.type === 'gue' ? TunType.GUE : t?.type === 'gre' ? TunType.GRE : TunType.IPIP;
  if (tunType === TunType.GUE && !(t?.port && t.port > 0 && t.port <= 0xffff))
    bad(vs, 'tunnel type gue needs a port');
  const tunFlags =
    t?.csum === 'csum' ? TunFlag.CSUM : t?.csum === 'remcsum' ? TunFlag.REMCSUM : TunFlag.NOCSUM;
  return { fwd: Fwd.TUNNEL, tunType, tunPort: tunType === TunType.GUE ? (t?.port ?? 0) : 0, tunFlags };
}

function netmaskOf(vs: string, af: Af, gran: string | undefined): number {
  if (gran === undefined) return af === AF_INET ? 0xffffffff : 128;
  if (/^\d+$/.test(gran)) {
    const len = Number(gran);
    if (af === AF_INET6) {
      if (len < 1 || len > 128) bad(vs, `persistence_granularity ${gran} is outside 1..128`);
      return len;
    }
    if (len < 1 || len > 32) bad(vs, `persistence_granularity ${gran} is outside 1..32`);
    return (0xffffffff << (32 - len)) >>> 0;
  }
  if (af === AF_INET && ipaddr.IPv4.isValidFourPartDecimal(gran)) {
    const m = ipaddr.IPv4.parse(gran);
    if (m.prefixLengthFromSubnetMask() === null)
      bad(vs, `persistence_granularity ${gran} is not a contiguous mask`);
    return toBig(m.toByteArray()) === 0n
      ? bad(vs, 'persistence_granularity 0.0.0.0')
      : Number(toBig(m.toByteArray()));
  }
  return bad(vs, `bad persistence_granularity "${gran}"`);
}

interface ServiceSeed {
  af: Af;
  fwmark: number;
  addr: string;
  port: number;
}

function seeds(vs: VirtualServerSpec): ServiceSeed[] {
  const fwmarkAf = (fam: 'inet' | 'inet6' | undefined): Af => {
    if (fam) return fam === 'inet' ? AF_INET : AF_INET6;
    return vsFamily(vs);
  };
  const t = vs.target;
  if (t.kind === 'fwmark') {
    if (!(t.fwmark > 0 && t.fwmark <= 0xffffffff)) bad(vs.name, `fwmark ${t.fwmark} is outside 1..2^32-1`);
    const af = fwmarkAf(undefined);
    return [{ af, fwmark: t.fwmark, addr: af === AF_INET ? '0.0.0.0' : '::', port: 0 }];
  }
  if (t.kind === 'addr') {
    const af = addrFamily(t.addr);
    if (af === undefined) bad(vs.name, `"${t.addr}" is not an address`);
    return [{ af, fwmark: 0, addr: canonicalAddr(af, t.addr), port: t.port ?? 0 }];
  }
  const out: ServiceSeed[] = [];
  for (const e of t.entries) {
    if (e.kind === 'fwmark') {
      const af = fwmarkAf(e.family);
      out.push({ af, fwmark: e.fwmark, addr: af === AF_INET ? '0.0.0.0' : '::', port: 0 });
    } else {
      const { af, addrs } = expandRange(vs.name, e.range);
      for (const addr of addrs) out.push({ af, fwmark: 0, addr, port: e.port ?? 0 });
    }
  }
  return out;
}

function serviceOf(vs: VirtualServerSpec, seed: ServiceSeed): IpvsService {
  if (!(SCHEDULERS as readonly string[]).includes(vs.lbAlgo)) bad(vs.name, `unknown lb_algo "${vs.lbAlgo}"`);
  const sched = vs.lbAlgo as Scheduler;
  const f = vs.schedFlags ?? {};
  let flags = 0;
  if ((f.shPort || f.shFallback) && sched !== 'sh') bad(vs.name, 'sh-port/sh-fallback need lb_algo sh');
  if ((f.mhPort || f.mhFallback) && sched !== 'mh') bad(vs.name, 'mh-port/mh-fallback need lb_algo mh');
  if (f.flag1 || f.shFallback || f.mhFallback) flags |= SvcFlag.SCHED1;
  if (f.flag2 || f.shPort || f.mhPort) flags |= SvcFlag.SCHED2;
  if (f.flag3) flags |= SvcFlag.SCHED3;
  const protocol = seed.fwmark > 0 ? 0 : PROTO[vs.protocol];
  // ops is one-packet scheduling for UDP; keepalived ignores it on TCP/SCTP services.
  if (vs.ops && (seed.fwmark > 0 || protocol === IPPROTO_UDP)) flags |= SvcFlag.ONEPACKET;
  let timeout = 0;
  if (vs.persistenceTimeout !== undefined || vs.persistenceGranularity !== undefined) {
    timeout = vs.persistenceTimeout ?? 360;
    if (!(Number.isInteger(timeout) && timeout > 0 && timeout <= 31 * 86400)) {
      bad(vs.name, `persistence_timeout ${timeout} is outside 1..${31 * 86400}`);
    }
    flags |= SvcFlag.PERSISTENT;
  }
  return {
    af: seed.af,
    fwmark: seed.fwmark,
    protocol,
    addr: seed.addr,
    port: seed.port,
    sched,
    flags,
    timeout,
    netmask: netmaskOf(vs.name, seed.af, vs.persistenceGranularity),
    pe: vs.persistenceEngine,
  };
}

function destOf(
  vs: VirtualServerSpec,
  svc: IpvsService,
  addr: string,
  port: number | undefined,
  kind: LbKind,
) {
  const af = addrFamily(addr);
  if (af === undefined) bad(vs.name, `real server "${addr}" is not an address`);
  if (af !== svc.af && kind.method !== 'TUN') {
    bad(
      vs.name,
      `real server ${addr} is ${af === AF_INET ? 'IPv4' : 'IPv6'} but the service is not (only TUN may mix)`,
    );
  }
  return { af, addr: canonicalAddr(af, addr), port: port ?? svc.port, ...fwdOf(vs.name, kind) };
}

/** Builds the desired table. Throws KA_ERR_IPVS_BAD_SPEC on an inconsistent spec. */
export function buildDesired(
  specs: readonly VirtualServerSpec[],
  health: HealthMap,
  prevQuorum: ReadonlyMap<string, boolean> = new Map(),
  prepared: (vs: VirtualServerSpec) => PreparedVirtualServer = prepareVirtualServer,
  reload?: ReloadPass,
): DesiredResult {
  const table: IpvsTable = new Map();
  const quorum = new Map<string, boolean>();
  const events: QuorumEvent[] = [];
  const origin = new Map<string, string>();
  const names = new Map<string, string>();
  for (const vs of specs) {
    const id = vsKey(vs);
    const one = buildVirtualServer(vs, health, prevQuorum.get(id), prepared(vs), reload);
    quorum.set(id, one.quorumUp);
    if (one.event) events.push(one.event);
    for (const [key, s] of one.table) {
      if (table.has(key)) bad(vs.name, `service ${key} is also defined by virtual_server ${names.get(key)}`);
      table.set(key, s);
      origin.set(key, id);
      names.set(key, vs.name);
    }
  }
  return { table, quorum, events, origin };
}

export interface VirtualServerResult {
  /** The kernel services of this virtual server (several for a virtual_server_group). */
  table: IpvsTable;
  quorumUp: boolean;
  /** The quorum notification of this pass, if any (see buildVirtualServer). */
  event?: QuorumEvent | undefined;
}

type DestBase = Pick<IpvsDest, 'af' | 'addr' | 'port' | 'fwd' | 'tunType' | 'tunPort' | 'tunFlags'>;

/**
 * What of a virtual server does not depend on health: its kernel services and, per service, each
 * real server's destination without weight. A destination that cannot be built keeps its error,
 * thrown only when the destination is wanted (as before preparation existed).
 */
export interface PreparedVirtualServer {
  live: Array<{ rs: RealServerSpec; id: string; inhibit: boolean }>;
  services: Array<{
    key: string;
    svc: IpvsService;
    rs: Array<DestBase | KaError>;
    sorry?: DestBase | KaError;
  }>;
}

function destBase(
  vs: VirtualServerSpec,
  svc: IpvsService,
  addr: string,
  port: number | undefined,
  kind: LbKind,
): DestBase | KaError {
  try {
    return destOf(vs, svc, addr, port, kind);
  } catch (e) {
    if (e instanceof KaError) return e;
    throw e;
  }
}

/** Throws KA_ERR_IPVS_BAD_SPEC on an inconsistent service. Reuse only while `vs` is unchanged. */
export function prepareVirtualServer(vs: VirtualServerSpec): PreparedVirtualServer {
  const live: PreparedVirtualServer['live'] = [];
  const seen = new Set<string>();
  for (const rs of vs.realServers) {
    const id = `${rs.addr}:${rs.port ?? ''}`;
    if (seen.has(id)) continue; // keepalived drops a duplicate real server
    seen.add(id);
    live.push({ rs, id: realServerId(vs, rs), inhibit: rs.inhibitOnFailure ?? vs.inhibitOnFailure ?? false });
  }
  const services: PreparedVirtualServer['services'] = [];
  const keys = new Set<string>();
  for (const seed of seeds(vs)) {
    const svc = serviceOf(vs, seed);
    const key = serviceKeyString(svc);
    if (keys.has(key)) bad(vs.name, `service ${key} is also defined by virtual_server ${vs.name}`);
    keys.add(key);
    const rs = live.map((x) => destBase(vs, svc, x.rs.addr, x.rs.port, x.rs.lbKind ?? vs.lbKind));
    const s = vs.sorryServer;
    services.push({
      key,
      svc,
      rs,
      ...(s ? { sorry: destBase(vs, svc, s.addr, s.port, s.lbKind ?? vs.lbKind) } : {}),
    });
  }
  return { live, services };
}

function dest(b: DestBase | KaError, weight: number, uThresh: number, lThresh: number): IpvsDest {
  if (b instanceof KaError) throw b;
  return {
    af: b.af,
    addr: b.addr,
    port: b.port,
    fwd: b.fwd,
    tunType: b.tunType,
    tunPort: b.tunPort,
    tunFlags: b.tunFlags,
    weight,
    uThresh,
    lThresh,
  };
}

/**
 * The desired services of one virtual server: quorum is per virtual server, so a health change
 * needs only its own virtual server rebuilt. Does not check clashes with other virtual servers
 * (buildDesired does). `prep` must come from this very `vs`.
 *
 * Quorum as keepalived's update_quorum_state (ipwrapper.c): every virtual server starts with
 * quorum down (set_quorum_states runs before any real server is alive), so a first decision
 * (`prev` undefined) is up only at quorum+hysteresis. Down -> up at live weight >= quorum+hysteresis;
 * up -> down at a live weight of 0 or < quorum-hysteresis. A first decision notifies when it is up,
 * or down with a sorry server to put in; the first pass after a reload (`reload`) also re-notifies a
 * kept virtual server that stays down when its sorry server is new.
 */
export function buildVirtualServer(
  vs: VirtualServerSpec,
  health: HealthMap,
  prev: boolean | undefined,
  prep: PreparedVirtualServer = prepareVirtualServer(vs),
  reload?: ReloadPass,
): VirtualServerResult {
  const table: IpvsTable = new Map();
  // Liveness and effective weight of each real server.
  const n = prep.live.length;
  const up = new Array<boolean>(n);
  const weight = new Array<number>(n);
  let sum = 0;
  const alpha = vs.alpha ?? false;
  for (let i = 0; i < n; i++) {
    const { rs, id } = prep.live[i] as PreparedVirtualServer['live'][number];
    const h = rs.hasCheckers ? health.get(id) : undefined;
    const u = rs.hasCheckers ? (h?.up ?? !(rs.alpha ?? alpha)) : true;
    const w = h?.weight ?? rs.weight;
    up[i] = u;
    weight[i] = w;
    if (u) sum += w;
  }
  const q = vs.quorum ?? 1;
  const hy = vs.hysteresis ?? 0;
  const wasUp = prev ?? false;
  const threshold = wasUp ? q - hy : q + hy;
  let quorumUp = wasUp;
  if (!wasUp && sum >= threshold) quorumUp = true;
  else if (wasUp && (sum === 0 || sum < threshold)) quorumUp = false;
  const init = prev === undefined ? 'start' : reload ? 'reload' : undefined;
  // Starting below quorum notifies only when the sorry server goes in now.
  const sorryIn =
    !quorumUp &&
    vs.sorryServer !== undefined &&
    (init === 'start' || (init === 'reload' && reload?.newSorry.has(vsKey(vs)) === true));
  const event: QuorumEvent | undefined =
    quorumUp !== wasUp || sorryIn
      ? {
          vs: vsKey(vs),
          kind: quorumUp ? 'quorum-up' : 'quorum-down',
          weightSum: sum,
          threshold,
          ...(init ? { init } : {}),
        }
      : undefined;

  const sorryActive = !quorumUp && vs.sorryServer !== undefined;
  for (const ps of prep.services) {
    const dests: IpvsDest[] = [];
    for (let i = 0; i < n; i++) {
      const { rs, inhibit } = prep.live[i] as PreparedVirtualServer['live'][number];
      let w: number | undefined;
      if (sorryActive)
        w = inhibit ? 0 : undefined; // quorum lost: the sorry server replaces them
      else if (up[i]) w = weight[i];
      else w = inhibit ? 0 : undefined;
      if (w === undefined) continue;
      dests.push(dest(ps.rs[i] as DestBase | KaError, w, rs.uThreshold ?? 0, rs.lThreshold ?? 0));
    }
    if (ps.sorry && (sorryActive || vs.sorryServerInhibit)) {
      const d = dest(ps.sorry, sorryActive ? 1 : 0, 0, 0);
      const clash = dests.findIndex((x) => x.addr === d.addr && x.port === d.port);
      if (clash >= 0) dests.splice(clash, 1);
      dests.push(d);
    }
    table.set(ps.key, { svc: { ...ps.svc }, dests });
  }
  return { table, quorumUp, event };
}

/** ha_suspend: checks of a VS pause while its address is not configured locally. */
export function checksSuspended(vs: VirtualServerSpec, localAddrs: ReadonlySet<string>): boolean {
  if (!vs.haSuspend || vs.target.kind !== 'addr') return false;
  const af = addrFamily(vs.target.addr);
  return af === undefined || !localAddrs.has(canonicalAddr(af, vs.target.addr));
}

/**
 * omega: at shutdown the quorum-down notifier of each omega virtual server runs, whatever its
 * quorum (keepalived's update_vs_notifies notifies unconditionally when stopping). Only the
 * virtual servers `quorum` knows (programmed at least once) are reported.
 */
export function shutdownEvents(
  specs: readonly VirtualServerSpec[],
  quorum: ReadonlyMap<string, boolean>,
): QuorumEvent[] {
  return specs
    .filter((vs) => vs.omega && quorum.has(vsKey(vs)))
    .map((vs) => ({
      vs: vsKey(vs),
      kind: 'quorum-down' as const,
      weightSum: 0,
      threshold: (vs.quorum ?? 1) - (vs.hysteresis ?? 0),
      stopping: true as const,
    }));
}
