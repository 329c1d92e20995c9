/**
 * `vrrp_min_garp` (global_defs): keepalived 2.2.7's global_parser.c turns the GARP defaults down to
 * "one gratuitous ARP/NA, no second burst, no refresh" without overwriting values already set:
 * each of garp_master_repeat, garp_master_refresh, garp_master_refresh_repeat and garp_master_delay
 * that still holds its default (5, 0, 1, 5 s) becomes 1, 0, 0, 0. The lower-priority knobs default
 * to the (now lowered) master ones. Instances inherit the result unless they set their own.
 *
 * The configuration model keeps values, not where they came from, so "already set" is judged by
 * value here: an explicit setting equal to the default is lowered too (keepalived keeps one set after
 * the vrrp_min_garp line), and an instance or lower-priority value equal to what it would inherit is
 * treated as inherited. See docs/GARP.md.
 */
import type { GarpTiming } from '../config/model.js';

const DEFAULTS = { masterDelay: 5, masterRepeat: 5, masterRefresh: 0, masterRefreshRepeat: 1 } as const;

/** The global GARP timing after vrrp_min_garp (unchanged when `minGarp` is off). */
export function minGarpGlobal(g: GarpTiming, minGarp: boolean): GarpTiming {
  if (!minGarp) return g;
  const masterRepeat = g.masterRepeat === DEFAULTS.masterRepeat ? 1 : g.masterRepeat;
  const masterDelay = g.masterDelay === DEFAULTS.masterDelay ? 0 : g.masterDelay;
  return {
    masterDelay,
    masterRepeat,
    masterRefresh: g.masterRefresh === DEFAULTS.masterRefresh ? 0 : g.masterRefresh,
    masterRefreshRepeat: g.masterRefreshRepeat === DEFAULTS.masterRefreshRepeat ? 0 : g.masterRefreshRepeat,
    // derived from the master values unless set apart from them
    lowerPrioDelay: g.lowerPrioDelay === g.masterDelay ? masterDelay : g.lowerPrioDelay,
    lowerPrioRepeat: g.lowerPrioRepeat === g.masterRepeat ? masterRepeat : g.lowerPrioRepeat,
  };
}

/**
 * An instance's GARP timing with vrrp_min_garp applied: each field equal to the global (pre-min_garp)
 * value is inherited and takes the lowered global value; a field the instance set differently stays.
 */
export function effectiveGarp(inst: GarpTiming, global: GarpTiming, minGarp: boolean): GarpTiming {
  if (!minGarp) return inst;
  const low = minGarpGlobal(global, true);
  const pick = <K extends keyof GarpTiming>(k: K): GarpTiming[K] =>
    inst[k] === global[k] ? low[k] : inst[k];
  return {
    masterDelay: pick('masterDelay'),
    masterRepeat: pick('masterRepeat'),
    masterRefresh: pick('masterRefresh'),
    masterRefreshRepeat: pick('masterRefreshRepeat'),
    lowerPrioDelay: pick('lowerPrioDelay'),
    lowerPrioRepeat: pick('lowerPrioRepeat'),
  };
}
