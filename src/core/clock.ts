/**
 * Injected time (STYLE.md habit 5). Everything that waits or measures takes a `Clock`; the daemon
 * uses `systemClock`, tests use `FakeClock` and advance it by hand.
 * Times are monotonic microseconds (integers), matching keepalived's µs timer arithmetic.
 */

export type Micros = number;

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic time in µs. */
  now(): Micros;
  /** Run `fn` once at monotonic time `at` (or as soon as possible if `at` has passed). */
  at(at: Micros, fn: () => void): TimerHandle;
}

function hrNowMicros(): Micros {
  return Number(process.hrtime.bigint() / 1000n);
}

/** How early the millisecond timer wakes before the µs deadline; the rest is finished with setImmediate. */
const EARLY_WAKE_US = 1500;

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Node's timers have millisecond granularity and tend to fire 1–2 ms late, which VRRP timing
 * (Master_Down_Interval, skew time) would inherit. So the timer wakes about 1.5 ms early and the
 * remainder is finished with setImmediate turns: a short spin (at most ~1.5 ms per deadline) that
 * still lets I/O callbacks run between turns.
 */
export const systemClock: Clock = {
  now: hrNowMicros,
  at(at, fn) {
    let timeout: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    let cancelled = false;
    // Never calls `fn` synchronously from `at()`: callers store the handle after it returns.
    const arm = (mayFire: boolean) => {
      timeout = undefined;
      immediate = undefined;
      if (cancelled) return;
      const rem = at - hrNowMicros();
      if (rem <= 0 && mayFire) fn();
      // setTimeout takes at most 2^31-1 ms (a longer delay fires after 1 ms): longer waits re-arm
      else if (rem > EARLY_WAKE_US)
        timeout = setTimeout(check, Math.min(Math.floor((rem - EARLY_WAKE_US) / 1000), MAX_TIMEOUT_MS));
      else immediate = setImmediate(check);
    };
    const check = () => arm(true);
    arm(false);
    return {
      cancel: () => {
        cancelled = true;
        if (timeout) clearTimeout(timeout);
        if (immediate) clearImmediate(immediate);
      },
    };
  },
};

interface Pending {
  at: Micros;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to; timers fire in deadline order (ties in arming order). */
export class FakeClock implements Clock {
  private t: Micros;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start: Micros = 1_000_000) {
    this.t = start;
  }

  now(): Micros {
    return this.t;
  }

  at(at: Micros, fn: () => void): TimerHandle {
    const p: Pending = { at, seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  /** Advance by `us`, firing every timer that falls due, each at its own deadline. */
  advance(us: Micros): void {
    this.advanceTo(this.t + us);
  }

  advanceTo(target: Micros): void {
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      let next: Pending | undefined;
      for (const p of this.pending) {
        if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      }
      if (!next) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = Math.max(this.t, target);
  }

  /** Number of armed, uncancelled timers. */
  get armed(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }
}
