/**
 * The LVS side of the daemon (keepalived's checker child): programs the virtual servers of the
 * configuration into kernel IPVS and keeps them in step with the health checkers.
 *
 * Flow: config → `specsFromConfig` (IPVS specs) + `checkersFromConfig` (checker specs) → checkers
 * (a Scheduler in a worker thread, or in-process on the injected clock when a runner is injected)
 * → real-server up/down events → `IpvsManager.setHealth` (desired table, quorum, sorry_server,
 * inhibit_on_failure, one reconcile at a time, never a flush) and, on a transition, notify_up /
 * notify_down and the `RS …` FIFO line (also on an alpha checker's first failure, without mail;
 * with rs_init_notifies, notify_up and `RS … UP` for each real server start or reload pools);
 * each checker result mails on its own (checkerMail: the checker's words, keepalived's
 * no_checker_emails); quorum transitions run quorum_up / quorum_down and write the `VS …` FIFO line,
 * then the virtual server's mail. BFD sessions reach the BFD_CHECK checkers through setBfdState.
 * lvs_sync_daemon follows the VRRP state of its instance; ha_suspend pauses the checks of a virtual
 * server while its address is not configured on this host.
 *
 * Besides transitions, as keepalived's ipwrapper.c: a virtual server's first programming (start, or
 * new in a reload) and a reload's first pass notify quorum as init_service_vs does (quorum_up /
 * quorum_down, `VS …` line, "Starting with quorum up/down" mail; see buildVirtualServer); a reload
 * that drops a live real server runs its notify_down, writes `RS … DOWN` and mails `=> Removing <=`
 * (clear_service_rs), and a virtual server whose quorum that costs (or that the reload drops while
 * its quorum is up) notifies "Lost quorum" (update_vs_notifies). The reload decides this once the
 * checker results received so far have reached the manager and its pass is done (settleHealth).
 *
 * A virtual server is keyed by `vsKey` (address, port and protocol; fwmark and family; group, protocol
 * and family) wherever state is kept per virtual server; its texts keep keepalived's wording.
 */
import { networkInterfaces } from 'node:os';
import { execa } from 'execa';
import { checkersFromConfig, rsKey } from '../check/fromConfig.js';
import type { Runner } from '../check/index.js';
import { type RealServerSpec as CheckedRs, Scheduler } from '../check/schedule.js';
import type { CheckerTransition, RealServerEvent } from '../check/types.js';
import { CheckerWorker, type WorkerStats } from '../check/worker.js';
import type { KeepalivedConfig, RealServer, VirtualServer } from '../config/model.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { isKaError, type KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  buildDesired,
  checksSuspended,
  type QuorumEvent,
  type RsHealth,
  realServerId,
  rekey,
  reloadRenames,
  type VirtualServerSpec,
  vsFamilyName,
  vsKey,
} from '../ipvs/desired.js';
import { FakeIpvs } from '../ipvs/fake.js';
import { specsFromConfig, syncDaemonConfig } from '../ipvs/from-config.js';
import { IpvsManager } from '../ipvs/manager.js';
import { NetlinkIpvs } from '../ipvs/netlink-ops.js';
import { followVrrpState, type SyncDaemonConfig, type VrrpStateName } from '../ipvs/sync-daemon.js';
import type { IpvsOps, TableService } from '../ipvs/types.js';
import { NotifyFifo } from '../notify/fifo.js';
import { Notifier } from '../notify/notifier.js';
import { type ScriptDef, ScriptRunner } from '../notify/script.js';
import {
  type AlertVirtualServer,
  checkerBody,
  mailsCheckerResult,
  quorumBody,
  realServerAlerts,
  type SmtpAlerterOptions,
  shutdownBody,
  virtualServerAlerts,
} from '../notify/smtp-alert.js';
import { addrFamily, canonicalAddr } from '../wire/ipvs.js';
import type { ScriptResolver } from './scripts.js';

/** A state change SNMP traps report (LvsHost.onStateEvent). */
export type LvsStateEvent =
  | {
      readonly kind: 'rs';
      readonly vs: VirtualServer;
      readonly address: string;
      readonly port: number | undefined;
      readonly up: boolean;
    }
  | { readonly kind: 'quorum'; readonly vs: VirtualServer; readonly up: boolean; readonly stopping: boolean };

export interface LvsHostDeps {
  clock: Clock;
  log: Logger;
  counters: Counters;
  scripts: ScriptResolver;
  /** `-I` / `--dont-release-ipvs`: leave the IPVS table as it is at stop. */
  dontRelease?: boolean;
  /** The checker worker logs to the console (stderr, `-l`), like the daemon's own logger. */
  logStderr?: boolean;
  /** The checker worker's syslog, as the daemon's: off (-G), facility (-S), ident suffix. */
  syslog?: { noSyslog: boolean; logFacility: number; identSuffix: string };
  /** IPVS access; default: generic netlink (`NetlinkIpvs`), opened at start. */
  ipvs?: IpvsOps;
  /**
   * Checker attempts run by this function in an in-process Scheduler on `clock` (tests); default:
   * the real checkers in a worker thread, away from the thread that sends VRRP adverts.
   */
  checkRunner?: Runner;
  /** Warmup randomness of the in-process Scheduler. */
  random?: () => number;
  /** Runs notify_up/down and quorum_up/down; default: a ScriptRunner of this host. */
  scriptRunner?: ScriptRunner;
  /** IPVS drift repair period (µs; 0 = never); default that of a checker-only daemon (ipvsRepairDefaultS). */
  repairIntervalUs?: number;
  /** The checker worker thread's kernel tid, once it started (checker_priority & co. apply to it). */
  onCheckerThread?: (tid: number) => void;
  /** The addresses configured on this host (ha_suspend); default: os.networkInterfaces(). */
  localAddrs?: () => ReadonlySet<string>;
  /** SMTP alert sender options (tests: a fake transport); default: nodemailer to smtp_server. */
  smtp?: Omit<SmtpAlerterOptions, 'log' | 'counters'>;
}

export type LvsVrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/** One checked real server: how the checker names it, how the IPVS side names it, its hooks. */
interface RsEntry {
  readonly checkId: string;
  readonly healthId: string;
  /** vsKey of its virtual server. */
  readonly vsKey: string;
  readonly rs: RealServer;
  readonly check: CheckedRs;
  readonly checkJson: string;
  readonly notifyUp: ScriptDef | undefined;
  readonly notifyDown: ScriptDef | undefined;
  /** `[198.51.100.11]:tcp:80` as keepalived formats a real server in FIFO lines and logs. */
  readonly text: string;
  /** smtp_alert as keepalived resolves it for a real server. */
  readonly mail: boolean;
  /** bfd_instance names of its BFD_CHECK checkers. */
  readonly bfdNames: readonly string[];
}

/** A real server, checked or not, as quorum, reload removal and omega's stop see it. */
interface RsMember {
  readonly healthId: string;
  readonly text: string;
  readonly mail: boolean;
  readonly notifyUp: ScriptDef | undefined;
  readonly notifyDown: ScriptDef | undefined;
  readonly weight: number;
  readonly inhibitOnFailure: boolean;
  /** false: no checker, always alive (as in keepalived). */
  readonly checked: boolean;
  /** A checked server with alpha is down until its first success. */
  readonly alpha: boolean;
}

interface VsEntry {
  readonly cfg: VirtualServer;
  readonly spec: VirtualServerSpec;
  /** vsKey(spec): its identity in quorum state, health and checker ids and the reload diff. */
  readonly key: string;
  readonly quorumUp: ScriptDef | undefined;
  readonly quorumDown: ScriptDef | undefined;
  /** `[203.0.113.10]:tcp:80`, `FWM 5` or `[GROUP]:0`. */
  readonly text: string;
  /** smtp_alert of the virtual server (quorum mails). */
  readonly mail: boolean;
  /** What its quorum and removal mails need. */
  readonly alert: AlertVirtualServer;
  readonly rs: RsEntry[];
  /** Every real server, duplicates dropped. */
  readonly members: RsMember[];
  suspended: boolean;
}

interface Checks {
  add(rs: CheckedRs): void;
  remove(id: string): void;
  /** A BFD session's state, for BFD_CHECK. */
  bfd(name: string, up: boolean): void;
  stop(): Promise<void>;
  /** The checker worker's statistics (undefined before it started, or for in-process checks). */
  stats?(): Promise<WorkerStats> | undefined;
}

interface Model {
  vs: VsEntry[];
  byCheckId: Map<string, RsEntry>;
  specs: VirtualServerSpec[];
}

const proto = (p: VirtualServer['protocol']): string => p.toLowerCase();

function hostPort(addr: string, protocol: string, port: number | undefined): string {
  return `[${addr}]:${protocol}:${port ?? 0}`;
}

function vsText(vs: VirtualServer): string {
  const t = vs.target;
  if (t.kind === 'fwmark') return `FWM ${t.fwmark}`;
  if (t.kind === 'group') return `[${t.name}]:0`;
  return hostPort(t.addr, proto(vs.protocol), t.port);
}

/** What a reload's removals notify, decided before the old state goes (reloadClears). */
type ReloadClear =
  | { readonly kind: 'rs'; readonly v: VsEntry; readonly m: RsMember }
  | { readonly kind: 'vs'; readonly v: VsEntry; readonly weightSum: number; readonly threshold: number };

/** Addresses of this host, canonical (ha_suspend). */
function systemAddrs(): ReadonlySet<string> {
  const s = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const af = addrFamily(a.address);
      if (af !== undefined) s.add(canonicalAddr(af, a.address));
    }
  }
  return s;
}

/** How long after a VRRP transition ha_suspend looks again (VIPs are added after the state change). */
const HA_SUSPEND_RECHECK_US = 1_000_000;
/**
 * Default period of the IPVS drift repair (seconds). keepalived never reads the table back. Ours can,
 * but the read-back and comparison run on the main thread: with VRRP on that thread, 2,000
 * destinations held it 67–199 ms once a minute in the emulated test VM (bench/check; about 1–3 ms
 * on real CPU), so the repair is off by default there and runs every 60 s in a checker-only daemon.
 */
export function ipvsRepairDefaultS(withVrrp: boolean): number {
  return withVrrp ? 0 : 60;
}
/** How often the checker worker's totals are read into the daemon's counters. */
const CHECKER_STATS_US = 10_000_000;
/** Rounds of checker results a reload waits for before deciding its removals (settleHealth). */
const SETTLE_ROUNDS = 10;
/** At stop, how long queued SMTP alerts (omega's down mails) may take before they are dropped. */
const SMTP_STOP_WAIT_MS = 2_000;

export class LvsHost {
  private config: KeepalivedConfig;
  private model: Model = { vs: [], byCheckId: new Map(), specs: [] };
  private ops: IpvsOps | undefined;
  private ownOps: NetlinkIpvs | undefined;
  private manager: IpvsManager | undefined;
  private checks: Checks | undefined;
  private readonly health = new Map<string, RsHealth>();
  /** Health changes not yet given to the manager (see flushHealth). */
  private readonly pendingHealth = new Map<string, RsHealth>();
  private readonly runner: ScriptRunner;
  private readonly notifier: Notifier;
  private fifos: NotifyFifo[] = [];
  private fifoKey = '';
  private readonly pending = new Set<Promise<unknown>>();
  private readonly vrrpStates = new Map<string, LvsVrrpState>();
  private syncChain: Promise<void> = Promise.resolve();
  private syncApplied: string | undefined;
  private haTimer: TimerHandle | undefined;
  private repairTimer: TimerHandle | undefined;
  private statsTimer: TimerHandle | undefined;
  private statsPending = false;
  /** The checker worker's totals at its last report (addCheckerStats). */
  private readonly checkerTotals = new Map<string, number>();
  private stopped = false;
  /** rs_init_notifies: real servers put in the pool by start or reload, not yet notified. */
  private initNotifies: Array<{ readonly i: number; readonly v: VsEntry; readonly m: RsMember }> = [];
  /** How many of initNotifies are written. */
  private initDone = 0;
  /** A reload is deciding its removals: checker results wait in pendingHealth (see reload). */
  private reloading = false;
  /**
   * checkId -> the id its checker runs under in the Scheduler. A checker started again (ha_suspend
   * resume) runs under a new id, so a late result of the old run is not taken for the new one.
   */
  private readonly runIds = new Map<string, string>();
  /** Scheduler id -> checkId, for the checkers running now. */
  private readonly runOf = new Map<string, string>();
  private runSeq = 0;
  /** checkIds started at least once (a later run gets a new Scheduler id). */
  private readonly started = new Set<string>();
  /** Runs whose first event (the initial state Scheduler.add emits, not a result) is still to come. */
  private readonly fresh = new Set<string>();
  /** Resumed runs: their initial state is the kept one, so their first event is dropped. */
  private readonly resumed = new Set<string>();
  /** checkIds whose checkers produced a result (keepalived's has_run, per real server here). */
  private readonly hasRun = new Set<string>();
  /** Checker mails waiting for the IPVS pass (and so the quorum notifies) of their result (onCheck). */
  private mailsAfterPass: Array<() => void> = [];
  /** Last Up/Down of each BFD session (setBfdState), for BFD_CHECK checkers started later. */
  private readonly bfdStates = new Map<string, boolean>();
  private readonly log: Logger;

  constructor(
    config: KeepalivedConfig,
    private readonly deps: LvsHostDeps,
  ) {
    this.config = config;
    this.log = deps.log;
    this.runner =
      deps.scriptRunner ?? new ScriptRunner({ clock: deps.clock, log: deps.log, counters: deps.counters });
    this.notifier = new Notifier({
      runner: this.runner,
      log: deps.log,
      counters: deps.counters,
      ...(deps.smtp ? { smtpOptions: deps.smtp } : {}),
    });
  }

  /**
   * Opens IPVS, programs the table, starts the checkers. A kernel without IPVS
   * (KA_ERR_IPVS_NO_FAMILY even after `modprobe ip_vs`) is logged once and the checkers run against an
   * in-memory table: notify_up/down, quorum scripts and the FIFO still follow real-server health.
   * (keepalived's checker child instead exits and is restarted in a loop, logging the error each time.)
   */
  async start(): Promise<void> {
    this.ops = this.deps.ipvs ?? (await this.openNetlinkOrMemory());
    this.notifier.configureSmtp(this.config);
    await this.openFifos(this.config);
    this.model = await this.buildModel(this.config);
    const g = this.config.global;
    const t = g.lvsTimeouts;
    this.manager = new IpvsManager(this.ops, this.model.specs, {
      log: this.log,
      onQuorum: (e) => this.onQuorum(e),
      // keepalived's explicit requests: flush the whole table at start / at stop, kernel timeouts.
      flushOnStart: g.lvsFlush,
      flushOnStop: g.lvsFlushOnStop,
      timeouts: t
        ? {
            ...(t.tcp !== undefined ? { tcp: t.tcp } : {}),
            ...(t.tcpfin !== undefined ? { tcpFin: t.tcpfin } : {}),
            ...(t.udp !== undefined ? { udp: t.udp } : {}),
          }
        : undefined,
    });
    this.checks = this.makeChecks();
    this.queueInitNotifies(new Set());
    try {
      await this.manager.start();
    } catch (e) {
      this.reconcileFailed(e);
    }
    this.flushInitNotifies(Number.POSITIVE_INFINITY);
    this.armRepair();
    if (this.checks.stats) this.armCheckerStats();
    const local = this.localAddrs();
    for (const v of this.model.vs) {
      v.suspended = checksSuspended(v.spec, local);
      if (v.suspended) this.log.info(`VS ${v.text}: checks suspended (ha_suspend, address not local)`);
      else for (const r of v.rs) this.startCheck(r, false);
    }
  }

  /** Stops the checkers; removes what the configuration created unless dontRelease. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.haTimer?.cancel();
    this.repairTimer?.cancel();
    this.statsTimer?.cancel();
    await this.checks?.stop();
    await Promise.allSettled([...this.pending]);
    if (!this.deps.dontRelease && this.manager) {
      const manager = this.manager;
      // omega, one virtual server at a time as keepalived's clear_services: the down notifiers of
      // its real servers in the pool, then (from the manager) its quorum_down. With
      // lvs_flush_on_stop keepalived removes the virtual server without visiting its real servers.
      const rsDown = (key: string): void => {
        const v = this.model.vs.find((x) => x.key === key);
        if (!v?.cfg.omega || this.config.global.lvsFlushOnStop !== false) return;
        const up = manager.quorumUp(v.key) ?? false;
        for (const m of v.members) if (this.inPool(v, m, up)) this.rsRemoved(v, m, true);
      };
      try {
        await manager.stop(rsDown);
      } catch (e) {
        this.deps.counters.inc('lvs.stop_errors');
        this.log.error({ err: e }, `IPVS cleanup at stop failed: ${(e as Error).message}`);
      }
      const sd = this.syncDaemon();
      if (sd && this.ops && this.syncApplied !== undefined) {
        await this.syncChain;
        await followVrrpState(this.ops, sd.cfg, 'STOP').catch((e: unknown) => {
          this.log.error({ err: e }, `lvs_sync_daemon stop failed: ${(e as Error).message}`);
        });
      }
    }
    await this.runner.drain(1_000_000).catch(() => false);
    await new Promise<void>((r) => setImmediate(r)); // FIFO lines are written one turn later
    for (const f of this.fifos) await f.close();
    this.fifos = [];
    await this.notifier.closeSmtp(SMTP_STOP_WAIT_MS);
    this.ownOps?.close();
  }

  /** New configuration: only the difference reaches the kernel; unchanged real servers keep their state. */
  async reload(config: KeepalivedConfig): Promise<void> {
    if (this.stopped || !this.manager || !this.checks) return;
    const old = this.model;
    const next = await this.buildModel(config);
    if (this.stopped) return;
    this.config = config;
    for (const name of [...this.bfdStates.keys()])
      if (!config.bfdInstances.some((b) => b.name === name)) this.bfdStates.delete(name);
    // Checker results wait in pendingHealth until the manager has the new specs: a pass on the old
    // specs after the removals were decided would notify the same quorum loss again.
    this.reloading = true;
    let pass: Promise<void> = Promise.resolve();
    try {
      // Decided on one view: every checker result so far in the manager and its passes done, so
      // its quorum agrees with the health the removals are weighed on.
      await this.settleHealth();
      // A group virtual server whose protocol or family changed is kept under its new key.
      const renamed = reloadRenames(old.specs, next.specs);
      const newKey = (key: string): string => renamed.get(key) ?? key;
      const cleared = this.reloadClears(old, next, config, renamed);
      const oldCheckId = this.carryRenamed(old, renamed);
      const keep = new Set<string>();
      for (const [id, r] of next.byCheckId) {
        const o = old.byCheckId.get(oldCheckId.get(id) ?? id);
        if (o && o.checkJson === r.checkJson) keep.add(id);
      }
      for (const [oid, r] of old.byCheckId) {
        const id = rekey(oid, r.vsKey, newKey(r.vsKey));
        if (keep.has(id)) continue;
        const healthId = rekey(r.healthId, r.vsKey, newKey(r.vsKey));
        this.stopCheck(id);
        this.hasRun.delete(id);
        this.health.delete(healthId);
        this.pendingHealth.delete(healthId);
      }
      const live = new Set(next.specs.flatMap((s) => s.realServers.map((rs) => realServerId(s, rs))));
      for (const id of [...this.health.keys()])
        if (!live.has(id)) {
          this.health.delete(id);
          this.pendingHealth.delete(id);
        }
      this.model = next;
      this.notifier.configureSmtp(config);
      // As keepalived: the new configuration's FIFOs are open before the removals notify.
      await this.reopenFifos(config);
      for (const c of cleared) {
        if (c.kind === 'rs') this.rsRemoved(c.v, c.m, false);
        else
          this.vsNotify(c.v, {
            vs: c.v.key,
            kind: 'quorum-down',
            weightSum: c.weightSum,
            threshold: c.threshold,
          });
      }
      const local = this.localAddrs();
      for (const v of next.vs) {
        v.suspended = checksSuspended(v.spec, local);
        for (const r of v.rs) {
          const running = this.runIds.has(r.checkId);
          if (v.suspended && running) this.stopCheck(r.checkId);
          else if (!v.suspended && !running) this.startCheck(r, keep.has(r.checkId));
        }
      }
      this.queueInitNotifies(
        new Set(old.vs.flatMap((v) => v.members.map((m) => rekey(m.healthId, v.key, newKey(v.key))))),
      );
      // reload() takes the new specs at once; results held meanwhile join its first pass.
      pass = this.manager.reload(next.specs);
    } finally {
      this.reloading = false;
      this.flushHealth();
    }
    try {
      await pass;
    } catch (e) {
      this.reconcileFailed(e);
    }
    this.flushInitNotifies(Number.POSITIVE_INFINITY);
    this.followSyncDaemon();
  }

  /**
   * Gives the manager every checker result received so far and waits until its passes are done, so
   * its quorum state is decided on the health this host has notified. Results arriving meanwhile
   * make another round; after SETTLE_ROUNDS the reload goes on (a real server flapping faster than
   * a pass must not hold a reload back).
   */
  private async settleHealth(): Promise<void> {
    const manager = this.manager;
    if (!manager) return;
    for (let round = 0; round < SETTLE_ROUNDS && !this.stopped; round++) {
      const batch = [...this.pendingHealth];
      this.pendingHealth.clear();
      for (const [id, h] of batch) this.track(manager.setHealth(id, h));
      await manager.idle();
      if (this.pendingHealth.size === 0) return;
    }
    this.deps.counters.inc('lvs.reload_unsettled');
  }

  /** A VRRP instance changed state: the sync daemon follows its instance; ha_suspend looks again. */
  vrrpStateChanged(instance: string, state: LvsVrrpState): void {
    if (this.stopped) return;
    this.vrrpStates.set(instance, state);
    this.followSyncDaemon();
    this.recheckSuspend();
    this.haTimer?.cancel();
    this.haTimer = this.deps.clock.at(this.deps.clock.now() + HA_SUSPEND_RECHECK_US, () => {
      this.haTimer = undefined;
      this.recheckSuspend();
    });
  }

  /** JSON-able state: per virtual server, quorum, its kernel services as desired, its real servers. */
  snapshot(): unknown {
    let table: ReturnType<typeof buildDesired> | undefined;
    try {
      table = this.desired();
    } catch {
      table = undefined;
    }
    return {
      virtualServers: this.model.vs.map((v) => ({
        name: v.cfg.name,
        protocol: proto(v.cfg.protocol),
        family: vsFamilyName(v.spec),
        quorumUp: this.manager?.quorumUp(v.key) ?? null,
        suspended: v.suspended,
        services: [...(table?.table ?? new Map<string, TableService>())]
          .filter(([k]) => table?.origin.get(k) === v.key)
          .map(([key, s]) => ({
            key,
            sched: s.svc.sched,
            dests: s.dests.map((d) => ({ addr: d.addr, port: d.port, weight: d.weight })),
          })),
        realServers: v.spec.realServers.map((rs, i) => {
          const id = realServerId(v.spec, rs);
          const h = this.health.get(id);
          const checked = (v.cfg.realServers[i]?.checkers.length ?? 0) > 0;
          return {
            addr: rs.addr,
            port: rs.port ?? null,
            checkers: v.cfg.realServers[i]?.checkers.length ?? 0,
            up: checked ? (h?.up ?? !(rs.alpha ?? v.spec.alpha ?? false)) : true,
            weight: h?.weight ?? rs.weight,
          };
        }),
      })),
      syncDaemon: this.syncApplied ?? null,
    };
  }

  // ---- model ----

  /** The IPVS specs of the configuration; a virtual server that cannot be built is left out (logged). */
  private specsOf(config: KeepalivedConfig): Array<{ cfg: VirtualServer; spec: VirtualServerSpec }> {
    const out: Array<{ cfg: VirtualServer; spec: VirtualServerSpec }> = [];
    const reject = (cfg: VirtualServer, e: unknown) => {
      this.deps.counters.inc('lvs.virtual_server_errors');
      this.log.error(
        { code: isKaError(e) ? e.code : undefined },
        `VS ${cfg.name} left out: ${(e as Error).message}`,
      );
    };
    for (const cfg of config.virtualServers) {
      try {
        const spec = specsFromConfig({
          virtualServers: [cfg],
          virtualServerGroups: config.virtualServerGroups,
        })[0];
        if (!spec) continue;
        buildDesired([spec], new Map());
        out.push({ cfg, spec });
      } catch (e) {
        reject(cfg, e);
      }
    }
    try {
      buildDesired(
        out.map((x) => x.spec),
        new Map(),
      );
      return out;
    } catch {
      // Two virtual servers define the same kernel service: keep the first, as keepalived does.
      const kept: typeof out = [];
      for (const x of out) {
        try {
          buildDesired([...kept.map((k) => k.spec), x.spec], new Map());
          kept.push(x);
        } catch (e) {
          reject(x.cfg, e);
        }
      }
      return kept;
    }
  }

  private async buildModel(config: KeepalivedConfig): Promise<Model> {
    const { servers, skipped } = checkersFromConfig(config);
    for (const e of skipped) {
      this.deps.counters.inc(`lvs.checker_skipped.${e.code}`);
      this.log.warn({ code: e.code }, e.message);
    }
    // checkersFromConfig lists every real server of every virtual server in configuration order
    // and names them by VS name, which TCP and UDP share: each gets an id by vsKey here.
    const checkedOf = new Map<RealServer, CheckedRs>();
    let k = 0;
    for (const c of config.virtualServers)
      for (const rs of c.realServers) {
        const s = servers[k++];
        if (s) checkedOf.set(rs, s.spec);
      }
    const vs: VsEntry[] = [];
    const byCheckId = new Map<string, RsEntry>();
    const specs: VirtualServerSpec[] = [];
    for (const { cfg, spec } of this.specsOf(config)) {
      specs.push(spec);
      const text = vsText(cfg);
      const mail = virtualServerAlerts(cfg, config.global);
      const key = vsKey(spec);
      const entry: VsEntry = {
        cfg,
        spec,
        key,
        text,
        mail,
        alert: {
          text,
          mail,
          quorum: spec.quorum ?? 1,
          hysteresis: spec.hysteresis ?? 0,
          sorryServer: spec.sorryServer !== undefined,
        },
        quorumUp: await this.deps.scripts.resolve(`quorum_up(${cfg.name})`, cfg.quorumUp),
        quorumDown: await this.deps.scripts.resolve(`quorum_down(${cfg.name})`, cfg.quorumDown),
        rs: [],
        members: [],
        suspended: false,
      };
      const memberIds = new Map<string, RsMember>();
      for (const [i, rs] of cfg.realServers.entries()) {
        const rsSpec = spec.realServers[i];
        if (!rsSpec) continue;
        const rsText = hostPort(rs.address, proto(cfg.protocol), rs.port);
        const healthId = realServerId(spec, rsSpec);
        let member = memberIds.get(healthId);
        if (!member) {
          member = {
            healthId,
            text: rsText,
            mail: realServerAlerts(rs, config.global),
            notifyUp: await this.deps.scripts.resolve(`notify_up(${rsText})`, rs.notifyUp),
            notifyDown: await this.deps.scripts.resolve(`notify_down(${rsText})`, rs.notifyDown),
            weight: rsSpec.weight,
            inhibitOnFailure: rsSpec.inhibitOnFailure ?? spec.inhibitOnFailure ?? false,
            checked: rsSpec.hasCheckers,
            alpha: rsSpec.alpha ?? spec.alpha ?? false,
          };
          memberIds.set(healthId, member);
          entry.members.push(member);
        }
        if (rs.checkers.length === 0) continue;
        const checkId = `${key}|${rsKey(rs)}`;
        const listed = checkedOf.get(rs);
        // A duplicate real server (same address and port) is dropped, as keepalived does.
        if (!listed || byCheckId.has(checkId)) continue;
        const check: CheckedRs = { ...listed, id: checkId };
        const r: RsEntry = {
          checkId,
          healthId,
          vsKey: key,
          rs,
          check,
          // Without its id and log label: a checker kept under a new key (reloadRenames) compares equal.
          checkJson: JSON.stringify({ ...check, id: '', label: '' }),
          notifyUp: member.notifyUp,
          notifyDown: member.notifyDown,
          text: rsText,
          mail: realServerAlerts(rs, config.global),
          bfdNames: rs.checkers.flatMap((c) => (c.kind === 'BFD_CHECK' ? [c.name] : [])),
        };
        entry.rs.push(r);
        byCheckId.set(checkId, r);
      }
      vs.push(entry);
    }
    return { vs, byCheckId, specs };
  }

  /** Through the manager when there is one: it keeps each virtual server's health-free part built. */
  private desired() {
    return this.manager?.desired() ?? buildDesired(this.model.specs, this.health);
  }

  // ---- checkers ----

  private makeChecks(): Checks {
    const onEvent = (ev: RealServerEvent) => this.onCheck(ev);
    if (this.deps.checkRunner) {
      const s = new Scheduler({
        clock: this.deps.clock,
        onEvent,
        runner: this.deps.checkRunner,
        logger: this.log,
        ...(this.deps.random ? { random: this.deps.random } : {}),
      });
      return {
        add: (rs) => s.add(rs),
        remove: (id) => s.remove(id),
        bfd: (name, up) => s.setBfdState(name, up),
        stop: async () => s.stop(),
      };
    }
    // The worker thread starts with the first checked real server.
    let w: CheckerWorker | undefined;
    const worker = () =>
      new CheckerWorker(
        {
          onEvent,
          onError: (e: KaError) => {
            this.deps.counters.inc(`lvs.checker_errors.${e.code}`);
            this.log.error({ code: e.code }, e.message);
          },
          ...(this.deps.onCheckerThread ? { onTid: this.deps.onCheckerThread } : {}),
        },
        {
          logLevel: this.log.level,
          ...(this.deps.logStderr ? { logStderr: true } : {}),
          ...(this.deps.syslog ?? {}),
        },
      );
    return {
      add: (rs) => {
        w ??= worker();
        w.add(rs);
      },
      remove: (id) => w?.remove(id),
      bfd: (name, up) => w?.bfd(name, up),
      stop: async () => {
        await w?.stop();
      },
      stats: () => w?.stats(),
    };
  }

  /**
   * The worker's totals become daemon counters (and so Prometheus metrics): `check.attempts`,
   * `check.failures`, `check.fail.<code>` (as the in-process Scheduler names them) and the worker's
   * own (`check.ping.*`), added as
   * differences from the previous report every CHECKER_STATS_US.
   */
  private armCheckerStats(): void {
    this.statsTimer = this.deps.clock.at(this.deps.clock.now() + CHECKER_STATS_US, () => {
      if (this.stopped) return;
      // One request at a time. One still unanswered a period later is counted and given up: the
      // next request goes out (a late reply still settles every waiter).
      if (this.statsPending) this.deps.counters.inc('lvs.checker_stats_missed');
      const p = this.checks?.stats?.();
      if (p) {
        this.statsPending = true;
        void p.then(
          (s) => {
            this.statsPending = false;
            if (!this.stopped) this.addCheckerStats(s);
          },
          () => {
            this.statsPending = false;
          },
        );
      }
      this.armCheckerStats();
    });
  }

  private addCheckerStats(s: WorkerStats): void {
    const now: Record<string, number> = {
      'check.attempts': s.attempts,
      'check.failures': s.failures,
      ...Object.fromEntries(Object.entries(s.failCodes).map(([code, n]) => [`check.fail.${code}`, n])),
      ...s.counters,
    };
    for (const [name, v] of Object.entries(now)) {
      const d = v - (this.checkerTotals.get(name) ?? 0);
      if (d > 0) this.deps.counters.inc(name, d);
      this.checkerTotals.set(name, v);
    }
  }

  private onCheck(ev: RealServerEvent): void {
    if (this.stopped || !this.manager) return;
    const checkId = this.runOf.get(ev.realServer);
    const r = checkId === undefined ? undefined : this.model.byCheckId.get(checkId);
    if (!r) {
      this.deps.counters.inc('lvs.stale_check_events');
      return;
    }
    // A run's first event is the state Scheduler.add starts it in; a resumed run starts in the
    // state it was suspended in, which this host still holds (health, weight): nothing to take.
    const initial = this.fresh.delete(ev.realServer);
    if (initial && this.resumed.delete(ev.realServer)) return;
    const ranBefore = this.hasRun.has(r.checkId);
    if (!initial) this.hasRun.add(r.checkId);
    const v = this.model.vs.find((x) => x.key === r.vsKey);
    if (ev.alphaFailure) {
      // keepalived's do_rs_notifies for an alpha checker's first failure: notify_down and the
      // `RS … DOWN` line; no mail (the checker was not up) and no change to the pool. A checker
      // that had run before it was suspended is not at its first result (has_run kept).
      if (!ranBefore && v) {
        this.notifier.realServer(r.notifyDown, `RS ${r.text} ${v.text} DOWN`);
        // MISC_CHECK reports its first result whatever its state: mailed unless no_checker_emails
        if (ev.checker) this.checkerMail(v, r, ev.checker, false, false);
      }
      return;
    }
    const prev = this.health.get(r.healthId);
    const h: RsHealth = ev.weight === undefined ? { up: ev.up } : { up: ev.up, weight: ev.weight };
    const rsChanged = prev !== undefined && prev.up !== ev.up;
    if (v && rsChanged) {
      const inhibit = r.rs.inhibitOnFailure;
      const verb = ev.up ? (inhibit ? 'Enabling' : 'Adding') : inhibit ? 'Disabling' : 'Removing';
      this.log.info({ rs: r.healthId }, `${verb} service ${r.text} ${ev.up ? 'to' : 'from'} VS ${v.text}`);
      this.deps.counters.inc(ev.up ? 'lvs.rs_up' : 'lvs.rs_down');
      this.notifyRs(v, r, ev.up);
    }
    if (v && ev.checker && !initial && !(ev.checker.unchanged && ranBefore)) {
      const c = ev.checker;
      const up = ev.up;
      // keepalived mails the checker result after update_svr_checker_state, so after the quorum
      // change it caused (update_quorum_state → do_vs_notifies): a result that moves the real
      // server mails once the IPVS pass it starts is done; later ones keep their order behind it.
      const mail = () => this.checkerMail(v, r, c, up, rsChanged);
      if (rsChanged || this.mailsAfterPass.length > 0) this.mailsAfterPass.push(mail);
      else mail();
    }
    // A checker transition that leaves the real server as it was changes nothing in IPVS.
    if (prev !== undefined && prev.up === h.up && prev.weight === h.weight) return;
    this.health.set(r.healthId, h);
    this.pendingHealth.set(r.healthId, h);
    if (this.pendingHealth.size === 1 && !this.reloading) setImmediate(() => this.flushHealth());
  }

  /**
   * Health changes reach the manager once per event-loop turn: the worker's messages of one turn
   * become one pass over the virtual servers they touch (plus at most one more for changes during
   * it) instead of one pass per real server, which at 2,000 servers kept the VRRP thread busy for
   * tens of seconds after start.
   */
  private flushHealth(): void {
    if (this.reloading) return; // reload() flushes once the manager has the new specs
    const batch = [...this.pendingHealth];
    this.pendingHealth.clear();
    const mails = this.mailsAfterPass.splice(0);
    const manager = this.manager;
    if (this.stopped || !manager) {
      for (const m of mails) m();
      return;
    }
    const passes = batch.map(([id, h]) => manager.setHealth(id, h));
    for (const p of passes) this.track(p);
    if (mails.length === 0) return;
    void Promise.allSettled(passes).then(() => {
      for (const m of mails) m();
    });
  }

  private armRepair(): void {
    const every = this.deps.repairIntervalUs ?? ipvsRepairDefaultS(false) * 1e6;
    if (every <= 0) return;
    this.repairTimer = this.deps.clock.at(this.deps.clock.now() + every, () => {
      if (this.stopped || !this.manager) return;
      this.track(this.manager.repair());
      this.armRepair();
    });
  }

  private notifyRs(v: VsEntry, r: RsEntry, up: boolean): void {
    this.notifier.realServer(up ? r.notifyUp : r.notifyDown, `RS ${r.text} ${v.text} ${up ? 'UP' : 'DOWN'}`);
    this.emitState({ kind: 'rs', vs: v.cfg, address: r.rs.address, port: r.rs.port, up });
  }

  private readonly stateListeners: ((e: LvsStateEvent) => void)[] = [];

  /** SNMP traps: a real server moved, or a virtual server's quorum did (after their notifies). */
  onStateEvent(listener: (e: LvsStateEvent) => void): void {
    this.stateListeners.push(listener);
  }

  private emitState(e: LvsStateEvent): void {
    for (const l of this.stateListeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err }, 'LVS state listener failed');
      }
    }
  }

  /**
   * keepalived mails per checker result, not per real server (each checker after
   * update_svr_checker_state): the checker's own words, the real server's state after the result in
   * the subject, when the real server's smtp_alert is on and either its state changed or
   * no_checker_emails is off. So with two checkers, the second failing mails DOWN too, and the
   * first recovering mails DOWN "succeed".
   */
  private checkerMail(v: VsEntry, r: RsEntry, c: CheckerTransition, rsUp: boolean, rsChanged: boolean): void {
    const noCheckerEmails = this.config.global.noCheckerEmails;
    if (!mailsCheckerResult({ smtpAlert: r.mail, rsChanged, noCheckerEmails })) return;
    const body = checkerBody(c);
    if (body === undefined) return;
    this.deps.counters.inc('lvs.checker_mails');
    this.notifier.mail({ kind: 'real-server', rs: r.text, vs: v.text, up: rsUp, body });
  }

  /**
   * A BFD session's Up/Down (the daemon's BFD host), for the BFD_CHECK checkers naming it. Sessions
   * whose bfd_instance delivers to VRRP only (`vrrp`) are ignored. The last state of each session is
   * kept and given to checkers started later (start before BFD, reload, ha_suspend resume), as
   * keepalived's BFD process sends every session's state to the checkers when it starts.
   */
  setBfdState(name: string, up: boolean): void {
    if (this.stopped) return;
    const inst = this.config.bfdInstances.find((b) => b.name === name);
    if (inst?.deliverTo === 'vrrp') return;
    this.bfdStates.set(name, up);
    this.checks?.bfd(name, up);
  }

  private onQuorum(e: QuorumEvent): void {
    const v = this.model.vs.find((x) => x.key === e.vs);
    if (!v) return;
    // keepalived's init_service_vs: the real servers' notifies come before their quorum's.
    if (e.init !== undefined && this.initDone < this.initNotifies.length)
      this.flushInitNotifies(this.model.vs.indexOf(v));
    this.vsNotify(v, e);
  }

  /**
   * With rs_init_notifies, keepalived's init_service_rs notifies each real server it puts in the
   * pool (not kept by a reload, no failed checker: unchecked or not alpha): notify_up and `RS … UP`,
   * no mail. Queued here, written per virtual server before its quorum decision (flushInitNotifies).
   */
  private queueInitNotifies(kept: ReadonlySet<string>): void {
    this.initNotifies = [];
    this.initDone = 0;
    if (!this.config.global.rsInitNotifies) return;
    for (const [i, v] of this.model.vs.entries())
      for (const m of v.members)
        if (!kept.has(m.healthId) && (!m.checked || !m.alpha)) this.initNotifies.push({ i, v, m });
  }

  /** Writes the queued init notifies of the virtual servers up to index `last` (configuration order). */
  private flushInitNotifies(last: number): void {
    for (let n = this.initNotifies[this.initDone]; n && n.i <= last; n = this.initNotifies[this.initDone]) {
      this.initDone++;
      this.notifier.realServer(n.m.notifyUp, `RS ${n.m.text} ${n.v.text} UP`);
    }
  }

  /**
   * keepalived's do_vs_notifies: quorum_up / quorum_down, the `VS …` FIFO line, then the mail. A
   * first decision (`init: 'start'`) is not a transition and is not counted.
   */
  private vsNotify(v: VsEntry, e: QuorumEvent): void {
    const up = e.kind === 'quorum-up';
    // keepalived's do_vs_notifies sends its quorum trap first, at start and stop too
    this.emitState({ kind: 'quorum', vs: v.cfg, up, stopping: e.stopping === true });
    if (e.init !== 'start') this.deps.counters.inc(up ? 'lvs.quorum_up' : 'lvs.quorum_down');
    this.notifier.realServer(up ? v.quorumUp : v.quorumDown, `VS ${v.text} ${up ? 'UP' : 'DOWN'}`);
    if (v.mail) {
      const a = v.alert;
      const body = e.stopping
        ? shutdownBody(true)
        : quorumBody(up, a.quorum, a.hysteresis, e.threshold, e.weightSum, e.init !== undefined);
      this.notifier.mail({ kind: 'virtual-server', vs: v.text, up, body });
    }
  }

  /** Alive as keepalived counts it: the checkers' last word; before it, up unless alpha. */
  private alive(m: RsMember): boolean {
    return !m.checked || (this.health.get(m.healthId)?.up ?? !m.alpha);
  }

  /**
   * In the IPVS pool as keepalived's `rs->set && rs->alive`: alive, and not swapped out for the sorry
   * server (quorum down), which inhibit_on_failure servers are not (they stay at weight 0).
   */
  private inPool(v: VsEntry, m: RsMember, quorumUp: boolean): boolean {
    return this.alive(m) && (quorumUp || !v.alert.sorryServer || m.inhibitOnFailure);
  }

  /**
   * A real server in the pool leaves with the configuration that had it (keepalived's
   * clear_service_rs): notify_down, the `RS … DOWN` line, the mail `=> Removing <=` (reload) or
   * `=> Shutting down <=` (stop, omega).
   */
  private rsRemoved(v: VsEntry, m: RsMember, stopping: boolean): void {
    this.notifier.realServer(m.notifyDown, `RS ${m.text} ${v.text} DOWN`);
    const r = v.rs.find((x) => x.healthId === m.healthId);
    if (r) this.emitState({ kind: 'rs', vs: v.cfg, address: r.rs.address, port: r.rs.port, up: false });
    if (m.mail)
      this.notifier.mail({
        kind: 'real-server',
        rs: m.text,
        vs: v.text,
        up: false,
        body: shutdownBody(stopping),
      });
  }

  /**
   * What keepalived's clear_diff_services notifies for `old` against `next`, in its order: per old
   * virtual server, each dropped real server in the pool (clear_service_rs), then "Lost quorum"
   * when the live weight of the real servers it keeps falls to 0 or below quorum-hysteresis while
   * its quorum was up (update_vs_notifies; the kept virtual server's own quorum is then re-decided
   * by the reload's first pass). A virtual server dropped whole loses every real server, so it
   * loses its quorum too; with lvs_flush_on_stop keepalived drops it without visiting its real
   * servers and with its live weight intact: nothing is notified.
   */
  private reloadClears(
    old: Model,
    next: Model,
    config: KeepalivedConfig,
    renamed: ReadonlyMap<string, string>,
  ): ReloadClear[] {
    const nextIds = new Set(next.vs.flatMap((v) => v.members.map((m) => m.healthId)));
    const nextVs = new Set(next.vs.map((v) => v.key));
    const out: ReloadClear[] = [];
    for (const v of old.vs) {
      const key = renamed.get(v.key) ?? v.key;
      if (!nextVs.has(key) && config.global.lvsFlushOnStop !== false) continue;
      const up = this.manager?.quorumUp(v.key) ?? false;
      let sum = 0;
      for (const m of v.members) {
        if (!nextIds.has(rekey(m.healthId, v.key, key))) {
          if (this.inPool(v, m, up)) out.push({ kind: 'rs', v, m });
        } else if (this.alive(m)) sum += this.health.get(m.healthId)?.weight ?? m.weight;
      }
      const threshold = v.alert.quorum - v.alert.hysteresis;
      if (up && (sum === 0 || sum < threshold)) out.push({ kind: 'vs', v, weightSum: sum, threshold });
    }
    return out;
  }

  /**
   * Carries the state of the virtual servers a reload keeps under a new key (reloadRenames) to
   * their new ids: health, pending results, running checkers, has_run. Returns new checkId -> old.
   */
  private carryRenamed(old: Model, renamed: ReadonlyMap<string, string>): Map<string, string> {
    const back = new Map<string, string>();
    const move = <V>(m: Map<string, V>, from: string, to: string): void => {
      const x = m.get(from);
      if (x === undefined) return;
      m.delete(from);
      m.set(to, x);
    };
    const moveIn = (set: Set<string>, from: string, to: string): void => {
      if (set.delete(from)) set.add(to);
    };
    for (const v of old.vs) {
      const to = renamed.get(v.key);
      if (to === undefined) continue;
      for (const m of v.members) {
        move(this.health, m.healthId, rekey(m.healthId, v.key, to));
        move(this.pendingHealth, m.healthId, rekey(m.healthId, v.key, to));
      }
      for (const r of v.rs) {
        const id = rekey(r.checkId, v.key, to);
        back.set(id, r.checkId);
        const run = this.runIds.get(r.checkId);
        move(this.runIds, r.checkId, id);
        if (run !== undefined) this.runOf.set(run, id);
        moveIn(this.hasRun, r.checkId, id);
        moveIn(this.started, r.checkId, id);
      }
    }
    return back;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) => this.reconcileFailed(e));
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }

  private reconcileFailed(e: unknown): void {
    this.deps.counters.inc('lvs.reconcile_errors');
    this.log.error(
      { code: isKaError(e) ? e.code : undefined, err: e },
      `IPVS reconcile failed: ${(e as Error).message}`,
    );
  }

  /**
   * Starts the checker of `r`. `resume`: it ran before (ha_suspend, or a reload that kept it while
   * suspended). keepalived only disables a suspended checker, so it comes back in the state it
   * left; the Scheduler has no such pause, so the new run starts from the state this host kept:
   * down (every checker as alpha) if the real server was down, else up. Its first event, that
   * state, is dropped, and an alpha first-failure notify is not repeated (onCheck).
   */
  private startCheck(r: RsEntry, resume: boolean): void {
    if (!this.checks || this.runIds.has(r.checkId)) return;
    const h = resume ? this.health.get(r.healthId) : undefined;
    // The first run of a checker keeps its checkId as its name in the Scheduler (and its logs).
    const runId = this.started.has(r.checkId) ? `${r.checkId}#${++this.runSeq}` : r.checkId;
    this.started.add(r.checkId);
    const check: CheckedRs = h
      ? { ...r.check, id: runId, checkers: r.check.checkers.map((c) => ({ ...c, alpha: !h.up })) }
      : { ...r.check, id: runId };
    this.runIds.set(r.checkId, runId);
    this.runOf.set(runId, r.checkId);
    this.fresh.add(runId);
    if (h) this.resumed.add(runId);
    this.checks.add(check);
    // BFD_CHECK: the sessions' last states, after the checker's initial state (as a BFD event)
    for (const name of new Set(r.bfdNames)) {
      const up = this.bfdStates.get(name);
      if (up !== undefined) this.checks.bfd(name, up);
    }
  }

  private stopCheck(checkId: string): void {
    const runId = this.runIds.get(checkId);
    if (runId === undefined) return;
    this.runIds.delete(checkId);
    this.runOf.delete(runId);
    this.fresh.delete(runId);
    this.resumed.delete(runId);
    this.checks?.remove(runId);
  }

  // ---- ha_suspend ----

  private localAddrs(): ReadonlySet<string> {
    return (this.deps.localAddrs ?? systemAddrs)();
  }

  private recheckSuspend(): void {
    if (this.stopped || !this.checks || !this.model.vs.some((v) => v.cfg.haSuspend)) return;
    const local = this.localAddrs();
    for (const v of this.model.vs) {
      const s = checksSuspended(v.spec, local);
      if (s === v.suspended) continue;
      v.suspended = s;
      this.log.info(`VS ${v.text}: checks ${s ? 'suspended' : 'resumed'} (ha_suspend)`);
      for (const r of v.rs) {
        if (s) this.stopCheck(r.checkId);
        else this.startCheck(r, true);
      }
    }
  }

  // ---- lvs_sync_daemon ----

  private syncDaemon(): { cfg: SyncDaemonConfig; instance: string } | undefined {
    const l = this.config.global.lvsSyncDaemon;
    if (!l?.instance) return undefined;
    const inst = this.config.vrrpInstances.find((i) => i.name === l.instance);
    if (!inst) return undefined;
    return { cfg: syncDaemonConfig(l, inst.vrid), instance: l.instance };
  }

  private followSyncDaemon(): void {
    const sd = this.syncDaemon();
    const ops = this.ops;
    if (!sd || !ops) return;
    const state = this.vrrpStates.get(sd.instance);
    if (state === undefined) return;
    const key = `${JSON.stringify(sd.cfg)} ${state}`;
    if (key === this.syncApplied) return;
    this.syncApplied = key;
    this.syncChain = this.syncChain.then(async () => {
      try {
        const actions = await followVrrpState(ops, sd.cfg, state as VrrpStateName);
        for (const a of actions) {
          this.log.info(
            a.kind === 'start'
              ? `Starting IPVS sync daemon state ${a.daemon.state} on ${a.daemon.mcastIfn} (syncid ${a.daemon.syncId})`
              : `Stopping IPVS sync daemon state ${a.state}`,
          );
        }
      } catch (e) {
        this.syncApplied = undefined;
        this.deps.counters.inc('lvs.sync_daemon_errors');
        this.log.error({ err: e }, `lvs_sync_daemon: ${(e as Error).message}`);
      }
    });
  }

  // ---- I/O ----

  private async openNetlinkOrMemory(): Promise<IpvsOps> {
    try {
      return await this.openNetlink();
    } catch (e) {
      if (!isKaError(e, 'KA_ERR_IPVS_NO_FAMILY')) throw e;
      this.deps.counters.inc('lvs.no_ipvs');
      this.log.error(
        { code: e.code },
        `IPVS: Can't initialize ipvs: ${e.message}; checkers run without programming IPVS`,
      );
      // An in-memory table with the kernel's rules, so the manager's reconcile and quorum work unchanged.
      return new FakeIpvs();
    }
  }

  private async openNetlink(): Promise<NetlinkIpvs> {
    try {
      this.ownOps = await NetlinkIpvs.open();
    } catch (e) {
      if (!isKaError(e, 'KA_ERR_IPVS_NO_FAMILY')) throw e;
      // As keepalived: try to load the module once, then give the clear error.
      const r = await execa('modprobe', ['ip_vs'], { reject: false });
      if (r.exitCode !== 0) throw e;
      this.ownOps = await NetlinkIpvs.open();
    }
    return this.ownOps;
  }

  /** lvs_notify_fifo (with its script) and notify_fifo (its script is the VRRP side's). */
  private async openFifos(config: KeepalivedConfig): Promise<void> {
    const g = config.global;
    this.fifoKey = JSON.stringify([g.lvsNotifyFifo, g.notifyFifo?.path]);
    const out: NotifyFifo[] = [];
    for (const [spec, type, withScript] of [
      [g.lvsNotifyFifo, 'lvs_', true],
      [g.notifyFifo, '', false],
    ] as const) {
      if (!spec) continue;
      try {
        const script = withScript
          ? await this.deps.scripts.resolve(`${type}notify_fifo_script`, spec.script)
          : undefined;
        out.push(
          await NotifyFifo.open({
            path: spec.path,
            type,
            log: this.log,
            counters: this.deps.counters,
            ...(script ? { script } : {}),
          }),
        );
      } catch (e) {
        this.log.error({ err: e }, (e as Error).message);
      }
    }
    this.fifos = out;
    this.notifier.setFifos(out);
  }

  private async reopenFifos(config: KeepalivedConfig): Promise<void> {
    const g = config.global;
    if (JSON.stringify([g.lvsNotifyFifo, g.notifyFifo?.path]) === this.fifoKey) return;
    for (const f of this.fifos) await f.close();
    await this.openFifos(config);
  }
}
