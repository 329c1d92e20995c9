/**
 * keepalived's process tuning keywords in our single process: the main thread plays keepalived's VRRP
 * child (`vrrp_*`), the checker worker thread its checker child (`checker_*`).
 *   `*_priority` (nice) and `*_rt_priority` (SCHED_RR) are per thread; `*_rlimit_rttime`
 *   (RLIMIT_RTTIME) is per process: the largest of those of the real-time threads (no thread is
 *   signalled before its own budget), 10,000 µs when unset (keepalived's default).
 *   `*_no_swap` (mlockall) is NOT applied: with its heap locked, V8 aborts the process the first time
 *   it hands pages back ("Check failed: 0 == ret" in SetPermissions; seen with every combination of
 *   MCL_CURRENT, MCL_FUTURE and MCL_ONFAULT on Node 20). It is logged once as not applied.
 * As keepalived, a thread with a real-time priority keeps its nice value unchanged, SCHED_RR is set
 * with SCHED_RESET_ON_FORK (src/sys/sched.ts), and a failing call is logged and the daemon carries on.
 * `max_auto_priority`: when the thread's timers run more than `min_auto_priority_delay` µs late, it
 * logs "A thread timer expired … seconds ago" and raises the thread to SCHED_RR (1 first, then one
 * step per late timer) up to that ceiling. Without LVS the main thread is only the VRRP side; without
 * VRRP it is the checker side's IPVS half, so it then takes the `checker_*` settings.
 */
import { getPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { GlobalDefs } from '../config/model.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { isKaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { restBriefly } from '../sys/sched.js';

/** The syscalls of src/sys/sched.ts, injected so the wiring is tested without privilege. */
export interface SchedOps {
  gettid(): number;
  setThreadNice(tid: number, nice: number): void;
  setThreadRealtime(tid: number, priority: number): void;
  setRlimitRttime(usec: number): void;
  /** Current nice of a thread (to restore it when a reload drops the keyword). */
  getThreadNice(tid: number): number;
}

/** What one thread asks for. */
export interface ThreadSched {
  readonly nice: number | undefined;
  readonly rtPriority: number | undefined;
  readonly rlimitRttime: number | undefined;
  readonly noSwap: boolean;
}

export interface SchedPlan {
  readonly vrrp: ThreadSched;
  readonly checker: ThreadSched;
  /** 0: off; 1..99: ceiling of the automatic SCHED_RR raise. */
  readonly maxAutoPriority: number;
  /** Whether max_auto_priority appears at all (-1 included): keepalived's start-up notice otherwise. */
  readonly maxAutoPriorityConfigured: boolean;
  /** µs a timer may be late before the thread is raised. */
  readonly minAutoPriorityDelay: number;
}

/** keepalived's RT_RLIMIT_DEFAULT (µs). */
export const DEFAULT_RLIMIT_RTTIME = 10_000;
/** keepalived's default lateness threshold when max_auto_priority is set (µs). */
export const DEFAULT_MIN_AUTO_PRIORITY_DELAY = 1_000_000;

function threadSched(s: GlobalDefs['settings'], side: 'vrrp' | 'checker'): ThreadSched {
  const num = (k: string): number | undefined => {
    const v = s[`${side}_${k}`];
    return typeof v === 'number' ? v : undefined;
  };
  return {
    nice: num('priority'),
    rtPriority: num('rt_priority'),
    rlimitRttime: num('rlimit_rttime'),
    noSwap: s[`${side}_no_swap`] === true,
  };
}

/**
 * Nice of the checker worker when VRRP runs in the same process and neither `checker_priority` nor
 * `checker_rt_priority` is set. keepalived keeps its checkers in another process, and checks in C cost
 * it about half our CPU; here they share the VRRP thread's cores, and at nice 0 a busy worker delayed
 * adverts (bench/check, 2,000 real servers on 2 cores: advert jitter p99 12.7–64.6 ms at nice 0,
 * 3.8 ms at nice 5, with the same check throughput). `checker_priority 0` restores nice 0.
 */
export const CHECKER_DEFAULT_NICE = 5;

/**
 * The plan of a configuration's global_defs. `withVrrp`: the VRRP side runs in this process too
 * (the checker worker then defaults to CHECKER_DEFAULT_NICE).
 */
export function schedPlan(g: Pick<GlobalDefs, 'settings'>, opts: { withVrrp?: boolean } = {}): SchedPlan {
  const s = g.settings;
  const max = typeof s.max_auto_priority === 'number' ? s.max_auto_priority : 0;
  const delay = typeof s.min_auto_priority_delay === 'number' ? s.min_auto_priority_delay : undefined;
  const checker = threadSched(s, 'checker');
  return {
    vrrp: threadSched(s, 'vrrp'),
    checker:
      opts.withVrrp && checker.nice === undefined && checker.rtPriority === undefined
        ? { ...checker, nice: CHECKER_DEFAULT_NICE }
        : checker,
    maxAutoPriority: Math.max(max, 0),
    maxAutoPriorityConfigured: typeof s.max_auto_priority === 'number',
    minAutoPriorityDelay: delay ?? DEFAULT_MIN_AUTO_PRIORITY_DELAY,
  };
}

/** One call made (or refused), for logs and tests. */
export type SchedCall =
  | { call: 'nice'; tid: number; nice: number }
  | { call: 'realtime'; tid: number; priority: number }
  | { call: 'rlimit_rttime'; usec: number };

interface ThreadState {
  nice: number | undefined;
  origNice: number | undefined;
  rt: number;
  /** `rt` was reached by max_auto_priority (not asked for by the configuration). */
  autoRaised: boolean;
}

/**
 * Applies a plan to the threads of this process and re-applies it after a reload (only what changed).
 * Each thread is registered by role once its tid is known (the checker worker reports its own).
 */
export class Priorities {
  private plan: SchedPlan;
  /** 'main' (VRRP, or checker without VRRP) and 'worker' (checker). */
  private readonly threads = new Map<
    'main' | 'worker',
    { role: 'vrrp' | 'checker'; tid: number; state: ThreadState }
  >();
  private noSwapSaid = false;
  private started = false;
  private stopped = false;
  private workerTid: number | undefined;
  private rlimit: number | undefined;
  private auto: AutoPriority | undefined;
  /** Every call attempted, in order (tests, and the USR2 stats). */
  readonly calls: SchedCall[] = [];

  constructor(
    plan: SchedPlan,
    private readonly deps: {
      ops: SchedOps;
      log: Logger;
      counters: Counters;
      clock: Clock;
      /** Where the SIGXCPU handler goes (default: process.on); see applyRlimit. */
      onSigxcpu?: (fn: () => void) => void;
      /** Paces the main thread while it is real-time (default: mainRtPacer, used by VrrpHost). */
      pacer?: RtPacer;
    },
  ) {
    this.plan = plan;
  }

  /**
   * Process-wide settings (memory lock, RLIMIT_RTTIME), the main thread in its role(s), and the
   * checker worker if it has reported. The daemon calls this once start-up is complete: loading a
   * large configuration and the first IPVS pass are CPU-bound, and under SCHED_RR they would run
   * past RLIMIT_RTTIME's soft limit (SIGXCPU) before the first advert is due.
   */
  start(mainRole: 'vrrp' | 'checker'): void {
    if (!this.plan.maxAutoPriorityConfigured)
      this.deps.log.info(
        'NOTICE: setting config option max_auto_priority should result in better keepalived performance',
      );
    const hold = this.pacer().startupHold;
    if (hold) {
      this.deps.log.info('scheduling: applied once the VRRP start-up transitions have drained');
      void hold.then(() => {
        if (!this.stopped) this.apply(mainRole);
      });
      return;
    }
    this.apply(mainRole);
  }

  private apply(mainRole: 'vrrp' | 'checker'): void {
    this.started = true;
    this.applyLock();
    this.setThread('main', mainRole, this.deps.ops.gettid());
    if (this.workerTid !== undefined) this.setThread('worker', 'checker', this.workerTid);
    this.startAuto();
  }

  /** The checker worker reported its tid (applied at once, or by start if it has not run yet). */
  checkerThread(tid: number): void {
    this.workerTid = tid;
    if (this.started) this.setThread('worker', 'checker', tid);
  }

  /** A reload: the new plan, applied as a difference. */
  reload(plan: SchedPlan): void {
    this.plan = plan;
    this.applyLock();
    for (const t of this.threads.values()) this.applyThread(t.role, t.tid, t.state);
    this.applyRlimit();
    this.auto?.stop();
    this.auto = undefined;
    this.startAuto();
  }

  stop(): void {
    this.stopped = true;
    this.auto?.stop();
    this.auto = undefined;
    this.pacer().disable();
  }

  private pacer(): RtPacer {
    return this.deps.pacer ?? mainRtPacer;
  }

  /** The main thread's pacer follows its policy and the process's RLIMIT_RTTIME. */
  private syncPacer(): void {
    const main = this.threads.get('main');
    const pacer = this.pacer();
    if (main && main.state.rt > 0 && this.rlimit !== undefined) {
      if (pacer.budgetUs !== rtBudgetUs(this.rlimit)) pacer.enable(this.rlimit, this.deps.counters);
    } else pacer.disable();
  }

  private setThread(key: 'main' | 'worker', role: 'vrrp' | 'checker', tid: number): void {
    const prev = this.threads.get(key);
    const state =
      prev?.tid === tid ? prev.state : { nice: undefined, origNice: undefined, rt: 0, autoRaised: false };
    this.threads.set(key, { role, tid, state });
    this.applyThread(role, tid, state);
    this.applyRlimit();
  }

  private applyThread(role: 'vrrp' | 'checker', tid: number, st: ThreadState): void {
    const want = this.plan[role];
    const rt = want.rtPriority ?? 0;
    // A priority reached by max_auto_priority is kept while the ceiling still allows it (keepalived);
    // one the configuration asked for follows the configuration.
    const keepAuto = st.autoRaised && rt < st.rt && st.rt <= this.plan.maxAutoPriority;
    if (rt === st.rt) st.autoRaised = false;
    else if (!keepAuto && this.call({ call: 'realtime', tid, priority: rt })) {
      st.rt = rt;
      st.autoRaised = false;
    }
    // keepalived: a real-time thread keeps its nice value; otherwise *_priority, or back to the original.
    if (st.rt === 0) {
      const nice = want.nice ?? st.origNice;
      if (nice !== undefined && nice !== st.nice) {
        if (st.origNice === undefined) st.origNice = this.niceOf(tid);
        if (this.call({ call: 'nice', tid, nice })) st.nice = nice;
      }
    }
  }

  /** `*_no_swap`: said once, not applied (see the header). */
  private applyLock(): void {
    const p = this.plan;
    if (!(p.vrrp.noSwap || p.checker.noSwap) || this.noSwapSaid) return;
    this.noSwapSaid = true;
    this.deps.counters.inc('sched.no_swap_ignored');
    this.deps.log.warn(
      'vrrp_no_swap / checker_no_swap: not applied (locking a Node process in memory makes V8 abort when it returns heap pages)',
    );
  }

  /** RLIMIT_RTTIME once a thread is real-time (set, or raised by max_auto_priority). */
  private applyRlimit(): void {
    const p = this.plan;
    const rts = [...this.threads.values()]
      .filter((t) => t.state.rt > 0)
      .map((t) => p[t.role].rlimitRttime ?? DEFAULT_RLIMIT_RTTIME);
    const usec = rts.length ? Math.max(...rts) : undefined;
    if (usec !== undefined && usec !== this.rlimit && this.call({ call: 'rlimit_rttime', usec })) {
      // Past the soft limit the kernel sends SIGXCPU, whose default action ends the process: as
      // keepalived, log it instead (the hard limit, left as it was, still bounds a runaway thread).
      if (this.rlimit === undefined) {
        const on = this.deps.onSigxcpu ?? ((fn: () => void) => process.on('SIGXCPU', fn));
        on(() => this.onSigxcpu());
      }
      this.rlimit = usec;
    }
    this.syncPacer();
  }

  /**
   * SIGXCPU: counted and logged in keepalived's words, and the daemon carries on. The kernel raises
   * the soft limit by one second with each signal (so at most one per second of further overrun);
   * it is left so, as keepalived does. The signal does not say which thread overran: the main
   * thread's side is named when it is real-time, else the checker's.
   */
  private onSigxcpu(): void {
    this.deps.counters.inc('sched.sigxcpu');
    const main = this.threads.get('main');
    const side = main && main.state.rt > 0 ? main.role : 'checker';
    this.deps.log.warn(
      `${side === 'vrrp' ? 'VRRP' : 'Checker'} process has used too much CPU time, ${side}_rlimit_rttime may need to be increased`,
    );
  }

  /** max_auto_priority watches the main thread (the worker's timers are its own; see docs). */
  private startAuto(): void {
    if (this.plan.maxAutoPriority <= 0) return;
    const t = this.threads.get('main');
    if (!t) return;
    this.auto = new AutoPriority({
      role: t.role,
      clock: this.deps.clock,
      log: this.deps.log,
      maxPriority: this.plan.maxAutoPriority,
      minDelayUs: this.plan.minAutoPriorityDelay,
      startAt: t.state.rt,
      raise: (priority) => {
        if (!this.call({ call: 'realtime', tid: t.tid, priority })) return false;
        t.state.rt = priority;
        t.state.autoRaised = true;
        this.applyRlimit();
        return true;
      },
    });
    this.auto.start();
  }

  private niceOf(tid: number): number {
    try {
      return this.deps.ops.getThreadNice(tid);
    } catch {
      return 0;
    }
  }

  /** Makes one call; a refusal (EPERM, no such thread…) is logged and counted, as keepalived does. */
  private call(c: SchedCall): boolean {
    this.calls.push(c);
    const ops = this.deps.ops;
    try {
      if (c.call === 'nice') ops.setThreadNice(c.tid, c.nice);
      else if (c.call === 'realtime') ops.setThreadRealtime(c.tid, c.priority);
      else ops.setRlimitRttime(c.usec);
      this.deps.log.debug({ sched: c }, `scheduling: ${describe(c)}`);
      return true;
    } catch (e) {
      this.deps.counters.inc('sched.errors');
      this.deps.log.warn(
        { sched: c, ...(isKaError(e) ? { code: e.code } : {}) },
        `cannot ${describe(c)}: ${(e as Error).message}`,
      );
      return false;
    }
  }
}

function describe(c: SchedCall): string {
  switch (c.call) {
    case 'nice':
      return `set nice ${c.nice} on thread ${c.tid}`;
    case 'realtime':
      return c.priority === 0
        ? `reset thread ${c.tid} to SCHED_OTHER`
        : `set realtime priority ${c.priority} (SCHED_RR) on thread ${c.tid}`;
    case 'rlimit_rttime':
      return `set RLIMIT_RTTIME ${c.usec} us`;
  }
}

/** How often the lateness watchdog looks (µs); a late timer is seen within one period. */
const AUTO_PERIOD_US = 100_000;

/**
 * max_auto_priority on one thread: a watchdog timer on the thread's own clock; when it fires more than
 * minDelayUs late, the thread goes one SCHED_RR step up (1 first), to maxPriority at most.
 */
export class AutoPriority {
  private timer: TimerHandle | undefined;
  private due = 0;
  private current: number;
  /** Steps taken so far. */
  raised = 0;
  readonly role: 'vrrp' | 'checker';

  constructor(
    private readonly o: {
      role: 'vrrp' | 'checker';
      clock: Clock;
      log: Logger;
      maxPriority: number;
      minDelayUs: number;
      startAt: number;
      raise: (priority: number) => boolean;
    },
  ) {
    this.role = o.role;
    this.current = o.startAt;
  }

  start(): void {
    this.arm();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    this.due = this.o.clock.now() + AUTO_PERIOD_US;
    this.timer = this.o.clock.at(this.due, () => this.fired());
  }

  private fired(): void {
    const late = this.o.clock.now() - this.due;
    if (late > this.o.minDelayUs && this.current < this.o.maxPriority) {
      this.o.log.info(`A thread timer expired ${(late / 1e6).toFixed(6)} seconds ago`);
      const next = this.current + 1;
      if (this.o.raise(next)) {
        this.current = next;
        this.raised++;
        this.o.log.info(`Set realtime priority ${next}`);
      }
    }
    this.arm();
  }
}

/** Nice of a thread via getpriority(PRIO_PROCESS, tid) (node's os.getPriority takes a tid on Linux). */
export function threadNice(tid: number): number {
  return getPriority(tid);
}

/** Shortest rest that was seen to sleep under SCHED_RR, with margin (µs); see restBriefly. */
export const RT_REST_US = 50;
/** Longest run without a sleep the pacer allows (µs), whatever RLIMIT_RTTIME is. */
const RT_BUDGET_MAX_US = 2_000;
const RT_BUDGET_MIN_US = 200;
/** The event loop waited this long in epoll_wait since the last look: the thread slept (ms). */
const SLEPT_MS = 0.05;

/** The pacing budget for a soft RLIMIT_RTTIME of `rlimitUs` µs: a quarter of it, 0.2–2 ms. */
export function rtBudgetUs(rlimitUs: number): number {
  return Math.min(RT_BUDGET_MAX_US, Math.max(RT_BUDGET_MIN_US, Math.floor(rlimitUs / 4)));
}

/**
 * Keeps a real-time main thread under RLIMIT_RTTIME. The kernel counts a SCHED_RR thread's CPU
 * from its last wake-up and sends SIGXCPU past the soft limit; a burst of VRRP work (1,000
 * instances becoming MASTER in the same few milliseconds: adverts, VIP requests, GARPs, notifies)
 * runs for tens of milliseconds without the event loop ever sleeping, as timers and I/O are always
 * ready. `pace()` is called before each unit of that work: once the thread has run for the budget
 * without sleeping, it sleeps RT_REST_US in place (restBriefly), so nothing is reordered and
 * GARP/advert timing moves by microseconds. A sleep of the event loop itself (seen as time spent
 * in epoll_wait, `eventLoopUtilization().idle`) restarts the budget. Off (one branch) unless the
 * thread is real-time.
 */
export class RtPacer {
  private budget = 0;
  private since = 0;
  private hold: Promise<void> | undefined;
  private idleMs = 0;
  private counters: Counters | undefined;
  /** Rests taken since the pacer was made. */
  rests = 0;

  constructor(
    private readonly io: {
      now: () => number;
      loopIdleMs: () => number;
      rest: (us: number) => void;
    } = {
      now: () => Number(process.hrtime.bigint() / 1000n),
      loopIdleMs: () => performance.eventLoopUtilization().idle,
      rest: restBriefly,
    },
  ) {}

  /**
   * A start-up burst is under way until `p` settles (VrrpHost: every instance's first decision,
   * its actions and notify scripts): Priorities.start() waits for it before making the thread
   * real-time. Pacing cannot split what no callback of ours runs in (a reap of 1,000 exited notify
   * scripts, a V8 scavenge): at start-up these were measured at 10–50 ms.
   */
  holdStartup(p: Promise<void>): void {
    const mine = p.then(
      () => undefined,
      () => undefined,
    );
    this.hold = mine;
    void mine.then(() => {
      if (this.hold === mine) this.hold = undefined;
    });
  }

  /** The start-up burst in progress, if any. */
  get startupHold(): Promise<void> | undefined {
    return this.hold;
  }

  /** The thread is real-time under a soft RLIMIT_RTTIME of `rlimitUs` µs. */
  enable(rlimitUs: number, counters?: Counters): void {
    this.budget = rtBudgetUs(rlimitUs);
    this.counters = counters;
    // start from a sleep: the thread may have run for a while before it became real-time
    this.io.rest(RT_REST_US);
    this.since = this.io.now();
    this.idleMs = this.io.loopIdleMs();
  }

  /** The thread is back to SCHED_OTHER. */
  disable(): void {
    this.budget = 0;
  }

  /** µs the thread may run without sleeping; 0 when off. */
  get budgetUs(): number {
    return this.budget;
  }

  /** Before a unit of real-time work: sleeps briefly if the thread has used its budget. */
  pace(): void {
    if (this.budget === 0) return;
    const now = this.io.now();
    const idle = this.io.loopIdleMs();
    if (idle - this.idleMs >= SLEPT_MS) this.since = now;
    this.idleMs = idle;
    if (now - this.since < this.budget) return;
    this.io.rest(RT_REST_US);
    this.rests++;
    this.counters?.inc('sched.rt_rests');
    this.since = this.io.now();
  }
}

/** The main thread's pacer: Priorities turns it on with SCHED_RR, VrrpHost calls pace(). */
export const mainRtPacer = new RtPacer();
