/**
 * SIGHUP reload as a pure diff of two frozen configurations (STYLE habit 10). Instances are matched
 * as keepalived's vrrp_exist() does: same VRID, same address family, same interface and both unicast
 * or both multicast, for unicast the same source address, for multicast the same use_vmac and
 * use_vmac_addr flags (the name may change): turning use_vmac on or off replaces the instance, as
 * keepalived 2.2.7 does (observed: priority 0 sent, VIPs removed, FAULT notify, VMAC made or
 * deleted, the new instance in BACKUP). A matched
 * instance keeps its runtime state; unmatched old ones are removed (FAULT notify, or DELETED with
 * notify_deleted), unmatched new ones start in BACKUP. A kept instance takes its new settings
 * (`changed`) except those listed in `unapplied`. keepalived reopens every VRRP socket on reload, so
 * a changed mcast_dst_ip (multicast group), mcast_src_ip (of a multicast instance) or unicast_ttl is
 * applied to the running instance. A changed vrrp_min_garp or global vrrp_garp_* default counts as a
 * change of the instance's `garp` (keepalived re-reads them on reload), and promote_secondaries is
 * taken or released on the instance's interface. A changed sync-group membership is applied: the
 * groups are rebuilt over the running instances (`groups`, and SyncGroupCoordinator.adopt), and a
 * kept VMAC whose configured name or MAC changed is made again under the new one (`vmacChanged`).
 */
import type { AddressSpec, KeepalivedConfig, VrrpInstance } from '../config/model.js';

export interface InstanceMatchKey {
  readonly vrid: number;
  readonly family: 4 | 6;
  readonly ifname: string;
  readonly unicast: boolean;
  /** unicast_src_ip of a unicast instance ('' when not configured or multicast). */
  readonly src: string;
  /** Multicast instances only (keepalived compares them only there): use_vmac and use_vmac_addr. */
  readonly vmac: boolean;
  readonly vmacAddr: boolean;
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
  /**
   * use_vmac kept on, with another configured name or MAC, or vmac_xmit_base changed: the VMAC is
   * deleted and made again, the sockets with it (its VIPs moved onto it while MASTER). A configuration that names no VMAC keeps the running one's name,
   * as keepalived keeps the interface it finds.
   */
  readonly vmacChanged: boolean;
  /** Settings that differ and that a kept instance does not pick up without a restart. */
  readonly unapplied: readonly string[];
}

/** A vrrp_sync_group of the new configuration, compared with the old one of that name. */
export interface GroupPlan {
  readonly name: string;
  /** 'kept': same name and members; 'changed': same name, other members; 'added': a new name. */
  readonly how: 'kept' | 'changed' | 'added';
}

export interface ReloadPlan {
  readonly kept: readonly KeptInstance[];
  readonly added: readonly VrrpInstance[];
  readonly removed: readonly VrrpInstance[];
  /** The new configuration's sync groups (rebuilt at every reload) and the old ones gone. */
  readonly groups: readonly GroupPlan[];
  readonly groupsRemoved: readonly string[];
}

export function matchKey(cfg: VrrpInstance, defaultInterface: string): InstanceMatchKey {
  return {
    vrid: cfg.vrid,
    family: cfg.family === 'inet6' ? 6 : 4,
    ifname: cfg.interface ?? defaultInterface,
    unicast: cfg.unicastPeers.length > 0,
    src: cfg.unicastPeers.length > 0 ? (cfg.mcastSrcIp ?? '') : '',
    vmac: cfg.unicastPeers.length === 0 && cfg.useVmac !== undefined,
    vmacAddr: cfg.unicastPeers.length === 0 && cfg.useVmacAddr,
  };
}

const keyString = (k: InstanceMatchKey) =>
  `${k.vrid}/${k.family}/${k.ifname}/${k.unicast ? `u/${k.src}` : `m/${k.vmac ? 'v' : ''}${k.vmacAddr ? 'a' : ''}`}`;
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
  // the group the instance belongs to (groups are rebuilt by VrrpHost.reload)
  'syncGroup',
  // the VMAC's configured name or MAC (vmacChanged); turning use_vmac on or off is another instance
  'useVmac',
  // adverts sent on the VMAC's parent or on the VMAC (vmacChanged: the VMAC and sockets made again)
  'vmacXmitBase',
] as const satisfies readonly (keyof VrrpInstance)[];

/**
 * use_vmac turned on or off. A multicast instance is then another instance (matchKey); a unicast one
 * stays matched, as in keepalived, and is reported: its VMAC is made or deleted at restart.
 */
const vmacToggled = (o: VrrpInstance, c: VrrpInstance) =>
  (o.useVmac === undefined) !== (c.useVmac === undefined);

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
        f === 'garp'
          ? garpInputs(o, old) !== garpInputs(c, next)
          : f === 'useVmac'
            ? vmacToggled(o, c) === false && stable(o[f]) !== stable(c[f])
            : stable(o[f]) !== stable(c[f]),
      ),
      routesChanged:
        stable(o.virtualRoutes) !== stable(c.virtualRoutes) ||
        stable(o.virtualRules) !== stable(c.virtualRules),
      vmacChanged:
        o.useVmac !== undefined &&
        c.useVmac !== undefined &&
        ((c.useVmac.ifname !== undefined && c.useVmac.ifname !== o.useVmac.ifname) ||
          c.useVmac.mac !== o.useVmac.mac ||
          c.vmacXmitBase !== o.vmacXmitBase),
      unapplied: [
        ...(vmacToggled(o, c) ? ['useVmac'] : []),
        ...(usesAh(o) !== usesAh(c) ? ['authentication (AH)'] : []),
      ],
    });
  }
  const oldGroups = new Map(old.syncGroups.map((g) => [g.name, g]));
  const groups: GroupPlan[] = next.syncGroups.map((g) => {
    const o = oldGroups.get(g.name);
    const how = !o ? 'added' : stable(o.members) === stable(g.members) ? 'kept' : 'changed';
    return { name: g.name, how };
  });
  const groupsRemoved = old.syncGroups
    .filter((g) => !next.syncGroups.some((n) => n.name === g.name))
    .map((g) => g.name);
  return { kept, added, removed: [...oldByKey.values()], groups, groupsRemoved };
}
