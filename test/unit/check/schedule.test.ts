import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Runner } from '../../../src/check/index.js';
import { fmtChk, Scheduler, type TimerHost, TimerQueue } from '../../../src/check/schedule.js';
import type { CheckResult, CheckSpec, RealServerEvent, TcpCheckSpec } from '../../../src/check/types.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';

const S = 1_000_000;
const STEP = 10_000; // every time below is a multiple of 10 ms, so results land exactly on a step

/** Let the runner's promise chain settle (results are handled in microtasks). */
const settle = () => new Promise<void>((r) => setImmediate(r));

async function runFor(clock: FakeClock, us: number): Promise<void> {
  clock.advance(0); // timers due now (warmup 0) fire before time moves
  await settle();
  for (let t = 0; t < us; t += STEP) {
    clock.advance(STEP);
    await settle();
  }
}

function tcp(over: Partial<TcpCheckSpec> = {}): TcpCheckSpec {
  return {
    kind: 'TCP_CHECK',
    connectIp: '198.51.100.2',
    connectPort: 80,
    connectTimeout: 1,
    delayLoop: 2,
    retry: 2,
    delayBeforeRetry: 0.5,
    warmup: 0,
    alpha: false,
    ...over,
  };
}

/** A simulated backend: healthy answers at once; unhealthy never answers (timeout after connect_timeout). */
function simulated(clock: FakeClock, healthy: (now: number) => boolean): Runner {
  return (spec, signal) =>
    new Promise<CheckResult>((resolve) => {
      if (healthy(clock.now())) {
        resolve({ ok: true });
        return;
      }
      const timeout = 'connectTimeout' in spec ? spec.connectTimeout : 1;
      const h = clock.at(clock.now() + timeout * S, () =>
        resolve({ ok: false, error: new KaError('KA_ERR_CHECK_TIMEOUT', 'timed out') }),
      );
      signal.addEventListener('abort', () => {
        h.cancel();
        resolve({ ok: false, error: new KaError('KA_ERR_CHECK_ABORTED', 'cancelled') });
      });
    });
}

function setup(
  checkers: CheckSpec[],
  healthy: (now: number) => boolean,
  extra: { max?: number; random?: () => number } = {},
) {
  const clock = new FakeClock(1_000_000);
  const t0 = clock.now();
  const events: Array<RealServerEvent & { at: number }> = [];
  const attempts: Array<{ at: number; ok: boolean }> = [];
  const sched = new Scheduler({
    clock,
    runner: simulated(clock, (now) => healthy(now - t0)),
    random: extra.random ?? (() => 0),
    maxConcurrent: extra.max ?? 16,
    onEvent: (ev) => events.push({ ...ev, at: clock.now() - t0 }),
    onAttempt: (_rs, _i, r, at) => attempts.push({ at: at - t0, ok: r.ok }),
  });
  sched.add({ id: '198.51.100.2:80', weight: 10, checkers });
  return { clock, t0, events, attempts, sched };
}

describe('check schedule machine (FakeClock)', () => {
  it('goes DOWN after retry+1 consecutive failures, within delay_loop × (retry+1) + connect_timeout', async () => {
    const failAt = 3 * S;
    const { clock, events, attempts } = setup([tcp()], (t) => t < failAt);
    await runFor(clock, 12 * S);
    // Checks at 0, 2 (ok); 4 fails at 5; retries at 5.5 (fails 6.5) and 7 (fails 8) → DOWN at 8 s.
    expect(attempts.slice(0, 5)).toEqual([
      { at: 0, ok: true },
      { at: 2 * S, ok: true },
      { at: 5 * S, ok: false },
      { at: 6.5 * S, ok: false },
      { at: 8 * S, ok: false },
    ]);
    expect(events).toEqual([
      { realServer: '198.51.100.2:80', up: true, at: 0 },
      {
        realServer: '198.51.100.2:80',
        up: false,
        at: 8 * S,
        checker: { index: 0, kind: 'TCP_CHECK', up: false },
      },
    ]);
    const down = events[1]!.at;
    expect(down - failAt).toBeLessThanOrEqual(2 * S * (2 + 1) + 1 * S);
  });

  it('does not retry while DOWN and comes back UP on the first success', async () => {
    const { clock, events, attempts } = setup([tcp()], (t) => t < 3 * S || t >= 11 * S);
    await runFor(clock, 16 * S);
    // DOWN at 8; next checks at 10 (fails at 11, no retry), 13 → success → UP at 13.
    expect(attempts.filter((a) => a.at > 8 * S && a.at <= 13 * S)).toEqual([
      { at: 11 * S, ok: false },
      { at: 13 * S, ok: true },
    ]);
    expect(events.map((e) => [e.up, e.at])).toEqual([
      [true, 0],
      [false, 8 * S],
      [true, 13 * S],
    ]);
  });

  it('retry 0 goes DOWN on the first failure; a success between failures resets the count', async () => {
    const { clock, events } = setup([tcp({ retry: 0 })], (t) => t < 3 * S);
    await runFor(clock, 6 * S);
    expect(events.map((e) => [e.up, e.at])).toEqual([
      [true, 0],
      [false, 5 * S],
    ]);
    // Intermittent: fails only on the check at 4 s; the retry at 5.5 s succeeds, so the server stays UP.
    const flaky = setup([tcp({ retry: 1 })], (t) => !(t >= 4 * S && t < 5 * S));
    await runFor(flaky.clock, 12 * S);
    expect(flaky.events.map((e) => e.up)).toEqual([true]);
  });

  it('alpha starts DOWN and needs one success', async () => {
    const { clock, events } = setup([tcp({ alpha: true })], () => true);
    expect(events).toEqual([{ realServer: '198.51.100.2:80', up: false, at: 0 }]);
    await runFor(clock, 1 * S);
    expect(events.map((e) => [e.up, e.at])).toEqual([
      [false, 0],
      [true, 0],
    ]);
  });

  it('alpha: a first attempt failing with no retry left is reported (keepalived notifies it), once', async () => {
    const { clock, events } = setup([tcp({ alpha: true, retry: 0 })], () => false);
    await runFor(clock, 6 * S);
    // times out at 1 s: no change (already DOWN), but reported; the next failures are not
    expect(events).toEqual([
      { realServer: '198.51.100.2:80', up: false, at: 0 },
      { realServer: '198.51.100.2:80', up: false, alphaFailure: true, at: 1 * S },
    ]);
    // with retries, keepalived has run the checker before it gives up: nothing to report
    const retried = setup([tcp({ alpha: true, retry: 1 })], () => false);
    await runFor(retried.clock, 6 * S);
    expect(retried.events).toEqual([{ realServer: '198.51.100.2:80', up: false, at: 0 }]);
    // not alpha: the first failure is a change, reported as such
    const plain = setup([tcp({ retry: 0 })], () => false);
    await runFor(plain.clock, 2 * S);
    expect(plain.events.map((e) => [e.up, e.alphaFailure, e.at])).toEqual([
      [true, undefined, 0],
      [false, undefined, 1 * S],
    ]);
  });

  it('fast_recovery checks a DOWN server every delay_before_retry', async () => {
    const healthy = (t: number) => t < 3 * S || t >= 5.2 * S;
    // Checks at 0, 4 (times out at 5, retry 0 → DOWN at 5). Healthy again from 5.2 s.
    const fast = setup([tcp({ fastRecovery: true, retry: 0, delayLoop: 4 })], healthy);
    await runFor(fast.clock, 10 * S);
    expect(fast.events.map((e) => [e.up, e.at])).toEqual([
      [true, 0],
      [false, 5 * S],
      [true, 5.5 * S],
    ]);
    const slow = setup([tcp({ retry: 0, delayLoop: 4 })], healthy);
    await runFor(slow.clock, 10 * S);
    expect(slow.events.map((e) => [e.up, e.at])).toEqual([
      [true, 0],
      [false, 5 * S],
      [true, 9 * S],
    ]);
  });

  it('warmup spreads the first check over [0, warmup]', async () => {
    const { clock, attempts } = setup([tcp({ warmup: 4 })], () => true, { random: () => 0.25 });
    await runFor(clock, 2 * S);
    expect(attempts[0]).toEqual({ at: 1 * S, ok: true });
    const def = setup([tcp({ warmup: undefined, delayLoop: 6 })], () => true, { random: () => 0.5 });
    await runFor(def.clock, 4 * S);
    expect(def.attempts[0]).toEqual({ at: 3 * S, ok: true });
  });

  it('a real server is UP only while all of its checkers are UP', async () => {
    const clock = new FakeClock(1_000_000);
    const events: RealServerEvent[] = [];
    let bad = false;
    const runner: Runner = async (spec) =>
      spec.kind === 'TCP_CHECK' && bad
        ? { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', 'refused') }
        : { ok: true };
    const sched = new Scheduler({ clock, runner, random: () => 0, onEvent: (e) => events.push(e) });
    const file: CheckSpec = {
      kind: 'FILE_CHECK',
      file: '/nonexistent',
      delayLoop: 1,
      retry: 0,
      delayBeforeRetry: 1,
      warmup: 0,
      alpha: false,
    };
    sched.add({ id: 'rs', weight: 1, checkers: [tcp({ retry: 0, delayLoop: 1 }), file] });
    await runFor(clock, 1 * S);
    bad = true;
    await runFor(clock, 2 * S);
    expect(sched.state('rs')).toEqual({ up: false, weight: 1, checkers: [false, true] });
    bad = false;
    await runFor(clock, 2 * S);
    expect(events.map((e) => e.up)).toEqual([true, false, true]);
  });

  it('every checker flip is reported with the real server after it (A down, B down, A up, B up)', async () => {
    const clock = new FakeClock(1_000_000);
    const t0 = clock.now();
    const events: Array<RealServerEvent & { at: number }> = [];
    const bad = new Set<string>();
    const runner: Runner = async (spec) =>
      bad.has(spec.kind)
        ? { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', 'refused'), reason: `${spec.kind} reason` }
        : { ok: true };
    const sched = new Scheduler({
      clock,
      runner,
      random: () => 0,
      onEvent: (e) => events.push({ ...e, at: (clock.now() - t0) / S }),
    });
    const http: CheckSpec = {
      kind: 'HTTP_GET',
      connectIp: '198.51.100.2',
      connectPort: 80,
      connectTimeout: 1,
      urls: [{ path: '/' }],
      delayLoop: 2,
      retry: 0,
      delayBeforeRetry: 1,
      warmup: 0,
      alpha: false,
    };
    sched.add({ id: 'rs', weight: 1, checkers: [tcp({ retry: 0 }), http] });
    await runFor(clock, 1 * S); // first results at 0: both up, nothing flips, nothing reported
    bad.add('TCP_CHECK');
    await runFor(clock, 2 * S); // at 2: A fails
    bad.add('HTTP_GET');
    await runFor(clock, 2 * S); // at 4: B fails
    bad.delete('TCP_CHECK');
    await runFor(clock, 2 * S); // at 6: A recovers
    bad.delete('HTTP_GET');
    await runFor(clock, 2 * S); // at 8: B recovers
    const a = { index: 0, kind: 'TCP_CHECK' };
    const b = { index: 1, kind: 'HTTP_GET' };
    expect(events).toEqual([
      { realServer: 'rs', up: true, at: 0 },
      { realServer: 'rs', up: false, at: 2, checker: { ...a, up: false, reason: 'TCP_CHECK reason' } },
      { realServer: 'rs', up: false, at: 4, checker: { ...b, up: false, reason: 'HTTP_GET reason' } },
      { realServer: 'rs', up: false, at: 6, checker: { ...a, up: true } },
      { realServer: 'rs', up: true, at: 8, checker: { ...b, up: true } },
    ]);
  });

  it('BFD_CHECK: no attempts; setBfdState flips it as keepalived (first event, repeats, alpha, removal)', async () => {
    const clock = new FakeClock(1_000_000);
    const events: RealServerEvent[] = [];
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l).msg) });
    const runner: Runner = async () => {
      throw new Error('a BFD_CHECK must not run attempts');
    };
    const counters = new Counters();
    const sched = new Scheduler({
      clock,
      runner,
      logger,
      counters,
      random: () => 0,
      onEvent: (e) => events.push(e),
    });
    const bfd = (alpha: boolean): CheckSpec => ({
      kind: 'BFD_CHECK',
      name: 'b1',
      delayLoop: 1,
      retry: 0,
      delayBeforeRetry: 1,
      alpha,
    });
    sched.add({ id: 'r1', label: '[198.51.100.2]:tcp:80', weight: 1, checkers: [bfd(false)] });
    sched.add({ id: 'r2', label: '[198.51.100.3]:tcp:80', weight: 1, checkers: [bfd(true)] });
    await runFor(clock, 5 * S);
    expect(counters.get('check.attempts')).toBe(0);
    expect(events).toEqual([
      { realServer: 'r1', up: true },
      { realServer: 'r2', up: false },
    ]);
    events.length = 0;
    // the session's first state (Down, as the BFD side announces a new session)
    sched.setBfdState('b1', false);
    expect(events).toEqual([
      { realServer: 'r1', up: false, checker: { index: 0, kind: 'BFD_CHECK', up: false, bfd: 'b1' } },
      // alpha, already down: its first result only notifies (keepalived's do_rs_notifies)
      { realServer: 'r2', up: false, alphaFailure: true },
    ]);
    events.length = 0;
    sched.setBfdState('b1', false); // same state again: nothing
    sched.setBfdState('other', true); // no checker names it: nothing
    expect(events).toEqual([]);
    sched.setBfdState('b1', true);
    expect(events.map((e) => [e.realServer, e.up, e.checker?.up])).toEqual([
      ['r1', true, true],
      ['r2', true, true],
    ]);
    expect(lines).toEqual([
      'BFD check of [b1] RS([198.51.100.2]:tcp:80) is DOWN',
      'BFD check of [b1] RS([198.51.100.3]:tcp:80) is DOWN',
      'BFD check of [b1] RS([198.51.100.2]:tcp:80) is UP',
      'BFD check of [b1] RS([198.51.100.3]:tcp:80) is UP',
    ]);
    events.length = 0;
    sched.remove('r1');
    sched.setBfdState('b1', false);
    expect(events.map((e) => e.realServer)).toEqual(['r2']);
    expect(sched.state('r2')).toEqual({ up: false, weight: 1, checkers: [false] });
  });

  it('misc_dynamic and FILE_CHECK weights reach the event', async () => {
    const clock = new FakeClock(1_000_000);
    const events: RealServerEvent[] = [];
    const results: CheckResult[] = [
      { ok: true, weight: 5 },
      { ok: true, weight: 7 },
      { ok: true, weight: 7 },
      { ok: true },
    ];
    const runner: Runner = async (spec) =>
      spec.kind === 'MISC_CHECK' ? (results.shift() ?? { ok: true }) : { ok: true, weightDelta: -2 };
    const sched = new Scheduler({ clock, runner, random: () => 0, onEvent: (e) => events.push(e) });
    const misc: CheckSpec = {
      kind: 'MISC_CHECK',
      miscPath: ['x'],
      miscDynamic: true,
      delayLoop: 1,
      retry: 0,
      delayBeforeRetry: 1,
      warmup: 0,
      alpha: false,
    };
    sched.add({ id: 'rs', weight: 10, checkers: [misc] });
    await runFor(clock, 4 * S);
    expect(events).toEqual([
      { realServer: 'rs', up: true },
      // a MISC_CHECK's first result is reported (keepalived mails it) though nothing flipped
      {
        realServer: 'rs',
        up: true,
        weight: 5,
        checker: { index: 0, kind: 'MISC_CHECK', up: true, unchanged: true },
      },
      { realServer: 'rs', up: true, weight: 7 },
      { realServer: 'rs', up: true },
    ]);
    const fileSpec: CheckSpec = {
      kind: 'FILE_CHECK',
      file: 'f',
      weight: 2,
      delayLoop: 1,
      retry: 0,
      delayBeforeRetry: 1,
      warmup: 0,
      alpha: false,
    };
    sched.add({ id: 'rs2', weight: 10, checkers: [fileSpec] });
    await runFor(clock, 1 * S);
    expect(events.at(-1)).toEqual({ realServer: 'rs2', up: true, weight: 8 });
  });

  it('bounds concurrency and runs queued checks in order', async () => {
    const clock = new FakeClock(1_000_000);
    let running = 0;
    let peak = 0;
    let done = 0;
    const runner: Runner = (_s, _sig) =>
      new Promise((resolve) => {
        running++;
        peak = Math.max(peak, running);
        clock.at(clock.now() + 0.1 * S, () => {
          running--;
          done++;
          resolve({ ok: true });
        });
      });
    const sched = new Scheduler({ clock, runner, random: () => 0, maxConcurrent: 3, onEvent: () => {} });
    for (let i = 0; i < 10; i++) sched.add({ id: `rs${i}`, weight: 1, checkers: [tcp({ delayLoop: 5 })] });
    expect(sched.inFlight).toBe(0);
    await runFor(clock, 0.01 * S);
    expect(sched.inFlight).toBe(3);
    expect(sched.waiting).toBe(7);
    await runFor(clock, 1 * S);
    expect(peak).toBe(3);
    expect(done).toBe(10);
  });

  it('remove() and stop() cancel in-flight attempts through their AbortSignal', async () => {
    const { clock, sched, events } = setup([tcp()], () => false);
    await runFor(clock, 0.5 * S);
    expect(sched.inFlight).toBe(1);
    sched.remove('198.51.100.2:80');
    await settle();
    expect(sched.inFlight).toBe(0);
    expect(clock.armed).toBe(0);
    await runFor(clock, 5 * S);
    expect(events).toHaveLength(1);
    expect(() => sched.add({ id: 'x', weight: 1, checkers: [] })).not.toThrow();
    expect(() => sched.add({ id: 'x', weight: 1, checkers: [] })).toThrow(KaError);
    sched.stop();
    expect(sched.state('x')).toBeUndefined();
  });

  it("logs transitions with keepalived's wording", async () => {
    const clock = new FakeClock(1_000_000);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l).msg) });
    let ok = true;
    const runner: Runner = async () =>
      ok ? { ok: true } : { ok: false, error: new KaError('KA_ERR_CHECK_STATUS', 'HTTP status code error') };
    const counters = new Counters();
    const sched = new Scheduler({ clock, runner, logger, counters, random: () => 0, onEvent: () => {} });
    const http: CheckSpec = {
      kind: 'SSL_GET',
      connectIp: '198.51.100.2',
      connectPort: 443,
      connectTimeout: 1,
      urls: [{ path: '/' }],
      delayLoop: 1,
      retry: 1,
      delayBeforeRetry: 1,
      warmup: 0,
      alpha: false,
      logAllFailures: true,
    };
    sched.add({ id: 'rs', weight: 1, checkers: [http] });
    ok = false;
    await runFor(clock, 1.5 * S); // attempts at 0 and 1 (retry) fail → DOWN
    ok = true;
    await runFor(clock, 1 * S); // attempt at 2 succeeds → UP
    expect(lines).toEqual([
      'HTTP status code error to [198.51.100.2]:tcp:443.',
      'HTTP status code error to [198.51.100.2]:tcp:443.',
      'HTTP_CHECK on service [198.51.100.2]:tcp:443 failed after 1 retries.',
      'HTTP_CHECK on service [198.51.100.2]:tcp:443 success.',
    ]);
    expect(
      fmtChk({
        kind: 'DNS_CHECK',
        connectIp: 'fd00::2',
        connectPort: 53,
        connectTimeout: 1,
        delayLoop: 1,
        retry: 0,
        delayBeforeRetry: 1,
        alpha: false,
      }),
    ).toBe('[fd00::2]:udp:53');
  });
});

describe('TimerQueue (the checker thread clock)', () => {
  /** Resolves once `n` callbacks have fired. */
  const fired = (n: number, out: string[]) => {
    let wake: () => void = () => {};
    const done = new Promise<void>((r) => {
      wake = r;
    });
    return {
      done,
      cb: (name: string) => () => {
        out.push(name);
        if (out.length === n) wake();
      },
    };
  };

  it('fires in deadline order, ties in arming order, never synchronously, skipping cancelled timers', async () => {
    const q = new TimerQueue();
    const out: string[] = [];
    const { done, cb } = fired(5, out);
    const now = q.now();
    q.at(now + 30_000, cb('c'));
    q.at(now + 10_000, cb('a1'));
    const x = q.at(now + 5_000, cb('cancelled'));
    q.at(now + 10_000, cb('a2'));
    q.at(now - 1_000, cb('past'));
    q.at(now + 20_000, cb('b'));
    x.cancel();
    expect(out).toEqual([]);
    await done;
    expect(out).toEqual(['past', 'a1', 'a2', 'b', 'c']);
    expect(q.size).toBe(0);
  });

  it('a callback may arm an earlier deadline than the queued ones; many timers keep heap order', async () => {
    const q = new TimerQueue();
    const out: string[] = [];
    const { done, cb } = fired(202, out);
    const now = q.now();
    const late = Array.from({ length: 200 }, (_, i) => (i * 7919) % 200);
    for (const i of late) q.at(now + 20_000 + i * 100, cb(`late${String(i).padStart(3, '0')}`));
    q.at(now + 1_000, () => {
      out.push('first');
      q.at(q.now(), cb('rearmed'));
    });
    await done;
    expect(out.slice(0, 2)).toEqual(['first', 'rearmed']);
    expect(out.slice(2)).toEqual([...out.slice(2)].sort());
  });

  it("a deadline beyond node's timer range is not run early", async () => {
    const q = new TimerQueue();
    const out: string[] = [];
    const { done, cb } = fired(1, out);
    const far = q.at(q.now() + 2 ** 31 * 1000 * 2, cb('far'));
    q.at(q.now() + 2_000, cb('near'));
    await done;
    await new Promise((r) => setTimeout(r, 20));
    expect(out).toEqual(['near']);
    expect(q.size).toBe(1);
    far.cancel();
    expect(q.size).toBe(0); // nothing left armed to hold the event loop
  });

  /**
   * A TimerHost on a FakeClock whose single node timer the test fires by hand, `early` µs before the
   * time node would (≤ 999 µs: node compares millisecond loop times).
   */
  const earlyHost = (clock: FakeClock) => {
    let armed: { fn: () => void; ms: number; armedAt: number } | null = null;
    let wakes = 0;
    const host: TimerHost = {
      now: () => clock.now(),
      setTimeout: (fn, ms) => {
        armed = { fn, ms, armedAt: clock.now() };
        return armed;
      },
      clearTimeout: (h) => {
        if (h === armed) armed = null;
      },
    };
    /** Wakes the armed timer `early` µs early (never before it was armed); false when none is armed. */
    const wake = (early: number): boolean => {
      const a = armed;
      if (!a) return false;
      armed = null;
      wakes++;
      clock.advanceTo(Math.max(a.armedAt, a.armedAt + Math.max(1, a.ms) * 1000 - early));
      a.fn();
      return true;
    };
    return { host, wake, wakes: () => wakes };
  };

  it('a node timer that wakes early runs nothing before its deadline and is armed again', () => {
    const clock = new FakeClock(1_000_000);
    const { host, wake } = earlyHost(clock);
    const q = new TimerQueue(host);
    const ran: number[] = [];
    q.at(1_005_000, () => ran.push(clock.now()));
    expect(wake(999)).toBe(true); // at 1_004_001
    expect(ran).toEqual([]);
    expect(wake(0)).toBe(true); // re-armed for the remaining 999 µs (1 ms)
    expect(ran).toEqual([1_005_001]);
    expect(wake(0)).toBe(false);
  });

  it('no timer ever runs before its deadline, whatever the early wake-ups (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -2_000, max: 50_000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 20 }),
        (offsets, earlies) => {
          const clock = new FakeClock(1_000_000);
          const { host, wake, wakes } = earlyHost(clock);
          const q = new TimerQueue(host);
          const due: number[] = [];
          const runs: Array<[number, number]> = [];
          offsets.forEach((off, i) => {
            const at = 1_000_000 + off;
            due[i] = at;
            q.at(at, () => runs.push([i, clock.now()]));
          });
          while (wake(earlies[wakes() % earlies.length] ?? 0)) {
            if (wakes() > 10_000) throw new Error('the queue keeps waking');
          }
          expect(runs.length).toBe(offsets.length);
          for (const [i, at] of runs) expect(at).toBeGreaterThanOrEqual(due[i] ?? 0);
          const order = runs.map(([i]) => i);
          const sorted = [...order].sort((a, b) => (due[a] ?? 0) - (due[b] ?? 0) || a - b);
          expect(order).toEqual(sorted);
          expect(q.size).toBe(0);
        },
      ),
    );
  });
});
