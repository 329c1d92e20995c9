/**
 * lvs_sync_daemon: the kernel's connection-sync daemon follows the VRRP state of its instance, as in
 * keepalived: MASTER runs the master daemon, any other running state the backup daemon, and stop
 * removes both. Pure decision (`syncDaemonPlan`) plus a small runner over IpvsOps.
 */
import { DaemonState, type IpvsDaemon } from '../wire/ipvs.js';
import type { IpvsOps } from './types.js';

export interface SyncDaemonConfig {
  /** lvs_sync_daemon INTERFACE */
  interface: string;
  /** id N (default: the instance's VRID, as keepalived) */
  syncId: number;
  maxlen?: number | undefined;
  port?: number | undefined;
  ttl?: number | undefined;
  group?: string | undefined;
}

export type VrrpStateName = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

export type SyncDaemonAction = { kind: 'start'; daemon: IpvsDaemon } | { kind: 'stop'; state: number };

function daemonFor(cfg: SyncDaemonConfig, state: number): IpvsDaemon {
  return {
    state,
    mcastIfn: cfg.interface,
    syncId: cfg.syncId,
    syncMaxlen: cfg.maxlen,
    mcastGroup: cfg.group,
    mcastPort: cfg.port,
    mcastTtl: cfg.ttl,
  };
}

const same = (a: IpvsDaemon, b: IpvsDaemon): boolean =>
  a.mcastIfn === b.mcastIfn &&
  a.syncId === b.syncId &&
  (b.syncMaxlen === undefined || a.syncMaxlen === b.syncMaxlen) &&
  (b.mcastGroup === undefined || a.mcastGroup === b.mcastGroup) &&
  (b.mcastPort === undefined || a.mcastPort === b.mcastPort) &&
  (b.mcastTtl === undefined || a.mcastTtl === b.mcastTtl);

/** Actions taking the running daemons to what `vrrpState` asks for (stops before starts). */
export function syncDaemonPlan(
  cfg: SyncDaemonConfig,
  vrrpState: VrrpStateName,
  running: readonly IpvsDaemon[],
): SyncDaemonAction[] {
  const want: IpvsDaemon[] =
    vrrpState === 'STOP'
      ? []
      : [daemonFor(cfg, vrrpState === 'MASTER' ? DaemonState.MASTER : DaemonState.BACKUP)];
  const stops: SyncDaemonAction[] = [];
  const starts: SyncDaemonAction[] = [];
  for (const r of running) {
    const w = want.find((x) => x.state === r.state);
    if (!w || !same(r, w)) stops.push({ kind: 'stop', state: r.state });
  }
  for (const w of want) {
    const r = running.find((x) => x.state === w.state);
    if (!r || !same(r, w)) starts.push({ kind: 'start', daemon: w });
  }
  return [...stops, ...starts];
}

/** Reads the running daemons, applies the plan; returns the actions taken. */
export async function followVrrpState(
  ops: IpvsOps,
  cfg: SyncDaemonConfig,
  vrrpState: VrrpStateName,
): Promise<SyncDaemonAction[]> {
  const plan = syncDaemonPlan(cfg, vrrpState, await ops.listDaemons());
  for (const a of plan) {
    if (a.kind === 'stop') await ops.stopDaemon(a.state);
    else await ops.startDaemon(a.daemon);
  }
  return plan;
}
