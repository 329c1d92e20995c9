/**
 * Runtime binding of one vrrp_instance: holds the machine state, arms one timer per deadline on an
 * injected Clock (STYLE.md habit 5), feeds events to `step` and executes the resulting actions through
 * small injected interfaces (habit 6). The daemon plugs sockets and netlink in; tests plug fakes (sim.ts).
 *
 * Actions run in order. An operation may return a Promise (netlink, sockets): later actions wait for it,
 * so "VIPs added" always precedes "GARPs sent", but the state machine itself never waits.
 */
import type { Clock, Micros, TimerHandle } from '../core/clock.js';
import { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import type { ReceivedAdvert, VrrpAdvert } from '../wire/vrrp.js';
import { initialState, type Machine, step } from './machine.js';
import type { MachineErrors } from './machine-errors.js';
import type { SyncMember, SyncMemberView } from './sync-group.js';
import {
  type ForcedState,
  type MachineConfig,
  type NotifyState,
  stateName,
  TIMER_NAMES,
  type TimerName,
  type VrrpAction,
  type VrrpEvent,
  VrrpState,
} from './types.js';

type MaybePromise = void | Promise<void>;

/** A timer running this late means the event loop was blocked (stopped process, starved CPU). */
const BLOCKED_US = 2_000;

/** Sends one advertisement (the codec encodes it; priority is in `advert.priority`, checksum is computed there). */
export interface VrrpTransport {
  send(advert: VrrpAdvert): MaybePromise;
}

/** VIPs / eVIPs, virtual routes and virtual rules of this instance (rtnetlink in the daemon). */
export interface AddressOps {
  addVips(): MaybePromise;
  removeVips(): MaybePromise;
  addRoutes?(): MaybePromise;
  removeRoutes?(): MaybePromise;
  addRules?(): MaybePromise;
  removeRules?(): MaybePromise;
}

/** Gratuitous ARP (IPv4) / unsolicited NA (IPv6): `rounds` times one frame per VIP and eVIP. */
export interface Announcer {
  announce(rounds: number): MaybePromise;
}

/** notify_* scripts, generic `notify`, notify FIFO (src/notify/). Must not block. */
export interface Notifier {
  notify(state: NotifyState, priority: number): MaybePromise;
  masterRxLowerPri?(priority: number): MaybePromise;
}

export interface VrrpInstanceDeps {
  clock: Clock;
  transport: VrrpTransport;
  addresses: AddressOps;
  announcer: Announcer;
  notifier: Notifier;
  logger?: Logger;
  counters?: Counters;
  /** Observer of every executed action (tests, data dumps); called before the action runs. */
  onAction?(action: VrrpAction, now: Micros): void;
}

/** What goes into every advert besides the priority (from the instance configuration). */
export interface AdvertTemplate {
  /** VIPs in advert order (textual). */
  addresses: string[];
  /** v2 only: 0 none, 1 PASS, 2 AH (AH framing is the transport's job). */
  authType?: number;
  /** v2 only: 8 bytes. */
  authData?: Buffer;
}

export class VrrpInstance implements SyncMember {
  private m: Machine;
  private readonly armed = new Map<TimerName, { at: Micros; handle: TimerHandle }>();
  private readonly listeners: ((from: VrrpState) => void)[] = [];
  private pending: Promise<void> | undefined;
  private killed = false;
  /** Deadlines whose late expiry was put off by one clock turn (see `fire`). */
  private readonly deferred = new Map<TimerName, Micros>();
  /** Time of the last step: event times never go below it. */
  private lastStep: Micros = Number.NEGATIVE_INFINITY;
  private readonly log: Logger;
  readonly counters: Counters;

  constructor(
    config: MachineConfig,
    private advert: AdvertTemplate,
    private readonly deps: VrrpInstanceDeps,
  ) {
    this.m = initialState(config);
    this.log = deps.logger ?? silentLogger;
    this.counters = deps.counters ?? new Counters();
  }

  get name(): string {
    return this.config.name;
  }

  /** The configuration in force (replaced by `reconfigure`). */
  get config(): MachineConfig {
    return this.m.config;
  }

  /** Current machine state (immutable snapshot). */
  get machine(): Machine {
    return this.m;
  }

  get state(): VrrpState {
    return this.m.state;
  }

  view(): SyncMemberView {
    return { name: this.name, state: this.m.state, wantMaster: this.m.wantMaster, faulted: this.m.faulted };
  }

  /** Subscribes `listener`; the function returned unsubscribes it. */
  onChange(listener: (from: VrrpState) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Leave INIT (into BACKUP or FAULT). `holdUntil` (vrrp_startup_delay): no Master_Down timer
   * expires before that time. `groupFault`: the instance's sync group starts in FAULT.
   */
  start(holdUntil?: Micros, opts: { groupFault?: boolean } = {}): void {
    this.handle({
      type: 'startup',
      ...(holdUntil === undefined ? {} : { holdUntil }),
      ...(opts.groupFault ? { groupFault: true } : {}),
    });
  }

  /** Orderly stop (SIGTERM): STOP notify, priority-0 advert and VIP removal if MASTER. */
  stop(): void {
    this.handle({ type: 'shutdown' });
  }

  /**
   * Feed a validated advert (validate.ts has already checked it against this instance). `receivedAt`
   * is when the kernel received it, on this instance's clock: the timers it restarts (Master_Down,
   * skew) are anchored there rather than on when the event loop got round to it.
   */
  receive(rx: ReceivedAdvert, receivedAt?: Micros): void {
    this.counters.inc('vrrp.advert_rcvd');
    if (rx.advert.priority === 0) this.counters.inc('vrrp.pri_zero_rcvd');
    this.handle({ type: 'advert', rx }, receivedAt);
  }

  setEffectivePriority(p: number): void {
    this.handle({ type: 'priority', effectivePriority: p });
  }

  fault(): void {
    this.handle({ type: 'fault' });
  }

  unfault(): void {
    this.handle({ type: 'unfault' });
  }

  force(to: ForcedState): void {
    this.handle({ type: 'force', to });
  }

  /**
   * SIGHUP kept this instance: new settings, same state (see machine.ts onReload). `config` must be
   * checked (machineConfig); `effectivePriority` is what the new tracking gives.
   */
  reconfigure(config: MachineConfig, advert: AdvertTemplate, effectivePriority: number): void {
    this.advert = advert;
    this.handle({ type: 'reload', config, effectivePriority });
  }

  /** Vanish without a word (tests: a crashed host). Timers are cancelled, later events ignored. */
  kill(): void {
    this.killed = true;
    for (const { handle } of this.armed.values()) handle.cancel();
    this.armed.clear();
  }

  /** Resolves when every action issued so far has completed. */
  async idle(): Promise<void> {
    while (this.pending) await this.pending;
  }

  /**
   * Steps the machine. `at` dates the event in the past (a kernel receive time); it is clamped to
   * [time of the previous step, now] so the machine never sees time go backwards.
   */
  handle(ev: VrrpEvent, at?: Micros): void {
    if (this.killed) return;
    const before = this.m;
    const clockNow = this.deps.clock.now();
    const now = at === undefined ? clockNow : Math.min(clockNow, Math.max(at, this.lastStep));
    this.lastStep = now;
    const { state, actions } = step(before, ev, now);
    this.m = state;
    // Actions first: an advert due now leaves before the timers are re-armed (they are absolute).
    for (const a of actions) this.run(a, now);
    if (!this.killed) this.rearm();
    if (before.state === VrrpState.MASTER && state.state !== VrrpState.MASTER)
      this.counters.inc('vrrp.release_master');
    if (
      before.state !== state.state ||
      before.wantMaster !== state.wantMaster ||
      before.faulted !== state.faulted
    )
      for (const l of [...this.listeners]) l(before.state);
  }

  private rearm(): void {
    for (const name of TIMER_NAMES) {
      const want = this.m.timers[name];
      const have = this.armed.get(name);
      if (have && have.at === want) continue;
      have?.handle.cancel();
      this.armed.delete(name);
      if (want === undefined) continue;
      const handle = this.deps.clock.at(want, () => this.fire(name, want));
      this.armed.set(name, { at: want, handle });
    }
  }

  private fire(name: TimerName, at: Micros): void {
    const cur = this.armed.get(name);
    if (!cur || cur.at !== at) return;
    this.armed.delete(name);
    const now = this.deps.clock.now();
    if (now < at) {
      // A real timer may wake a fraction of a millisecond early: wait for the exact µs deadline.
      this.armed.set(name, { at, handle: this.deps.clock.at(at, () => this.fire(name, at)) });
      return;
    }
    if (now - at > BLOCKED_US && this.deferred.get(name) !== at) {
      // Far past the deadline: the process was stopped or starved, and input that arrived meanwhile
      // (adverts restarting this timer) may still be unread, as the event loop can run timers before
      // I/O. One more clock turn lets it be read first; keepalived also reads before it expires.
      this.deferred.set(name, at);
      this.armed.set(name, { at, handle: this.deps.clock.at(now, () => this.fire(name, at)) });
      return;
    }
    this.deferred.delete(name);
    this.handle({ type: 'timer', timer: name });
  }

  private run(a: VrrpAction, now: Micros): void {
    this.deps.onAction?.(a, now);
    if (this.pending) {
      const p: Promise<void> = this.pending.then(() => this.exec(a)).then(() => this.settle(p));
      this.pending = p;
      return;
    }
    const r = this.exec(a);
    if (r) {
      const p: Promise<void> = r.then(() => this.settle(p));
      this.pending = p;
    }
  }

  private settle(p: Promise<void>): void {
    if (this.pending === p) this.pending = undefined;
  }

  /** Runs one action; failures are logged and counted, never thrown (keepalived carries on too). */
  private exec(a: VrrpAction): Promise<void> | undefined {
    const fail = (e: unknown) => {
      const code: keyof typeof MachineErrors = 'KA_ERR_VRRP_ACTION_FAILED';
      this.counters.inc(`vrrp.action_failed.${a.type}`);
      const err = new KaError(code, `(${this.name}) ${a.type} failed`, { action: a.type }, { cause: e });
      this.log.error({ err, code, instance: this.name }, err.message);
    };
    try {
      const r = this.dispatch(a);
      return r ? Promise.resolve(r).catch(fail) : undefined;
    } catch (e) {
      fail(e);
      return undefined;
    }
  }

  private dispatch(a: VrrpAction): MaybePromise {
    const d = this.deps;
    switch (a.type) {
      case 'sendAdvert':
        this.counters.inc('vrrp.advert_sent');
        if (a.priority === 0) this.counters.inc('vrrp.pri_zero_sent');
        return d.transport.send(this.buildAdvert(a.priority));
      case 'addVips':
        this.counters.inc('vrrp.become_master');
        return d.addresses.addVips();
      case 'removeVips':
        return d.addresses.removeVips();
      case 'addRoutes':
        return d.addresses.addRoutes?.();
      case 'removeRoutes':
        return d.addresses.removeRoutes?.();
      case 'addRules':
        return d.addresses.addRules?.();
      case 'removeRules':
        return d.addresses.removeRules?.();
      case 'sendGarps':
        return d.announcer.announce(a.count);
      case 'notify':
        return d.notifier.notify(a.state, a.priority);
      case 'notifyMasterRxLowerPri':
        return d.notifier.masterRxLowerPri?.(a.priority);
      case 'log':
        this.log[a.level]({ instance: this.name, state: stateName(this.m.state) }, a.message);
        return;
      case 'dropped':
        this.counters.inc(`vrrp.dropped.${a.code}`);
        this.log.warn({ code: a.code, instance: this.name }, a.message);
        return;
    }
  }

  /**
   * Compiles the takeover path ahead of need: steps a copy of the machine through a Master_Down
   * expiry (result discarded, nothing executed) and builds an advert. No state changes.
   */
  warmUp(): void {
    const probe = { ...this.m, state: VrrpState.BACKUP, faulted: false, timers: { down: 0 } };
    step(probe, { type: 'timer', timer: 'down' }, 0);
    this.buildAdvert(this.m.effectivePriority);
  }

  /** The advert as the codec wants it (checksum 0: encode computes it). */
  buildAdvert(priority: number): VrrpAdvert {
    const c = this.config;
    const v2 = c.version === 2;
    return {
      version: c.version,
      type: 1,
      vrid: c.vrid,
      priority,
      advertInterval: v2 ? c.advertIntervalUs / 1_000_000 : c.advertIntervalUs / 10_000,
      authType: v2 ? (this.advert.authType ?? 0) : 0,
      authData: v2 ? (this.advert.authData ?? Buffer.alloc(8)) : Buffer.alloc(0),
      addresses: [...this.advert.addresses],
      family: c.family,
      checksum: 0,
    };
  }
}
