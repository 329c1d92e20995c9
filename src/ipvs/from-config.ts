/**
 * Adapter from the frozen configuration model (src/config/model.ts) to the IPVS desired-state spec
 * (src/ipvs/desired.ts): virtual_server, virtual_server_group, real_server, lvs_sync_daemon.
 */
import type {
  KeepalivedConfig,
  LvsSyncDaemon,
  LbKind as ModelLbKind,
  VirtualServer,
} from '../config/model.js';
import { KaError } from '../core/errors.js';
import type { LbKind, VirtualServerSpec } from './desired.js';
import { IpvsErrors } from './errors.js';
import type { SyncDaemonConfig } from './sync-daemon.js';

const lbKind = (k: ModelLbKind): LbKind => ({
  method: k.method,
  tunnel: k.tunnel && { type: k.tunnel.type, port: k.tunnel.port, csum: k.tunnel.csum },
});

function vsSpec(vs: VirtualServer, cfg: Pick<KeepalivedConfig, 'virtualServerGroups'>): VirtualServerSpec {
  const t = vs.target;
  let target: VirtualServerSpec['target'];
  if (t.kind === 'group') {
    const g = cfg.virtualServerGroups.find((x) => x.name === t.name);
    if (!g) {
      throw new KaError(
        IpvsErrors.KA_ERR_IPVS_BAD_SPEC,
        `virtual_server ${vs.name}: no virtual_server_group ${t.name}`,
        {
          vs: vs.name,
        },
      );
    }
    target = {
      kind: 'group',
      name: g.name,
      entries: g.entries.map((e) =>
        e.kind === 'addr'
          ? { kind: 'addr', range: e.range, port: e.port }
          : { kind: 'fwmark', fwmark: e.fwmark, family: e.family },
      ),
    };
  } else if (t.kind === 'fwmark') target = { kind: 'fwmark', fwmark: t.fwmark };
  else target = { kind: 'addr', addr: t.addr, port: t.port };
  const f = new Set(vs.schedFlags);
  return {
    name: vs.name,
    target,
    protocol: vs.protocol,
    ipFamily: vs.ipFamily,
    lbAlgo: vs.lvsSched,
    lbKind: lbKind(vs.lvsMethod),
    schedFlags: {
      flag1: f.has('flag-1'),
      flag2: f.has('flag-2'),
      flag3: f.has('flag-3'),
      shPort: f.has('sh-port'),
      shFallback: f.has('sh-fallback'),
      mhPort: f.has('mh-port'),
      mhFallback: f.has('mh-fallback'),
    },
    ops: vs.ops,
    persistenceTimeout: vs.persistenceTimeout,
    persistenceGranularity: vs.persistenceGranularity,
    persistenceEngine: vs.persistenceEngine,
    quorum: vs.quorum,
    hysteresis: vs.hysteresis,
    inhibitOnFailure: vs.inhibitOnFailure,
    alpha: vs.alpha,
    omega: vs.omega,
    haSuspend: vs.haSuspend,
    sorryServer: vs.sorryServer && {
      addr: vs.sorryServer.address,
      port: vs.sorryServer.port,
      lbKind: vs.sorryServer.lvsMethod && lbKind(vs.sorryServer.lvsMethod),
    },
    sorryServerInhibit: vs.sorryServer?.inhibit ?? false,
    realServers: vs.realServers.map((r) => ({
      addr: r.address,
      port: r.port,
      weight: r.weight,
      lbKind: lbKind(r.lvsMethod),
      uThreshold: r.uthreshold,
      lThreshold: r.lthreshold,
      inhibitOnFailure: r.inhibitOnFailure,
      alpha: r.alpha,
      // keepalived: a real server without a checker counts as up
      hasCheckers: r.checkers.length > 0,
    })),
  };
}

/** The IPVS specs of a configuration, in configuration order. */
export function specsFromConfig(
  cfg: Pick<KeepalivedConfig, 'virtualServers' | 'virtualServerGroups'>,
): VirtualServerSpec[] {
  return cfg.virtualServers.map((vs) => vsSpec(vs, cfg));
}

/** lvs_sync_daemon: the sync id defaults to the VRID of the instance it follows. */
export function syncDaemonConfig(l: LvsSyncDaemon, vrid: number): SyncDaemonConfig {
  return {
    interface: l.interface,
    syncId: l.syncId ?? vrid,
    maxlen: l.maxlen,
    port: l.port,
    ttl: l.ttl,
    group: l.group,
  };
}
