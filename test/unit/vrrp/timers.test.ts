import { describe, expect, it } from 'vitest';
import { vrrpTimers } from '../../../src/vrrp/timers.js';

// Worked examples from the reference (wire-and-kernel.md §2.1) and keepalived's integer rounding.
describe('vrrpTimers (Skew_Time, Master_Down_Interval in µs)', () => {
  it('v2 p=100, advert_int 1 s: skew 609375, MDI 3.609375 s', () => {
    expect(vrrpTimers(2, 100, 1_000_000)).toEqual({ skewUs: 609_375, masterDownUs: 3_609_375 });
  });

  it('v2 p=150: 106e6/256 = 414062.5 truncates to 414062, MDI 3.414062 s', () => {
    expect(vrrpTimers(2, 150, 1_000_000)).toEqual({ skewUs: 414_062, masterDownUs: 3_414_062 });
  });

  it('v2 skew does not depend on the interval: p=100 at 5 s still skews 609375', () => {
    expect(vrrpTimers(2, 100, 5_000_000)).toEqual({ skewUs: 609_375, masterDownUs: 15_609_375 });
  });

  it('v3 p=254, MAI 100 cs: 2*100*625/16 = 7812.5 truncates to 7812', () => {
    expect(vrrpTimers(3, 254, 1_000_000)).toEqual({ skewUs: 7_812, masterDownUs: 3_007_812 });
  });

  it('v3 scales with the learned MAI: p=100 at 10 cs skews 60937 µs, MDI 360937 µs', () => {
    expect(vrrpTimers(3, 100, 100_000)).toEqual({ skewUs: 60_937, masterDownUs: 360_937 });
  });

  it('v3 p=150 at 10 cs: 662500/16 = 41406.25 truncates to 41406', () => {
    expect(vrrpTimers(3, 150, 100_000).skewUs).toBe(41_406);
  });

  it('priority 255 gives keepalived SKEW_MIN (1/256 of the base): 3906 µs v2, 390 µs v3 at 10 cs', () => {
    expect(vrrpTimers(2, 255, 1_000_000).skewUs).toBe(3_906);
    expect(vrrpTimers(3, 255, 100_000).skewUs).toBe(390);
  });

  it('priority 0 (a resigning master) skews a full interval', () => {
    expect(vrrpTimers(2, 0, 1_000_000).skewUs).toBe(1_000_000);
  });

  it('down_timer_adverts replaces the RFC factor 3', () => {
    expect(vrrpTimers(2, 100, 1_000_000, 1).masterDownUs).toBe(1_609_375);
    expect(vrrpTimers(3, 100, 100_000, 10).masterDownUs).toBe(1_060_937);
  });
});
