/**
 * GARP timing at run time. `vrrp_min_garp` is applied by src/config/check.ts while it builds
 * GlobalDefs.garp (as keepalived's handler does where the keyword is read: values written by the
 * user, globally or in the instance, win), and strict mode's "no lower-priority GARPs" there too, so
 * an instance's `garp` is already what it uses. See docs/GARP.md.
 */
import type { GarpTiming } from '../config/model.js';

/**
 * The GARP timing an instance runs with: its configured `garp`. The global timing and the
 * vrrp_min_garp flag are already folded into it by the configuration; they are accepted so that
 * callers written against the earlier signature keep working.
 */
export function effectiveGarp(inst: GarpTiming, _global?: GarpTiming, _minGarp?: boolean): GarpTiming {
  return inst;
}
