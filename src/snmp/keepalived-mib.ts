/**
 * KEEPALIVED-MIB (enterprise 9586.100.5) as keepalived 2.2.7 serves it, computed from the daemon's
 * configuration and VRRP snapshot: the global group, vrrpSyncGroupTable, vrrpSyncGroupMemberTable,
 * vrrpInstanceTable and vrrpAddressTable. Pure: no sockets, no timers. Each object's OID, type and
 * value encoding follows a walk of Debian's keepalived (test/interop/fixtures/snmp/); objects that
 * keepalived leaves out when unset (scripts, email_from, address labels) are left out here too.
 */
import ipaddr from 'ipaddr.js';
import type { AddressSpec, Command, KeepalivedConfig, Tracking, VrrpInstance } from '../config/model.js';
import type { TrackerRef } from '../vrrp/track/instance.js';
import { resolveInstanceTrackers } from '../vrrp/track/resolve.js';
import { PRIO_OWNER } from '../vrrp/types.js';

export type Oid = readonly number[];

/**
 * The SMI types the served MIBs use (Unsigned32 and Gauge32 share one BER tag); `ipaddress` holds 4
 * bytes, `counter64` a bigint.
 */
export type VarType = 'integer' | 'gauge' | 'octets' | 'ipaddress' | 'counter' | 'counter64' | 'timeticks';

export interface Varbind {
  readonly oid: Oid;
  readonly type: VarType;
  readonly value: number | bigint | Buffer;
}

/** KEEPALIVED-MIB::keepalived. */
export const KEEPALIVED_OID: Oid = [1, 3, 6, 1, 4, 1, 9586, 100, 5];
/** The subtrees keepalived's VRRP process registers: global (1) and vrrp (2). */
export const GLOBAL_OID: Oid = [...KEEPALIVED_OID, 1];
export const VRRP_OID: Oid = [...KEEPALIVED_OID, 2];
/** KEEPALIVED-MIB notifications: vrrpTrapInstanceStateChange, vrrpTrapSyncGroupStateChange. */
export const VRRP_NOTIFICATIONS_OID: Oid = [...VRRP_OID, 10, 0];

/** One instance's runtime state: the members of VrrpHost.snapshot() this MIB reads. */
export interface SnmpInstanceState {
  readonly iname: string;
  /** keepalived's numeric state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT; others (stop, deleted) read 4. */
  readonly state: number;
  readonly wantstate?: number;
  readonly base_priority: number;
  readonly effective_priority: number;
  readonly vipset: boolean;
  readonly ifp_ifname?: string;
  readonly ifindex?: number;
  /** VRRP-MIB / VRRPv3-MIB only: the master's address as last seen, the advert source, counters. */
  readonly master_addr?: string | null | undefined;
  readonly src_ip?: string;
  readonly stats?: Readonly<Record<string, number>>;
  /** Epoch seconds of the last state change. */
  readonly last_transition?: number;
}

export interface KeepalivedMibInput {
  readonly config: KeepalivedConfig;
  /** VrrpHost.snapshot(): instances by name (order does not matter; the config's order indexes). */
  readonly instances: readonly SnmpInstanceState[];
  /** KEEPALIVED-MIB::version, e.g. `Keepalived v2.2.7 (…)`. */
  readonly version: string;
  /** Network namespace the daemon runs in (`-s` / net_namespace); default the configured one. */
  readonly namespace?: string;
  /** ifindex of an interface other than an instance's own (a VIP's `dev`); unknown: column left out. */
  readonly ifindexOf?: (ifname: string) => number | undefined;
  /** argv of a script as keepalived prints it (the program by its resolved path); default: as configured. */
  readonly commandArgv?: (c: Command) => readonly string[];
  /** VrrpHost.trackerStates(): a vrrp_script's state for vrrpScriptResult; unknown reads init. */
  readonly trackers?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly up: boolean | undefined;
  }[];
}

/** -1 when a sorts before b, as SNMP orders OIDs (subidentifier by subidentifier, prefix first). */
export function compareOids(a: Oid, b: Oid): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export const oidText = (o: Oid): string => o.join('.');

export function parseOid(text: string): Oid {
  const parts = text.replace(/^\./, '').split('.');
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n > 0xffffffff) throw new RangeError(`bad OID ${text}`);
    return n;
  });
}

/** keepalived's VrrpState: its state numbers above FAULT (stop, deleted) read unknown(4). */
const snmpState = (s: number): number => (s >= 0 && s <= 3 ? s : 4);
/** INTEGER { enabled(1), disabled(2) } and the other true/false pairs of the MIB. */
const truth = (b: boolean): number => (b ? 1 : 2);
/** INTEGER { on(1), off(2), unset(3) }. */
const tristate = (b: boolean | undefined): number => (b === undefined ? 3 : b ? 1 : 2);

/** InetAddress bytes of an address literal; undefined for anything else (a host name). */
function addressBytes(text: string): Buffer | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  return Buffer.from(ipaddr.parse(text).toByteArray());
}

/** Linux scope name to InetScopeType, as keepalived maps it (global 14, host 1, link 2, site 5, else 0). */
function inetScope(scope: AddressSpec['scope']): number {
  switch (scope ?? 'global') {
    case 'global':
      return 14;
    case 'host':
      return 1;
    case 'link':
      return 2;
    case 'site':
      return 5;
    default:
      return 0;
  }
}

const setting = (c: KeepalivedConfig, k: string): boolean => {
  const v = c.global.settings[k];
  return v !== undefined && v !== false;
};

/** The varbinds of one request-time view, sorted by OID. */
export function keepalivedVarbinds(input: KeepalivedMibInput): Varbind[] {
  const out: Varbind[] = [];
  const add = (oid: Oid, type: VarType, value: number | Buffer | string | undefined): void => {
    if (value === undefined) return;
    out.push({ oid, type, value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value });
  };
  globalGroup(input, add);
  vrrpGroup(input, add);
  return out.sort((a, b) => compareOids(a.oid, b.oid));
}

type Add = (oid: Oid, type: VarType, value: number | Buffer | string | undefined) => void;

function globalGroup(input: KeepalivedMibInput, add: Add): void {
  const { config } = input;
  const g = config.global;
  const at = (...sub: number[]): Oid => [...GLOBAL_OID, ...sub];
  add(at(1, 0), 'octets', input.version);
  add(at(2, 0), 'octets', g.routerId || undefined);
  // without smtp_server keepalived 2.2.7 answers type ipv6(2) with 4 zero bytes, timeout 0, port 0, no
  // email_from (the configuration model fills in its default sender all the same)
  const smtp = g.smtpServer ? addressBytes(g.smtpServer.host) : undefined;
  add(at(3, 1, 0), 'integer', g.smtpServer && smtp?.length !== 16 ? 1 : 2);
  add(at(3, 2, 0), 'octets', smtp ?? Buffer.alloc(4));
  add(at(3, 3, 0), 'gauge', g.smtpServer ? Math.trunc(g.smtpConnectTimeout) : 0);
  add(at(3, 4, 0), 'octets', (g.smtpServer && g.notificationEmailFrom) || undefined);
  for (const [i, m] of g.notificationEmail.entries()) add(at(3, 5, 1, 2, i + 1), 'octets', m);
  add(at(3, 6, 0), 'gauge', g.smtpServer?.port ?? 0);
  add(at(3, 7, 0), 'integer', truth(!g.noEmailFaults));
  add(at(3, 8, 0), 'integer', tristate(g.smtpAlert));
  add(at(3, 9, 0), 'integer', tristate(g.smtpAlertVrrp));
  add(at(3, 10, 0), 'integer', tristate(g.smtpAlertChecker));
  add(at(4, 0), 'integer', truth(setting(config, 'enable_traps')));
  add(at(5, 0), 'integer', setting(config, 'linkbeat_use_polling') ? 2 : 1);
  add(at(6, 0), 'integer', truth(g.lvsFlush));
  // Debian's build has 64-bit IPVS statistics (configure --enable-lvs-64bit-stats is the default)
  add(at(7, 0), 'integer', 1);
  add(at(8, 0), 'octets', input.namespace ?? g.netNamespace ?? '');
  add(at(9, 0), 'integer', truth(setting(config, 'enable_dbus')));
  add(at(10, 0), 'integer', truth(g.dynamicInterfaces !== false));
  add(at(11, 0), 'integer', g.lvsFlushOnStop === 'VS' ? 3 : truth(g.lvsFlushOnStop));
}

/** keepalived sets notify_exec when any notify script of the instance or group is configured. */
function notifyExec(n: VrrpInstance['notify']): boolean {
  return (
    [n.master, n.backup, n.fault, n.stop, n.generic, n.masterRxLowerPri].some((c) => c !== undefined) ||
    typeof n.deleted === 'object'
  );
}

/** Sync group state as keepalived keeps it: FAULT if a member is, MASTER if all are, else BACKUP. */
export function syncGroupState(states: readonly number[]): number {
  if (states.includes(3)) return 3;
  if (states.length > 0 && states.every((s) => s === 2)) return 2;
  return 1;
}

function vrrpGroup(input: KeepalivedMibInput, add: Add): void {
  const { config } = input;
  // a script as keepalived's cmd_str gives it: each word in single quotes
  const cmdText = (c: Command | undefined): string | undefined =>
    c && (input.commandArgv?.(c) ?? c.argv).map((w) => `'${w}'`).join(' ');
  const g = config.global;
  const byName = new Map(input.instances.map((i) => [i.iname, i]));
  const at = (...sub: number[]): Oid => [...VRRP_OID, ...sub];
  // Only instances that run are listed, in configuration order (keepalived's vrrp list).
  const insts = config.vrrpInstances.filter((c) => byName.has(c.name));
  const stateOf = (name: string): number => byName.get(name)?.state ?? 0;

  // vrrpSyncGroupTable (vrrp 1) and vrrpSyncGroupMemberTable (vrrp 2)
  config.syncGroups.forEach((sg, gi) => {
    const ix = gi + 1;
    const col = (c: number) => at(1, 1, c, ix);
    add(col(2), 'octets', sg.name);
    add(col(3), 'integer', syncGroupState(sg.members.map(stateOf)));
    add(col(4), 'integer', truth(sg.smtpAlert ?? false));
    add(col(5), 'integer', truth(notifyExec(sg.notify)));
    add(col(6), 'octets', cmdText(sg.notify.master));
    add(col(7), 'octets', cmdText(sg.notify.backup));
    add(col(8), 'octets', cmdText(sg.notify.fault));
    add(col(9), 'octets', cmdText(sg.notify.generic));
    add(col(10), 'integer', truth(sg.syncGroupTrackingWeight));
    add(col(11), 'octets', cmdText(sg.notify.stop));
    for (const [mi, m] of sg.members.entries()) add(at(2, 1, 2, ix, mi + 1), 'octets', m);
  });

  // vrrpInstanceTable (vrrp 3)
  insts.forEach((c, ii) => {
    const ix = ii + 1;
    const s = byName.get(c.name) as SnmpInstanceState;
    const col = (n: number) => at(3, 1, n, ix);
    const ifname = s.ifp_ifname ?? c.interface ?? g.defaultInterface;
    add(col(2), 'octets', c.name);
    add(col(3), 'gauge', c.vrid);
    add(col(4), 'integer', snmpState(s.state));
    add(col(5), 'integer', c.state === 'MASTER' ? 2 : 1);
    add(col(6), 'integer', snmpState(s.wantstate ?? s.state));
    add(col(7), 'integer', s.base_priority);
    add(col(8), 'integer', s.effective_priority);
    add(col(9), 'integer', truth(s.vipset));
    add(col(10), 'octets', ifname);
    // keepalived drops a track_interface entry naming the instance's own interface
    add(col(11), 'integer', truth(c.tracking.interfaces.some((t) => t.name !== ifname)));
    add(col(12), 'gauge', c.version === 2 ? Math.trunc(c.advertInt) : c.advertIntCs);
    add(col(13), 'integer', c.nopreempt ? 2 : 1);
    // preempt_delay is reset with nopreempt ("incompatible with nopreempt mode - resetting")
    add(col(14), 'gauge', c.nopreempt ? 0 : Math.trunc(c.preemptDelay));
    add(
      col(15),
      'integer',
      c.version === 2 && c.authentication ? (c.authentication.type === 'PASS' ? 1 : 2) : 0,
    );
    const lvsSync = g.lvsSyncDaemon?.instance === c.name;
    add(col(16), 'integer', truth(lvsSync));
    add(col(17), 'octets', lvsSync ? g.lvsSyncDaemon?.interface : undefined);
    add(col(18), 'octets', c.syncGroup);
    add(col(19), 'gauge', Math.trunc(c.garp.masterDelay));
    add(col(20), 'integer', truth(c.smtpAlert ?? g.smtpAlertVrrp ?? g.smtpAlert ?? false));
    add(col(21), 'integer', truth(notifyExec(c.notify)));
    add(col(22), 'octets', cmdText(c.notify.master));
    add(col(23), 'octets', cmdText(c.notify.backup));
    add(col(24), 'octets', cmdText(c.notify.fault));
    add(col(25), 'octets', cmdText(c.notify.stop));
    add(col(26), 'octets', cmdText(c.notify.generic));
    add(col(27), 'integer', c.version === 3 ? truth(c.accept) : 0);
    add(col(28), 'integer', truth(c.promoteSecondaries));
    add(col(29), 'integer', truth(setting(config, 'linkbeat_use_polling')));
    add(col(30), 'integer', c.version);
    add(col(31), 'octets', cmdText(c.notify.masterRxLowerPri));
    add(col(32), 'octets', typeof c.notify.deleted === 'object' ? c.notify.deleted.text : undefined);
    add(col(33), 'integer', truth(c.notify.deleted !== false));
    if (c.unicastPeers.length === 0) {
      const group = c.mcastDstIp ?? (c.family === 'inet6' ? g.vrrpMcastGroup6 : g.vrrpMcastGroup4);
      const bytes = addressBytes(group);
      if (bytes) {
        add(col(34), 'integer', bytes.length === 16 ? 2 : 1);
        add(col(35), 'octets', bytes);
      }
    }
  });

  trackingTables(input, insts, add, at);

  // vrrpAddressTable (vrrp 6): static addresses under instance 0, then each instance's VIPs followed
  // by its excluded VIPs, numbered on from 1 per instance.
  const addresses = (inst: number, list: readonly AddressSpec[], from: number, o: AddressOpts) => {
    for (const [ai, a] of list.entries()) address(add, at(6, 1), inst, from + ai, a, o);
  };
  addresses(0, config.staticIpaddress, 1, {
    ifname: undefined,
    ifindex: undefined,
    set: true,
    advertised: false,
    ifindexOf: input.ifindexOf,
  });
  insts.forEach((c, ii) => {
    const s = byName.get(c.name) as SnmpInstanceState;
    const ifname = s.ifp_ifname ?? c.interface ?? g.defaultInterface;
    const base = { ifname, ifindex: s.ifindex, set: s.vipset, ifindexOf: input.ifindexOf };
    // vrrpAddressAdvertising: keepalived 2.2.7 answers advertised(1) for the first instance's VIPs
    // only (walks of two configurations: every other VIP, set or not, reads 2)
    addresses(ii + 1, c.virtualIpaddress, 1, { ...base, advertised: ii === 0 });
    addresses(ii + 1, c.virtualIpaddressExcluded, c.virtualIpaddress.length + 1, {
      ...base,
      advertised: false,
    });
  });
}

interface AddressOpts {
  /** The instance's interface (a VIP without `dev` sits there). */
  readonly ifname: string | undefined;
  readonly ifindex: number | undefined;
  readonly set: boolean;
  readonly advertised: boolean;
  readonly ifindexOf: ((ifname: string) => number | undefined) | undefined;
}

function address(add: Add, entry: Oid, inst: number, ix: number, a: AddressSpec, o: AddressOpts): void {
  const col = (n: number): Oid => [...entry, n, inst, ix];
  const bytes = addressBytes(a.address);
  if (!bytes) return;
  const dev = a.dev ?? o.ifname;
  const v4 = bytes.length === 4;
  add(col(2), 'integer', v4 ? 1 : 2);
  add(col(3), 'octets', bytes);
  if (v4) add(col(4), 'octets', (a.brd ? addressBytes(a.brd) : undefined) ?? Buffer.alloc(4));
  add(col(5), 'gauge', a.prefix);
  add(col(6), 'integer', inetScope(a.scope));
  const ifindex =
    dev === undefined ? undefined : dev === o.ifname && o.ifindex ? o.ifindex : o.ifindexOf?.(dev);
  add(col(7), 'integer', ifindex);
  add(col(8), 'octets', dev);
  add(col(9), 'octets', a.label);
  add(col(10), 'integer', truth(o.set));
  add(col(11), 'integer', truth(o.advertised));
  add(col(12), 'octets', a.peer ? addressBytes(a.peer) : undefined);
}

/** Index of the first varbind whose OID is >= `oid` (binds sorted). */
function lowerBound(binds: readonly Varbind[], oid: Oid): number {
  let lo = 0;
  let hi = binds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareOids((binds[mid] as Varbind).oid, oid) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The varbind at exactly `oid`, if any. */
export function findExact(binds: readonly Varbind[], oid: Oid): Varbind | undefined {
  const b = binds[lowerBound(binds, oid)];
  return b && compareOids(b.oid, oid) === 0 ? b : undefined;
}

/**
 * AgentX GetNext over one search range (RFC 2741 §7.2.3.2): the first varbind after `start` (or at
 * it when `include`), and before `end` when `end` is given and not the null OID.
 */
export function findNext(
  binds: readonly Varbind[],
  start: Oid,
  include = false,
  end?: Oid,
): Varbind | undefined {
  let i = lowerBound(binds, start);
  const at = binds[i];
  if (at && !include && compareOids(at.oid, start) === 0) i++;
  const b = binds[i];
  if (!b) return undefined;
  if (end && end.length > 0 && compareOids(b.oid, end) >= 0) return undefined;
  return b;
}

/** An instance's or group's track_interface and track_script entries with the defaults filled in. */
function trackRefs(config: KeepalivedConfig, t: Tracking, ownIf: string | undefined): TrackerRef[] {
  const out: TrackerRef[] = [];
  for (const r of t.interfaces)
    if (r.name !== ownIf)
      out.push({
        kind: 'interface',
        name: r.name,
        weight: r.weight ?? 0,
        reverse: r.weight !== undefined && r.reverse,
      });
  for (const r of t.scripts) {
    const sc = config.vrrpScripts.find((x) => x.name === r.name);
    if (sc)
      out.push({
        kind: 'script',
        name: r.name,
        weight: r.weight ?? sc.weight,
        reverse: r.weight !== undefined ? r.reverse : sc.weightReverse,
      });
  }
  return out;
}

/**
 * vrrpTrackedInterfaceTable (vrrp 4), vrrpTrackedScriptTable (5), vrrpScriptTable (9),
 * vrrpSyncTrackedInterfaceTable (14) and vrrpSyncTrackedScriptTable (15), after keepalived's rules
 * for sync group members and address owners (src/vrrp/track/resolve.ts): rows numbered from 1 per
 * instance or group, and only the scripts something still tracks.
 */
function trackingTables(
  input: KeepalivedMibInput,
  insts: readonly VrrpInstance[],
  add: Add,
  at: (...sub: number[]) => Oid,
): void {
  const { config } = input;
  const used = new Set<string>();
  const rows = (refs: readonly TrackerRef[], kind: TrackerRef['kind']) => refs.filter((r) => r.kind === kind);
  insts.forEach((c, ii) => {
    const ifname = input.instances.find((i) => i.iname === c.name)?.ifp_ifname ?? c.interface;
    const sg = c.syncGroup ? config.syncGroups.find((g) => g.name === c.syncGroup) : undefined;
    const own = resolveInstanceTrackers(
      c.name,
      c.priority,
      trackRefs(config, c.tracking, ifname),
      sg
        ? { name: sg.name, trackers: [], trackingWeight: sg.syncGroupTrackingWeight, hasOwnerMember: false }
        : undefined,
    ).trackers;
    for (const [n, r] of rows(own, 'interface').entries()) {
      add(at(4, 1, 1, ii + 1, n + 1), 'octets', r.name);
      add(at(4, 1, 2, ii + 1, n + 1), 'integer', r.weight);
      add(at(4, 1, 3, ii + 1, n + 1), 'integer', truth(r.reverse));
    }
    for (const [n, r] of rows(own, 'script').entries()) {
      used.add(r.name);
      add(at(5, 1, 2, ii + 1, n + 1), 'octets', r.name);
      add(at(5, 1, 3, ii + 1, n + 1), 'integer', r.weight);
      add(at(5, 1, 4, ii + 1, n + 1), 'integer', truth(r.reverse));
    }
  });
  config.syncGroups.forEach((g, gi) => {
    const owner = config.vrrpInstances.some((i) => i.syncGroup === g.name && i.priority === PRIO_OWNER);
    const refs = trackRefs(config, g.tracking, undefined).map((r) => (owner ? { ...r, weight: 0 } : r));
    for (const [n, r] of rows(refs, 'interface').entries()) {
      add(at(14, 1, 1, gi + 1, n + 1), 'octets', r.name);
      add(at(14, 1, 2, gi + 1, n + 1), 'integer', r.weight);
      add(at(14, 1, 3, gi + 1, n + 1), 'integer', truth(r.reverse));
    }
    for (const [n, r] of rows(refs, 'script').entries()) {
      used.add(r.name);
      add(at(15, 1, 2, gi + 1, n + 1), 'octets', r.name);
      add(at(15, 1, 3, gi + 1, n + 1), 'integer', r.weight);
      add(at(15, 1, 4, gi + 1, n + 1), 'integer', truth(r.reverse));
    }
  });
  const argv = (c: Command) => (input.commandArgv?.(c) ?? c.argv).map((w) => `'${w}'`).join(' ');
  for (const [n, sc] of config.vrrpScripts.filter((x) => used.has(x.name)).entries()) {
    const col = (k: number) => at(9, 1, k, n + 1);
    const up = input.trackers?.find((t) => t.kind === 'script' && t.name === sc.name)?.up;
    add(col(2), 'octets', sc.name);
    add(col(3), 'octets', argv(sc.script));
    add(col(4), 'integer', Math.floor(sc.interval));
    add(col(5), 'integer', sc.weight);
    // vrrpScriptResult: init(1), bad(2), good(3), initfailed(5) until a first result with init_fail
    add(col(6), 'integer', up === undefined ? (sc.initFail ? 5 : 1) : up ? 3 : 2);
    add(col(7), 'gauge', sc.rise);
    add(col(8), 'gauge', sc.fall);
    add(col(9), 'integer', truth(sc.weightReverse));
  }
}
