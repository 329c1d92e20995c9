/**
 * SIGHUP reload as a pure diff of two frozen configurations (STYLE habit 10). Instances are matched
 * as keepalived's vrrp_exist() does: same VRID, same address family, same interface and both unicast
 * or both multicast, and for unicast the same source address (the name may change). A matched
 * instance keeps its runtime state; unmatched old ones are removed (FAULT notify, or DELETED with
 * notify_deleted), unmatched new ones start in BACKUP. A kept instance takes its new settings
 * (`changed`) except those listed in `unapplied`. keepalived reopens every VRRP socket on reload, so
 * a changed mcast_dst_ip (multicast group), mcast_src_ip (of a multicast instance) or unicast_ttl is
 * applied to the running instance. A changed vrrp_min_garp or global vrrp_garp_* default counts as a
 * change of the instance's `garp` (keepalived re-reads them on reload), and promote_secondaries is
 * taken or released on the instance's interface.
 */
import type { AddressSpec, KeepalivedConfig, VrrpInstance } from '../config/model.js';

export interface InstanceMatchKey {
  readonly vrid: number;
  readonly family: 4 | 6;
  readonly ifname: string;
  readonly unicast: boolean;
  /** unicast_src_ip of a unicast instance ('' when not configured or multicast). */
  readonly src: string;
}

export interface KeptInstance {
  readonly old: VrrpInstance;
  readonly next: VrrpInstance;
  /** VIPs (and excluded VIPs) to add / remove, by `address/prefix dev`. */
  readonly vipsAdded: readonly AddressSpec[];
  readonly vipsRemoved: readonly AddressSpec[];
  /** Settings that differ and that the kept instance picks up (see VrrpHost.reload). */
  readonly changed: readonly string[];
  /** virtual_routes or virtual_rules differ (re-installed when the instance holds its VIPs). */
  readonly routesChanged: boolean;
  /** Settings that differ and that a kept instance does not pick up without a restart. */
  readonly unapplied: readonly string[];
}

export interface ReloadPlan {
  readonly kept: readonly KeptInstance[];
  readonly added: readonly VrrpInstance[];
  readonly removed: readonly VrrpInstance[];
}

export function matchKey(cfg: VrrpInstance, defaultInterface: string): InstanceMatchKey {
  return {
    vrid: cfg.vrid,
    family: cfg.family === 'inet6' ? 6 : 4,
    ifname: cfg.interface ?? defaultInterface,
    unicast: cfg.unicastPeers.length > 0,
    src: cfg.unicastPeers.length > 0 ? (cfg.mcastSrcIp ?? '') : '',
  };
}

const keyString = (k: InstanceMatchKey) =>
  `${k.vrid}/${k.family}/${k.ifname}/${k.unicast ? `u/${k.src}` : 'm'}`;
const vipKey = (v: AddressSpec) => `${v.address}/${v.prefix} ${v.dev ?? ''}`;
const vipsOf = (c: VrrpInstance) => [...c.virtualIpaddress, ...c.virtualIpaddressExcluded];

/**
 * Settings of a kept instance that a reload applies as keepalived does (its new instance takes the
 * old one's state and everything else from the new configuration). The VIPs are applied, not listed.
 */
const APPLIED = [
  'priority',
  'advertInt',
  'version',
  'nopreempt',
  'preemptDelay',
  'authentication',
  'unicastPeers',
  'mcastDstIp',
  'mcastSrcIp',
  'unicastTtl',
  'tracking',
  // the rest of what the state machine reads (machineConfigOf in vrrp-host.ts)
  'garp',
  'downTimerAdverts',
  'lowerPrioNoAdvert',
  'higherPrioSendAdvert',
  // net.ipv4.conf.<if>.promote_secondaries held (on) or released (off) by VrrpHost.reload
  'promoteSecondaries',
] as const satisfies readonly (keyof VrrpInstance)[];

/** Settings that would need other links or group wiring: reported, applied at restart. */
const UNAPPLIED = ['useVmac', 'syncGroup'] as const satisfies readonly (keyof VrrpInstance)[];

/** IPsec-AH moves the adverts to IP protocol 51 (other sockets): not applied to a kept instance. */
const usesAh = (c: VrrpInstance) => c.version === 2 && c.authentication?.type === 'AH';

const stable = (v: unknown): string =>
  JSON.stringify(v, (k, x) => (k === 'pos' ? undefined : (x as unknown)));

/**
 * What an instance's GARP timing is derived from: its own values, the global vrrp_garp_* defaults
 * and vrrp_min_garp (whether the latter is folded into the global values or applied on top, a change
 * of any of the three may change the timing the instance runs with).
 */
const garpInputs = (c: VrrpInstance, cfg: KeepalivedConfig) =>
  stable([c.garp, cfg.global.garp, cfg.global.vrrpMinGarp]);

export function planReload(old: KeepalivedConfig, next: KeepalivedConfig): ReloadPlan {
  const oldByKey = new Map<string, VrrpInstance>();
  for (const c of old.vrrpInstances) oldByKey.set(keyString(matchKey(c, old.global.defaultInterface)), c);
  const kept: KeptInstance[] = [];
  const added: VrrpInstance[] = [];
  for (const c of next.vrrpInstances) {
    const k = keyString(matchKey(c, next.global.defaultInterface));
    const o = oldByKey.get(k);
    if (!o) {
      added.push(c);
      continue;
    }
    oldByKey.delete(k);
    const before = new Map(vipsOf(o).map((v) => [vipKey(v), v]));
    const after = new Map(vipsOf(c).map((v) => [vipKey(v), v]));
    kept.push({
      old: o,
      next: c,
      vipsAdded: [...after].filter(([key]) => !before.has(key)).map(([, v]) => v),
      vipsRemoved: [...before].filter(([key]) => !after.has(key)).map(([, v]) => v),
      changed: APPLIED.filter((f) =>
        f === 'garp' ? garpInputs(o, old) !== garpInputs(c, next) : stable(o[f]) !== stable(c[f]),
      ),
      routesChanged:
        stable(o.virtualRoutes) !== stable(c.virtualRoutes) ||
        stable(o.virtualRules) !== stable(c.virtualRules),
      unapplied: [
        ...UNAPPLIED.filter((f) => stable(o[f]) !== stable(c[f])),
        ...(usesAh(o) !== usesAh(c) ? ['authentication (AH)'] : []),
      ],
    });
  }
  return { kept, added, removed: [...oldByKey.values()] };
}
