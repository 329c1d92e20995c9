/**
 * Skew_Time and Master_Down_Interval (RFC 3768 §6.1, RFC 5798 §6.1) in integer µs, rounded exactly as
 * keepalived 2.2.7 does (VRRP_TIMER_SKEW / VRRP_MS_DOWN_TIMER). One function, like FRR vrrpd.
 *
 * v2: Skew_Time = (256 - p) / 256 s, independent of the advert interval.
 * v3: Skew_Time = (256 - p) * Master_Adver_Interval / 256, computed on centiseconds as
 *     ((256 - p) * (MAI_us / 10000) * 625) / 16 (each division truncating).
 * Master_Down_Interval = down_timer_adverts * MAI + Skew_Time (RFC: 3 adverts).
 */
import type { Micros } from '../core/clock.js';

export const DEFAULT_DOWN_TIMER_ADVERTS = 3;

export interface VrrpTimers {
  skewUs: Micros;
  masterDownUs: Micros;
}

/**
 * @param priority local effective priority (0..255; 255 gives keepalived's minimum skew "SKEW_MIN")
 * @param masterAdverIntUs Master_Adver_Interval in µs (v2: the local advert_int)
 */
export function vrrpTimers(
  version: 2 | 3,
  priority: number,
  masterAdverIntUs: Micros,
  downTimerAdverts: number = DEFAULT_DOWN_TIMER_ADVERTS,
): VrrpTimers {
  const weight = 256 - priority;
  const skewUs =
    version === 2
      ? Math.floor((weight * 1_000_000) / 256)
      : Math.floor((weight * Math.floor(masterAdverIntUs / 10_000) * 625) / 16);
  return { skewUs, masterDownUs: downTimerAdverts * masterAdverIntUs + skewUs };
}
