/**
 * static_ipaddress / static_routes / static_rules: configured when the VRRP side starts, whatever
 * the instances' states, and removed at shutdown, as keepalived's start_vrrp / stop_vrrp do. A reload
 * removes the entries no longer configured and adds the new ones; unchanged ones are not touched
 * (keepalived's clear_diff_static_*). Order as keepalived: add addresses, routes, rules; remove rules,
 * routes, addresses. The plan is pure (`planStatic`); `StaticConfig` executes it over rtnetlink
 * with the encoders of src/wire/rtnetlink.ts and vroutes.ts. See docs/STATIC.md.
 */
import ipaddr from 'ipaddr.js';
import type { AddressSpec, KeepalivedConfig, RouteSpec, RuleSpec } from '../config/model.js';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { isSysError } from '../sys/errors.js';
import { NETLINK_ROUTE, NetlinkSocket } from '../sys/netlink-socket.js';
import { attrMap, decodeAttrs, encodeAttrs, type NlMsg, u32 } from '../wire/netlink.js';
import {
  type AddrInfo,
  type AddrSpec,
  delAddr,
  FIB_RULE_HDR_LEN,
  FRA_DST,
  FRA_PRIORITY,
  FRA_SRC,
  FRA_TABLE,
  IFA_F_NODAD,
  IFA_FLAGS,
  type LinkInfo,
  newAddr,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTMSG_LEN,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_IPV6_RULE,
  type RtRequest,
} from '../wire/rtnetlink.js';
import { DaemonErrors } from './errors.js';
import { linkIsUp } from './netstate.js';
import { routeMessages, ruleMessages } from './vroutes.js';

const IFA_F_HOMEADDRESS = 0x10;
const IFA_F_MANAGETEMPADDR = 0x100;
const IFA_F_NOPREFIXROUTE = 0x200;
const IFA_F_MCAUTOJOIN = 0x400;
const ADDR_SCOPES: Record<string, number> = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 };

export type StaticKind = 'address' | 'route' | 'rule';

interface EntryBase {
  /** Identity across reloads: every field that reaches the kernel (not track_group, not the position). */
  readonly key: string;
  /** `ip`-style text for logs. */
  readonly text: string;
  /** Interfaces the entry names (an address's is resolved with default_interface). */
  readonly devs: readonly string[];
  /** Restored when deleted behind our back / when its interface comes back (not `no_track`). */
  readonly track: boolean;
}
export type StaticEntry =
  | (EntryBase & { readonly kind: 'address'; readonly spec: AddressSpec })
  | (EntryBase & { readonly kind: 'route'; readonly spec: RouteSpec })
  | (EntryBase & { readonly kind: 'rule'; readonly spec: RuleSpec });

type StaticSource = Pick<KeepalivedConfig, 'global' | 'staticIpaddress' | 'staticRoutes' | 'staticRules'>;

/** JSON with sorted keys, so equal specs give equal keys whatever their field order. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function identity(kind: StaticKind, spec: object, extra: Record<string, unknown> = {}): string {
  const { pos: _p, trackGroup: _t, noTrack: _n, ...rest } = spec as Record<string, unknown>;
  return `${kind} ${stable({ ...rest, ...extra })}`;
}

function addressText(a: AddressSpec, dev: string): string {
  return `${a.address}/${a.prefix} dev ${dev}`;
}

function routeText(r: RouteSpec): string {
  const parts = [r.type === 'unicast' ? '' : `${r.type} `, r.to];
  if (r.via !== undefined) parts.push(` via ${r.via}`);
  if (r.dev !== undefined) parts.push(` dev ${r.dev}`);
  if (r.table !== undefined) parts.push(` table ${r.table}`);
  if (r.metric !== undefined) parts.push(` metric ${r.metric}`);
  return parts.join('');
}

function ruleText(r: RuleSpec): string {
  const parts: string[] = [];
  if (r.from !== undefined) parts.push(`from ${r.from}`);
  if (r.to !== undefined) parts.push(`to ${r.to}`);
  if (r.fwmark !== undefined) parts.push(`fwmark ${r.fwmark}`);
  if (r.iif !== undefined) parts.push(`iif ${r.iif}`);
  if (r.oif !== undefined) parts.push(`oif ${r.oif}`);
  if (r.table !== undefined) parts.push(`table ${r.table}`);
  if (r.preference !== undefined) parts.push(`preference ${r.preference}`);
  return parts.join(' ') || 'all';
}

/** The configuration's static entries in keepalived's add order (addresses, routes, rules), duplicates once. */
export function staticEntries(config: StaticSource): StaticEntry[] {
  const out: StaticEntry[] = [];
  const seen = new Set<string>();
  const push = (e: StaticEntry) => {
    if (seen.has(e.key)) return;
    seen.add(e.key);
    out.push(e);
  };
  for (const a of config.staticIpaddress) {
    const dev = a.dev ?? config.global.defaultInterface;
    push({
      kind: 'address',
      spec: a,
      key: identity('address', a, { dev, useVmac: undefined }),
      text: addressText(a, dev),
      devs: [dev],
      track: !a.noTrack,
    });
  }
  for (const r of config.staticRoutes) {
    const devs = [r.dev, ...r.nexthops.map((h) => h.dev)].filter((d): d is string => d !== undefined);
    // no_track decides whether the protocol option holds (vroutes.ts), so it is part of the identity
    const extra = r.options.protocol !== undefined ? { noTrack: r.noTrack } : {};
    push({
      kind: 'route',
      spec: r,
      key: identity('route', r, extra),
      text: routeText(r),
      devs,
      track: !r.noTrack,
    });
  }
  for (const r of config.staticRules) {
    const devs = [r.iif, r.oif].filter((d): d is string => d !== undefined);
    const extra = r.options.protocol !== undefined ? { noTrack: r.noTrack } : {};
    push({
      kind: 'rule',
      spec: r,
      key: identity('rule', r, extra),
      text: ruleText(r),
      devs,
      track: !r.noTrack,
    });
  }
  return out;
}

/** True when the configuration has any static entry (keepalived then runs its VRRP side even without instances). */
export function hasStaticConfig(config: StaticSource): boolean {
  return config.staticIpaddress.length + config.staticRoutes.length + config.staticRules.length > 0;
}

/** An entry as the runtime holds it: `set` once the kernel has it (added, or found there). */
export interface StaticState {
  readonly entry: StaticEntry;
  readonly set: boolean;
}

export interface StaticPlan {
  /** Installed entries no longer configured, in removal order (rules, routes, addresses). */
  readonly remove: readonly StaticEntry[];
  /** Configured entries not installed: new ones and ones that failed before (a retry). Add order. */
  readonly add: readonly StaticEntry[];
  /** Installed and still configured: left alone. */
  readonly keep: readonly StaticEntry[];
}

const REMOVE_ORDER: Record<StaticKind, number> = { rule: 0, route: 1, address: 2 };

/** The reload diff (pure): what to remove, add and leave alone to go from `current` to `next`. */
export function planStatic(current: readonly StaticState[], next: readonly StaticEntry[]): StaticPlan {
  const installed = new Set(current.filter((s) => s.set).map((s) => s.entry.key));
  const wanted = new Set(next.map((e) => e.key));
  const remove = current
    .filter((s) => s.set && !wanted.has(s.entry.key))
    .map((s) => s.entry)
    .sort((a, b) => REMOVE_ORDER[a.kind] - REMOVE_ORDER[b.kind]);
  return {
    remove,
    add: next.filter((e) => !installed.has(e.key)),
    keep: next.filter((e) => installed.has(e.key)),
  };
}

/** What StaticConfig needs of the daemon's netlink view (NetState has it all). */
export interface StaticNet {
  request(req: RtRequest): Promise<unknown>;
  link(name: string): Pick<LinkInfo, 'ifindex'> | undefined;
  /** Optional: address and link notifications, to restore deleted entries (keepalived does). */
  on?(event: 'addr', fn: (a: AddrInfo) => void): unknown;
  on?(event: 'link', fn: (now: LinkInfo, before: LinkInfo | undefined) => void): unknown;
  off?(event: 'addr', fn: (a: AddrInfo) => void): unknown;
  off?(event: 'link', fn: (now: LinkInfo, before: LinkInfo | undefined) => void): unknown;
}

export interface StaticDeps {
  net: StaticNet;
  log?: Logger;
  counters?: Counters;
  /**
   * Restore static routes and rules deleted by someone else, as keepalived does: opens a netlink
   * socket on the route and rule groups, in the namespace current at construction; closed by remove().
   */
  followRoutes?: boolean;
}

/** Outcome of one apply / reconcile / remove. */
export interface StaticReport {
  added: number;
  removed: number;
  kept: number;
  failed: number;
  /** Adds that found the entry already in place (EEXIST), counted in `added` too. */
  existed: number;
  /** One KA_ERR_DAEMON_STATIC per failed entry (also logged and counted). */
  errors: KaError[];
}

/** Wire request of a static address (RTM_NEWADDR / RTM_DELADDR); throws when it cannot be expressed. */
export function addressMessage(a: AddressSpec, ifindex: number, add: boolean): RtRequest {
  const family = a.family === 'inet6' ? 6 : 4;
  if (!add)
    return delAddr({
      family,
      ifindex,
      address: a.address,
      prefixlen: a.prefix,
      ...(a.peer ? { peer: a.peer } : {}),
    });
  let broadcast: string | undefined;
  if (family === 4 && a.brd !== undefined) {
    // as iproute2 and keepalived: `+` sets the host bits, `-` clears them (the network address)
    const cidr = `${a.address}/${a.prefix}`;
    broadcast =
      a.brd === '+'
        ? ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString()
        : a.brd === '-'
          ? ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()
          : a.brd;
  }
  const scope = a.scope === undefined ? undefined : (ADDR_SCOPES[a.scope] ?? Number(a.scope));
  const spec: AddrSpec = {
    family,
    ifindex,
    address: a.address,
    prefixlen: a.prefix,
    nodad: false, // IFA_FLAGS below carries nodad with the other flags
    ...(broadcast !== undefined ? { broadcast } : {}),
    ...(a.label !== undefined && family === 4 ? { label: a.label } : {}),
    ...(a.peer !== undefined ? { peer: a.peer } : {}),
    ...(family === 6 && typeof a.preferredLft === 'number' ? { preferredLft: a.preferredLft } : {}),
    ...(scope !== undefined ? { scope } : {}),
  };
  const req = newAddr(spec, { create: true });
  // keepalived: IPv6 addresses get nodad unless `-nodad`; home/mngtmpaddr/noprefixroute/autojoin as given
  let flags = 0;
  if (family === 6 && !a.nodad) flags |= IFA_F_NODAD;
  if (a.home) flags |= IFA_F_HOMEADDRESS;
  if (a.mngtmpaddr) flags |= IFA_F_MANAGETEMPADDR;
  if (a.noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
  if (a.autojoin) flags |= IFA_F_MCAUTOJOIN;
  return flags === 0 ? req : { ...req, attrs: [...req.attrs, u32(IFA_FLAGS, flags)] };
}

/** Runs the static entries of the running configuration. One instance per daemon. */
export class StaticConfig {
  private readonly net: StaticNet;
  private readonly log: Logger;
  private readonly counters: Counters | undefined;
  private state = new Map<string, { entry: StaticEntry; set: boolean }>();
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private watching = false;
  private readonly onAddr = (a: AddrInfo) => this.addrEvent(a);
  private readonly onLink = (now: LinkInfo, before: LinkInfo | undefined) => this.linkEvent(now, before);
  private routeEvents: NetlinkSocket | undefined;

  constructor(deps: StaticDeps) {
    this.net = deps.net;
    this.log = deps.log ?? silentLogger;
    this.counters = deps.counters;
    if (deps.followRoutes) {
      const sock = NetlinkSocket.open(NETLINK_ROUTE, {
        groups: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE],
        rcvbuf: 1 << 20,
      });
      sock.on('event', (m) => this.routeEvent(m));
      // notifications lost: put back whatever may have gone (EEXIST for the rest)
      sock.on('resync', () => this.restore((e) => e.kind !== 'address', 'notifications lost'));
      sock.on('error', (e) => {
        this.counters?.inc('static.bad_event');
        this.log.warn({ err: e }, 'bad route/rule notification ignored');
      });
      this.routeEvents = sock;
    }
  }

  /** Closes the route/rule notification socket (remove() does it too). */
  close(): void {
    this.unwatch();
    this.routeEvents?.close();
    this.routeEvents = undefined;
  }

  /** Resolves once every queued operation (restores included) has run. */
  async settled(): Promise<void> {
    await this.queue;
  }

  /** Entries and whether the kernel has them (for dumps and tests). */
  snapshot(): StaticState[] {
    return [...this.state.values()].map((s) => ({ entry: s.entry, set: s.set }));
  }

  /**
   * At start: adds every entry (one that is already there is taken as ours). Leftover rules of a
   * previous run are deleted first, as keepalived does, since a rule without `preference` would
   * otherwise be added a second time.
   */
  apply(config: StaticSource): Promise<StaticReport> {
    return this.serial(async () => {
      this.stopped = false;
      const entries = staticEntries(config);
      for (const e of entries) if (e.kind === 'rule') await this.clearLeftover(e);
      this.state = new Map(entries.map((e) => [e.key, { entry: e, set: false }]));
      const report = emptyReport();
      for (const e of entries) await this.addOne(e, report);
      this.watch();
      this.summary('applied', report);
      return report;
    });
  }

  /** On reload: removes what is no longer configured, adds what is new (or failed before), keeps the rest. */
  reconcile(next: StaticSource): Promise<StaticReport> {
    return this.serial(async () => {
      const entries = staticEntries(next);
      const plan = planStatic(this.snapshot(), entries);
      const report = emptyReport();
      report.kept = plan.keep.length;
      for (const e of plan.remove) {
        if (await this.removeOne(e, report)) this.log.info(goneText(e));
      }
      const old = this.state;
      this.state = new Map(entries.map((e) => [e.key, { entry: e, set: old.get(e.key)?.set === true }]));
      // an entry whose removal failed stays known (set), so the next reload or stop tries again
      for (const e of plan.remove) {
        const s = old.get(e.key);
        if (s?.set) this.state.set(e.key, s);
      }
      for (const e of plan.add) await this.addOne(e, report);
      this.summary('reloaded', report);
      return report;
    });
  }

  /** At shutdown: removes every entry the kernel has (rules, routes, then addresses). */
  remove(): Promise<StaticReport> {
    this.stopped = true;
    this.close();
    return this.serial(async () => {
      const report = emptyReport();
      const plan = planStatic(this.snapshot(), []);
      for (const e of plan.remove) await this.removeOne(e, report);
      this.summary('removed', report);
      return report;
    });
  }

  // ---- execution ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private message(e: StaticEntry, add: boolean): RtRequest {
    const resolve = (dev: string) => this.net.link(dev)?.ifindex;
    if (e.kind === 'address') {
      const dev = e.devs[0]!;
      const ifindex = resolve(dev);
      if (ifindex === undefined)
        throw new KaError(DaemonErrors.KA_ERR_DAEMON_STATIC, `interface ${dev} does not exist`);
      return addressMessage(e.spec, ifindex, add);
    }
    const m = e.kind === 'route' ? routeMessages(e.spec, resolve) : ruleMessages(e.spec);
    return add ? m.add : m.del;
  }

  private async addOne(e: StaticEntry, report: StaticReport): Promise<boolean> {
    const ok = await this.run(e, true, report);
    const s = this.state.get(e.key);
    if (s) s.set = ok;
    if (ok) report.added++;
    return ok;
  }

  /** True when the entry is gone from the kernel (removed now, or already gone). */
  private async removeOne(e: StaticEntry, report: StaticReport): Promise<boolean> {
    if (e.kind !== 'rule' && e.devs.some((d) => this.net.link(d) === undefined)) {
      // its interface is gone, and the kernel removed the address / route with it
      this.setState(e, false);
      report.removed++;
      return true;
    }
    const ok = await this.run(e, false, report);
    if (ok) {
      this.setState(e, false);
      report.removed++;
    }
    return ok;
  }

  private setState(e: StaticEntry, set: boolean): void {
    const s = this.state.get(e.key);
    if (s && s.entry === e) s.set = set;
  }

  private async run(e: StaticEntry, add: boolean, report: StaticReport): Promise<boolean> {
    try {
      await this.net.request(this.message(e, add));
      return true;
    } catch (err) {
      // already there / already gone: the state we want (keepalived 2.2.7 adopts an existing one too)
      if (add && isSysError(err, 'EEXIST')) {
        report.existed++;
        return true;
      }
      if (!add && ['ESRCH', 'ENOENT', 'EADDRNOTAVAIL', 'ENODEV'].some((n) => isSysError(err, n))) return true;
      const what = `${add ? 'add' : 'remove'} static ${e.kind} ${e.text}`;
      const ke = new KaError(
        DaemonErrors.KA_ERR_DAEMON_STATIC,
        `cannot ${what}: ${(err as Error).message}`,
        { kind: e.kind, entry: e.text, op: add ? 'add' : 'remove' },
        { cause: err },
      );
      report.failed++;
      report.errors.push(ke);
      this.counters?.inc('static.errors');
      this.counters?.inc(`static.errors.${e.kind}`);
      this.log.error({ err: ke, code: ke.code }, ke.message);
      return false;
    }
  }

  private async clearLeftover(e: StaticEntry): Promise<void> {
    try {
      await this.net.request(this.message(e, false));
      this.log.debug(`removed leftover static rule ${e.text}`);
    } catch {
      // nothing left over (ENOENT), or a rule that cannot be expressed: its add reports that
    }
  }

  private summary(what: string, r: StaticReport): void {
    if (r.added + r.removed + r.failed === 0) return;
    this.log.info(
      `static config ${what}: ${r.added} added, ${r.removed} removed, ${r.kept} kept, ${r.failed} failed`,
    );
  }

  // ---- restoring (keepalived: "Restoring deleted static address", interface back up) ----

  private watch(): void {
    if (this.watching || !this.net.on) return;
    this.net.on('addr', this.onAddr);
    this.net.on('link', this.onLink);
    this.watching = true;
  }

  private unwatch(): void {
    if (!this.watching || !this.net.off) return;
    this.net.off('addr', this.onAddr);
    this.net.off('link', this.onLink);
    this.watching = false;
  }

  private addrEvent(a: AddrInfo): void {
    if (!a.deleted || this.stopped) return;
    for (const s of this.state.values()) {
      const e = s.entry;
      if (e.kind !== 'address' || !s.set || !e.track) continue;
      if (
        e.spec.address !== a.address ||
        e.spec.prefix !== a.prefixlen ||
        this.net.link(e.devs[0]!)?.ifindex !== a.ifindex
      )
        continue;
      void this.serial(async () => {
        if (this.stopped || this.state.get(e.key)?.entry !== e) return;
        this.log.info(`Restoring deleted static address ${e.text}`);
        await this.reAdd(e);
      });
      return;
    }
  }

  /** RTM_DELROUTE / RTM_DELRULE of a static route or rule (not no_track): added again. */
  private routeEvent(m: NlMsg): void {
    if (this.stopped || (m.type !== RTM_DELROUTE && m.type !== RTM_DELRULE)) return;
    let ids: string[];
    try {
      const len = m.type === RTM_DELROUTE ? RTMSG_LEN : FIB_RULE_HDR_LEN;
      if (m.payload.length < len) throw new KaError(DaemonErrors.KA_ERR_DAEMON_STATIC, 'short route message');
      const header = m.payload.subarray(0, len);
      const attrs = attrMap(decodeAttrs(m.payload, len));
      ids = m.type === RTM_DELROUTE ? [routeIdentity(header, attrs)] : ruleIdentities(header, attrs);
    } catch (e) {
      this.counters?.inc('static.bad_event');
      this.log.warn({ err: e }, 'bad route/rule notification ignored');
      return;
    }
    const kind = m.type === RTM_DELROUTE ? 'route' : 'rule';
    this.restore(
      (e) => e.kind === kind && ids.includes(kernelIdentity(e, (d) => this.net.link(d)?.ifindex)),
      'deleted',
    );
  }

  private restore(which: (e: StaticEntry) => boolean, why: string): void {
    const entries = [...this.state.values()]
      .filter((s) => s.set && s.entry.track && which(s.entry))
      .map((s) => s.entry);
    if (entries.length === 0) return;
    void this.serial(async () => {
      for (const e of entries) {
        if (this.stopped || this.state.get(e.key)?.entry !== e) continue;
        this.log.info(`Restoring ${why} static ${e.kind} ${e.text}`);
        await this.reAdd(e);
      }
    });
  }

  /** Adds an entry again; `static.restored` counts only what was really missing (not EEXIST). */
  private async reAdd(e: StaticEntry): Promise<void> {
    const r = emptyReport();
    if ((await this.addOne(e, r)) && r.existed === 0) this.counters?.inc('static.restored');
  }

  private linkEvent(now: LinkInfo, before: LinkInfo | undefined): void {
    if (this.stopped || !linkIsUp(now) || linkIsUp(before)) return;
    const entries = [...this.state.values()]
      .map((s) => s.entry)
      .filter(
        (e) => e.kind !== 'rule' && e.devs.includes(now.name) && (e.track || !this.state.get(e.key)?.set),
      );
    if (entries.length === 0) return;
    void this.serial(async () => {
      if (this.stopped) return;
      this.log.info(`interface ${now.name} up: restoring its static addresses and routes`);
      for (const e of entries) if (this.state.get(e.key)?.entry === e) await this.addOne(e, emptyReport());
    });
  }
}

// What identifies a route / rule in a kernel notification: routes by family, dst_len, tos, table and
// destination; rules by family, prefix lengths, table, source, destination and priority.
function tableOf(header: Buffer, attrs: Map<number, Buffer>, attr: number): number {
  const t = attrs.get(attr);
  return t && t.length >= 4 ? t.readUInt32LE(0) : header.readUInt8(4);
}

function routeIdentity(header: Buffer, attrs: Map<number, Buffer>): string {
  const dst = header[1] === 0 ? '' : (attrs.get(RTA_DST)?.toString('hex') ?? '');
  // a route sent with table 0 (`table 4294967296`, as keepalived reads it) lands in main
  const table = tableOf(header, attrs, RTA_TABLE) || RT_TABLE_MAIN;
  return `${header[0]}/${header[1]}/${header[3]}/${table}/${dst}`;
}

/** With and without the priority: a configured rule without `preference` has none in its message. */
function ruleIdentities(header: Buffer, attrs: Map<number, Buffer>): string[] {
  const base = `${header[0]}/${header[1]}/${header[2]}/${tableOf(header, attrs, FRA_TABLE)}/${attrs.get(FRA_SRC)?.toString('hex') ?? ''}/${attrs.get(FRA_DST)?.toString('hex') ?? ''}`;
  const prio = attrs.get(FRA_PRIORITY);
  return prio && prio.length >= 4 ? [`${base}/${prio.readUInt32LE(0)}`, `${base}/`] : [`${base}/`];
}

/** The notification identity of a configured route or rule ('' when it cannot be expressed). */
function kernelIdentity(e: StaticEntry, resolve: (d: string) => number | undefined): string {
  try {
    if (e.kind === 'route') {
      const add = routeMessages(e.spec, resolve).add;
      return routeIdentity(add.header, attrMap(decodeAttrs(encodeAttrs(add.attrs))));
    }
    if (e.kind === 'rule') {
      const add = ruleMessages(e.spec).add;
      const attrs = attrMap(decodeAttrs(encodeAttrs(add.attrs)));
      const prio = attrs.get(FRA_PRIORITY);
      const ids = ruleIdentities(add.header, attrs);
      return prio ? ids[0]! : ids[ids.length - 1]!;
    }
  } catch {
    // not installed either, so nothing to restore
  }
  return '';
}

function emptyReport(): StaticReport {
  return { added: 0, removed: 0, kept: 0, failed: 0, existed: 0, errors: [] };
}

/** keepalived's reload wording. */
function goneText(e: StaticEntry): string {
  if (e.kind === 'rule') return `ip rule ${e.text} removed`;
  if (e.kind === 'route') return `ip route ${e.text}, no longer exist`;
  return `ip address ${e.text}, no longer exist`;
}
