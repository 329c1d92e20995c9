/**
 * Runtime owner of the IPVS side: keeps the specs, the checker results and the quorum state, and
 * reconciles the kernel whenever one of them changes (one reconcile at a time; changes arriving
 * meanwhile are folded into one more pass). Start programs the table without flushing; reload diffs
 * against the new config (services only the old config named are removed); stop removes what the
 * configuration created, as keepalived does.
 *
 * Two kinds of pass. A full pass builds every virtual server, reads the kernel table back, plans and
 * applies; it runs at start, on reload, on sync() (drift repair) and after any failure. It leaves a
 * cached view of the services the configuration owns, kept up to date from the operations the
 * kernel accepted. A health change marks only its virtual server dirty: the incremental pass
 * rebuilds the dirty virtual servers, plans against the cached view of their services (no read
 * back) and applies, so its cost is the size of those virtual servers, not of the table. Any failed
 * operation drops the view and a full pass follows at once.
 */

import type { Logger } from '../core/log.js';
import { silentLogger } from '../core/log.js';
import type { IpvsDest } from '../wire/ipvs.js';
import { AF_INET6, addrFamily, canonicalAddr } from '../wire/ipvs.js';
import { applyPlan } from './apply.js';
import {
  buildDesired,
  buildVirtualServer,
  type DesiredResult,
  defaultPort,
  type PreparedVirtualServer,
  prepareVirtualServer,
  type QuorumEvent,
  type ReloadPass,
  type RsHealth,
  realServerId,
  rekey,
  reloadRenames,
  shutdownEvents,
  type VirtualServerSpec,
  vsKey,
} from './desired.js';
import {
  applyToTable,
  copyEntries,
  destKey,
  ownedKeys,
  planIpvs,
  planStop,
  sameDest,
  sameService,
} from './reconcile.js';
import { describeOp, type IpvsOp, type IpvsOps, type IpvsTable, type IpvsTimeouts } from './types.js';

export interface IpvsManagerOptions {
  log?: Logger;
  /** quorum_up / quorum_down notifiers (and omega's at stop). */
  onQuorum?: (e: QuorumEvent) => void;
  /** lvs_flush: flush the whole IPVS table before the first programming. */
  flushOnStart?: boolean;
  /** lvs_flush_on_stop: true = flush everything at stop; 'VS' = remove only ours (the default anyway). */
  flushOnStop?: boolean | 'VS';
  /** lvs_timeouts, set at start. */
  timeouts?: Partial<IpvsTimeouts> | undefined;
  /** false: every pass is a full one (the reference the incremental passes are tested against). */
  incremental?: boolean | undefined;
}

export interface IpvsManagerStats {
  fullPasses: number;
  incrementalPasses: number;
  repairPasses: number;
}

/** Virtual servers reconciled between two event-loop turns by a repair pass. */
const REPAIR_CHUNK = 8;
/** Destinations compared with the kernel's between two event-loop turns by a repair pass. */
const REPAIR_COMPARE_PER_TURN = 100;

const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export class IpvsManager {
  private specs: readonly VirtualServerSpec[] = [];
  /** Health id -> vsKey of the virtual server it belongs to. */
  private rsSpec = new Map<string, string>();
  /** The health-independent part of each virtual server, built on first use after (re)load. */
  private prepared = new Map<VirtualServerSpec, PreparedVirtualServer>();
  private readonly health = new Map<string, RsHealth>();
  private quorum = new Map<string, boolean>();
  private owned = new Set<string>();
  /** The kernel's services that the configuration owns, as last known; undefined = unknown. */
  private kernel: IpvsTable | undefined;
  private needFull = true;
  private readonly dirtySpecs = new Set<string>();
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly log: Logger;
  readonly stats: IpvsManagerStats = { fullPasses: 0, incrementalPasses: 0, repairPasses: 0 };
  private needRepair = false;
  /** Set by reload() for its first full pass (keepalived's init_services after a reload). */
  private reloadPass: { newSorry: Set<string> } | undefined;

  constructor(
    private readonly ops: IpvsOps,
    specs: readonly VirtualServerSpec[],
    private readonly opts: IpvsManagerOptions = {},
  ) {
    this.setSpecs(specs);
    this.log = opts.log ?? silentLogger;
  }

  /** First programming of the kernel from the configuration. */
  async start(): Promise<void> {
    if (this.opts.flushOnStart) await this.ops.flush();
    if (this.opts.timeouts) await this.ops.setTimeouts(this.opts.timeouts);
    await this.sync();
  }

  /**
   * New configuration: RS kept by (vsKey, addr:port) keep their checker state, virtual servers
   * kept by vsKey their quorum state. The next full pass decides quorum as keepalived's
   * init_services does after a reload (QuorumEvent `init`).
   */
  reload(specs: readonly VirtualServerSpec[]): Promise<void> {
    const renamed = reloadRenames(this.specs, specs);
    this.carryRenamed(renamed);
    const keep = new Set(specs.flatMap((vs) => vs.realServers.map((rs) => realServerId(vs, rs))));
    for (const id of [...this.health.keys()]) if (!keep.has(id)) this.health.delete(id);
    const old = new Map(this.specs.map((vs) => [renamed.get(vsKey(vs)) ?? vsKey(vs), vs]));
    const newSorry = this.reloadPass?.newSorry ?? new Set<string>();
    for (const vs of specs) {
      const was = old.get(vsKey(vs));
      const s = sorryAddrPort(vs);
      if (was && s !== undefined && sorryAddrPort(was) !== s) newSorry.add(vsKey(vs));
    }
    this.reloadPass = { newSorry };
    this.setSpecs(specs);
    return this.sync();
  }

  /**
   * A virtual server kept under a new key (reloadRenames: a group's protocol or family changed)
   * keeps its quorum and its real servers' health. Its services whose kernel key did not change
   * (a fwmark entry when only the protocol changed, an address entry when only the family did) are
   * then left as they are; the others, still owned, are deleted and the new ones added.
   */
  private carryRenamed(renamed: ReadonlyMap<string, string>): void {
    const health: Array<[string, RsHealth]> = [];
    for (const vs of this.specs) {
      const from = vsKey(vs);
      const to = renamed.get(from);
      if (to === undefined) continue;
      const q = this.quorum.get(from);
      this.quorum.delete(from);
      if (q !== undefined) this.quorum.set(to, q);
      for (const rs of vs.realServers) {
        const id = realServerId(vs, rs);
        const h = this.health.get(id);
        if (h === undefined) continue;
        this.health.delete(id);
        health.push([rekey(id, from, to), h]);
      }
    }
    for (const [id, h] of health) this.health.set(id, h);
  }

  /** A checker result for `realServerId(vs, rs)`: reconciles that virtual server only. */
  setHealth(id: string, h: RsHealth): Promise<void> {
    const old = this.health.get(id);
    if (old && old.up === h.up && old.weight === h.weight) return this.running ?? Promise.resolve();
    this.health.set(id, h);
    const vs = this.rsSpec.get(id);
    if (vs === undefined) return this.running ?? Promise.resolve(); // no virtual server names it
    this.dirtySpecs.add(vs);
    return this.schedule();
  }

  /**
   * Periodic drift repair that never holds the thread for long: reads the kernel back, takes it as
   * the view of our services, then reconciles the virtual servers a few at a time, yielding to the
   * event loop between chunks (VRRP timers run in between). A full pass plans the whole table in one
   * synchronous step: ~4 ms at 2,000 destinations on real CPU, ~200 ms in the emulated test VM.
   * Without a view (start, after an error) it is a full pass.
   */
  repair(): Promise<void> {
    this.needRepair = true;
    return this.schedule();
  }

  /** A full pass now (or right after the one in progress): reads the kernel back, repairs drift. */
  sync(): Promise<void> {
    this.needFull = true;
    return this.schedule();
  }

  /** The desired table for the current checker results (no kernel I/O, quorum state unchanged). */
  desired(): DesiredResult {
    return buildDesired(this.specs, this.health, this.quorum, this.prep);
  }

  /** A virtual server's quorum (by vsKey) as the last pass decided it; undefined before its first pass. */
  quorumUp(vs: string): boolean | undefined {
    return this.quorum.get(vs);
  }

  /** Resolves once no pass runs and none is pending (a failed pass is not an error here). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private setSpecs(specs: readonly VirtualServerSpec[]): void {
    this.specs = specs;
    this.rsSpec = new Map();
    this.prepared = new Map();
    for (const vs of specs) for (const rs of vs.realServers) this.rsSpec.set(realServerId(vs, rs), vsKey(vs));
  }

  private prep = (vs: VirtualServerSpec): PreparedVirtualServer => {
    let p = this.prepared.get(vs);
    if (!p) {
      p = prepareVirtualServer(vs);
      this.prepared.set(vs, p);
    }
    return p;
  };

  private pending(): boolean {
    return this.needFull || this.needRepair || this.dirtySpecs.size > 0;
  }

  /** Runs passes until nothing is pending; one run at a time. Rejects with the first failure. */
  private schedule(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) return this.running;
    this.running = (async () => {
      let failure: { error: unknown } | undefined;
      // One microtask later, so the changes given in the same synchronous run share the pass.
      await Promise.resolve();
      try {
        while (!this.stopped && this.pending()) {
          const full = this.needFull || this.kernel === undefined || this.opts.incremental === false;
          // In configuration order, as a full pass meets them (quorum notifiers keep their order).
          const dirty = full ? [] : this.specs.filter((vs) => this.dirtySpecs.has(vsKey(vs)));
          this.needFull = false;
          this.dirtySpecs.clear();
          const repair = !full && this.needRepair && dirty.length === 0;
          if (full || repair) this.needRepair = false;
          try {
            if (full) await this.fullPass();
            else if (repair) await this.repairPass();
            else await this.incrementalPass(dirty);
          } catch (error) {
            failure ??= { error };
            this.needFull = true;
            // After a failed incremental pass a full one follows at once; after a failed full pass,
            // only if more changes arrived meanwhile (otherwise at the next change).
            if (full && this.dirtySpecs.size === 0) break;
          }
        }
      } finally {
        this.running = undefined;
      }
      if (failure) throw failure.error;
    })();
    return this.running;
  }

  /** keepalived's log lines of update_quorum_state, then the notifier. */
  private emit(events: readonly QuorumEvent[]): void {
    for (const e of events) {
      const vs = this.specs.find((x) => vsKey(x) === e.vs);
      const name = vs?.name ?? e.vs;
      const qh = `${vs?.quorum ?? 1}${e.kind === 'quorum-up' ? '+' : '-'}${vs?.hysteresis ?? 0}=${e.threshold}`;
      this.log.info(
        { vs: e.vs, weightSum: e.weightSum, ...(e.init ? { init: e.init } : {}) },
        e.kind === 'quorum-up'
          ? `Gained quorum ${qh} <= ${e.weightSum} for VS ${name}`
          : `${e.init ? 'Starting with quorum down' : 'Lost quorum'} ${qh} > ${e.weightSum} for VS ${name}`,
      );
      this.opts.onQuorum?.(e);
    }
  }

  private logPlan(plan: readonly IpvsOp[]): void {
    for (const op of plan) this.log.info({ op: op.kind }, describeOp(op));
  }

  private async fullPass(): Promise<void> {
    this.stats.fullPasses++;
    this.kernel = undefined;
    const reload: ReloadPass | undefined = this.reloadPass;
    this.reloadPass = undefined;
    const r = buildDesired(this.specs, this.health, this.quorum, this.prep, reload);
    this.quorum = r.quorum;
    // Owned: everything this run's configurations named (so a reload removes what it dropped).
    const owned = new Set([...this.owned, ...r.table.keys()]);
    let plan: IpvsOp[] = [];
    try {
      const actual = await this.ops.readTable();
      const view = copyEntries(actual, r.table.keys());
      plan = planIpvs(r.table, actual, owned);
      await applyPlan(this.ops, plan, { onApplied: (op) => applyToTable(view, op) });
      this.kernel = view;
    } catch (e) {
      // Part of the plan may have been applied: keep owning all of it, so stop removes it.
      this.owned = owned;
      throw e;
    } finally {
      // As keepalived: IPVS first, then the notifiers; a kernel failure still notifies.
      this.emit(r.events);
    }
    this.logPlan(plan);
    // Keys no longer desired were just removed: drop them from ownership.
    this.owned = ownedKeys(r.table);
  }

  /**
   * See repair(). Drift is where the kernel differs from the view our passes left: the comparison
   * runs a few hundred destinations per event-loop turn, and only the virtual servers of drifted
   * services are planned again (incremental passes, a few per turn), from the kernel's entries. With
   * no drift nothing is built or planned: planning 2,000 destinations at once held the VRRP thread
   * 1.6 s in the emulated test VM (bench/check).
   */
  private async repairPass(): Promise<void> {
    const view = this.kernel;
    if (!view) return this.fullPass();
    this.stats.repairPasses++;
    const actual = await this.ops.readTable();
    const drifted = new Set<string>();
    // Destinations compared (or indexed) before the next event-loop turn; checked between items so
    // that no service, however large, is compared in one block.
    let budget = REPAIR_COMPARE_PER_TURN;
    // true when the pass must end: stopped, or a reload (new specs) asked for a full pass meanwhile
    const spent = async (): Promise<boolean> => {
      if (--budget > 0) return false;
      budget = REPAIR_COMPARE_PER_TURN;
      await nextTurn();
      return this.stopped || this.needFull || this.kernel !== view;
    };
    for (const [key, mine] of view) {
      const k = actual.get(key);
      if (!k || !sameService(mine.svc, k.svc) || mine.dests.length !== k.dests.length) {
        drifted.add(key);
        continue;
      }
      const theirs = new Map<string, IpvsDest>();
      for (const d of k.dests) {
        theirs.set(destKey(d), d);
        if (await spent()) return;
      }
      for (const d of mine.dests) {
        const o = theirs.get(destKey(d));
        if (!o || !sameDest(d, o)) {
          drifted.add(key);
          break;
        }
        if (await spent()) return;
      }
    }
    if (drifted.size === 0) return;
    for (const [key, entry] of copyEntries(actual, drifted)) view.set(key, entry);
    for (const key of drifted) if (!actual.has(key)) view.delete(key);
    const specs = this.specs.filter((vs) => this.prep(vs).services.some((s) => drifted.has(s.key)));
    for (let i = 0; i < specs.length; i += REPAIR_CHUNK) {
      if (this.stopped || this.needFull) return;
      await this.incrementalPass(specs.slice(i, i + REPAIR_CHUNK));
      await nextTurn();
    }
  }

  private async incrementalPass(specs: readonly VirtualServerSpec[]): Promise<void> {
    const kernel = this.kernel;
    if (!kernel) return this.fullPass();
    this.stats.incrementalPasses++;
    const desired: IpvsTable = new Map();
    const actual: IpvsTable = new Map();
    const events: QuorumEvent[] = [];
    for (const vs of specs) {
      const id = vsKey(vs);
      const one = buildVirtualServer(vs, this.health, this.quorum.get(id), this.prep(vs));
      this.quorum.set(id, one.quorumUp);
      if (one.event) events.push(one.event);
      for (const [key, s] of one.table) {
        desired.set(key, s);
        const k = kernel.get(key);
        if (k) actual.set(key, k);
      }
    }
    // The specs did not change since the last full pass, so no owned service leaves `desired`:
    // the plan has no deletion of a service.
    const plan = planIpvs(desired, actual, this.owned);
    try {
      await applyPlan(this.ops, plan, { onApplied: (op) => applyToTable(kernel, op) });
    } catch (e) {
      this.kernel = undefined;
      throw e;
    } finally {
      this.emit(events);
    }
    this.logPlan(plan);
  }

  /**
   * Removes what the configuration created, as keepalived's clear_services: one virtual server at a
   * time in configuration order, `beforeVs(vsKey)` (the caller's real-server notifiers), then its
   * omega quorum-down notifier, then its services are deleted; services owned by no current virtual
   * server go last. With lvs_flush_on_stop (the whole table) the flush comes first and the
   * notifiers follow, per virtual server. A refused deletion does not stop the others; the first
   * failure is thrown at the end.
   */
  async stop(beforeVs?: (vsKey: string) => void): Promise<IpvsOp[]> {
    await this.running?.catch(() => undefined);
    this.stopped = true;
    const events = new Map(shutdownEvents(this.specs, this.quorum).map((e) => [e.vs, e]));
    const notify = (key: string): void => {
      beforeVs?.(key);
      const e = events.get(key);
      if (e) this.opts.onQuorum?.(e);
    };
    if (this.opts.flushOnStop === true) {
      await this.ops.flush();
      for (const vs of this.specs) notify(vsKey(vs));
      return [];
    }
    const plan: IpvsOp[] = [];
    let failure: { error: unknown } | undefined;
    // Unreadable table: the notifiers still run (keepalived logs a failed IPVS command and goes on).
    const actual = await this.ops.readTable().catch((error: unknown): undefined => {
      failure = { error };
      return undefined;
    });
    const left = new Set(this.owned);
    const remove = async (keys: ReadonlySet<string>): Promise<void> => {
      if (!actual) return;
      const p = planStop(actual, keys);
      plan.push(...p);
      await applyPlan(this.ops, p).catch((error: unknown) => {
        failure ??= { error };
      });
    };
    for (const vs of this.specs) {
      const key = vsKey(vs);
      notify(key);
      const mine = new Set<string>();
      for (const k of this.serviceKeys(vs)) if (left.delete(k)) mine.add(k);
      await remove(mine);
    }
    await remove(left);
    this.logPlan(plan);
    if (failure) throw failure.error;
    return plan;
  }

  /** The kernel service keys of a virtual server (none if it cannot be built). */
  private serviceKeys(vs: VirtualServerSpec): string[] {
    try {
      return this.prep(vs).services.map((s) => s.key);
    } catch {
      return [];
    }
  }
}

/** A sorry server's effective `addr port` (its port defaults to the virtual server's); undefined: none. */
function sorryAddrPort(vs: VirtualServerSpec): string | undefined {
  const s = vs.sorryServer;
  if (!s) return undefined;
  const af = addrFamily(s.addr);
  const addr = af === undefined ? s.addr : canonicalAddr(af, s.addr);
  return `${af === AF_INET6 ? `[${addr}]` : addr} ${s.port ?? defaultPort(vs)}`;
}
