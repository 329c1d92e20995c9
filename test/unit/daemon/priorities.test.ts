/**
 * Scheduling keywords → which syscalls on which thread (src/daemon/priorities.ts), with the
 * syscalls of src/sys/sched.ts replaced by a recorder that can refuse a call as the kernel would.
 */
import { describe, expect, it } from 'vitest';
import type { GlobalDefs } from '../../../src/config/model.js';
import type { Clock, TimerHandle } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import {
  CHECKER_DEFAULT_NICE,
  DEFAULT_MIN_AUTO_PRIORITY_DELAY,
  DEFAULT_RLIMIT_RTTIME,
  Priorities,
  RT_REST_US,
  RtPacer,
  rtBudgetUs,
  type SchedOps,
  schedPlan,
} from '../../../src/daemon/priorities.js';
import { restBriefly } from '../../../src/sys/sched.js';

const MAIN = 100;
const WORKER = 107;

function recorder(refuse: (op: string) => boolean = () => false) {
  const calls: string[] = [];
  const rec =
    (op: string) =>
    (...args: number[]): void => {
      calls.push(`${op}(${args.join(',')})`);
      if (refuse(op)) throw new KaError('KA_ERR_SYS_EPERM', `${op}: Operation not permitted`);
    };
  const ops: SchedOps = {
    gettid: () => MAIN,
    setThreadNice: rec('nice'),
    setThreadRealtime: rec('rt'),
    setRlimitRttime: rec('rlimit'),
    getThreadNice: () => 0,
  };
  return { ops, calls };
}

/** A clock whose timers the test fires by hand, as late as it likes. */
class LateClock implements Clock {
  t = 0;
  private next: { at: number; fn: () => void } | undefined;
  now(): number {
    return this.t;
  }
  at(at: number, fn: () => void): TimerHandle {
    const p = { at, fn };
    this.next = p;
    return {
      cancel: () => {
        if (this.next === p) this.next = undefined;
      },
    };
  }
  /** Runs the armed timer `lateUs` after its deadline. */
  fire(lateUs: number): void {
    const p = this.next;
    if (!p) throw new Error('no timer armed');
    this.next = undefined;
    this.t = p.at + lateUs;
    p.fn();
  }
  get armed(): boolean {
    return this.next !== undefined;
  }
}

const settings = (s: GlobalDefs['settings']) => ({ settings: s });

/** A pacer on a hand-moved clock and event-loop idle time; `rests` lists the rests taken. */
function fakePacer() {
  const io = { t: 0, idle: 0, rests: [] as number[] };
  const pacer = new RtPacer({
    now: () => io.t,
    loopIdleMs: () => io.idle,
    rest: (us) => {
      io.rests.push(us);
      io.t += us;
    },
  });
  return { pacer, io };
}

function make(s: GlobalDefs['settings'], refuse?: (op: string) => boolean) {
  const r = recorder(refuse);
  const counters = new Counters();
  const clock = new LateClock();
  const { pacer } = fakePacer();
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (m: unknown) => void warnings.push(String(m)) } as typeof silentLogger;
  let sigxcpu: (() => void) | undefined;
  const p = new Priorities(schedPlan(settings(s)), {
    ops: r.ops,
    log,
    counters,
    clock,
    pacer,
    onSigxcpu: (fn) => {
      sigxcpu = fn;
    },
  });
  return {
    p,
    calls: r.calls,
    counters,
    clock,
    pacer,
    warnings,
    /** Whether a SIGXCPU handler is installed. */
    sigxcpu: () => (sigxcpu ? 1 : 0),
    /** Delivers SIGXCPU to the installed handler. */
    raise: () => sigxcpu?.(),
  };
}

describe('schedPlan', () => {
  it('reads both sides and the auto-priority keywords', () => {
    const plan = schedPlan(
      settings({
        vrrp_priority: -5,
        vrrp_rt_priority: 40,
        vrrp_rlimit_rttime: 20000,
        checker_priority: 10,
        checker_no_swap: true,
        max_auto_priority: 30,
        min_auto_priority_delay: 5000,
      }),
    );
    expect(plan).toEqual({
      vrrp: { nice: -5, rtPriority: 40, rlimitRttime: 20000, noSwap: false },
      checker: { nice: 10, rtPriority: undefined, rlimitRttime: undefined, noSwap: true },
      maxAutoPriority: 30,
      maxAutoPriorityConfigured: true,
      minAutoPriorityDelay: 5000,
    });
  });

  it('with VRRP in the process, the checker worker defaults to nice 5 unless checker_priority / checker_rt_priority is set', () => {
    expect(schedPlan(settings({}), { withVrrp: true }).checker.nice).toBe(CHECKER_DEFAULT_NICE);
    expect(CHECKER_DEFAULT_NICE).toBe(5);
    expect(schedPlan(settings({}), { withVrrp: false }).checker.nice).toBeUndefined();
    expect(schedPlan(settings({})).checker.nice).toBeUndefined();
    expect(schedPlan(settings({ checker_priority: 0 }), { withVrrp: true }).checker.nice).toBe(0);
    expect(schedPlan(settings({ checker_priority: -3 }), { withVrrp: true }).checker.nice).toBe(-3);
    const rt = schedPlan(settings({ checker_rt_priority: 20 }), { withVrrp: true }).checker;
    expect(rt).toMatchObject({ nice: undefined, rtPriority: 20 });
    // the main (VRRP) thread is never given a default
    expect(schedPlan(settings({}), { withVrrp: true }).vrrp.nice).toBeUndefined();
  });

  it('max_auto_priority -1 or unset is off; the delay defaults to keepalived’s 1 s', () => {
    expect(schedPlan(settings({ max_auto_priority: -1 })).maxAutoPriority).toBe(0);
    expect(schedPlan(settings({ max_auto_priority: -1 })).maxAutoPriorityConfigured).toBe(true);
    expect(schedPlan(settings({})).maxAutoPriorityConfigured).toBe(false);
    expect(schedPlan(settings({})).maxAutoPriority).toBe(0);
    expect(schedPlan(settings({})).minAutoPriorityDelay).toBe(DEFAULT_MIN_AUTO_PRIORITY_DELAY);
  });
});

describe('Priorities', () => {
  it('no keyword: no call at all', () => {
    const w = make({});
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    expect(w.calls).toEqual([]);
  });

  it('a worker that reports before start waits for it (start-up runs without real-time)', () => {
    const w = make({ vrrp_rt_priority: 50, checker_rt_priority: 20 });
    w.p.checkerThread(WORKER);
    expect(w.calls).toEqual([]);
    w.p.start('vrrp');
    expect(w.calls).toEqual([`rt(${MAIN},50)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`, `rt(${WORKER},20)`]);
  });

  it('vrrp_* go to the main thread, checker_* to the worker’s tid', () => {
    const w = make({ vrrp_priority: -10, checker_priority: 5 });
    w.p.start('vrrp');
    expect(w.calls).toEqual([`nice(${MAIN},-10)`]);
    w.p.checkerThread(WORKER);
    expect(w.calls).toEqual([`nice(${MAIN},-10)`, `nice(${WORKER},5)`]);
  });

  it('a real-time thread gets SCHED_RR and keeps its nice; RLIMIT_RTTIME defaults to 10 ms', () => {
    const w = make({ vrrp_rt_priority: 50, vrrp_priority: -10 });
    w.p.start('vrrp');
    expect(w.calls).toEqual([`rt(${MAIN},50)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`]);
    expect(w.sigxcpu()).toBe(1); // SIGXCPU is handled (its default action ends the process)
  });

  it('RLIMIT_RTTIME is per process: the largest of the real-time sides', () => {
    const w = make({
      vrrp_rt_priority: 50,
      vrrp_rlimit_rttime: 5000,
      checker_rt_priority: 20,
      checker_rlimit_rttime: 30000,
    });
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    expect(w.calls).toEqual([`rt(${MAIN},50)`, 'rlimit(5000)', `rt(${WORKER},20)`, 'rlimit(30000)']);
    expect(w.sigxcpu()).toBe(1);
  });

  it('no_swap is said once and not applied (mlockall makes V8 abort)', () => {
    const w = make({ checker_no_swap: true, vrrp_no_swap: true });
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    w.p.reload(schedPlan(settings({ checker_no_swap: true })));
    expect(w.calls).toEqual([]);
    expect(w.counters.get('sched.no_swap_ignored')).toBe(1);
  });

  it('without VRRP the main thread takes the checker settings too', () => {
    const w = make({ vrrp_priority: -10, checker_priority: 5 });
    w.p.start('checker');
    w.p.checkerThread(WORKER);
    expect(w.calls).toEqual([`nice(${MAIN},5)`, `nice(${WORKER},5)`]);
  });

  it('a refused call is counted and the rest still applied', () => {
    const w = make({ vrrp_rt_priority: 50, checker_priority: 5 }, (op) => op === 'rt');
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    // SCHED_RR refused: no RLIMIT_RTTIME either (no thread is real-time), the checker still reniced
    expect(w.calls).toEqual([`rt(${MAIN},50)`, `nice(${WORKER},5)`]);
    expect(w.counters.get('sched.errors')).toBe(1);
  });

  it('reload applies only the difference and restores what a keyword no longer asks for', () => {
    const w = make({ vrrp_priority: -10 });
    w.p.start('vrrp');
    w.calls.length = 0;
    w.p.reload(schedPlan(settings({ vrrp_priority: -10 })));
    expect(w.calls).toEqual([]);
    w.p.reload(schedPlan(settings({ vrrp_rt_priority: 10 })));
    expect(w.calls).toEqual([`rt(${MAIN},10)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`]);
    w.calls.length = 0;
    w.p.reload(schedPlan(settings({})));
    // back to SCHED_OTHER and to the nice the thread had before (0 here)
    expect(w.calls).toEqual([`rt(${MAIN},0)`, `nice(${MAIN},0)`]);
  });
});

describe('max_auto_priority', () => {
  it('a timer later than min_auto_priority_delay raises the main thread one SCHED_RR step, up to the ceiling', () => {
    const w = make({ max_auto_priority: 2, min_auto_priority_delay: 5000 });
    w.p.start('vrrp');
    expect(w.calls).toEqual([]);
    w.clock.fire(4000); // late, but not late enough
    expect(w.calls).toEqual([]);
    w.clock.fire(6000);
    expect(w.calls).toEqual([`rt(${MAIN},1)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`]);
    w.clock.fire(6000);
    w.clock.fire(6000); // at the ceiling: no more
    expect(w.calls).toEqual([`rt(${MAIN},1)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`, `rt(${MAIN},2)`]);
    expect(w.clock.armed).toBe(true);
    w.p.stop();
    expect(w.clock.armed).toBe(false);
  });

  it('starts from a configured vrrp_rt_priority and a reload keeps what it reached', () => {
    const w = make({ vrrp_rt_priority: 5, max_auto_priority: 10, min_auto_priority_delay: 1000 });
    w.p.start('vrrp');
    w.clock.fire(2000);
    expect(w.calls).toEqual([`rt(${MAIN},5)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`, `rt(${MAIN},6)`]);
    w.calls.length = 0;
    w.p.reload(schedPlan(settings({ vrrp_rt_priority: 5, max_auto_priority: 10 })));
    expect(w.calls).toEqual([]);
  });

  it('a reload lowering a configured vrrp_rt_priority under the ceiling applies it (nothing was auto-raised)', () => {
    const w = make({ vrrp_rt_priority: 20, max_auto_priority: 30 });
    w.p.start('vrrp');
    expect(w.calls).toEqual([`rt(${MAIN},20)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`]);
    w.calls.length = 0;
    w.p.reload(schedPlan(settings({ vrrp_rt_priority: 10, max_auto_priority: 30 })));
    expect(w.calls).toEqual([`rt(${MAIN},10)`]);
  });

  it('an auto-raised priority is kept under the ceiling even when the configured one is lowered; a configured one that equals it is configured from then on', () => {
    const w = make({ vrrp_rt_priority: 5, max_auto_priority: 10, min_auto_priority_delay: 1000 });
    w.p.start('vrrp');
    w.clock.fire(2000);
    w.clock.fire(2000);
    expect(w.calls).toEqual([
      `rt(${MAIN},5)`,
      `rlimit(${DEFAULT_RLIMIT_RTTIME})`,
      `rt(${MAIN},6)`,
      `rt(${MAIN},7)`,
    ]);
    w.calls.length = 0;
    // lowered configuration: 7 was reached automatically and the ceiling still allows it
    w.p.reload(schedPlan(settings({ vrrp_rt_priority: 3, max_auto_priority: 10 })));
    expect(w.calls).toEqual([]);
    // the ceiling drops below what was reached: back to the configured priority
    w.p.reload(
      schedPlan(settings({ vrrp_rt_priority: 3, max_auto_priority: 6, min_auto_priority_delay: 1000 })),
    );
    expect(w.calls).toEqual([`rt(${MAIN},3)`]);
    w.calls.length = 0;
    // raised again, then the configuration asks for exactly that level: it is configured now,
    // so lowering the configuration afterwards is applied
    w.clock.fire(2000);
    expect(w.calls).toEqual([`rt(${MAIN},4)`]);
    w.calls.length = 0;
    w.p.reload(
      schedPlan(settings({ vrrp_rt_priority: 4, max_auto_priority: 6, min_auto_priority_delay: 1000 })),
    );
    expect(w.calls).toEqual([]);
    w.p.reload(schedPlan(settings({ vrrp_rt_priority: 2, max_auto_priority: 6 })));
    expect(w.calls).toEqual([`rt(${MAIN},2)`]);
  });

  it('off: no watchdog timer', () => {
    const w = make({ vrrp_priority: 1 });
    w.p.start('vrrp');
    expect(w.clock.armed).toBe(false);
  });
});

describe('SIGXCPU', () => {
  it('is counted and logged in keepalived’s words; the daemon carries on', () => {
    const w = make({ vrrp_rt_priority: 50 });
    w.p.start('vrrp');
    w.raise();
    w.raise();
    expect(w.counters.get('sched.sigxcpu')).toBe(2);
    expect(w.warnings).toEqual([
      'VRRP process has used too much CPU time, vrrp_rlimit_rttime may need to be increased',
      'VRRP process has used too much CPU time, vrrp_rlimit_rttime may need to be increased',
    ]);
  });

  it('names the checker side when only the checker worker is real-time', () => {
    const w = make({ checker_rt_priority: 20 });
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    w.raise();
    expect(w.warnings).toEqual([
      'Checker process has used too much CPU time, checker_rlimit_rttime may need to be increased',
    ]);
  });
});

describe('RtPacer', () => {
  it('budget: a quarter of RLIMIT_RTTIME, between 0.2 and 2 ms', () => {
    expect(rtBudgetUs(DEFAULT_RLIMIT_RTTIME)).toBe(2_000);
    expect(rtBudgetUs(4_000)).toBe(1_000);
    expect(rtBudgetUs(2)).toBe(200);
    expect(rtBudgetUs(1_000_000)).toBe(2_000);
  });

  it('off until enabled: pace() never rests', () => {
    const { pacer, io } = fakePacer();
    for (let i = 0; i < 100; i++) {
      io.t += 1_000;
      pacer.pace();
    }
    expect(io.rests).toEqual([]);
  });

  it('rests once the thread has run its budget without the event loop sleeping', () => {
    const { pacer, io } = fakePacer();
    const counters = new Counters();
    pacer.enable(DEFAULT_RLIMIT_RTTIME, counters);
    expect(io.rests).toEqual([RT_REST_US]); // it starts from a sleep
    io.rests.length = 0;
    // 100 units of 300 µs of work, the loop never idle: 30 ms of work, a rest after each 2 ms
    for (let i = 0; i < 100; i++) {
      io.t += 300;
      pacer.pace();
    }
    expect(io.rests.length).toBe(Math.floor(30_000 / 2_100));
    expect(io.rests.every((us) => us === RT_REST_US)).toBe(true);
    expect(counters.get('sched.rt_rests')).toBe(io.rests.length);
    expect(pacer.rests).toBe(io.rests.length);
  });

  it('a sleep of the event loop restarts the budget: no rest while work comes in short runs', () => {
    const { pacer, io } = fakePacer();
    pacer.enable(DEFAULT_RLIMIT_RTTIME);
    io.rests.length = 0;
    for (let i = 0; i < 100; i++) {
      io.t += 1_500;
      pacer.pace();
      io.idle += 0.5; // the loop then waited 0.5 ms in epoll_wait
    }
    expect(io.rests).toEqual([]);
  });

  it('zero-timeout polls (a few µs of idle) do not count as a sleep', () => {
    const { pacer, io } = fakePacer();
    pacer.enable(DEFAULT_RLIMIT_RTTIME);
    io.rests.length = 0;
    for (let i = 0; i < 10; i++) {
      io.t += 1_000;
      io.idle += 0.002;
      pacer.pace();
    }
    // 10 ms of work with 2 µs of idle per unit: a rest at every second unit (2 ms each)
    expect(io.rests.length).toBe(5);
  });

  it('follows the main thread: on with SCHED_RR at the process’s RLIMIT_RTTIME, off when it leaves it', () => {
    const w = make({ vrrp_rt_priority: 50, vrrp_rlimit_rttime: 4_000 });
    expect(w.pacer.budgetUs).toBe(0);
    w.p.start('vrrp');
    expect(w.pacer.budgetUs).toBe(1_000);
    w.p.reload(schedPlan(settings({ vrrp_priority: 1 })));
    expect(w.pacer.budgetUs).toBe(0);
  });

  it('stays off when only the checker worker is real-time', () => {
    const w = make({ checker_rt_priority: 20 });
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    expect(w.calls).toContain(`rt(${WORKER},20)`);
    expect(w.pacer.budgetUs).toBe(0);
  });

  it('restBriefly sleeps (the thread gives up the CPU for about that long)', () => {
    const t = process.hrtime.bigint();
    restBriefly(RT_REST_US);
    expect(Number(process.hrtime.bigint() - t) / 1000).toBeGreaterThanOrEqual(RT_REST_US * 0.9);
  });
});

describe('start-up hold', () => {
  it('Priorities.start waits for the start-up burst, then applies the plan', async () => {
    const w = make({ vrrp_rt_priority: 50 });
    let release!: () => void;
    w.pacer.holdStartup(new Promise<void>((r) => (release = r)));
    w.p.start('vrrp');
    w.p.checkerThread(WORKER);
    expect(w.calls).toEqual([]);
    release();
    await w.pacer.startupHold;
    await Promise.resolve();
    expect(w.calls).toEqual([`rt(${MAIN},50)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`]);
    expect(w.pacer.startupHold).toBeUndefined();
  });

  it('a failed start-up still releases the hold; a stop before it ends applies nothing', async () => {
    const a = make({ vrrp_rt_priority: 50 });
    a.pacer.holdStartup(Promise.reject(new Error('start-up failed')));
    a.p.start('vrrp');
    await a.pacer.startupHold;
    await Promise.resolve();
    expect(a.calls).toEqual([`rt(${MAIN},50)`, `rlimit(${DEFAULT_RLIMIT_RTTIME})`]);

    const b = make({ vrrp_rt_priority: 50 });
    let release!: () => void;
    b.pacer.holdStartup(new Promise<void>((r) => (release = r)));
    b.p.start('vrrp');
    b.p.stop();
    release();
    await b.pacer.startupHold;
    await Promise.resolve();
    expect(b.calls).toEqual([]);
  });
});
