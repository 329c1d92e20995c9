/**
 * SNMP in the daemon: which parts keepalived would run (global_defs `enable_snmp_*`, `enable_traps`,
 * `snmp_socket`, command-line `-x` and `-A`), the sub-agent's view of the daemon, and the
 * vrrpInstanceStateChange / vrrpSyncGroupStateChange traps.
 */
import type { KeepalivedConfig } from '../config/model.js';
import { isKaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DEFAULT_SNMP_SOCKET, SnmpAgent, type SnmpAgentOptions } from './agent.js';
import {
  CHECK_OID,
  type CheckMibInput,
  type CheckVsState,
  checkVarbinds,
  quorumTrap,
  realServerTrap,
} from './check-mib.js';
import { SnmpErrors } from './errors.js';
import {
  GLOBAL_OID,
  keepalivedVarbinds,
  type Oid,
  oidText,
  type SnmpInstanceState,
  syncGroupState,
  type Varbind,
  VRRP_NOTIFICATIONS_OID,
  VRRP_OID,
} from './keepalived-mib.js';
import {
  newMasterTraps,
  VRRP_MIB_OID,
  VRRPV3_MIB_OID,
  type VrrpRfcMibInput,
  vrrpMibVarbinds,
  vrrpv3MibVarbinds,
} from './vrrp-rfc-mib.js';

export interface SnmpSettings {
  readonly socket: string;
  /** KEEPALIVED-MIB global and vrrp subtrees (`enable_snmp_vrrp`, its alias `enable_snmp_keepalived`). */
  readonly vrrp: boolean;
  /** KEEPALIVED-MIB check subtree (virtual and real servers). */
  readonly checker: boolean;
  /** VRRP-MIB (RFC 2787) and VRRPv3-MIB (RFC 6527). */
  readonly rfcv2: boolean;
  readonly rfcv3: boolean;
  readonly traps: boolean;
}

/** Command-line options that bear on SNMP (src/daemon/options.ts). */
export interface SnmpCli {
  /** `-x` / `--snmp`: every SNMP part keepalived was built with. */
  readonly snmp?: boolean;
  /** `-A` / `--snmp-agent-socket`: wins over snmp_socket. */
  readonly snmpAgentSocket?: string | undefined;
}

/** What keepalived would enable; undefined when no SNMP part is on. */
export function snmpSettings(config: KeepalivedConfig, cli: SnmpCli = {}): SnmpSettings | undefined {
  const s = config.global.settings;
  const on = (k: string) => cli.snmp === true || (s[k] !== undefined && s[k] !== false);
  const rfc = on('enable_snmp_rfc');
  const out: SnmpSettings = {
    socket: cli.snmpAgentSocket ?? (typeof s.snmp_socket === 'string' ? s.snmp_socket : DEFAULT_SNMP_SOCKET),
    vrrp: on('enable_snmp_vrrp') || on('enable_snmp_keepalived'),
    checker: on('enable_snmp_checker'),
    rfcv2: rfc || on('enable_snmp_rfcv2'),
    rfcv3: rfc || on('enable_snmp_rfcv3'),
    traps: s.enable_traps !== undefined && s.enable_traps !== false,
  };
  return out.vrrp || out.checker || out.rfcv2 || out.rfcv3 ? out : undefined;
}

/** An instance as the trap hooks need it (VrrpHost.instances' VrrpInstance fits). */
export interface WatchedInstance {
  readonly name: string;
  /** keepalived's numeric state (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT). */
  readonly state: number;
  onChange(listener: () => void): void;
}

/** What the sub-agent reads of the daemon: the VRRP side's view and the LVS host's virtual servers. */
export interface SnmpView extends VrrpRfcMibInput {
  /** LvsHost.snapshot().virtualServers (check subtree). */
  readonly virtualServers?: readonly CheckVsState[];
}

/** The LVS host's state events (LvsHost.onStateEvent). */
export interface WatchedLvs {
  onStateEvent(
    listener: (
      e:
        | {
            readonly kind: 'rs';
            readonly vs: CheckMibInput['config']['virtualServers'][number];
            readonly address: string;
            readonly port: number | undefined;
            readonly up: boolean;
          }
        | {
            readonly kind: 'quorum';
            readonly vs: CheckMibInput['config']['virtualServers'][number];
            readonly up: boolean;
            readonly stopping: boolean;
          },
    ) => void,
  ): void;
}

/** VRRP states as the traps read them. */
const INIT = 0;
const MASTER = 2;

export interface DaemonSnmpDeps {
  readonly log: Logger;
  readonly counters: { inc(name: string, by?: number): void };
}

/** VrrpState shutdown(5): what keepalived's traps say of an instance or group that stops. */
const SHUTDOWN = 5;

/**
 * The daemon's sub-agent: `start(view)` and `await ready()` before the VRRP instances start,
 * `watch(instances)` once they run (sends their first traps), `stop()` at shutdown. Never throws
 * after construction.
 */
export class DaemonSnmp {
  readonly agent: SnmpAgent;
  private view: (() => SnmpView) | undefined;
  /** Last state sent per instance and per sync group: a trap goes out when it changes. */
  private readonly sent = new Map<string, number>();
  /** Instances whose changes are followed (a reload adds new ones); the latest list for sync groups. */
  private readonly watched = new WeakSet<WatchedInstance>();
  private instances: readonly WatchedInstance[] = [];

  constructor(
    readonly settings: SnmpSettings,
    private readonly deps: DaemonSnmpDeps,
    agentOptions: Omit<SnmpAgentOptions, 'socket' | 'regions'> = {},
  ) {
    // keepalived's VRRP process registers the global group only with enable_snmp_vrrp (its checker
    // process does with enable_snmp_checker), then each MIB enabled
    const regions: Oid[] = [];
    if (settings.vrrp || settings.checker) regions.push(GLOBAL_OID);
    if (settings.vrrp) regions.push(VRRP_OID);
    if (settings.rfcv2) regions.push(VRRP_MIB_OID);
    if (settings.rfcv3) regions.push(VRRPV3_MIB_OID);
    if (settings.checker) regions.push(CHECK_OID);
    const build = (view: SnmpView): Varbind[] => [
      ...(settings.vrrp || settings.checker ? keepalivedVarbinds(view) : []),
      ...(settings.checker ? checkVarbinds(view) : []),
      ...(settings.rfcv2 ? vrrpMibVarbinds(view) : []),
      ...(settings.rfcv3 ? vrrpv3MibVarbinds(view) : []),
    ];
    this.agent = new SnmpAgent({ ...agentOptions, socket: settings.socket, regions, build });
  }

  /**
   * The sub-agent keepalived would run for this configuration and command line, or undefined (no
   * SNMP part enabled, or an snmp_socket it cannot use: logged and counted, the daemon runs on).
   */
  static create(
    config: KeepalivedConfig,
    cli: SnmpCli,
    deps: DaemonSnmpDeps,
    agentOptions: Omit<SnmpAgentOptions, 'socket' | 'regions'> = {},
  ): DaemonSnmp | undefined {
    const settings = snmpSettings(config, cli);
    if (!settings) return undefined;
    try {
      return new DaemonSnmp(settings, deps, agentOptions);
    } catch (e) {
      const code = isKaError(e) ? e.code : SnmpErrors.KA_ERR_SNMP_SOCKET_SPEC;
      deps.counters.inc(code);
      deps.log.error({ code }, `SNMP: ${(e as Error).message}; SNMP disabled`);
      return undefined;
    }
  }

  start(view: () => SnmpView): void {
    this.view = view;
    this.agent.start(view, this.deps.log, this.deps.counters);
  }

  /** See SnmpAgent.ready. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.agent.ready(timeoutMs);
  }

  /**
   * With `enable_traps`: a trap for each instance's and sync group's state now (keepalived sends
   * one as they enter their first state), then one on every change of state. Called again after a
   * reload with the running instances: the ones not seen before are followed from then on.
   */
  watch(instances: readonly WatchedInstance[]): void {
    if (!this.settings.traps) return;
    this.instances = instances;
    for (const i of instances) {
      if (this.watched.has(i)) continue;
      this.watched.add(i);
      // one not started yet (INIT) sends its first trap as it enters its first state
      if (i.state !== INIT) this.instanceChanged(i);
      i.onChange(() => this.instanceChanged(i));
    }
  }

  stop(): Promise<void> {
    return this.agent.stop();
  }

  /**
   * With `enable_traps` and `enable_snmp_checker`: realServerStateChange as a real server moves,
   * virtualServerQuorumStateChange as a virtual server's quorum is decided (start, changes, stop:
   * quorum status shutdown(3)), as keepalived's do_rs_notifies / do_vs_notifies send them.
   */
  watchLvs(lvs: WatchedLvs): void {
    if (!this.settings.traps || !this.settings.checker) return;
    /** Real servers' states as the events last gave them, by virtual server, protocol, address, port. */
    const moved = new Map<string, boolean>();
    lvs.onStateEvent((e) => {
      const view = this.snapshot();
      if (!view) return;
      const list = view.config.virtualServers;
      let vi = list.indexOf(e.vs);
      if (vi < 0) vi = list.findIndex((v) => v.name === e.vs.name && v.protocol === e.vs.protocol);
      if (vi < 0) return;
      const proto = e.vs.protocol.toLowerCase();
      if (e.kind === 'rs') moved.set(`${e.vs.name} ${proto} ${e.address} ${e.port}`, e.up);
      // the events' states: the LVS snapshot takes them after its notifies (and keeps real servers
      // removed at stop as they were)
      const states = view.virtualServers?.map((v) => ({
        ...v,
        realServers: v.realServers.map((r) => {
          const up = moved.get(`${v.name} ${v.protocol} ${r.addr} ${r.port ?? undefined}`);
          return up === undefined ? r : { ...r, up };
        }),
      }));
      const seen = states ? { ...view, virtualServers: states } : view;
      if (e.kind === 'rs') {
        const t = realServerTrap(seen, vi, e.address, e.port);
        if (t) this.agent.notify(t.trap, t.objects);
        return;
      }
      const t = quorumTrap(seen, vi);
      if (!t) return;
      const statusOid = oidText([...CHECK_OID, 3, 1, 23]);
      // the event's state: the snapshot may not show it yet; shutdown(3) when stopping
      const status = e.stopping ? 3 : e.up ? 1 : 2;
      const objects = t.objects.map((o) => (oidText(o.oid) === statusOid ? { ...o, value: status } : o));
      this.agent.notify(t.trap, objects);
    });
  }

  private snapshot(): SnmpView | undefined {
    try {
      return this.view?.();
    } catch (e) {
      this.deps.counters.inc(SnmpErrors.KA_ERR_SNMP_SNAPSHOT);
      this.deps.log.debug({ err: e }, 'SNMP: reading the configuration for a trap failed');
      return undefined;
    }
  }

  private instanceChanged(inst: WatchedInstance): void {
    const view = this.snapshot();
    if (!view) return;
    const config = view.config;
    if (this.settings.rfcv2 || this.settings.rfcv3) this.rfcTraps(view, inst);
    if (!this.settings.vrrp) return;
    const all = this.instances;
    // a stopped instance is back in INIT: keepalived's trap says shutdown
    const state = inst.state === 0 ? SHUTDOWN : inst.state;
    if (this.sent.get(`i ${inst.name}`) !== state) {
      this.sent.set(`i ${inst.name}`, state);
      const cfg = config.vrrpInstances.find((c) => c.name === inst.name);
      this.send(
        config,
        [...VRRP_NOTIFICATIONS_OID, 2],
        [
          { oid: [...VRRP_OID, 3, 1, 2], type: 'octets', value: Buffer.from(inst.name) },
          { oid: [...VRRP_OID, 3, 1, 4], type: 'integer', value: state },
          { oid: [...VRRP_OID, 3, 1, 5], type: 'integer', value: cfg?.state === 'MASTER' ? 2 : 1 },
        ],
      );
    }
    const states = new Map(all.map((i) => [i.name, i.state]));
    for (const g of config.syncGroups) {
      if (!g.members.includes(inst.name)) continue;
      const members = g.members.map((m) => states.get(m) ?? 0);
      const gstate = members.every((s) => s === 0) ? SHUTDOWN : syncGroupState(members);
      if (this.sent.get(`g ${g.name}`) === gstate) continue;
      this.sent.set(`g ${g.name}`, gstate);
      this.send(
        config,
        [...VRRP_NOTIFICATIONS_OID, 1],
        [
          { oid: [...VRRP_OID, 1, 1, 2], type: 'octets', value: Buffer.from(g.name) },
          { oid: [...VRRP_OID, 1, 1, 3], type: 'integer', value: gstate },
        ],
      );
    }
  }

  /** vrrpTrapNewMaster / vrrpv3NewMaster as the instance enters MASTER. */
  private rfcTraps(view: VrrpRfcMibInput, inst: WatchedInstance): void {
    const key = `r ${inst.name}`;
    const was = this.sent.get(key);
    this.sent.set(key, inst.state);
    if (inst.state !== MASTER || was === MASTER) return;
    const traps = newMasterTraps(view, inst.name, { v2: this.settings.rfcv2, v3: this.settings.rfcv3 });
    for (const t of traps) {
      const what = t.trap[6] === 68 ? 'vrrpTrapNewMaster' : 'vrrpv3NotifyNewMaster';
      this.deps.log.info(`VRRP_Instance(${inst.name}): Sending SNMP notification ${what}`);
      this.agent.notify(t.trap, t.objects);
    }
    if (traps.length === 0)
      this.deps.log.debug(`SNMP: (${inst.name}) is in no RFC VRRP MIB: no new-master trap`);
  }

  /**
   * A trap with its objects, then routerId.0. keepalived names the objects by their column OID,
   * without the row index (vrrpInstanceName, not vrrpInstanceName.1), and so do we.
   */
  private send(config: KeepalivedConfig, trap: Oid, objects: readonly Varbind[]): void {
    const routerId: Varbind[] = config.global.routerId
      ? [{ oid: [...GLOBAL_OID, 2, 0], type: 'octets', value: Buffer.from(config.global.routerId) }]
      : [];
    this.agent.notify(trap, [...objects, ...routerId]);
  }
}

export type { SnmpInstanceState };
