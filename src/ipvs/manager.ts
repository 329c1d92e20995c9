/**
 * Runtime owner of the IPVS side: keeps the specs, the checker results and the quorum state, and
 * reconciles the kernel whenever one of them changes (one reconcile at a time; changes arriving
 * meanwhile are folded into one more pass). Start programs the table without flushing; reload diffs
 * against the new config (services only the old config named are removed); stop removes what the
 * configuration created, as keepalived does.
 */

import type { Logger } from '../core/log.js';
import { silentLogger } from '../core/log.js';
import { applyPlan, reconcile } from './apply.js';
import {
  buildDesired,
  type QuorumEvent,
  type RsHealth,
  realServerId,
  shutdownEvents,
  type VirtualServerSpec,
} from './desired.js';
import { ownedKeys, planStop } from './reconcile.js';
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
}

export class IpvsManager {
  private specs: readonly VirtualServerSpec[];
  private readonly health = new Map<string, RsHealth>();
  private quorum = new Map<string, boolean>();
  private owned = new Set<string>();
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private readonly log: Logger;

  constructor(
    private readonly ops: IpvsOps,
    specs: readonly VirtualServerSpec[],
    private readonly opts: IpvsManagerOptions = {},
  ) {
    this.specs = specs;
    this.log = opts.log ?? silentLogger;
  }

  /** First programming of the kernel from the configuration. */
  async start(): Promise<void> {
    if (this.opts.flushOnStart) await this.ops.flush();
    if (this.opts.timeouts) await this.ops.setTimeouts(this.opts.timeouts);
    await this.sync();
  }

  /** New configuration: RS kept by (vs name, addr:port) keep their checker state. */
  reload(specs: readonly VirtualServerSpec[]): Promise<void> {
    const keep = new Set(specs.flatMap((vs) => vs.realServers.map((rs) => realServerId(vs, rs))));
    for (const id of [...this.health.keys()]) if (!keep.has(id)) this.health.delete(id);
    this.specs = specs;
    return this.sync();
  }

  /** A checker result for `realServerId(vs, rs)`. */
  setHealth(id: string, h: RsHealth): Promise<void> {
    const old = this.health.get(id);
    if (old && old.up === h.up && old.weight === h.weight) return this.running ?? Promise.resolve();
    this.health.set(id, h);
    return this.sync();
  }

  /** Reconciles now, or once more after the pass in progress. */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.dirty = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.dirty = false;
          await this.pass();
        } while (this.dirty && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    const r = buildDesired(this.specs, this.health, this.quorum);
    this.quorum = r.quorum;
    for (const e of r.events) {
      this.log.info(
        { vs: e.vs, weightSum: e.weightSum },
        `${e.kind === 'quorum-up' ? 'Gained' : 'Lost'} quorum for VS ${e.vs}`,
      );
      this.opts.onQuorum?.(e);
    }
    // Owned: everything this run's configurations named (so a reload removes what it dropped).
    const owned = new Set([...this.owned, ...r.table.keys()]);
    let plan: IpvsOp[];
    try {
      plan = await reconcile(this.ops, r.table, owned);
    } catch (e) {
      // Part of the plan may have been applied: keep owning all of it, so stop removes it.
      this.owned = owned;
      throw e;
    }
    for (const op of plan) this.log.info({ op: op.kind }, describeOp(op));
    // Keys no longer desired were just removed: drop them from ownership.
    this.owned = ownedKeys(r.table);
  }

  /** Removes what the configuration created; runs omega's quorum-down notifiers. */
  async stop(): Promise<IpvsOp[]> {
    await this.running;
    this.stopped = true;
    for (const e of shutdownEvents(this.specs, this.quorum)) this.opts.onQuorum?.(e);
    if (this.opts.flushOnStop === true) {
      await this.ops.flush();
      return [];
    }
    const actual: IpvsTable = await this.ops.readTable();
    const plan = planStop(actual, this.owned);
    await applyPlan(this.ops, plan);
    for (const op of plan) this.log.info({ op: op.kind }, describeOp(op));
    return plan;
  }
}
