/**
 * Pacing of gratuitous ARPs / unsolicited NAs, as keepalived 2.2.7 does with `vrrp_garp_interval`,
 * `vrrp_gna_interval` and `garp_group` (vrrp_arp.c / vrrp_ndisc.c / vrrp_scheduler.c vrrp_arp_thread):
 *
 * - Each base interface belongs to one pacing domain: its garp_group (the group's interfaces share
 *   one budget), else a domain of its own with the global intervals. ARP and NA have separate
 *   intervals and separate "next allowed" times.
 * - A request is sent at once when its domain's next allowed time has passed, which then moves to
 *   now + interval; otherwise the address is marked pending. Pending is a flag per (instance,
 *   address): repeats asked for while it is pending collapse into the one pending announcement.
 * - One timer, at the earliest next allowed time of a domain with pending work, walks the pending
 *   addresses in configuration order (instance, then address) and sends those whose domain allows
 *   it; an address whose instance is no longer MASTER with its VIPs set is dropped.
 *
 * Pure scheduling on an injected Clock: the frames and the socket stay with the caller (`send`).
 */
import type { Clock, Micros, TimerHandle } from '../core/clock.js';
import { Counters } from '../core/counters.js';

export type AnnounceKind = 'arp' | 'na';

/** Intervals of one pacing domain, µs; 0 = that kind is not paced. */
export interface PaceIntervals {
  readonly garpUs: Micros;
  readonly gnaUs: Micros;
}

/** Where an interface's announcements are paced: a domain key and its intervals. */
export interface PaceDomain extends PaceIntervals {
  readonly key: string;
}

export interface PaceRequest {
  /** Instance name: pending work is dropped per instance. */
  readonly owner: string;
  /** The address announced (with its interface): the unit a repeat collapses into. */
  readonly id: string;
  /** Configuration order (instance index, then address index): the order pending work is sent in. */
  readonly rank: number;
  /**
   * Its domain at the time of the request. Only the key stays with queued work: when it is sent,
   * the domain's intervals are the pacer's current ones (`reconfigure` on reload).
   */
  readonly domain: PaceDomain;
  readonly kind: AnnounceKind;
  /** Sends the frame now. Must not throw (the caller counts its own send errors). */
  readonly send: () => void;
  /** Still to be sent when its turn comes (instance MASTER with VIPs set, address still configured). */
  readonly wanted: () => boolean;
}

interface DomainState {
  intervals: PaceIntervals;
  /** Next allowed send time per kind; -Infinity = nothing sent yet. */
  next: Record<AnnounceKind, Micros>;
}

export interface GarpPacerDeps {
  clock: Clock;
  counters?: Counters;
}

/** Interval of `kind` in `i`. */
const intervalOf = (i: PaceIntervals, kind: AnnounceKind): Micros => (kind === 'arp' ? i.garpUs : i.gnaUs);

export class GarpPacer {
  private readonly domains = new Map<string, DomainState>();
  /** Pending requests by owner + id (insertion order is irrelevant: sent by rank). */
  private readonly pending = new Map<string, PaceRequest>();
  private timer: { at: Micros; handle: TimerHandle } | undefined;
  readonly counters: Counters;

  constructor(private readonly deps: GarpPacerDeps) {
    this.counters = deps.counters ?? new Counters();
  }

  /** Requests waiting for their domain's next slot. */
  get queued(): number {
    return this.pending.size;
  }

  /** When the pacing timer fires next (undefined: nothing pending). */
  get nextWake(): Micros | undefined {
    return this.timer?.at;
  }

  /**
   * Ask for one announcement. Sent now (returns 'sent'), queued behind its domain's interval
   * ('queued'), or merged into the same address's pending announcement ('merged').
   */
  request(r: PaceRequest): 'sent' | 'queued' | 'merged' {
    const interval = intervalOf(r.domain, r.kind);
    if (interval <= 0) {
      r.send();
      return 'sent';
    }
    const d = this.domain(r.domain);
    const now = this.deps.clock.now();
    // queued work already due (a reload shortened its interval) goes before this request
    if (this.timer && this.timer.at <= now) this.fire(this.timer.at);
    const key = `${r.owner}\0${r.id}`;
    if (now >= d.next[r.kind] && !this.pending.has(key)) {
      this.sendNow(d, r, now);
      return 'sent';
    }
    this.counters.inc('vrrp.garp_queued');
    if (this.pending.has(key)) {
      this.counters.inc('vrrp.garp_merged');
      this.pending.set(key, r);
      return 'merged';
    }
    this.pending.set(key, r);
    this.schedule(d.next[r.kind]);
    return 'queued';
  }

  /**
   * Reload: every known domain takes its intervals from the new configuration (`intervalsOf` by
   * key; undefined keeps a domain as it is), queued work included, and the timer follows.
   */
  reconfigure(intervalsOf: (key: string) => PaceIntervals | undefined): void {
    for (const [key, d] of this.domains) {
      const i = intervalsOf(key);
      if (i) this.retime(d, i);
    }
    this.cancelTimer();
    this.rearm();
  }

  /** Drop the pending work of one instance (stopped, removed by reload, left MASTER). */
  dropOwner(owner: string): void {
    for (const [k, r] of this.pending) {
      if (r.owner !== owner) continue;
      this.pending.delete(k);
      this.counters.inc('vrrp.garp_dropped');
    }
    if (this.pending.size === 0) this.cancelTimer();
  }

  /** Stop: pending work is dropped (counted), the timer cancelled. */
  stop(): void {
    this.counters.inc('vrrp.garp_dropped', this.pending.size);
    this.pending.clear();
    this.cancelTimer();
  }

  /** A new request's domain: it carries the current configuration's intervals. */
  private domain(p: PaceDomain): DomainState {
    let d = this.domains.get(p.key);
    if (!d) {
      d = { intervals: p, next: { arp: Number.NEGATIVE_INFINITY, na: Number.NEGATIVE_INFINITY } };
      this.domains.set(p.key, d);
    } else if (this.retime(d, p)) {
      // the next slot may now be earlier than the timer armed for queued work
      this.cancelTimer();
      this.rearm();
    }
    return d;
  }

  /** New intervals for a domain: the next slot follows the new interval from the last send. */
  private retime(d: DomainState, p: PaceIntervals): boolean {
    if (d.intervals.garpUs === p.garpUs && d.intervals.gnaUs === p.gnaUs) return false;
    for (const kind of ['arp', 'na'] as const) {
      const last = d.next[kind] - intervalOf(d.intervals, kind);
      d.next[kind] = Number.isFinite(last) ? last + intervalOf(p, kind) : d.next[kind];
    }
    d.intervals = { garpUs: p.garpUs, gnaUs: p.gnaUs };
    return true;
  }

  /** Arm the timer at the earliest next slot of a domain with queued work. */
  private rearm(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const r of this.pending.values()) {
      const d = this.domains.get(r.domain.key);
      if (d) earliest = Math.min(earliest, d.next[r.kind]);
    }
    if (Number.isFinite(earliest)) this.schedule(earliest);
  }

  private sendNow(d: DomainState, r: PaceRequest, now: Micros): void {
    r.send();
    d.next[r.kind] = now + intervalOf(d.intervals, r.kind);
  }

  private schedule(at: Micros): void {
    if (this.timer && this.timer.at <= at) return;
    this.timer?.handle.cancel();
    const handle = this.deps.clock.at(at, () => this.fire(at));
    this.timer = { at, handle };
  }

  private cancelTimer(): void {
    this.timer?.handle.cancel();
    this.timer = undefined;
  }

  private fire(at: Micros): void {
    if (this.timer?.at !== at) return;
    this.timer = undefined;
    const now = this.deps.clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    const order = [...this.pending.entries()].sort(([, a], [, b]) => a.rank - b.rank);
    for (const [k, r] of order) {
      let wanted: boolean;
      try {
        wanted = r.wanted();
      } catch {
        wanted = false;
      }
      if (!wanted) {
        this.pending.delete(k);
        this.counters.inc('vrrp.garp_dropped');
        continue;
      }
      // queued work keeps its domain's key only: the intervals are the current ones
      const d = this.domains.get(r.domain.key) ?? this.domain(r.domain);
      if (now >= d.next[r.kind]) {
        this.pending.delete(k);
        this.sendNow(d, r, now);
      } else earliest = Math.min(earliest, d.next[r.kind]);
    }
    if (Number.isFinite(earliest)) this.schedule(earliest);
  }
}

/** The part of the configuration pacing reads (src/config/model.ts, seconds). */
export interface PacingConfig {
  readonly vrrpGarpInterval: number;
  readonly vrrpGnaInterval: number;
  readonly garpGroups: readonly {
    readonly garpInterval: number | undefined;
    readonly gnaInterval: number | undefined;
    readonly interfaces: readonly string[];
  }[];
}

const us = (s: number | undefined): Micros => (s === undefined || !(s > 0) ? 0 : Math.round(s * 1e6));

/**
 * The pacing domain of each base interface: a garp_group's interfaces share the group's domain (and
 * only the group's intervals: the global ones do not fill a kind the group leaves unset, as in
 * keepalived); any other interface gets its own domain with vrrp_garp_interval / vrrp_gna_interval.
 * An interface listed in two groups belongs to the first.
 */
export function pacingDomains(c: PacingConfig): (ifname: string) => PaceDomain {
  return pacing(c).byIfname;
}

/**
 * The intervals of a domain key under `c` (for GarpPacer.reconfigure): a garp_group by its index,
 * any `if:` domain the global intervals; undefined for a group `c` no longer has.
 */
export function pacingIntervals(c: PacingConfig): (key: string) => PaceIntervals | undefined {
  return pacing(c).byKey;
}

function pacing(c: PacingConfig): {
  byIfname: (ifname: string) => PaceDomain;
  byKey: (key: string) => PaceIntervals | undefined;
} {
  const byIf = new Map<string, PaceDomain>();
  c.garpGroups.forEach((g, i) => {
    const d: PaceDomain = { key: `group:${i}`, garpUs: us(g.garpInterval), gnaUs: us(g.gnaInterval) };
    for (const name of g.interfaces) if (!byIf.has(name)) byIf.set(name, d);
  });
  const garpUs = us(c.vrrpGarpInterval);
  const gnaUs = us(c.vrrpGnaInterval);
  return {
    byIfname: (ifname) => byIf.get(ifname) ?? { key: `if:${ifname}`, garpUs, gnaUs },
    byKey: (key) => {
      if (key.startsWith('if:')) return { garpUs, gnaUs };
      const g = key.startsWith('group:') ? c.garpGroups[Number(key.slice(6))] : undefined;
      return g && { garpUs: us(g.garpInterval), gnaUs: us(g.gnaInterval) };
    },
  };
}
