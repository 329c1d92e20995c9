/**
 * The running vrrp_script / track_file / track_process trackers of the daemon, by kind and name,
 * and what a configuration (start or SIGHUP reload) does to them.
 * keepalived's reload (vrrp_daemon.c reload_vrrp_thread) SIGTERMs every script process, stops every
 * track file, re-reads the configuration and schedules every vrrp_script as an immediate event
 * (vrrp_scheduler.c vrrp_init_script); clear_diff_script() marks a script of the same name that was
 * OK as "considered successful on reload" (OK until one failure). The plan here has the same effect:
 *   - a definition that nobody (no instance, no sync group) uses is not run; a running one stops
 *     (its timer, watch and script run in flight go with it);
 *   - a changed definition (same name, other parameters) replaces the running tracker: the old one
 *     stops, a new one starts and checks at once (a script that was OK starts OK as above; until its
 *     first result the instances keep the state they had);
 *   - an unchanged definition keeps its tracker and its state (keepalived restarts it, with the
 *     same outcome for an OK script; a KO one here stays KO instead of passing through "unknown").
 * Weights are not tracker parameters: they belong to the instances that track (a changed weight
 * re-wires the instances, not the tracker).
 */

export type RunKind = 'script' | 'file' | 'process';

/** What a running tracker must offer the registry. */
export interface RunningTracker {
  stop(): void;
}

export interface WantedTracker<D> {
  readonly kind: RunKind;
  readonly name: string;
  /** The configuration block; compared without source positions and weights. */
  readonly def: D;
}

export type TrackerAction<W extends WantedTracker<unknown>, H> =
  | { readonly action: 'start'; readonly kind: RunKind; readonly name: string; readonly want: W }
  | {
      readonly action: 'replace';
      readonly kind: RunKind;
      readonly name: string;
      readonly want: W;
      readonly old: H;
    }
  | { readonly action: 'keep'; readonly kind: RunKind; readonly name: string; readonly handle: H }
  | { readonly action: 'stop'; readonly kind: RunKind; readonly name: string; readonly old: H };

/** Keys left out of a definition's identity: source positions and instance-side weights. */
const NOT_PARAMS = new Set(['pos', 'weight', 'weightReverse']);

/** The parameters of a tracker definition, as a string (equal strings: same tracker). */
export function trackerParams(def: unknown): string {
  return JSON.stringify(def, (k, v: unknown) => {
    if (NOT_PARAMS.has(k)) return undefined;
    // key order must not matter
    if (v && typeof v === 'object' && !Array.isArray(v))
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return v;
  });
}

const keyOf = (kind: RunKind, name: string) => `${kind}\0${name}`;

export class TrackerRegistry<H extends RunningTracker> {
  private readonly running = new Map<string, { kind: RunKind; name: string; params: string; handle: H }>();
  private readonly sharedState = new Map<string, unknown>();

  /**
   * State that every tracker of this registry shares (track_process's process table: one event
   * subscription and one /proc read per event for all of them), made on first use, kept across
   * reloads.
   */
  shared<T>(key: string, make: () => T): T {
    if (!this.sharedState.has(key)) this.sharedState.set(key, make());
    return this.sharedState.get(key) as T;
  }

  get size(): number {
    return this.running.size;
  }

  get(kind: RunKind, name: string): H | undefined {
    return this.running.get(keyOf(kind, name))?.handle;
  }

  /** Every running tracker with its kind and name, in start order. */
  entries(): { kind: RunKind; name: string; handle: H }[] {
    return [...this.running.values()].map(({ kind, name, handle }) => ({ kind, name, handle }));
  }

  /** Every running tracker, in start order. */
  handles(): H[] {
    return [...this.running.values()].map((r) => r.handle);
  }

  /**
   * What to do so that exactly the used, wanted trackers run with their current definitions.
   * Pure: nothing is started or stopped; `apply` records the outcome.
   */
  plan<W extends WantedTracker<unknown>>(
    wanted: readonly W[],
    used: (kind: RunKind, name: string) => boolean,
  ): TrackerAction<W, H>[] {
    const out: TrackerAction<W, H>[] = [];
    const seen = new Set<string>();
    for (const w of wanted) {
      const k = keyOf(w.kind, w.name);
      if (seen.has(k)) continue;
      seen.add(k);
      const cur = this.running.get(k);
      if (!used(w.kind, w.name)) {
        if (cur) out.push({ action: 'stop', kind: w.kind, name: w.name, old: cur.handle });
        continue;
      }
      if (!cur) out.push({ action: 'start', kind: w.kind, name: w.name, want: w });
      else if (cur.params !== trackerParams(w.def))
        out.push({ action: 'replace', kind: w.kind, name: w.name, want: w, old: cur.handle });
      else out.push({ action: 'keep', kind: w.kind, name: w.name, handle: cur.handle });
    }
    // running trackers whose definition is gone from the configuration
    for (const [k, cur] of this.running)
      if (!seen.has(k)) out.push({ action: 'stop', kind: cur.kind, name: cur.name, old: cur.handle });
    return out;
  }

  /** Record a started tracker (replacing the entry of a tracker of the same kind and name). */
  add(kind: RunKind, name: string, def: unknown, handle: H): void {
    this.running.set(keyOf(kind, name), { kind, name, params: trackerParams(def), handle });
  }

  /** Stop one tracker and forget it (no-op when it is not the one recorded). */
  stop(kind: RunKind, name: string, handle?: H): void {
    const k = keyOf(kind, name);
    const cur = this.running.get(k);
    if (!cur || (handle && cur.handle !== handle)) {
      handle?.stop();
      return;
    }
    this.running.delete(k);
    cur.handle.stop();
  }

  /** Stop every tracker (daemon shutdown). */
  stopAll(): void {
    for (const r of this.running.values()) r.handle.stop();
    this.running.clear();
  }
}
