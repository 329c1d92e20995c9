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

describe('systemClock', () => {
  it('fires at or after the µs deadline, never synchronously, and not when cancelled', async () => {
    const { systemClock } = await import('../../../src/core/clock.js');
    const lateness: number[] = [];
    for (const delayUs of [0, 300, 2_000, 5_000, 12_345]) {
      const at = systemClock.now() + delayUs;
      let sync = true;
      const firedAt = await new Promise<number>((resolve) => {
        systemClock.at(at, () => {
          expect(sync).toBe(false);
          resolve(systemClock.now());
        });
        sync = false;
      });
      expect(firedAt).toBeGreaterThanOrEqual(at);
      lateness.push(firedAt - at);
    }
    let fired = false;
    const h = systemClock.at(systemClock.now() + 1_000, () => {
      fired = true;
    });
    h.cancel();
    await new Promise((r) => setTimeout(r, 10));
    expect(fired).toBe(false);
    process.stdout.write(`systemClock lateness (µs): ${lateness.join(', ')}\n`);
  });
});
