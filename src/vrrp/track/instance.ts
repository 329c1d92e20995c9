/**
 * Per-instance tracking state: holds the current state of every tracker an instance (or its sync
 * group) tracks and reports changes of effective priority / FAULT / init to one callback. No event
 * emitter: the state machine passes `onChange` and receives a new PriorityResult only when
 * effectivePriority, fault or initPending changed.
 */
import { KaError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/log.js';
import type { VrrpEvent } from '../types.js';
import {
  computePriority,
  type PriorityResult,
  type TrackerKind,
  type TrackerState,
  type UpDown,
} from './priority.js';

/** One tracked object as configured on the instance (weights already resolved by config). */
export interface TrackerRef {
  kind: TrackerKind;
  name: string;
  weight: number;
  reverse: boolean;
}

export interface InstanceTrackingOptions {
  instance: string;
  basePriority: number;
  trackers: readonly TrackerRef[];
  /** Called after a change; never called from the constructor. */
  onChange: (next: PriorityResult, prev: PriorityResult) => void;
  log?: Logger;
}

const key = (kind: TrackerKind, name: string): string => `${kind}\0${name}`;

export class InstanceTracking {
  private readonly states = new Map<string, TrackerState>();
  private current: PriorityResult;
  private base: number;

  constructor(private readonly opts: InstanceTrackingOptions) {
    this.base = opts.basePriority;
    for (const t of opts.trackers) {
      const s: TrackerState =
        t.kind === 'file'
          ? { ...t, kind: 'file', value: 0 }
          : { ...t, kind: t.kind, state: t.kind === 'script' ? 'unknown' : 'down' };
      this.states.set(key(t.kind, t.name), s);
    }
    this.current = computePriority(this.base, [...this.states.values()]);
  }

  get result(): PriorityResult {
    return this.current;
  }

  /** Whether this instance tracks that object (sync-group trackers included). */
  tracks(kind: TrackerKind, name: string): boolean {
    return this.states.has(key(kind, name));
  }

  /** Interface up/down, script OK/KO, process quorum, BFD session. */
  setState(kind: Exclude<TrackerKind, 'file'>, name: string, state: UpDown): void {
    const s = this.get(kind, name);
    if (s.kind === 'file' || s.state === state) return;
    this.states.set(key(kind, name), { ...s, state });
    this.recompute();
  }

  /** New integer read from a tracked file. */
  setFileValue(name: string, value: number): void {
    const s = this.get('file', name);
    if (s.kind !== 'file' || s.value === value) return;
    this.states.set(key('file', name), { ...s, value });
    this.recompute();
  }

  /** Seed initial states without callbacks (startup, before the machine starts). */
  seed(
    updates: ReadonlyArray<{ kind: TrackerKind; name: string; state?: UpDown; value?: number }>,
  ): PriorityResult {
    for (const u of updates) {
      const s = this.get(u.kind, u.name);
      if (s.kind === 'file') this.states.set(key(u.kind, u.name), { ...s, value: u.value ?? s.value });
      else this.states.set(key(u.kind, u.name), { ...s, state: u.state ?? s.state });
    }
    this.current = computePriority(this.base, [...this.states.values()]);
    return this.current;
  }

  /** Current state of every tracker, in `seed` form (a reload carries it to the new tracking). */
  snapshot(): Array<{ kind: TrackerKind; name: string; state?: UpDown; value?: number }> {
    const out: Array<{ kind: TrackerKind; name: string; state?: UpDown; value?: number }> = [];
    for (const s of this.states.values()) {
      if (s.kind === 'file') out.push({ kind: s.kind, name: s.name, value: s.value });
      else if (s.state !== 'unknown') out.push({ kind: s.kind, name: s.name, state: s.state });
    }
    return out;
  }

  private get(kind: TrackerKind, name: string): TrackerState {
    const s = this.states.get(key(kind, name));
    if (!s) {
      throw new KaError('KA_ERR_TRACK_UNKNOWN', `(${this.opts.instance}) does not track ${kind} ${name}`, {
        instance: this.opts.instance,
        kind,
        name,
      });
    }
    return s;
  }

  private recompute(): void {
    const prev = this.current;
    const next = computePriority(this.base, [...this.states.values()]);
    this.current = next;
    const log = this.opts.log ?? silentLogger;
    if (next.effectivePriority !== prev.effectivePriority) {
      log.info(
        { instance: this.opts.instance, from: prev.effectivePriority, to: next.effectivePriority },
        `(${this.opts.instance}) Changing effective priority from ${prev.effectivePriority} to ${next.effectivePriority}`,
      );
    }
    if (
      next.effectivePriority !== prev.effectivePriority ||
      next.fault !== prev.fault ||
      next.initPending !== prev.initPending
    ) {
      this.opts.onChange(next, prev);
    }
  }
}

/**
 * The state-machine events for one tracking change (src/vrrp/types.ts VrrpEvent). Entering FAULT:
 * `fault` first, so the instance leaves MASTER at its old priority; leaving FAULT: `priority`
 * first, so BACKUP starts with the Master_Down timer of the new priority. `initPending` has no
 * event: the daemon should not start the instance until it clears (keepalived num_script_init).
 */
export function machineEvents(next: PriorityResult, prev: PriorityResult): VrrpEvent[] {
  const events: VrrpEvent[] = [];
  const prio = next.effectivePriority !== prev.effectivePriority;
  if (next.fault && !prev.fault) events.push({ type: 'fault' });
  if (prio) events.push({ type: 'priority', effectivePriority: next.effectivePriority });
  if (!next.fault && prev.fault) events.push({ type: 'unfault' });
  return events;
}
