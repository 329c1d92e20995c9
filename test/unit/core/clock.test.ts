import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';

describe('FakeClock', () => {
  it('fires timers at their own deadlines, in order, and skips cancelled ones', () => {
    const c = new FakeClock(0);
    const seen: Array<[string, number]> = [];
    c.at(300, () => seen.push(['c', c.now()]));
    c.at(100, () => seen.push(['a', c.now()]));
    const b = c.at(200, () => seen.push(['b', c.now()]));
    b.cancel();
    c.advance(250);
    expect(seen).toEqual([['a', 100]]);
    expect(c.now()).toBe(250);
    c.advance(100);
    expect(seen).toEqual([
      ['a', 100],
      ['c', 300],
    ]);
    expect(c.armed).toBe(0);
  });

  it('runs timers armed by a firing timer when they fall inside the advance', () => {
    const c = new FakeClock(0);
    const seen: number[] = [];
    c.at(10, () => {
      seen.push(c.now());
      c.at(c.now() + 10, () => seen.push(c.now()));
    });
    c.advance(25);
    expect(seen).toEqual([10, 20]);
  });
});
