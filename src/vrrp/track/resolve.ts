/**
 * Which trackers an instance ends up with, and their weights, after keepalived's config rules
 * (vrrp.c vrrp_complete_instance / sync_group_tracking_init):
 * - address owner (priority 255), or member of a sync group without `sync_group_tracking_weight`:
 *   weighted interfaces become weight 0 in a sync group (owner: dropped); weighted scripts,
 *   processes and BFDs are dropped; a track_file with the default weight 1 becomes weight 0, any
 *   other non-zero weight is dropped;
 * - the sync group's own track_* apply to every member, with weights cleared when any member is
 *   an address owner.
 * Then TrackingHub fans tracker states out to every instance that tracks them.
 */
import type { InstanceTracking, TrackerRef } from './instance.js';
import { PRIO_OWNER, type TrackerKind, type UpDown } from './priority.js';

export interface SyncGroupTracking {
  name: string;
  trackers: readonly TrackerRef[];
  /** `sync_group_tracking_weight` (or the deprecated `global_tracking`). */
  trackingWeight: boolean;
  /** Some member has priority 255. */
  hasOwnerMember: boolean;
}

export interface ResolvedTrackers {
  trackers: TrackerRef[];
  /** keepalived's log lines for what was changed or dropped. */
  warnings: string[];
}

export function resolveInstanceTrackers(
  instance: string,
  basePriority: number,
  own: readonly TrackerRef[],
  group?: SyncGroupTracking,
): ResolvedTrackers {
  const warnings: string[] = [];
  const owner = basePriority === PRIO_OWNER;
  const noWeights = owner || (group !== undefined && !group.trackingWeight);
  const why = owner ? 'address owner' : 'SYNC group';
  const out: TrackerRef[] = [];
  for (const t of own) {
    if (!noWeights || t.weight === 0) {
      out.push({ ...t });
      continue;
    }
    if (t.kind === 'interface') {
      warnings.push(
        // keepalived 2.2.7's wording, as it logs it
        `(${instance}) ignoring ${t.name} tracked interface ${owner ? '' : 'weight '}due to ${why}`,
      );
      if (!owner) out.push({ ...t, weight: 0 });
    } else if (t.kind === 'file' && t.weight === 1) {
      warnings.push(
        `(${instance}) ignoring weight from tracked file ${t.name} due to ${why} - specify weight 0`,
      );
      out.push({ ...t, weight: 0 });
    } else {
      warnings.push(`(${instance}) ignoring tracked ${t.kind} ${t.name} with weights due to ${why}`);
    }
  }
  for (const t of group?.trackers ?? []) {
    if (out.some((o) => o.kind === t.kind && o.name === t.name)) continue;
    if (group?.hasOwnerMember && t.weight !== 0) {
      warnings.push(
        `(${group.name}) Cannot have weighted track ${t.kind} '${t.name}' with member having priority 255 - clearing weight`,
      );
      out.push({ ...t, weight: 0 });
    } else out.push({ ...t });
  }
  return { trackers: out, warnings };
}

/** Fans one tracker's new state out to every instance that tracks it. */
export class TrackingHub {
  private readonly instances: InstanceTracking[] = [];

  add(t: InstanceTracking): void {
    this.instances.push(t);
  }

  remove(t: InstanceTracking): void {
    const i = this.instances.indexOf(t);
    if (i >= 0) this.instances.splice(i, 1);
  }

  /** interface up/down, vrrp_script OK/KO, track_process quorum, BFD. Returns how many instances track it. */
  setState(kind: Exclude<TrackerKind, 'file'>, name: string, state: UpDown): number {
    let n = 0;
    for (const t of this.instances) {
      if (!t.tracks(kind, name)) continue;
      n++;
      t.setState(kind, name, state);
    }
    return n;
  }

  setFileValue(name: string, value: number): number {
    let n = 0;
    for (const t of this.instances) {
      if (!t.tracks('file', name)) continue;
      n++;
      t.setFileValue(name, value);
    }
    return n;
  }
}
