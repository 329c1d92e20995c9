/**
 * SNMP in the daemon: which parts keepalived would run (global_defs `enable_snmp_*`, `enable_traps`,
 * `snmp_socket`, command-line `-x` and `-A`), the sub-agent's view of the daemon, and the
 * vrrpInstanceStateChange / vrrpSyncGroupStateChange traps.
 */
import type { KeepalivedConfig } from '../config/model.js';
import { isKaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DEFAULT_SNMP_SOCKET, SnmpAgent, type SnmpAgentOptions } from './agent.js';
import { SnmpErrors } from './errors.js';
import {
  findExact,
  GLOBAL_OID,
  type KeepalivedMibInput,
  keepalivedVarbinds,
  type Oid,
  type SnmpInstanceState,
  syncGroupState,
  type Varbind,
  VRRP_NOTIFICATIONS_OID,
  VRRP_OID,
} from './keepalived-mib.js';

export interface SnmpSettings {
  readonly socket: string;
  /** KEEPALIVED-MIB global and vrrp subtrees (`enable_snmp_vrrp`, its alias `enable_snmp_keepalived`). */
  readonly vrrp: boolean;
  /** KEEPALIVED-MIB check subtree: not served yet. */
  readonly checker: boolean;
  /** VRRP-MIB (RFC 2787) and VRRPv3-MIB (RFC 6527): not served yet. */
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
  onChange(listener: () => void): void;
}

export interface DaemonSnmpDeps {
  readonly log: Logger;
  readonly counters: { inc(name: string, by?: number): void };
}

/**
 * The daemon's sub-agent: `start(view)` once the VRRP side runs, `watch(instances)` for the traps,
 * `stop()` at shutdown. Never throws after construction.
 */
export class DaemonSnmp {
  readonly agent: SnmpAgent;
  private view: (() => KeepalivedMibInput) | undefined;
  /** Last state sent per sync group, so a trap goes out only when the group's state changes. */
  private readonly groupStates = new Map<string, number>();

  constructor(
    readonly settings: SnmpSettings,
    private readonly deps: DaemonSnmpDeps,
    agentOptions: Omit<SnmpAgentOptions, 'socket' | 'regions'> = {},
  ) {
    const regions: Oid[] = [GLOBAL_OID];
    if (settings.vrrp) regions.push(VRRP_OID);
    this.agent = new SnmpAgent({ ...agentOptions, socket: settings.socket, regions });
    const missing = [
      settings.checker ? 'enable_snmp_checker (KEEPALIVED-MIB check)' : '',
      settings.rfcv2 ? 'enable_snmp_rfcv2 (VRRP-MIB)' : '',
      settings.rfcv3 ? 'enable_snmp_rfcv3 (VRRPv3-MIB)' : '',
    ].filter((m) => m !== '');
    if (missing.length > 0) deps.log.warn(`SNMP: not served yet: ${missing.join(', ')}`);
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

  start(view: () => KeepalivedMibInput): void {
    this.view = view;
    this.agent.start(view, this.deps.log, this.deps.counters);
    if (this.settings.traps && this.settings.vrrp)
      for (const g of this.groups()) this.groupStates.set(g.name, g.state);
  }

  /** Send keepalived's traps on every state change of these instances (with `enable_traps`). */
  watch(instances: readonly WatchedInstance[]): void {
    if (!this.settings.traps || !this.settings.vrrp) return;
    for (const i of instances) i.onChange(() => this.instanceChanged(i.name));
  }

  stop(): Promise<void> {
    return this.agent.stop();
  }

  private input(): KeepalivedMibInput | undefined {
    try {
      return this.view?.();
    } catch (e) {
      this.deps.counters.inc(SnmpErrors.KA_ERR_SNMP_SNAPSHOT);
      this.deps.log.debug({ err: e }, 'SNMP: reading the daemon state for a trap failed');
      return undefined;
    }
  }

  private groups(): { name: string; state: number }[] {
    const input = this.input();
    if (!input) return [];
    const state = new Map(input.instances.map((i) => [i.iname, i.state]));
    return input.config.syncGroups.map((g) => ({
      name: g.name,
      state: syncGroupState(g.members.map((m) => state.get(m) ?? 0)),
    }));
  }

  private instanceChanged(name: string): void {
    const input = this.input();
    if (!input) return;
    const binds = keepalivedVarbinds(input);
    const ix =
      input.config.vrrpInstances
        .filter((c) => input.instances.some((i) => i.iname === c.name))
        .findIndex((c) => c.name === name) + 1;
    if (ix > 0)
      this.send([...VRRP_NOTIFICATIONS_OID, 2], binds, [
        [...VRRP_OID, 3, 1, 2, ix],
        [...VRRP_OID, 3, 1, 4, ix],
        [...VRRP_OID, 3, 1, 5, ix],
      ]);
    input.config.syncGroups.forEach((g, gi) => {
      if (!g.members.includes(name)) return;
      const state = findExact(binds, [...VRRP_OID, 1, 1, 3, gi + 1])?.value;
      if (typeof state !== 'number' || this.groupStates.get(g.name) === state) return;
      this.groupStates.set(g.name, state);
      this.send([...VRRP_NOTIFICATIONS_OID, 1], binds, [
        [...VRRP_OID, 1, 1, 2, gi + 1],
        [...VRRP_OID, 1, 1, 3, gi + 1],
      ]);
    });
  }

  /** A trap with the listed objects, then routerId.0, as keepalived's traps carry them. */
  private send(trap: Oid, binds: readonly Varbind[], objects: readonly Oid[]): void {
    const vbs = [...objects, [...GLOBAL_OID, 2, 0]]
      .map((o) => findExact(binds, o))
      .filter((v): v is Varbind => v !== undefined);
    this.agent.notify(trap, vbs);
  }
}

export type { SnmpInstanceState };
