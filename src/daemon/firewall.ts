/**
 * Accept-mode and VMAC firewalling as keepalived 2.2.7 does it with nftables (docs/FIREWALL.md):
 * tables `ip NAME` / `ip6 NAME`, base chains `in` / `out` at priority P (default -1), set `vips`
 * (and `vips_link_local[_name]` for IPv6 link-local VIPs) filled while an instance with accept off
 * is MASTER, and the IGMP/MLD rules for VMAC interfaces.
 *
 * The ruleset goes through the `nft` command's JSON input (`nft -j`, one transaction per call):
 * libnftables' JSON is the maintained interface; encoding nf_tables netlink by hand (as keepalived
 * does) is not warranted for a few batches per state change.
 *
 * The planner (`planChange`) is pure: state in, commands and next state out. `Firewall` runs the
 * commands, advances its state only when `nft` accepted the batch, and never throws: a failure is
 * logged, counted and returned as a KaError.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import ipaddr from 'ipaddr.js';
import type { GlobalDefs, VrrpInstance } from '../config/model.js';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { DaemonErrors } from './errors.js';

export type NftFamily = 'ip' | 'ip6';

export interface FirewallSettings {
  /** `nftables TABLE` (default `keepalived`). */
  readonly table: string;
  /** `nftables_priority` (default -1). */
  readonly priority: number;
  /** `nftables_counters`. */
  readonly counters: boolean;
  /** `nftables_ifindex`: link-local VIPs always matched by interface index. */
  readonly ifindex: boolean;
  /** `disable_local_igmp`: IPv4 VMACs get no IGMP rule (keepalived then leaves them out). */
  readonly disableLocalIgmp: boolean;
}

export const DEFAULT_TABLE = 'keepalived';
export const DEFAULT_PRIORITY = -1;

/**
 * The firewall settings from global_defs. `vrrp_iptables` / `vrrp_ipsets` select nftables too:
 * keepalived 2.2.7 as Debian builds it has no iptables support and says so.
 */
export function firewallSettings(settings: GlobalDefs['settings']): FirewallSettings {
  const t = settings.nftables;
  const table = Array.isArray(t) && typeof t[0] === 'string' && t[0] !== '' ? t[0] : DEFAULT_TABLE;
  const p = settings.nftables_priority;
  return {
    table,
    priority: typeof p === 'number' ? p : DEFAULT_PRIORITY,
    counters: settings.nftables_counters === true,
    ifindex: settings.nftables_ifindex === true,
    disableLocalIgmp: settings.disable_local_igmp === true,
  };
}

/**
 * keepalived sets a firewall up when an instance has accept off or uses a VMAC (nothing is created
 * before first use, so an IPv4 VMAC under disable_local_igmp makes no table).
 */
export function firewallWanted(instances: readonly VrrpInstance[], s: FirewallSettings): boolean {
  // an IPv4 VMAC under disable_local_igmp gets no entry (instanceVmac), so no table either
  return instances.some(
    (i) => dropsTraffic(i) || (i.useVmac !== undefined && !(i.family !== 'inet6' && s.disableLocalIgmp)),
  );
}

/**
 * Accept mode off, and not the address owner: keepalived 2.2.7 installs no drop rule for a
 * priority-255 instance even with an explicit `no_accept` (observed: its nftables ruleset stays
 * empty while that instance is MASTER).
 */
function dropsTraffic(i: VrrpInstance): boolean {
  return !i.accept && i.priority !== 255;
}

/** One VIP as the firewall sees it. */
export interface FirewallVip {
  readonly address: string;
  /** Interface the VIP sits on (link-local VIPs are matched with it). */
  readonly ifname: string;
  /** Match a link-local VIP by interface name rather than index (set `vips_link_local_name`). */
  readonly byName?: boolean;
}

/**
 * The VIPs keepalived puts in the sets for an instance: `virtual_ipaddress` and
 * `virtual_ipaddress_excluded`. `ifname` is where the instance's VIPs go (its VMAC if it has one).
 * keepalived matches a link-local VIP by name when nftables_ifindex is off, the instance has
 * dont_track_primary, and the VIP is on the instance's interface or is no_track.
 */
export function instanceVips(inst: VrrpInstance, ifname: string, s: FirewallSettings): FirewallVip[] {
  if (!dropsTraffic(inst)) return [];
  return [...inst.virtualIpaddress, ...inst.virtualIpaddressExcluded].map((a) => {
    const dev = a.dev ?? ifname;
    const byName = !s.ifindex && inst.dontTrackPrimary && (dev === ifname || a.noTrack);
    return { address: a.address, ifname: dev, ...(byName ? { byName } : {}) };
  });
}

export interface FirewallVmac {
  /** The macvlan (`vrrp.51`). */
  readonly vmac: string;
  /** Its parent interface. */
  readonly parent: string;
  /** The instance's family, plus the other one when its excluded VIPs hold that family. */
  readonly families: readonly NftFamily[];
}

/**
 * The VMAC entry of a use_vmac instance, or undefined when keepalived adds none: an IPv4 instance
 * with `disable_local_igmp` (lab: no table at all).
 */
export function instanceVmac(
  inst: VrrpInstance,
  vmac: string,
  parent: string,
  s: FirewallSettings,
): FirewallVmac | undefined {
  const own: NftFamily = inst.family === 'inet6' ? 'ip6' : 'ip';
  if (own === 'ip' && s.disableLocalIgmp) return undefined;
  const other: NftFamily = own === 'ip' ? 'ip6' : 'ip';
  const otherWanted = inst.virtualIpaddressExcluded.some((a) => (a.family === 'inet6') === (other === 'ip6'));
  return { vmac, parent, families: otherWanted ? [own, other] : [own] };
}

// ---------------------------------------------------------------------------------------------
// Planner (pure)

/** Pieces of a family's table, created on first use and kept until stop, as keepalived does. */
export type Piece = 'base' | 'vips' | 'llIndex' | 'llName' | 'vmac';

export interface FirewallState {
  readonly pieces: Readonly<Record<NftFamily, readonly Piece[]>>;
  /** VIPs installed per instance (only instances with accept off, while MASTER). */
  readonly vips: ReadonlyMap<string, readonly FirewallVip[]>;
  /** VMAC entries installed, by macvlan name. */
  readonly vmacs: ReadonlyMap<string, FirewallVmac>;
}

export const emptyState = (): FirewallState => ({
  pieces: { ip: [], ip6: [] },
  vips: new Map(),
  vmacs: new Map(),
});

/** One command of `nft -j` input (`{ add: { rule: … } }`). */
export type NftCmd = Readonly<Record<string, unknown>>;

interface Element {
  readonly family: NftFamily;
  readonly set: string;
  readonly piece: Piece;
  /** nft JSON element. */
  readonly elem: unknown;
  /** Identity for reference counting. */
  readonly key: string;
}

/** Parses and normalises a VIP; throws KaError for anything that is not an IPv4/IPv6 address. */
function parseVip(v: FirewallVip): { family: NftFamily; addr: string; linkLocal: boolean } {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(v.address);
  } catch (e) {
    throw new KaError(
      DaemonErrors.KA_ERR_DAEMON_FIREWALL_INPUT,
      `bad VIP ${JSON.stringify(v.address)}`,
      {
        address: v.address,
      },
      { cause: e },
    );
  }
  if (!/^[^\s/]{1,15}$/.test(v.ifname)) {
    throw new KaError(
      DaemonErrors.KA_ERR_DAEMON_FIREWALL_INPUT,
      `bad interface ${JSON.stringify(v.ifname)}`,
      {
        ifname: v.ifname,
      },
    );
  }
  if (a.kind() === 'ipv4') return { family: 'ip', addr: a.toString(), linkLocal: false };
  const v6 = a as ipaddr.IPv6;
  return { family: 'ip6', addr: v6.toString(), linkLocal: v6.range() === 'linkLocal' };
}

function vipElement(v: FirewallVip): Element {
  const p = parseVip(v);
  if (!p.linkLocal)
    return { family: p.family, set: 'vips', piece: 'vips', elem: p.addr, key: `${p.family} vips ${p.addr}` };
  const set = v.byName ? 'vips_link_local_name' : 'vips_link_local';
  return {
    family: 'ip6',
    set,
    piece: v.byName ? 'llName' : 'llIndex',
    elem: { concat: [p.addr, v.ifname] },
    key: `ip6 ${set} ${p.addr} ${v.ifname}`,
  };
}

function vmacElements(m: FirewallVmac): Element[] {
  for (const n of [m.vmac, m.parent]) {
    if (!/^[^\s/]{1,15}$/.test(n)) {
      throw new KaError(DaemonErrors.KA_ERR_DAEMON_FIREWALL_INPUT, `bad interface ${JSON.stringify(n)}`, {
        ifname: n,
      });
    }
  }
  const out: Element[] = [];
  for (const family of m.families) {
    out.push({
      family,
      set: 'vmac_map',
      piece: 'vmac',
      elem: [m.vmac, m.parent],
      key: `${family} vmac_map ${m.vmac}`,
    });
    if (family === 'ip6') {
      out.push({ family, set: 'vmac_set', piece: 'vmac', elem: m.vmac, key: `ip6 vmac_set ${m.vmac}` });
    }
  }
  return out;
}

/** Every element the state holds (one entry however many instances hold it), in first-holder order. */
function elementsOf(state: FirewallState): Map<string, Element> {
  const out = new Map<string, Element>();
  const add = (e: Element) => {
    if (!out.has(e.key)) out.set(e.key, e);
  };
  for (const m of state.vmacs.values()) for (const e of vmacElements(m)) add(e);
  for (const vs of state.vips.values()) for (const v of vs) add(vipElement(v));
  return out;
}

// JSON expression helpers (nft JSON schema, libnftables-json(5)).
const payload = (protocol: string, field: string) => ({ payload: { protocol, field } });
const meta = (key: string) => ({ meta: { key } });
const match = (left: unknown, right: unknown) => ({ match: { op: '==', left, right } });
const DROP = { drop: null };
const ACCEPT = { accept: null };

/** The commands that create one piece of a family's table, in keepalived's order. */
export function pieceCommands(family: NftFamily, piece: Piece, s: FirewallSettings): NftCmd[] {
  const t = { family, table: s.table };
  const counter = s.counters ? [{ counter: null }] : [];
  const rule = (chain: string, ...expr: unknown[]): NftCmd => ({ add: { rule: { ...t, chain, expr } } });
  const base = (name: string, hook: 'input' | 'output'): NftCmd => ({
    add: { chain: { ...t, name, type: 'filter', hook, prio: s.priority, policy: 'accept' } },
  });
  const addr = family === 'ip' ? 'ip' : 'ip6';
  switch (piece) {
    case 'base':
      // Replace whatever a previous run left under this name, as keepalived does.
      return [
        { add: { table: { family, name: s.table } } },
        { delete: { table: { family, name: s.table } } },
        { add: { table: { family, name: s.table } } },
        base('out', 'output'),
      ];
    case 'vips':
      if (family === 'ip') {
        return [
          base('in', 'input'),
          { add: { set: { ...t, name: 'vips', type: 'ipv4_addr' } } },
          rule('in', match(payload('ip', 'daddr'), '@vips'), ...counter, DROP),
          rule('out', match(payload('ip', 'saddr'), '@vips'), ...counter, DROP),
        ];
      }
      return [
        base('in', 'input'),
        { add: { chain: { ...t, name: 'in_link_local' } } },
        { add: { chain: { ...t, name: 'out_link_local' } } },
        { add: { set: { ...t, name: 'vips', type: 'ipv6_addr' } } },
        {
          add: {
            set: {
              ...t,
              name: 'neighbor-discovery',
              type: 'icmpv6_type',
              flags: ['constant'],
              elem: ['nd-neighbor-solicit', 'nd-neighbor-advert'],
            },
          },
        },
        rule('in', match(payload('icmpv6', 'type'), '@neighbor-discovery'), ...counter, ACCEPT),
        rule('in', match(payload('ip6', 'daddr'), LINK_LOCAL), ...counter, {
          goto: { target: 'in_link_local' },
        }),
        rule('out', match(payload('icmpv6', 'type'), '@neighbor-discovery'), ...counter, ACCEPT),
        rule('out', match(payload('ip6', 'saddr'), LINK_LOCAL), ...counter, {
          goto: { target: 'out_link_local' },
        }),
        rule('in', match(payload('ip6', 'daddr'), '@vips'), ...counter, DROP),
        rule('out', match(payload('ip6', 'saddr'), '@vips'), ...counter, DROP),
      ];
    case 'llIndex':
    case 'llName': {
      const byName = piece === 'llName';
      const set = byName ? 'vips_link_local_name' : 'vips_link_local';
      const [iif, oif] = byName ? ['iifname', 'oifname'] : ['iif', 'oif'];
      return [
        { add: { set: { ...t, name: set, type: ['ipv6_addr', byName ? 'ifname' : 'iface_index'] } } },
        rule(
          'in_link_local',
          match({ concat: [payload('ip6', 'daddr'), meta(iif)] }, `@${set}`),
          ...counter,
          DROP,
        ),
        rule(
          'out_link_local',
          match({ concat: [payload('ip6', 'saddr'), meta(oif)] }, `@${set}`),
          ...counter,
          DROP,
        ),
      ];
    }
    case 'vmac': {
      const dup = {
        dup: { addr: payload(addr, 'daddr'), dev: { map: { key: meta('oif'), data: '@vmac_map' } } },
      };
      const macvlan = match(meta('oifkind'), 'macvlan');
      const map: NftCmd = {
        add: { map: { ...t, name: 'vmac_map', type: 'iface_index', map: 'iface_index' } },
      };
      if (family === 'ip') {
        return [map, rule('out', match(payload('ip', 'protocol'), 'igmp'), macvlan, dup, ...counter, DROP)];
      }
      return [
        map,
        { add: { set: { ...t, name: 'vmac_set', type: 'iface_index' } } },
        rule('out', match(payload('icmpv6', 'type'), 'mld2-listener-report'), macvlan, dup, ...counter, DROP),
        rule(
          'out',
          match(payload('icmpv6', 'type'), 'nd-router-solicit'),
          macvlan,
          match(meta('oif'), '@vmac_set'),
          ...counter,
          DROP,
        ),
      ];
    }
  }
}

const LINK_LOCAL = { prefix: { addr: 'fe80::', len: 10 } };

/** Pieces an element needs, in the order keepalived creates them. */
function piecesFor(e: Element): Piece[] {
  if (e.piece === 'vmac') return ['base', 'vmac'];
  if (e.piece === 'vips') return ['base', 'vips'];
  return ['base', 'vips', e.piece];
}

export interface Plan {
  readonly next: FirewallState;
  readonly commands: NftCmd[];
}

/**
 * Commands taking the firewall from `prev` to `next` (which differ in `vips` / `vmacs`): missing
 * pieces first (created in the order keepalived would), then element deletions and additions, one
 * command per set. Throws KaError (KA_ERR_DAEMON_FIREWALL_INPUT) for an address or name nft could not
 * take.
 */
export function planChange(
  prev: FirewallState,
  next: Omit<FirewallState, 'pieces'>,
  s: FirewallSettings,
): Plan {
  const before = elementsOf(prev);
  const after = elementsOf({ ...next, pieces: prev.pieces });
  const pieces = { ip: [...prev.pieces.ip], ip6: [...prev.pieces.ip6] };
  const commands: NftCmd[] = [];
  const adds = new Map<string, Element[]>();
  const dels = new Map<string, Element[]>();
  const push = (m: Map<string, Element[]>, e: Element) => {
    const k = `${e.family} ${e.set}`;
    const l = m.get(k);
    if (l) l.push(e);
    else m.set(k, [e]);
  };
  for (const [k, e] of before) if (!after.has(k)) push(dels, e);
  for (const [k, e] of after) {
    if (before.has(k)) continue;
    for (const p of piecesFor(e)) {
      if (pieces[e.family].includes(p)) continue;
      pieces[e.family].push(p);
      commands.push(...pieceCommands(e.family, p, s));
    }
    push(adds, e);
  }
  const elementCmd = (verb: 'add' | 'delete', l: Element[]): NftCmd => ({
    [verb]: {
      element: { family: l[0]!.family, table: s.table, name: l[0]!.set, elem: l.map((e) => e.elem) },
    },
  });
  for (const l of dels.values()) commands.push(elementCmd('delete', l));
  for (const l of adds.values()) commands.push(elementCmd('add', l));
  return { next: { pieces, vips: next.vips, vmacs: next.vmacs }, commands };
}

/** Commands removing the tables a state set up (stop). */
export function planStop(state: FirewallState, s: FirewallSettings): NftCmd[] {
  return (['ip', 'ip6'] as const)
    .filter((f) => state.pieces[f].includes('base'))
    .map((family) => ({ delete: { table: { family, name: s.table } } }));
}

/** Commands removing any table of this name in both families, present or not (start). */
export function planReset(s: FirewallSettings): NftCmd[] {
  return (['ip', 'ip6'] as const).flatMap((family) => [
    { add: { table: { family, name: s.table } } },
    { delete: { table: { family, name: s.table } } },
  ]);
}

/** The `nft -j` input for a list of commands. */
export const nftDocument = (commands: readonly NftCmd[]): string => JSON.stringify({ nftables: commands });

// ---------------------------------------------------------------------------------------------
// Runtime

/** Runs one nft JSON document; resolves with nft's complaint on failure, never rejects. */
export type NftRunner = (
  document: string,
) => Promise<{ ok: true } | { ok: false; message: string; spawn: boolean }>;

/** Documents up to this size go as nft's command argument, larger ones through a file. */
const ARG_MAX_DOC = 64 * 1024;

/**
 * `nft -j DOCUMENT` through execa; `prefix` runs it under another command (`ip netns exec NS`).
 * Not `nft -f -`: Node's child stdin is a socketpair and nft opens `/dev/stdin`, which fails (ENXIO)
 * on a socket. A document too long for one argument goes through a private temporary file.
 */
export function nftRunner(
  opts: { nft?: string; prefix?: readonly string[]; timeoutMs?: number } = {},
): NftRunner {
  const argv = [...(opts.prefix ?? []), opts.nft ?? 'nft'];
  const file = argv[0] ?? 'nft';
  const pre = argv.slice(1);
  const timeout = opts.timeoutMs ?? 10_000;
  return async (document) => {
    let dir: string | undefined;
    try {
      let args: string[];
      if (Buffer.byteLength(document) <= ARG_MAX_DOC) {
        args = [...pre, '-j', document];
      } else {
        dir = await mkdtemp(join(tmpdir(), 'ka-nft-'));
        const path = join(dir, 'batch.json');
        await writeFile(path, document, { mode: 0o600 });
        args = [...pre, '-j', '-f', path];
      }
      const r = await execa(file, args, { reject: false, timeout });
      if (r.exitCode === 0 && !r.failed) return { ok: true };
      const spawn = r.exitCode === undefined || r.timedOut === true;
      const message = (String(r.stderr ?? '') || r.shortMessage || r.message || 'nft failed').trim();
      return { ok: false, message, spawn };
    } catch (e) {
      return { ok: false, message: (e as Error)?.message ?? String(e), spawn: true };
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  };
}

export type FirewallResult = { ok: true } | { ok: false; error: KaError };

export interface FirewallOptions {
  readonly settings: FirewallSettings;
  readonly run?: NftRunner;
  readonly logger?: Logger;
  readonly counters?: Counters;
  /** First retry of VIP rules nft refused (doubled up to 30 s; default 1 s). */
  readonly retryBaseMs?: number;
}

const RETRY_MAX_MS = 30_000;

/**
 * The firewall of one daemon. Calls are serialised (each waits for the previous batch). No method
 * throws; each resolves `{ ok: false, error }` after logging and counting `firewall.errors.<code>`.
 */
export class Firewall {
  readonly settings: FirewallSettings;
  private readonly run: NftRunner;
  private readonly log: Logger;
  private readonly counters: Counters | undefined;
  private st: FirewallState = emptyState();
  private tail: Promise<unknown> = Promise.resolve();
  /** VIP changes waiting for the next batch (queueVips). */
  private vipOps: VipOp[] = [];
  /** The drop-rule VIPs each instance should have; `st.vips` is what nft confirmed. */
  private readonly desired = new Map<string, readonly FirewallVip[]>();
  private readonly retryBaseMs: number;
  private retryMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(o: FirewallOptions) {
    this.settings = o.settings;
    this.run = o.run ?? nftRunner();
    this.log = o.logger ?? silentLogger;
    this.counters = o.counters;
    this.retryBaseMs = o.retryBaseMs ?? 1000;
  }

  /** What is installed (as far as nft confirmed). */
  get state(): FirewallState {
    return this.st;
  }

  /** Removes a stale table of this name (both families) left by an earlier run. */
  start(): Promise<FirewallResult> {
    return this.serial(async () => {
      const r = await this.exec(planReset(this.settings), 'start');
      if (r.ok) this.st = emptyState();
      return r;
    });
  }

  /** An instance with accept off became MASTER: drop traffic to and from its VIPs (added to any it holds). */
  addVips(instance: string, vips: readonly FirewallVip[]): Promise<FirewallResult> {
    return this.queueVips(instance, (cur) => {
      const merged = [...cur];
      for (const v of vips) if (!cur.some((c) => sameVip(c, v))) merged.push(v);
      return merged;
    });
  }

  /** The instance now holds exactly `vips` (reload of a MASTER instance). */
  setVips(instance: string, vips: readonly FirewallVip[]): Promise<FirewallResult> {
    return this.queueVips(instance, () => vips);
  }

  /** The instance left MASTER (or stops): remove `vips`, or all it holds. */
  removeVips(instance: string, vips?: readonly FirewallVip[]): Promise<FirewallResult> {
    return this.queueVips(instance, (cur) =>
      vips === undefined ? [] : cur.filter((c) => !vips.some((v) => sameVip(c, v))),
    );
  }

  /**
   * VIP changes are applied in batches: every change asked for before the batch starts (the
   * members of a sync group going MASTER in one turn, or changes asked for while an earlier nft run
   * was in flight) goes into one nft run, in the order asked. Each change updates what its instance
   * should have (`desired`); a batch applies desired against what nft confirmed. When a batch of
   * several instances fails, each is tried on its own, so one instance's bad rule (an interface
   * gone) does not leave another's VIPs unfiltered; what still fails is retried with a backoff
   * until it is confirmed or no longer wanted. Each caller gets its own instance's result.
   */
  private queueVips(instance: string, op: VipOp['op']): Promise<FirewallResult> {
    return new Promise((done) => {
      this.vipOps.push({ instance, op, done });
      if (this.vipOps.length === 1) void this.serial(() => this.flushVips());
    });
  }

  private async flushVips(): Promise<FirewallResult> {
    const ops = this.vipOps;
    this.vipOps = [];
    let results: Map<string, FirewallResult>;
    try {
      for (const o of ops) {
        const next = o.op(this.desired.get(o.instance) ?? []);
        if (next.length === 0) this.desired.delete(o.instance);
        else this.desired.set(o.instance, next);
      }
      results = await this.applyDesired();
    } catch (e) {
      const r = this.fail(
        new KaError(
          DaemonErrors.KA_ERR_DAEMON_FIREWALL,
          `firewall: ${(e as Error)?.message ?? e}`,
          {},
          { cause: e },
        ),
        'internal',
      );
      results = new Map(ops.map((o) => [o.instance, r]));
    }
    const ok: FirewallResult = { ok: true };
    for (const o of ops) o.done(results.get(o.instance) ?? ok);
    return [...results.values()].find((r) => !r.ok) ?? ok;
  }

  /** Instances whose desired VIPs nft has not confirmed. */
  private pending(): string[] {
    const names = new Set([...this.desired.keys(), ...this.st.vips.keys()]);
    return [...names].filter((i) => !sameVips(this.desired.get(i) ?? [], this.st.vips.get(i) ?? []));
  }

  /** Applies desired VIPs: all pending instances in one run, each on its own if that fails. */
  private async applyDesired(): Promise<Map<string, FirewallResult>> {
    const results = new Map<string, FirewallResult>();
    const todo = this.pending();
    if (todo.length === 0 || this.stopped) return results;
    const before = this.st.vips;
    const all = await this.apply(
      { vips: new Map(this.desired), vmacs: this.st.vmacs },
      'vips',
      todo.join(','),
    );
    if (all.ok || todo.length === 1) {
      for (const i of todo) results.set(i, all);
    } else {
      for (const i of todo) {
        const m = new Map(this.st.vips);
        const want = this.desired.get(i);
        if (want) m.set(i, want);
        else m.delete(i);
        results.set(i, await this.apply({ vips: m, vmacs: this.st.vmacs }, 'vips', i));
      }
    }
    for (const i of todo) {
      if (!results.get(i)?.ok) continue;
      const was = before.get(i)?.length ?? 0;
      const now = this.st.vips.get(i)?.length ?? 0;
      if (now > was) this.log.info(`(${i}) setting firewall drop rule`);
      else if (now < was) this.log.info(`(${i}) removing firewall drop rule`);
    }
    this.scheduleRetry();
    return results;
  }

  /** While some instance's rules are unconfirmed, try again later (1 s, doubling to 30 s). */
  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    if (this.pending().length === 0) {
      this.retryMs = 0;
      return;
    }
    this.retryMs = this.retryMs === 0 ? this.retryBaseMs : Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.counters?.inc('firewall.retries');
      void this.serial(async () => {
        const r = await this.applyDesired();
        return [...r.values()].find((x) => !x.ok) ?? { ok: true };
      });
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /** A VMAC was created: filter its IGMP/MLD reports and router solicitations. */
  addVmac(vmac: FirewallVmac): Promise<FirewallResult> {
    return this.serial(() => {
      const vmacs = new Map(this.st.vmacs);
      vmacs.set(vmac.vmac, vmac);
      return this.apply({ vips: this.st.vips, vmacs }, 'addVmac');
    });
  }

  /** A VMAC is about to be deleted. */
  removeVmac(vmac: string): Promise<FirewallResult> {
    return this.serial(() => {
      if (!this.st.vmacs.has(vmac)) return Promise.resolve({ ok: true } as const);
      const vmacs = new Map(this.st.vmacs);
      vmacs.delete(vmac);
      return this.apply({ vips: this.st.vips, vmacs }, 'removeVmac');
    });
  }

  /** Deletes the tables this run set up. */
  stop(): Promise<FirewallResult> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.desired.clear();
    return this.serial(async () => {
      const r = await this.exec(planStop(this.st, this.settings), 'stop');
      if (r.ok) this.st = emptyState();
      return r;
    });
  }

  private async apply(
    next: Omit<FirewallState, 'pieces'>,
    op: string,
    instance?: string,
  ): Promise<FirewallResult> {
    let plan: Plan;
    try {
      plan = planChange(this.st, next, this.settings);
    } catch (e) {
      const err =
        e instanceof KaError
          ? e
          : new KaError(DaemonErrors.KA_ERR_DAEMON_FIREWALL_INPUT, String(e), {}, { cause: e });
      return this.fail(err, op, instance);
    }
    const r = await this.exec(plan.commands, op, instance);
    if (r.ok) this.st = plan.next;
    return r;
  }

  private async exec(commands: NftCmd[], op: string, instance?: string): Promise<FirewallResult> {
    if (commands.length === 0) return { ok: true };
    this.counters?.inc('firewall.nft_runs');
    const r = await this.run(nftDocument(commands));
    if (r.ok) return r;
    const code = r.spawn ? DaemonErrors.KA_ERR_DAEMON_NFT_EXEC : DaemonErrors.KA_ERR_DAEMON_FIREWALL;
    return this.fail(
      new KaError(code, `nftables ${op} failed: ${r.message}`, { op, table: this.settings.table, instance }),
      op,
      instance,
    );
  }

  private fail(error: KaError, op: string, instance?: string): FirewallResult {
    this.counters?.inc(`firewall.errors.${error.code}`);
    this.log.warn({ code: error.code, op, instance, details: error.details }, error.message);
    return { ok: false, error };
  }

  /** Runs `fn` after every earlier call; an unexpected exception becomes a failed result. */
  private serial(fn: () => Promise<FirewallResult>): Promise<FirewallResult> {
    const guarded = async (): Promise<FirewallResult> => {
      try {
        return await fn();
      } catch (e) {
        const err = new KaError(
          DaemonErrors.KA_ERR_DAEMON_FIREWALL,
          `firewall: ${(e as Error)?.message ?? e}`,
          {},
          {
            cause: e,
          },
        );
        return this.fail(err, 'internal');
      }
    };
    const p = this.tail.then(guarded, guarded);
    this.tail = p;
    return p;
  }
}

interface VipOp {
  readonly instance: string;
  /** The instance's VIPs after this change, from those before it. */
  readonly op: (cur: readonly FirewallVip[]) => readonly FirewallVip[];
  readonly done: (r: FirewallResult) => void;
}

const norm = (a: string): string => (ipaddr.isValid(a) ? ipaddr.parse(a).toString() : a);

function sameVips(a: readonly FirewallVip[], b: readonly FirewallVip[]): boolean {
  return a.length === b.length && a.every((v, i) => sameVip(v, b[i]!));
}

function sameVip(a: FirewallVip, b: FirewallVip): boolean {
  return (
    norm(a.address) === norm(b.address) &&
    a.ifname === b.ifname &&
    (a.byName ?? false) === (b.byName ?? false)
  );
}
