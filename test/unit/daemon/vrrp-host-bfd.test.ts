/**
 * track_bfd arithmetic, as VrrpHost.setBfdState drives it: each session change goes to the
 * InstanceTracking of every instance tracking it (`setState('bfd', name, up|down)`), which
 * recomputes effective priority and FAULT from the current states. keepalived 2.2.7 instead keeps a
 * running total: vrrp_track.c initialise_track_bfd_state applies the start-up state (sessions start
 * Down) and vrrp_scheduler.c vrrp_handle_bfd_event adjusts it on each change, ignoring a repeated
 * state. `keepalivedModel` restates that bookkeeping (read from keepalived's source, not copied);
 * the property checks both agree after any sequence of changes, for any weights, `reverse` and base
 * priority. VrrpHost itself (which cannot bind an instance without raw sockets) is exercised with
 * the same rules in test/net/bfd/vrrp-host.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InstanceTracking, type TrackerRef } from '../../../src/vrrp/track/instance.js';

interface Bfd {
  name: string;
  weight: number;
  reverse: boolean;
}

interface Seen {
  effectivePriority: number;
  fault: boolean;
}

/** keepalived's bookkeeping for one instance's track_bfd entries. */
function keepalivedModel(base: number, trackers: readonly Bfd[]) {
  const m = (t: Bfd) => (t.reverse ? -1 : 1);
  let total = base;
  let faults = 0;
  const up = new Map<string, boolean>(trackers.map((t) => [t.name, false]));
  // Start-up, every session Down: a negative weight counts (times the multiplier); weight 0 is a
  // FAULT unless reversed.
  for (const t of trackers) {
    if (t.weight < 0) total += t.weight * m(t);
    else if (t.weight === 0 && !t.reverse) faults++;
  }
  return {
    change(name: string, nowUp: boolean): void {
      if (up.get(name) === nowUp) return;
      up.set(name, nowUp);
      for (const t of trackers.filter((x) => x.name === name)) {
        if (t.weight !== 0) total += (nowUp ? 1 : -1) * Math.abs(t.weight) * m(t);
        else if (nowUp === !t.reverse) faults--;
        else faults++;
      }
    },
    seen(): Seen {
      // vrrp_set_effective_priority: an address owner keeps 255; otherwise clamped to 1..254.
      const effectivePriority = base === 255 ? 255 : Math.min(254, Math.max(1, total));
      return { effectivePriority, fault: faults > 0 };
    },
  };
}

/** What VrrpHost builds for the instance: one InstanceTracking with a `bfd` ref per track_bfd entry. */
function ours(base: number, trackers: readonly Bfd[]) {
  const refs: TrackerRef[] = trackers.map((t) => ({ kind: 'bfd', ...t }));
  const tracking = new InstanceTracking({
    instance: 'VI_1',
    basePriority: base,
    trackers: refs,
    onChange: () => {},
  });
  return {
    // VrrpHost asks tracks() first: a session the instance does not track changes nothing.
    change: (name: string, up: boolean) => {
      if (tracking.tracks('bfd', name)) tracking.setState('bfd', name, up ? 'up' : 'down');
    },
    seen: (): Seen => ({
      effectivePriority: tracking.result.effectivePriority,
      fault: tracking.result.fault,
    }),
  };
}

/** Runs both on the same changes; returns every observation, start-up first. */
function both(base: number, trackers: readonly Bfd[], changes: readonly [string, boolean][]) {
  const ka = keepalivedModel(base, trackers);
  const ts = ours(base, trackers);
  const out = [{ ka: ka.seen(), ts: ts.seen() }];
  for (const [name, up] of changes) {
    ka.change(name, up);
    ts.change(name, up);
    out.push({ ka: ka.seen(), ts: ts.seen() });
  }
  return out;
}

const priorities = (base: number, trackers: Bfd[], changes: [string, boolean][]) =>
  both(base, trackers, changes).map(({ ts }) => (ts.fault ? 'FAULT' : ts.effectivePriority));

describe('track_bfd weights and FAULT as keepalived applies them', () => {
  it('weight -20: 80 while Down, back to 100 when Up, 80 again when Down', () => {
    const t = [{ name: 'B1', weight: -20, reverse: false }];
    expect(
      priorities(100, t, [
        ['B1', true],
        ['B1', false],
      ]),
    ).toEqual([80, 100, 80]);
  });

  it('weight 15: counts only while Up; with reverse it subtracts while Up', () => {
    expect(priorities(100, [{ name: 'B1', weight: 15, reverse: false }], [['B1', true]])).toEqual([100, 115]);
    expect(priorities(100, [{ name: 'B1', weight: 15, reverse: true }], [['B1', true]])).toEqual([100, 85]);
    // a negative weight reversed adds while Down
    expect(priorities(100, [{ name: 'B1', weight: -20, reverse: true }], [['B1', true]])).toEqual([120, 100]);
  });

  it('weight 0: FAULT while Down and recovery when Up; reversed, FAULT while Up', () => {
    const changes: [string, boolean][] = [
      ['B1', true],
      ['B1', false],
      ['B1', true],
    ];
    expect(priorities(100, [{ name: 'B1', weight: 0, reverse: false }], changes)).toEqual([
      'FAULT',
      100,
      'FAULT',
      100,
    ]);
    expect(priorities(100, [{ name: 'B1', weight: 0, reverse: true }], changes)).toEqual([
      100,
      'FAULT',
      100,
      'FAULT',
    ]);
  });

  it('several sessions add up; the address owner keeps 255 but still faults on weight 0', () => {
    const t = [
      { name: 'B1', weight: -20, reverse: false },
      { name: 'B2', weight: 15, reverse: false },
    ];
    expect(
      priorities(100, t, [
        ['B1', true],
        ['B2', true],
        ['B1', false],
        ['B2', false],
      ]),
    ).toEqual([80, 100, 115, 95, 80]);
    expect(priorities(255, t, [['B1', true]])).toEqual([255, 255]);
    expect(priorities(255, [{ name: 'B1', weight: 0, reverse: false }], [['B1', true]])).toEqual([
      'FAULT',
      255,
    ]);
  });

  it('agrees with keepalived after any sequence of session changes (property)', () => {
    const bfd = fc.record({
      weight: fc.oneof(fc.constant(0), fc.integer({ min: -253, max: 253 })),
      reverse: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(255), fc.integer({ min: 1, max: 254 })),
        fc.array(bfd, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(5), fc.boolean()), { maxLength: 40 }),
        (base, specs, events) => {
          const trackers = specs.map((s, i) => ({ name: `B${i}`, ...s }));
          // B4 / B5 may be sessions this instance does not track
          const changes = events.map(([i, up]): [string, boolean] => [`B${i}`, up]);
          for (const { ka, ts } of both(base, trackers, changes)) expect(ts).toEqual(ka);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
