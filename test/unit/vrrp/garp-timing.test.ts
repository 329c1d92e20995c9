import { describe, expect, it } from 'vitest';
import type { GarpTiming } from '../../../src/config/model.js';
import { effectiveGarp } from '../../../src/vrrp/garp-timing.js';

const DEFAULT: GarpTiming = {
  masterDelay: 5,
  masterRepeat: 5,
  lowerPrioDelay: 5,
  lowerPrioRepeat: 5,
  masterRefresh: 0,
  masterRefreshRepeat: 1,
};

// vrrp_min_garp is applied by the configuration (test/unit/config/garp-defaults.test.ts): the
// instance's timing is used as configured, whatever the global values and the flag.
describe('effectiveGarp', () => {
  it("returns the instance's timing, explicit values equal to the defaults included", () => {
    const own: GarpTiming = { ...DEFAULT, masterRepeat: 5, masterDelay: 2, lowerPrioDelay: 0 };
    const low: GarpTiming = { ...DEFAULT, masterDelay: 0, masterRepeat: 1, masterRefreshRepeat: 0 };
    expect(effectiveGarp(own, low, true)).toEqual(own);
    expect(effectiveGarp(own, DEFAULT, false)).toEqual(own);
  });
});
