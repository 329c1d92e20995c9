/**
 * The timing machine of the health checkers (STYLE habit 12), on an injected Clock.
 *
 * Per checker, as keepalived 2.2: the first attempt runs after a random delay in [0, warmup]
 * (warmup defaults to delay_loop, which spreads checks over their interval); a success schedules the
 * next attempt delay_loop later and brings a DOWN checker UP at once; a failure while UP (or before the
 * first result) is retried `retry` times, delay_before_retry apart, and the checker goes DOWN on the
 * retry+1-th consecutive failure; while DOWN failures are not retried (next attempt after delay_loop,
 * or delay_before_retry with fast_recovery). `alpha` starts the checker DOWN; its first attempt
 * failing with no retry left is reported (`alphaFailure`) though nothing changes, as keepalived
 * notifies it (with retries, keepalived's has_run is set by then and it does not).
 * A real server is UP when all its checkers are UP; its weight follows misc_dynamic / FILE_CHECK.
 * Every checker transition is reported with the real server's state after it (`checker` of the
 * event), as keepalived mails per checker. A BFD_CHECK runs no attempts: its state is set by
 * setBfdState from the BFD sessions (keepalived's bfd_check_handle_event).
 * Attempts run concurrently up to `maxConcurrent`; the rest wait in FIFO order.
 */
import { type Clock, type Micros, systemClock, type TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { waitsForChange } from './file.js';
import { type Runner, runCheck } from './index.js';
import type { CheckerTransition, CheckResult, CheckSpec, RealServerEvent } from './types.js';

export interface RealServerSpec {
  /** Identity used in events, e.g. `198.51.100.2:80` (the IPVS side's key). */
  id: string;
  /** keepalived's FMT_RS text for log lines, e.g. `[198.51.100.2]:tcp:80` (default: the id). */
  label?: string;
  /** Configured IPVS weight. */
  weight: number;
  checkers: readonly CheckSpec[];
}

export interface SchedulerOptions {
  clock: Clock;
  onEvent: (ev: RealServerEvent) => void;
  runner?: Runner;
  maxConcurrent?: number;
  /** Uniform [0, 1) source for warmup (injected so tests are exact). */
  random?: () => number;
  logger?: Logger;
  /** Counts attempts (`check.attempts`) and failures by code (`check.fail.KA_ERR_…`). */
  counters?: Counters;
  /** Every attempt's outcome, for observability and tests. */
  onAttempt?: (rs: string, checker: number, result: CheckResult, at: Micros) => void;
}

interface CheckerState {
  rs: RsState;
  index: number;
  spec: CheckSpec;
  up: boolean;
  hasRun: boolean;
  retryIt: number;
  timer: TimerHandle | null;
  inflight: AbortController | null;
  queued: boolean;
  weight: number | undefined;
  weightDelta: number;
  /** The timer callback, made once per checker rather than once per attempt. */
  fire: () => void;
}

interface RsState {
  spec: RealServerSpec;
  checkers: CheckerState[];
  up: boolean;
  weight: number;
  removed: boolean;
}

const US = 1_000_000;
const MAX_WEIGHT = 2147483647;

/** Longest delay node's setTimeout takes (larger ones fire at once). */
const MAX_TIMER_MS = 2147483647;
/**
 * What a TimerQueue runs on: a monotonic µs clock and one-shot millisecond timers. Injected so tests
 * can wake the queue early, as node does: its timers compare millisecond loop times, so one may fire
 * up to 1 ms before the µs deadline it was armed for.
 */
export interface TimerHost {
  now(): Micros;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: TimerHost = {
  now: systemClock.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** One deadline of a TimerQueue; it is its own handle (no closure per timer). */
class QueuedTimer implements TimerHandle {
  constructor(
    readonly queue: TimerQueue,
    readonly at: Micros,
    readonly seq: number,
    public fn: (() => void) | null,
  ) {}

  cancel(): void {
    if (this.fn === null) return;
    this.fn = null; // dropped when it reaches the head of the queue
    this.queue.cancelled();
  }
}

/**
 * The checker thread's clock: its deadlines in one binary heap (ordered by time, then arming order)
 * behind a single node timer, at millisecond precision. systemClock gives each deadline its own node
 * timer finished with setImmediate turns, for VRRP's sub-millisecond timing; with thousands of check
 * deadlines a second that cost a timer, two closures and a handle per deadline (garbage that lived a
 * delay_loop, so it reached V8's old space) and kept the loop polling (bench/check/percheck.mjs).
 * A timer never runs before its deadline: a node timer that wakes early runs only what is due and
 * is armed again for the rest.
 */
export class TimerQueue implements Clock {
  private readonly heap: QueuedTimer[] = [];
  private seq = 0;
  private timer: unknown;
  /** Deadline (µs) the node timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;
  private running = false;
  /** Queued timers not cancelled. */
  private live = 0;

  constructor(private readonly host: TimerHost = nodeTimers) {}

  now(): Micros {
    return this.host.now();
  }

  at(at: Micros, fn: () => void): TimerHandle {
    const t = new QueuedTimer(this, at, this.seq++, fn);
    this.live++;
    this.push(t);
    if (at < this.armedFor && !this.running) this.arm();
    return t;
  }

  /** Deadlines still queued (cancelled ones included until they reach the head). */
  get size(): number {
    return this.heap.length;
  }

  /** From QueuedTimer.cancel: once nothing is left, the node timer no longer holds the loop. */
  cancelled(): void {
    if (--this.live > 0) return;
    this.heap.length = 0;
    if (this.timer !== undefined) this.host.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private readonly run = (): void => {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.running = true;
    try {
      const now = this.host.now();
      for (let t = this.heap[0]; t !== undefined && t.at <= now; t = this.heap[0]) {
        this.pop();
        const fn = t.fn;
        if (fn === null) continue;
        t.fn = null;
        this.live--;
        fn();
      }
    } finally {
      this.running = false;
      this.arm();
    }
  };

  private arm(): void {
    while (this.heap[0] && this.heap[0].fn === null) this.pop();
    const head = this.heap[0];
    if (this.timer !== undefined) this.host.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (!head) return;
    const ms = Math.ceil((head.at - this.host.now()) / 1000);
    this.timer = this.host.setTimeout(this.run, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
    this.armedFor = ms > MAX_TIMER_MS ? Number.POSITIVE_INFINITY : head.at;
  }

  private static before(a: QueuedTimer, b: QueuedTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: QueuedTimer): void {
    const h = this.heap;
    let i = h.length;
    h.push(t);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as QueuedTimer;
      if (!TimerQueue.before(t, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = t;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && TimerQueue.before(h[r] as QueuedTimer, h[l] as QueuedTimer) ? r : l;
      const child = h[c] as QueuedTimer;
      if (!TimerQueue.before(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
  }
}

/** keepalived's FMT_CHK: `[198.51.100.2]:tcp:80`. */
export function fmtChk(spec: CheckSpec): string {
  if (!('connectIp' in spec)) {
    if (spec.kind === 'MISC_CHECK') return `[${spec.miscPath.join(' ')}]`;
    return spec.kind === 'FILE_CHECK' ? `[${spec.file}]` : `[${spec.name}]`;
  }
  const proto = spec.kind === 'DNS_CHECK' || spec.kind === 'UDP_CHECK' ? 'udp' : 'tcp';
  return `[${spec.connectIp}]:${proto}:${spec.connectPort}`;
}

/** keepalived's checker name in log lines (HTTP_GET and SSL_GET both log as HTTP_CHECK). */
function logName(spec: CheckSpec): string {
  return spec.kind === 'HTTP_GET' || spec.kind === 'SSL_GET' ? 'HTTP_CHECK' : spec.kind;
}

/**
 * A watched FILE_CHECK's next attempt starts this long after a result: a change meanwhile is still
 * seen (the attempt compares the file with the last report first), and a file whose content differs
 * at every read (a /proc file) is read at most 20 times a second rather than in a tight loop.
 */
const WATCH_SPACING_US = 50_000;

export class Scheduler {
  private readonly servers = new Map<string, RsState>();
  /** BFD_CHECK checkers by bfd_instance name. */
  private readonly bfdCheckers = new Map<string, Set<CheckerState>>();
  private readonly queue: CheckerState[] = [];
  private running = 0;
  private readonly runner: Runner;
  private readonly max: number;
  private readonly random: () => number;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.runner = opts.runner ?? runCheck;
    this.max = opts.maxConcurrent ?? 256;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger ?? silentLogger;
  }

  /** Start checking a real server; emits its initial state at once. */
  add(spec: RealServerSpec): void {
    if (this.servers.has(spec.id))
      throw new KaError('KA_ERR_CHECK_SPEC', `real server ${spec.id} already scheduled`);
    const rs: RsState = { spec, checkers: [], up: false, weight: spec.weight, removed: false };
    const now = this.opts.clock.now();
    rs.checkers = spec.checkers.map((c, index) => {
      const st: CheckerState = {
        rs,
        index,
        spec: c,
        up: !c.alpha,
        hasRun: false,
        retryIt: 0,
        timer: null,
        inflight: null,
        queued: false,
        weight: undefined,
        weightDelta: 0,
        fire: () => {
          st.timer = null;
          this.enqueue(st);
        },
      };
      return st;
    });
    this.servers.set(spec.id, rs);
    this.recompute(rs, true);
    for (const c of rs.checkers) {
      if (c.spec.kind === 'BFD_CHECK') {
        const set = this.bfdCheckers.get(c.spec.name) ?? new Set<CheckerState>();
        this.bfdCheckers.set(c.spec.name, set);
        set.add(c);
        continue;
      }
      // keepalived reads a FILE_CHECK's track file at start-up (it has no warmup)
      const warmup = c.spec.kind === 'FILE_CHECK' ? 0 : (c.spec.warmup ?? c.spec.delayLoop);
      this.arm(c, now + Math.floor(this.random() * warmup * US));
    }
  }

  /**
   * A BFD session's state, for the BFD_CHECK checkers naming it (keepalived's bfd_check_handle_event):
   * a checker already in that state after its first event is left alone; otherwise the change is
   * logged (`BFD check of [name] RS(rs) is UP|DOWN`) and applied. A first Down of an alpha checker
   * (already down) is the alpha first failure (notified, no change).
   */
  setBfdState(name: string, up: boolean): void {
    const set = this.bfdCheckers.get(name);
    if (!set) return;
    for (const c of [...set]) {
      if (c.rs.removed || (c.up === up && c.hasRun)) continue;
      const rs = c.rs.spec;
      this.log.info(
        { rs: rs.id, checker: 'BFD_CHECK' },
        `BFD check of [${name}] RS(${rs.label ?? rs.id}) is ${up ? 'UP' : 'DOWN'}`,
      );
      c.hasRun = true;
      if (c.up === up) {
        if (!up) this.opts.onEvent({ realServer: rs.id, up: false, alphaFailure: true });
        continue;
      }
      c.up = up;
      this.recompute(c.rs, false, { index: c.index, kind: 'BFD_CHECK', up, bfd: name });
    }
  }

  /** Stop checking a real server (cancels its timers and in-flight attempts). */
  remove(id: string): void {
    const rs = this.servers.get(id);
    if (!rs) return;
    rs.removed = true;
    for (const c of rs.checkers) {
      this.cancel(c);
      if (c.spec.kind === 'BFD_CHECK') this.bfdCheckers.get(c.spec.name)?.delete(c);
    }
    this.servers.delete(id);
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.servers.keys()]) this.remove(id);
    this.queue.length = 0;
  }

  state(id: string): { up: boolean; weight: number; checkers: boolean[] } | undefined {
    const rs = this.servers.get(id);
    return rs && { up: rs.up, weight: rs.weight, checkers: rs.checkers.map((c) => c.up) };
  }

  get inFlight(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  private cancel(c: CheckerState): void {
    c.timer?.cancel();
    c.timer = null;
    c.inflight?.abort();
    c.inflight = null;
    if (c.queued) {
      const i = this.queue.indexOf(c);
      if (i >= 0) this.queue.splice(i, 1);
      c.queued = false;
    }
  }

  private arm(c: CheckerState, at: Micros): void {
    c.timer = this.opts.clock.at(at, c.fire);
  }

  private enqueue(c: CheckerState): void {
    if (this.stopped || c.rs.removed) return;
    // A FILE_CHECK attempt is a file read, or a wait for the file to change: it takes no slot, so
    // many watched files never hold back the other checkers.
    if (c.spec.kind === 'FILE_CHECK') this.start(c, false);
    else if (this.running < this.max) this.start(c);
    else {
      c.queued = true;
      this.queue.push(c);
    }
  }

  private start(c: CheckerState, counted = true): void {
    if (counted) this.running++;
    const ctl = new AbortController();
    c.inflight = ctl;
    let attempt: Promise<CheckResult>;
    try {
      attempt = this.runner(c.spec, ctl.signal);
    } catch (e) {
      attempt = Promise.reject(e);
    }
    const done = (r: CheckResult): void => {
      if (counted) {
        this.running--;
        const next = this.queue.shift();
        if (next) {
          next.queued = false;
          this.start(next);
        }
      }
      if (c.inflight !== ctl) return; // cancelled or removed meanwhile
      c.inflight = null;
      this.onResult(c, r);
    };
    attempt.then(done, (e: unknown) =>
      done({
        ok: false,
        error: new KaError('KA_ERR_CHECK_IO', `checker failed: ${(e as Error).message}`, {}, { cause: e }),
      }),
    );
  }

  private onResult(c: CheckerState, r: CheckResult): void {
    const now = this.opts.clock.now();
    const s = c.spec;
    this.opts.onAttempt?.(c.rs.spec.id, c.index, r, now);
    this.opts.counters?.inc('check.attempts');
    if (!r.ok) this.opts.counters?.inc(`check.fail.${r.error.code}`);
    const first = !c.hasRun;
    c.hasRun = true;
    // A FILE_CHECK whose file is watched (file.ts): the next attempt starts at once and waits for
    // the file to change; a value applies at once, without retries (keepalived's track file
    // checkers do not run, their file's inotify events set them).
    const watched = s.kind === 'FILE_CHECK' && waitsForChange(s);
    if (r.ok) {
      c.retryIt = 0;
      c.weight = r.weight;
      c.weightDelta = r.weightDelta ?? 0;
      let transition: CheckerTransition | undefined;
      if (!c.up) {
        c.up = true;
        transition = { index: c.index, kind: s.kind, up: true };
        this.log.info(
          { rs: c.rs.spec.id, checker: s.kind },
          `${logName(s)} on service ${fmtChk(s)} success.`,
        );
      } else if (first && s.kind === 'MISC_CHECK')
        transition = { index: c.index, kind: s.kind, up: true, unchanged: true };
      this.recompute(c.rs, false, transition);
      this.arm(c, watched ? now + WATCH_SPACING_US : now + s.delayLoop * US);
      return;
    }
    if (s.logAllFailures)
      this.log.info({ rs: c.rs.spec.id, code: r.error.code }, `${r.error.message} to ${fmtChk(s)}.`);
    if (c.up || first) {
      if (c.retryIt < s.retry && !watched) {
        c.retryIt++;
        this.arm(c, now + s.delayBeforeRetry * US);
        return;
      }
      c.retryIt = 0;
      this.log.info(
        { rs: c.rs.spec.id, code: r.error.code },
        s.retry && !first && !watched
          ? `${logName(s)} on service ${fmtChk(s)} failed after ${s.retry} retries.`
          : `${logName(s)} on service ${fmtChk(s)} failed.`,
      );
      if (c.up) {
        c.up = false;
        const transition: CheckerTransition = { index: c.index, kind: s.kind, up: false };
        if (r.reason !== undefined) transition.reason = r.reason;
        this.recompute(c.rs, false, transition);
      } else {
        const ev: RealServerEvent = { realServer: c.rs.spec.id, up: false, alphaFailure: true };
        if (s.kind === 'MISC_CHECK') {
          ev.checker = { index: c.index, kind: s.kind, up: false, unchanged: true };
          if (r.reason !== undefined) ev.checker.reason = r.reason;
        }
        this.opts.onEvent(ev);
      }
    }
    this.arm(
      c,
      watched ? now + WATCH_SPACING_US : now + (s.fastRecovery ? s.delayBeforeRetry : s.delayLoop) * US,
    );
  }

  /** Emits the real server's state when it changed, and on every checker `transition`. */
  private recompute(rs: RsState, initial: boolean, transition?: CheckerTransition): void {
    const up = rs.checkers.every((c) => c.up);
    let weight = rs.spec.weight;
    for (const c of rs.checkers) if (c.weight !== undefined) weight = c.weight;
    for (const c of rs.checkers) weight += c.weightDelta;
    weight = Math.max(0, Math.min(MAX_WEIGHT, weight));
    const changed = initial || up !== rs.up || (up && weight !== rs.weight);
    rs.up = up;
    rs.weight = weight;
    if (!changed && !transition) return;
    const ev: RealServerEvent = { realServer: rs.spec.id, up };
    if (transition) ev.checker = transition;
    if (weight !== rs.spec.weight) ev.weight = weight;
    this.opts.onEvent(ev);
  }
}
