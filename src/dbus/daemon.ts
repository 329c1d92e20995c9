/**
 * DBus in the daemon (global_defs `enable_dbus`, `dbus_service_name`), as keepalived's VRRP process
 * runs it: once connected, the Vrrp object and one object per VRRP instance, the signal
 * VrrpStarted and each instance's state, then the name; VrrpStatusChange on every change of state
 * (98 as the instances stop with the daemon), VrrpReloaded after a reload, VrrpStopped at the end.
 * A bus that is absent, a name already owned or a connection that breaks is logged and counted
 * (docs/errors/dbus.md); the daemon runs on without DBus. Nothing here throws after construction.
 */
import type { KeepalivedConfig } from '../config/model.js';
import { isKaError, KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DbusErrors } from './errors.js';
import { DbusService, readMachineId, validBusName } from './service.js';
import {
  type DbusActions,
  type DbusInstanceObject,
  DEFAULT_SERVICE_NAME,
  INSTANCE_INTERFACE,
  instanceObjectPath,
  type PathScope,
  STATE_STOP,
  VRRP_INTERFACE,
  VrrpObjectTree,
} from './tree.js';

export interface DbusSettings {
  readonly serviceName: string;
  readonly scope: PathScope;
}

/**
 * What keepalived would run: undefined without `enable_dbus`. `namespace` is the daemon's network
 * namespace (-s, else net_namespace), which keepalived puts in the object paths.
 */
export function dbusSettings(config: KeepalivedConfig, namespace?: string): DbusSettings | undefined {
  const s = config.global.settings;
  if (s.enable_dbus === undefined || s.enable_dbus === false) return undefined;
  const name = typeof s.dbus_service_name === 'string' ? s.dbus_service_name : DEFAULT_SERVICE_NAME;
  return { serviceName: name, scope: { namespace, instance: config.global.instance } };
}

/**
 * Whether a reload can keep the running DBus service: same name and same object paths (the
 * namespace and instance name in them). Either undefined: only if both are (enable_dbus unchanged off).
 */
export function sameDbusSettings(a: DbusSettings | undefined, b: DbusSettings | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.serviceName === b.serviceName &&
    (a.scope.namespace ?? '') === (b.scope.namespace ?? '') &&
    (a.scope.instance ?? '') === (b.scope.instance ?? '')
  );
}

/** An instance as DBus follows it (VrrpHost.instances' VrrpInstance fits). */
export interface DbusWatchedInstance {
  readonly name: string;
  /** keepalived's numeric state (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT). */
  readonly state: number;
  onChange(listener: () => void): void;
}

export interface DaemonDbusDeps {
  readonly log: Logger;
  readonly counters: { inc(name: string, by?: number): void };
  /** What the methods do (see DbusActions; docs/DBUS.md gives the daemon's wiring). */
  readonly actions: DbusActions;
  /** Bus address; default $DBUS_SYSTEM_BUS_ADDRESS, else the system bus socket. */
  readonly busAddress?: string;
  readonly machineId?: () => string;
}

/** Where an instance's object hangs: its configured interface (the base one under use_vmac), VRID, family. */
export function instancePath(config: KeepalivedConfig, scope: PathScope, name: string): string | undefined {
  const c = config.vrrpInstances.find((i) => i.name === name);
  if (!c) return undefined;
  // an instance without `interface` (unicast) runs on default_interface's addresses in keepalived
  const ifname = c.interface ?? config.global.defaultInterface;
  return instanceObjectPath(scope, ifname, c.vrid, c.family === 'inet6' ? 6 : 4);
}

export class DaemonDbus {
  readonly tree: VrrpObjectTree;
  private readonly service: DbusService;
  private config: KeepalivedConfig;
  /** Instances followed, with the path their object has now. */
  private readonly watched = new Map<DbusWatchedInstance, string | undefined>();
  private up = false;
  private stopped = false;
  /** The connection failed once: DBus is off for good, later reports of that failure are not counted. */
  private failed = false;
  /** Between reloading() and reloaded(): an instance leaving for INIT is a deleted one (keepalived: FAULT). */
  private inReload = false;

  constructor(
    readonly settings: DbusSettings,
    config: KeepalivedConfig,
    private readonly deps: DaemonDbusDeps,
  ) {
    if (!validBusName(settings.serviceName))
      throw new KaError(
        DbusErrors.KA_ERR_DBUS_SERVICE_NAME,
        `invalid dbus_service_name ${settings.serviceName}`,
      );
    this.config = config;
    this.tree = new VrrpObjectTree(settings.scope, deps.machineId ?? readMachineId);
    const log = deps.log;
    this.service = new DbusService({
      serviceName: settings.serviceName,
      tree: this.tree,
      ...(deps.busAddress !== undefined ? { busAddress: deps.busAddress } : {}),
      log,
      actions: this.loggedActions(deps.actions),
      onFailure: (e) => this.fail(e),
      onCallError: (code) => deps.counters.inc(code),
    });
  }

  /** The DBus service keepalived would run, or undefined (enable_dbus off, or a bad dbus_service_name: logged). */
  static create(config: KeepalivedConfig, deps: DaemonDbusDeps, namespace?: string): DaemonDbus | undefined {
    const settings = dbusSettings(config, namespace);
    if (!settings) return undefined;
    try {
      return new DaemonDbus(settings, config, deps);
    } catch (e) {
      const code = isKaError(e) ? e.code : DbusErrors.KA_ERR_DBUS_SERVICE_NAME;
      deps.counters.inc(code);
      deps.log.error({ code }, `DBus: ${(e as Error).message}; DBus disabled`);
      return undefined;
    }
  }

  /** Connect, publish, own the name. Resolves whether it worked; never rejects. */
  async start(): Promise<boolean> {
    try {
      await this.service.connect();
      if (this.stopped) {
        await this.service.close();
        return false;
      }
      this.up = true;
      this.deps.log.info(`Acquired DBus bus ${this.settings.serviceName}`);
      this.publish();
      this.service.signal(this.tree.vrrpPath, VRRP_INTERFACE, 'VrrpStarted');
      for (const [inst, path] of this.watched) this.statusSignal(path, inst.state);
      await this.service.requestName();
      this.deps.log.info(`Acquired the name ${this.settings.serviceName} on the session bus`);
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /** Follow these instances (those already followed are skipped): their objects, their changes of state. */
  watch(instances: readonly DbusWatchedInstance[]): void {
    const added = instances.filter((i) => !this.watched.has(i));
    for (const inst of added) {
      this.watched.set(inst, instancePath(this.config, this.settings.scope, inst.name));
      this.follow(inst);
    }
    if (!this.up || added.length === 0) return;
    this.publish();
    for (const inst of added) this.statusSignal(this.watched.get(inst), inst.state);
  }

  private follow(inst: DbusWatchedInstance): void {
    let last = inst.state;
    inst.onChange(() => {
      const s = inst.state;
      if (s === last) return;
      last = s;
      if (!this.watched.has(inst)) return;
      // keepalived: STOP (98) as the daemon stops, FAULT for an instance a reload deleted
      const code = s === 0 ? (this.inReload ? 3 : STATE_STOP) : s;
      this.statusSignal(this.watched.get(inst), code);
    });
  }

  /** Call before applying a reload to the VRRP instances. */
  reloading(): void {
    this.inReload = true;
  }

  /**
   * After a reload, in keepalived's order: the objects follow the new configuration, VrrpReloaded,
   * then the state of each new object. A kept instance whose path changes (an instance without
   * `interface` when default_interface changes) is deleted and created as keepalived does it: FAULT
   * on the old path before VrrpReloaded, its state on the new one after.
   */
  reloaded(config: KeepalivedConfig, instances: readonly DbusWatchedInstance[]): void {
    this.inReload = false;
    this.config = config;
    const now = new Set(instances);
    const fresh: DbusWatchedInstance[] = [];
    for (const [inst, path] of [...this.watched]) {
      if (!now.has(inst)) {
        this.watched.delete(inst);
        this.deps.log.info(`Deleted DBus object for instance ${inst.name}`);
        continue;
      }
      const next = instancePath(config, this.settings.scope, inst.name);
      if (next !== path) {
        this.statusSignal(path, 3);
        this.watched.set(inst, next);
        fresh.push(inst);
      }
    }
    const added = instances.filter((i) => !this.watched.has(i));
    for (const inst of added) {
      this.watched.set(inst, instancePath(config, this.settings.scope, inst.name));
      this.follow(inst);
    }
    this.publish();
    if (this.up) this.service.signal(this.tree.vrrpPath, VRRP_INTERFACE, 'VrrpReloaded');
    for (const inst of [...fresh, ...added]) this.statusSignal(this.watched.get(inst), inst.state);
  }

  /** VrrpStopped, then the name and the connection go. Never rejects. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.up) return;
    this.up = false;
    this.service.signal(this.tree.vrrpPath, VRRP_INTERFACE, 'VrrpStopped');
    await this.service.close();
    this.deps.log.info('Released DBus');
  }

  private publish(): void {
    const list: DbusInstanceObject[] = [];
    for (const [inst, path] of this.watched) if (path !== undefined) list.push({ path, source: inst });
    this.tree.setInstances(list);
  }

  private statusSignal(path: string | undefined, code: number): void {
    if (!this.up || path === undefined) return;
    this.service.signal(path, INSTANCE_INTERFACE, 'VrrpStatusChange', 'u', [code]);
  }

  private fail(e: unknown): void {
    const code = isKaError(e) ? e.code : DbusErrors.KA_ERR_DBUS_CONNECT;
    if (code === DbusErrors.KA_ERR_DBUS_SEND) {
      // one message lost; the connection itself is judged by its own errors
      this.deps.counters.inc(code);
      this.deps.log.warn({ code }, `DBus: ${(e as Error).message}`);
      return;
    }
    // a lost connection also fails the call in flight (start's RequestName): one failure
    if (this.failed) return;
    this.failed = true;
    this.deps.counters.inc(code);
    this.up = false;
    // keepalived unregisters its objects when it loses the name; here the connection goes too
    void this.service.close();
    this.deps.log.error({ code }, `DBus: ${(e as Error).message}; DBus disabled`);
  }

  /** keepalived's log lines around each action. */
  private loggedActions(a: DbusActions): DbusActions {
    const log = this.deps.log;
    return {
      printData: () => {
        log.info('Printing VRRP data on DBus request');
        return a.printData();
      },
      printStats: (clear) => {
        log.info(
          clear ? 'Printing and clearing VRRP stats on DBus request' : 'Printing VRRP stats on DBus request',
        );
        return a.printStats(clear);
      },
      reload: () => a.reload(),
      sendGarp: (name) => {
        log.info(`Sending garps on ${name} on DBus request`);
        return a.sendGarp(name);
      },
    };
  }
}
