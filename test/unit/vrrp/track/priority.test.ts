import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import { isKaError } from '../../../../src/core/errors.js';
import { InstanceTracking, machineEvents } from '../../../../src/vrrp/track/instance.js';
import {
  computePriority,
  type PriorityResult,
  type TrackerState,
} from '../../../../src/vrrp/track/priority.js';

const scr = (
  state: 'up' | 'down' | 'unknown',
  weight: number,
  reverse = false,
  name = 'chk',
): TrackerState => ({
  kind: 'script',
  name,
  weight,
  reverse,
  state,
});
const ifc = (state: 'up' | 'down', weight: number, reverse = false, name = 'eth1'): TrackerState => ({
  kind: 'interface',
  name,
  weight,
  reverse,
  state,
});
const proc = (state: 'up' | 'down', weight: number, reverse = false): TrackerState => ({
  kind: 'process',
  name: 'nginx',
  weight,
  reverse,
  state,
});
const file = (value: number, weight: number, reverse = false): TrackerState => ({
  kind: 'file',
  name: 'f',
  weight,
  reverse,
  value,
});

// Expected values worked out by hand from keepalived's rules (vrrp_track.c), not from the code.
const table: Array<[string, number, TrackerState[], number, boolean, boolean?]> = [
  ['no trackers', 100, [], 100, false],
  ['script up, weight -60: nothing', 100, [scr('up', -60)], 100, false],
  ['script down, weight -60: subtract', 100, [scr('down', -60)], 40, false],
  ['lab: 150, script down -60 → 90', 150, [scr('down', -60)], 90, false],
  ['script up, weight +20: add', 100, [scr('up', 20)], 120, false],
  ['script down, weight +20: nothing', 100, [scr('down', 20)], 100, false],
  ['script up, +20 reverse: subtract', 100, [scr('up', 20, true)], 80, false],
  ['script down, +20 reverse: nothing', 100, [scr('down', 20, true)], 100, false],
  ['script up, -20 reverse: nothing', 100, [scr('up', -20, true)], 100, false],
  ['script down, -20 reverse: add', 100, [scr('down', -20, true)], 120, false],
  ['script down, weight 0: FAULT', 100, [scr('down', 0)], 100, true],
  ['script up, weight 0: fine', 100, [scr('up', 0)], 100, false],
  ['script up, weight 0 reverse: FAULT', 100, [scr('up', 0, true)], 100, true],
  ['script down, weight 0 reverse: fine', 100, [scr('down', 0, true)], 100, false],
  ['script not yet run, weight 0: pending, no fault', 100, [scr('unknown', 0)], 100, false, true],
  ['script not yet run, weight -60: nothing', 100, [scr('unknown', -60)], 100, false],
  ['clamp low: 50 - 60 → 1', 50, [scr('down', -60)], 1, false],
  ['clamp high: 200 + 100 → 254', 200, [ifc('up', 100)], 254, false],
  ['owner 255 ignores weights', 255, [scr('down', -60), ifc('up', 50)], 255, false],
  ['owner 255 still faults on weight 0', 255, [ifc('down', 0)], 255, true],
  ['several: 150 +10 -60 +5 → 105', 150, [ifc('up', 10), scr('down', -60), proc('up', 5)], 105, false],
  ['fault and weights together', 100, [scr('down', 0), ifc('down', -10)], 90, true],
  ['interface down -253 from 254 → 1', 254, [ifc('down', -253)], 1, false],
  ['process down -254 → 1', 100, [proc('down', -254)], 1, false],
  ['process up -254 reverse → 1', 100, [proc('up', 254, true)], 1, false],
  ['base 1, interface down -10 → 1', 1, [ifc('down', -10)], 1, false],
  ['file 5 × 1 → +5', 100, [file(5, 1)], 105, false],
  ['file -3 × 10 → -30', 100, [file(-3, 10)], 70, false],
  ['file 100 × 10 → status 253 → 254', 100, [file(100, 10)], 254, false],
  ['file -30 × 10 → -300 → FAULT', 100, [file(-30, 10)], 100, true],
  ['file 3, weight 0 → FAULT', 100, [file(3, 0)], 100, true],
  ['file 0, weight 0 → fine', 100, [file(0, 0)], 100, false],
  ['file 0, weight 0 reverse → FAULT', 100, [file(0, 0, true)], 100, true],
  ['file 7, weight 0 reverse → fine', 100, [file(7, 0, true)], 100, false],
  ['file 5 × 2 reverse → -10', 100, [file(5, 2, true)], 90, false],
  ['file 1000 (clamped 254) × -1 → FAULT', 100, [file(1000, -1)], 100, true],
  ['file 253 × 1 on 1 → 254', 1, [file(253, 1)], 254, false],
  ['owner ignores file weight', 255, [file(40, 1)], 255, false],
];

describe('computePriority (keepalived weight arithmetic)', () => {
  it.each(table)('%s', (_label, base, trackers, prio, fault, pending = false) => {
    const r = computePriority(base, trackers);
    expect(r.effectivePriority).toBe(prio);
    expect(r.fault).toBe(fault);
    expect(r.initPending).toBe(pending);
  });

  it('explains each contribution', () => {
    const r = computePriority(150, [ifc('up', 10), scr('down', -60), scr('up', 0, false, 'zero')]);
    expect(r.totalPriority).toBe(100);
    expect(r.reasons.map((x) => [x.kind, x.name, x.delta, x.fault])).toEqual([
      ['interface', 'eth1', 10, false],
      ['script', 'chk', -60, false],
    ]);
    const f = computePriority(100, [scr('down', 0)]);
    expect(f.reasons).toHaveLength(1);
    expect(f.reasons[0]?.fault).toBe(true);
    expect(f.reasons[0]?.text).toContain('script chk is down');
  });

  it('rejects bad weights and priorities with typed errors', () => {
    expect(() => computePriority(100, [scr('up', 254)])).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_BAD_WEIGHT' }),
    );
    expect(() => computePriority(100, [scr('up', 1.5)])).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_BAD_WEIGHT' }),
    );
    for (const bad of [0, 256, -1, 99.5, Number.NaN]) {
      try {
        computePriority(bad, []);
        expect.unreachable();
      } catch (e) {
        expect(isKaError(e, 'KA_ERR_TRACK_BAD_PRIORITY')).toBe(true);
      }
    }
  });
});

describe('InstanceTracking', () => {
  it('reports only changes of priority, fault or init, with keepalived log wording', () => {
    const changes: Array<[PriorityResult, PriorityResult]> = [];
    const lines: string[] = [];
    const log = { info: (_o: unknown, msg: string) => lines.push(msg) } as never;
    const t = new InstanceTracking({
      instance: 'VI_1',
      basePriority: 150,
      trackers: [
        { kind: 'script', name: 'chk', weight: -60, reverse: false },
        { kind: 'interface', name: 'eth1', weight: 0, reverse: false },
        { kind: 'file', name: 'f', weight: 1, reverse: false },
      ],
      onChange: (n, p) => changes.push([n, p]),
      log,
    });
    // interfaces start down until seeded; the daemon seeds the real link states before starting.
    expect(t.result.fault).toBe(true);
    t.seed([{ kind: 'interface', name: 'eth1', state: 'up' }]);
    expect(t.result).toMatchObject({ effectivePriority: 150, fault: false });
    t.setState('script', 'chk', 'up');
    expect(changes).toHaveLength(0);
    t.setState('script', 'chk', 'down');
    expect(changes).toHaveLength(1);
    expect(changes[0]?.[0].effectivePriority).toBe(90);
    expect(lines).toContain('(VI_1) Changing effective priority from 150 to 90');
    t.setState('script', 'chk', 'down');
    expect(changes).toHaveLength(1);
    t.setState('interface', 'eth1', 'down');
    expect(changes[1]?.[0]).toMatchObject({ fault: true, effectivePriority: 90 });
    t.setFileValue('f', 7);
    expect(changes[2]?.[0].effectivePriority).toBe(97);
    expect(() => t.setState('script', 'nope', 'up')).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_UNKNOWN' }),
    );
    expect(t.tracks('file', 'f')).toBe(true);
  });

  it('drives a clocked sequence: fall then recover', () => {
    const clock = new FakeClock();
    const seen: Array<[number, number]> = [];
    const t = new InstanceTracking({
      instance: 'VI_1',
      basePriority: 100,
      trackers: [{ kind: 'script', name: 'chk', weight: -30, reverse: false }],
      onChange: (n) => seen.push([clock.now(), n.effectivePriority]),
    });
    clock.at(2_000_000, () => t.setState('script', 'chk', 'down'));
    clock.at(5_000_000, () => t.setState('script', 'chk', 'up'));
    clock.advance(10_000_000);
    expect(seen).toEqual([
      [2_000_000, 70],
      [5_000_000, 100],
    ]);
  });
});

describe('machineEvents', () => {
  const r = (effectivePriority: number, fault: boolean): PriorityResult => ({
    basePriority: 100,
    totalPriority: effectivePriority,
    effectivePriority,
    fault,
    initPending: false,
    reasons: [],
  });
  it.each([
    ['priority only', r(100, false), r(90, false), [{ type: 'priority', effectivePriority: 90 }]],
    [
      'fault before the new priority',
      r(100, false),
      r(90, true),
      [{ type: 'fault' }, { type: 'priority', effectivePriority: 90 }],
    ],
    [
      'new priority before unfault',
      r(90, true),
      r(100, false),
      [{ type: 'priority', effectivePriority: 100 }, { type: 'unfault' }],
    ],
    ['nothing', r(100, true), r(100, true), []],
  ])('%s', (_l, prev, next, want) => {
    expect(machineEvents(next, prev)).toEqual(want);
  });
});
