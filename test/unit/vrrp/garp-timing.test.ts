import { describe, expect, it } from 'vitest';
import type { GarpTiming } from '../../../src/config/model.js';
import { effectiveGarp, minGarpGlobal } from '../../../src/vrrp/garp-timing.js';

/** keepalived 2.2.7's defaults, as src/config/check.ts builds them when nothing is set. */
const DEFAULT: GarpTiming = {
  masterDelay: 5,
  masterRepeat: 5,
  lowerPrioDelay: 5,
  lowerPrioRepeat: 5,
  masterRefresh: 0,
  masterRefreshRepeat: 1,
};

describe('vrrp_min_garp', () => {
  it('is a no-op when off', () => {
    expect(minGarpGlobal(DEFAULT, false)).toBe(DEFAULT);
    expect(effectiveGarp({ ...DEFAULT, masterRepeat: 2 }, DEFAULT, false).masterRepeat).toBe(2);
  });

  it('turns the defaults into one GARP, no second burst, no refresh; lower-priority follows', () => {
    expect(minGarpGlobal(DEFAULT, true)).toEqual({
      masterDelay: 0,
      masterRepeat: 1,
      masterRefresh: 0,
      masterRefreshRepeat: 0,
      lowerPrioDelay: 0,
      lowerPrioRepeat: 1,
    });
  });

  it('keeps global values set away from the default (and lower-priority ones derived from them)', () => {
    // vrrp_garp_master_repeat 3, vrrp_garp_master_refresh 60, vrrp_garp_lower_prio_delay 2
    const g: GarpTiming = {
      ...DEFAULT,
      masterRepeat: 3,
      lowerPrioRepeat: 3,
      masterRefresh: 60,
      lowerPrioDelay: 2,
    };
    expect(minGarpGlobal(g, true)).toEqual({
      masterDelay: 0,
      masterRepeat: 3,
      masterRefresh: 60,
      masterRefreshRepeat: 0,
      lowerPrioDelay: 2,
      lowerPrioRepeat: 3,
    });
  });

  it('instances inherit the lowered values unless they set their own', () => {
    const inherited = effectiveGarp(DEFAULT, DEFAULT, true);
    expect(inherited.masterRepeat).toBe(1);
    expect(inherited.masterDelay).toBe(0);
    // garp_master_repeat 4 and garp_master_delay 2 in the instance (lower-priority ones follow them in the model)
    const own: GarpTiming = {
      ...DEFAULT,
      masterRepeat: 4,
      lowerPrioRepeat: 4,
      masterDelay: 2,
      lowerPrioDelay: 2,
    };
    expect(effectiveGarp(own, DEFAULT, true)).toEqual({
      masterDelay: 2,
      masterRepeat: 4,
      masterRefresh: 0,
      masterRefreshRepeat: 0,
      lowerPrioDelay: 2,
      lowerPrioRepeat: 4,
    });
  });
});
