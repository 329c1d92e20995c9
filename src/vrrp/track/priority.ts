/**
 * Effective priority and FAULT from tracked objects, as keepalived 2.2 applies weights
 * (keepalived-surface.md §2.3–2.7, wire-and-kernel.md §2.3; read from vrrp_track.c /
 * vrrp_set_effective_priority). keepalived adjusts a running total incrementally; this computes
 * the same total from the current states, so it is a pure function.
 *
 * Up/down trackers (interface, script, process, bfd), with m = reverse ? -1 : 1:
 *   weight 0 : FAULT when (up ≠ !reverse), i.e. down (or, with reverse, up);
 *   weight w : up adds w·m if w > 0; down adds w·m if w < 0; otherwise 0.
 *   A script that has not returned yet ('unknown') adds nothing; with weight 0 it holds the
 *   instance in init (keepalived num_script_init) until it reports.
 * track_file (value v clamped to ±254):
 *   weight 0 : FAULT when (v ≠ 0) ≠ reverse;
 *   weight w : s = v·w·m clamped to [-254, 253]; s = -254 means FAULT, else s is added.
 * Effective priority = base + Σ, clamped to 1..254; a base of 255 (address owner) never changes.
 */
import { KaError } from '../../core/errors.js';

export type UpDownKind = 'interface' | 'script' | 'process' | 'bfd';
export type TrackerKind = UpDownKind | 'file';
export type UpDown = 'up' | 'down' | 'unknown';

export interface UpDownTracker {
  kind: UpDownKind;
  name: string;
  weight: number;
  reverse: boolean;
  state: UpDown;
}

export interface FileTracker {
  kind: 'file';
  name: string;
  weight: number;
  reverse: boolean;
  /** The integer read from the file (0 when missing or unreadable). */
  value: number;
}

export type TrackerState = UpDownTracker | FileTracker;

export interface TrackReason {
  kind: TrackerKind;
  name: string;
  /** This tracker puts the instance in FAULT. */
  fault: boolean;
  /** Weight-0 tracker that has not reported yet. */
  pending: boolean;
  /** Contribution to the total priority. */
  delta: number;
  text: string;
}

export interface PriorityResult {
  basePriority: number;
  /** Base plus every contribution, before clamping (keepalived `total_priority`). */
  totalPriority: number;
  effectivePriority: number;
  fault: boolean;
  /** Some weight-0 tracker has not reported yet: keepalived does not bring the instance up. */
  initPending: boolean;
  /** Every tracker that faults, is pending, or changes the priority, in input order. */
  reasons: TrackReason[];
}

export const PRIO_OWNER = 255;
const FILE_FAULT = -254;

/**
 * Largest |weight| keepalived keeps for each kind (a track_file block's own weight, used when the
 * instance gives none, may be up to 2^31-1; the product is clamped anyway).
 */
export const MAX_WEIGHT: Readonly<Record<TrackerKind, number>> = {
  interface: 253,
  script: 253,
  bfd: 253,
  process: 254,
  file: 2147483647,
};

function checkWeight(t: TrackerState): void {
  const max = MAX_WEIGHT[t.kind];
  if (!Number.isInteger(t.weight) || Math.abs(t.weight) > max) {
    throw new KaError(
      'KA_ERR_TRACK_BAD_WEIGHT',
      `weight ${t.weight} for ${t.kind} ${t.name} must be in [-${max}..${max}]`,
      {
        kind: t.kind,
        name: t.name,
        weight: t.weight,
      },
    );
  }
}

export const clampFileValue = (v: number): number => Math.max(-254, Math.min(254, Math.trunc(v)));

/** Status keepalived derives for one (file, weight) pair: -254 = FAULT. */
export function fileStatus(value: number, weight: number, reverse: boolean): number {
  const v = clampFileValue(value);
  if (weight === 0) return (v !== 0) === !reverse ? FILE_FAULT : 0;
  return Math.max(FILE_FAULT, Math.min(253, v * weight * (reverse ? -1 : 1)));
}

function upDownDelta(t: UpDownTracker): number {
  const m = t.reverse ? -1 : 1;
  if (t.state === 'up') return t.weight > 0 ? t.weight * m : 0;
  if (t.state === 'down') return t.weight < 0 ? t.weight * m : 0;
  return 0;
}

/** The pure function: base priority + tracker states → effective priority, FAULT and reasons. */
export function computePriority(basePriority: number, trackers: readonly TrackerState[]): PriorityResult {
  if (!Number.isInteger(basePriority) || basePriority < 1 || basePriority > PRIO_OWNER) {
    throw new KaError('KA_ERR_TRACK_BAD_PRIORITY', `priority ${basePriority} must be in 1..255`, {
      basePriority,
    });
  }
  const owner = basePriority === PRIO_OWNER;
  let total = basePriority;
  let fault = false;
  let initPending = false;
  const reasons: TrackReason[] = [];
  const note = (t: TrackerState, delta: number, flag: 'fault' | 'pending' | null, text: string): void => {
    reasons.push({
      kind: t.kind,
      name: t.name,
      fault: flag === 'fault',
      pending: flag === 'pending',
      delta,
      text,
    });
  };
  for (const t of trackers) {
    checkWeight(t);
    const label = `${t.kind} ${t.name}`;
    if (t.kind === 'file') {
      const s = fileStatus(t.value, t.weight, t.reverse);
      if (s === FILE_FAULT) {
        fault = true;
        note(t, 0, 'fault', `tracked file ${t.name} has status ${s}`);
      } else if (s !== 0 && !owner) {
        total += s;
        note(t, s, null, `${label} value ${t.value} adds ${s}`);
      }
      continue;
    }
    if (t.weight === 0) {
      if (t.state === 'unknown') {
        initPending = true;
        note(t, 0, 'pending', `${label} has not reported yet`);
      } else if ((t.state === 'up') !== !t.reverse) {
        fault = true;
        note(t, 0, 'fault', `${label} is ${t.state}${t.reverse ? ' (reverse)' : ''}`);
      }
      continue;
    }
    const d = upDownDelta(t);
    if (d !== 0 && !owner) {
      total += d;
      note(t, d, null, `${label} is ${t.state}, weight ${t.weight}${t.reverse ? ' reverse' : ''} adds ${d}`);
    }
  }
  const effectivePriority = owner ? PRIO_OWNER : Math.max(1, Math.min(PRIO_OWNER - 1, total));
  return { basePriority, totalPriority: total, effectivePriority, fault, initPending, reasons };
}
