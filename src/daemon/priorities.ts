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
import type { GlobalDefs } from '../config/model.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { isKaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

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
    this.auto?.stop();
    this.auto = undefined;
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
        on(() => {
          this.deps.counters.inc('sched.sigxcpu');
          this.deps.log.warn('a real-time thread exceeded its RLIMIT_RTTIME CPU budget (SIGXCPU)');
        });
      }
      this.rlimit = usec;
    }
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
