/**
 * The VRRP state machine as a pure step function (STYLE.md habit 4, FRR vrrpd's layout):
 * `step(state, event, now) -> { state, actions }`. No sockets, no timers: deadlines are data in
 * `state.timers` and the runtime (instance.ts) arms one timer per deadline.
 *
 * Behaviour: RFC 5798 §6.4 (v2 per RFC 3768 §6.4 is the same without a learned interval) plus what
 * keepalived 2.2.7 adds on top (FAULT, preempt_delay, nopreempt, GARP scheduling, owner conflicts,
 * log wording). Each branch cites the section or the keepalived behaviour it follows.
 */
import ipaddr from 'ipaddr.js';
import type { Micros } from '../core/clock.js';
import { KaError } from '../core/errors.js';
import type { ReceivedAdvert } from '../wire/vrrp.js';
import type { MachineErrors } from './machine-errors.js';
import { vrrpTimers } from './timers.js';
import {
  type GarpConfig,
  type LogLevel,
  type MachineConfig,
  type MachineState,
  PRIO_OWNER,
  PRIO_STOP,
  type StepResult,
  type TimerName,
  type VrrpAction,
  type VrrpEvent,
  VrrpState,
} from './types.js';

const CONFIG_CODE: keyof typeof MachineErrors = 'KA_ERR_VRRP_MACHINE_CONFIG';
const SRC_CODE: keyof typeof MachineErrors = 'KA_ERR_VRRP_ADVERT_SRC';

/** keepalived's defaults for the GARP knobs (global_defs vrrp_garp_*). */
export const DEFAULT_GARP: Readonly<GarpConfig> = Object.freeze({
  masterDelayUs: 5_000_000,
  masterRepeat: 5,
  masterRefreshUs: 0,
  masterRefreshRepeat: 1,
  lowerPrioDelayUs: 5_000_000,
  lowerPrioRepeat: 5,
});

/** Fill keepalived's defaults around the fields that have none (name, vrid, primaryIp). */
export function machineConfig(
  c: Pick<MachineConfig, 'name' | 'vrid' | 'primaryIp'> &
    Partial<Omit<MachineConfig, 'garp'>> & {
      garp?: Partial<GarpConfig>;
    },
): MachineConfig {
  const family = c.family ?? (c.primaryIp.includes(':') ? 6 : 4);
  const garp = { ...DEFAULT_GARP, ...c.garp };
  if (c.garp?.lowerPrioDelayUs === undefined) garp.lowerPrioDelayUs = garp.masterDelayUs;
  if (c.garp?.lowerPrioRepeat === undefined) garp.lowerPrioRepeat = garp.masterRepeat;
  return checkMachineConfig({
    name: c.name,
    version: c.version ?? (family === 6 ? 3 : 2),
    family,
    vrid: c.vrid,
    priority: c.priority ?? 100,
    advertIntervalUs: c.advertIntervalUs ?? 1_000_000,
    initialState: c.initialState ?? ((c.priority ?? 100) === PRIO_OWNER ? 'MASTER' : 'BACKUP'),
    nopreempt: c.nopreempt ?? false,
    preemptDelayUs: c.preemptDelayUs ?? 0,
    downTimerAdverts: c.downTimerAdverts ?? 3,
    primaryIp: c.primaryIp,
    garp,
    lowerPrioNoAdvert: c.lowerPrioNoAdvert ?? false,
    higherPrioSendAdvert: c.higherPrioSendAdvert ?? false,
    syncGroup: c.syncGroup ?? false,
  });
}

/** Range checks; throws KaError(KA_ERR_VRRP_MACHINE_CONFIG). Returns a frozen copy. */
export function checkMachineConfig(c: MachineConfig): MachineConfig {
  const bad = (what: string): never => {
    throw new KaError(CONFIG_CODE, `(${c.name}) ${what}`, { instance: c.name });
  };
  const isInt = Number.isInteger;
  if (!isInt(c.vrid) || c.vrid < 1 || c.vrid > 255) bad(`virtual_router_id ${c.vrid} not in 1..255`);
  if (!isInt(c.priority) || c.priority < 1 || c.priority > 255) bad(`priority ${c.priority} not in 1..255`);
  const adv = c.advertIntervalUs;
  if (c.version === 2 && (!isInt(adv) || adv % 1_000_000 !== 0 || adv < 1_000_000 || adv > 255_000_000))
    bad(`advert_int ${adv} µs is not 1..255 whole seconds (VRRPv2)`);
  if (c.version === 3 && (!isInt(adv) || adv % 10_000 !== 0 || adv < 10_000 || adv > 40_950_000))
    bad(`advert_int ${adv} µs is not 10 ms..40.95 s in 10 ms steps (VRRPv3)`);
  if (c.version !== 2 && c.version !== 3) bad(`version ${String(c.version)}`);
  if (!isInt(c.downTimerAdverts) || c.downTimerAdverts < 1 || c.downTimerAdverts > 100)
    bad(`down_timer_adverts ${c.downTimerAdverts} not in 1..100`);
  if (!isInt(c.preemptDelayUs) || c.preemptDelayUs < 0) bad(`preempt_delay ${c.preemptDelayUs}`);
  const fam = ipFamily(c.primaryIp);
  if (fam !== c.family) bad(`source address ${c.primaryIp} is not an IPv${c.family} address`);
  for (const [k, v] of Object.entries(c.garp)) if (!isInt(v) || v < 0) bad(`garp ${k} ${v}`);
  return Object.freeze({ ...c, garp: Object.freeze({ ...c.garp }) });
}

function ipFamily(s: string): 4 | 6 | null {
  if (!ipaddr.isValid(s)) return null;
  return ipaddr.parse(s).kind() === 'ipv6' ? 6 : 4;
}

/**
 * Compare an advert's source with our address as unsigned big-endian integers (IPv6: 128 bits),
 * RFC 5798 §6.4.3. Different families compare equal (keepalived's vrrp_saddr_cmp returns 0);
 * null when `a` is not an IP address.
 */
export function compareIp(a: string, b: string): -1 | 0 | 1 | null {
  if (!ipaddr.isValid(a) || !ipaddr.isValid(b)) return null;
  const x = ipaddr.parse(a).toByteArray();
  const y = ipaddr.parse(b).toByteArray();
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

type Draft = { -readonly [K in keyof MachineState]: MachineState[K] } & {
  timers: Partial<Record<TimerName, Micros>>;
};

/** A fresh machine in INIT. */
export function initialState(config: MachineConfig): MachineState & { readonly config: MachineConfig } {
  return {
    config,
    state: VrrpState.INIT,
    effectivePriority: config.priority,
    basePriority: config.priority,
    masterAdverIntUs: config.advertIntervalUs,
    timers: {},
    preemptAt: null,
    garpRefreshAt: null,
    vipsSet: false,
    faulted: false,
    wantMaster: false,
    masterAddr: null,
    masterPriority: null,
    startHoldUntil: null,
  };
}

export type Machine = ReturnType<typeof initialState>;

class Step {
  readonly actions: VrrpAction[] = [];
  readonly n: Draft & { config: MachineConfig };
  constructor(
    s: Machine,
    readonly now: Micros,
  ) {
    this.n = { ...s, timers: { ...s.timers } };
  }
  get c(): MachineConfig {
    return this.n.config;
  }
  act(a: VrrpAction): void {
    this.actions.push(a);
  }
  log(level: LogLevel, text: string): void {
    this.actions.push({ type: 'log', level, message: `(${this.c.name}) ${text}` });
  }
  timers(priority = this.n.effectivePriority) {
    return vrrpTimers(this.c.version, priority, this.n.masterAdverIntUs, this.c.downTimerAdverts);
  }
  armDown(us: Micros): void {
    // keepalived vrrp_init_instance_sands: during vrrp_startup_delay a BACKUP's timer starts at the
    // delay's end, so no instance leaves BACKUP before it (adverts received meanwhile count as usual).
    const hold = this.n.startHoldUntil;
    if (hold !== null && this.now < hold) {
      this.n.timers = { down: hold + us };
      return;
    }
    this.n.startHoldUntil = null;
    this.n.timers = { down: this.now + us };
  }
  /** v3 only: RFC 5798 §6.4.2 / §6.4.3 "set Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT". */
  learnInterval(rx: ReceivedAdvert, fromMaster: boolean): void {
    if (this.c.version !== 3 || rx.advert.advertInterval <= 0) return;
    const mai = rx.advert.advertInterval * 10_000;
    if (mai === this.n.masterAdverIntUs) return;
    const was = this.n.masterAdverIntUs / 1000;
    this.log(
      'info',
      fromMaster
        ? `advertisement interval updated from ${was} to ${mai / 1000} milli-sec from higher priority master`
        : `advertisement interval updated to ${mai / 1000} milli-sec from ${was} milli-sec`,
    );
    this.n.masterAdverIntUs = mai;
  }
  removeAll(): void {
    // keepalived vrrp_restore_interface: rules, routes, then addresses.
    this.act({ type: 'removeRules' });
    this.act({ type: 'removeRoutes' });
    this.act({ type: 'removeVips' });
    this.n.vipsSet = false;
  }
  result(): StepResult & { state: Machine } {
    const timers: Partial<Record<TimerName, Micros>> = {};
    for (const [k, v] of Object.entries(this.n.timers)) if (v !== undefined) timers[k as TimerName] = v;
    return { state: Object.freeze({ ...this.n, timers: Object.freeze(timers) }), actions: this.actions };
  }
}

/** Advance the machine by one event at monotonic time `now` (µs). Never throws. */
export function step(s: Machine, ev: VrrpEvent, now: Micros): StepResult & { state: Machine } {
  const t = new Step(s, now);
  switch (ev.type) {
    case 'startup':
      if (ev.holdUntil !== undefined && s.state === VrrpState.INIT && ev.holdUntil > now)
        t.n.startHoldUntil = ev.holdUntil;
      onStartup(t, ev.groupFault === true);
      break;
    case 'shutdown':
      onShutdown(t);
      break;
    case 'timer':
      onTimer(t, ev.timer);
      break;
    case 'advert':
      onAdvert(t, ev.rx);
      break;
    case 'priority':
      onPriority(t, ev.effectivePriority);
      break;
    case 'fault':
      t.n.faulted = true;
      if (t.n.state === VrrpState.BACKUP || t.n.state === VrrpState.MASTER) enterFault(t);
      break;
    case 'unfault':
      t.n.faulted = false;
      // A sync-group member leaves FAULT only when the whole group may (sync-group.ts forces it).
      if (t.n.state === VrrpState.FAULT && !t.c.syncGroup) leaveFault(t);
      break;
    case 'force':
      onForce(t, ev.to);
      break;
    case 'reload':
      onReload(t, ev.config, ev.effectivePriority);
      break;
  }
  return t.result();
}

/** RFC 5798 §6.4.1 Initialize, as keepalived does it: every instance first enters BACKUP. */
function onStartup(t: Step, groupFault: boolean): void {
  if (t.n.state !== VrrpState.INIT) return;
  // keepalived removes stale VIPs/routes/rules left by a crashed run before starting.
  t.removeAll();
  t.n.masterAdverIntUs = t.c.advertIntervalUs;
  if (t.n.faulted || groupFault) {
    t.log('info', 'Entering FAULT STATE (init)');
    t.n.state = VrrpState.FAULT;
    t.act({ type: 'notify', state: 'FAULT', priority: t.n.effectivePriority });
    return;
  }
  t.log('info', 'Entering BACKUP STATE (init)');
  t.n.state = VrrpState.BACKUP;
  t.act({ type: 'notify', state: 'BACKUP', priority: t.n.effectivePriority });
  if (t.n.basePriority === PRIO_OWNER && t.c.initialState === 'MASTER') {
    // §6.4.1 "If the Priority = 255": keepalived arms the down timer for 1 µs.
    t.armDown(1);
  } else if (t.c.initialState === 'MASTER' && t.c.syncGroup) {
    // keepalived: state MASTER inside a sync group in BACKUP waits one interval + minimum skew.
    t.armDown(t.n.masterAdverIntUs + t.timers(PRIO_OWNER).skewUs);
  } else {
    // §6.4.1: Master_Down_Timer = Master_Down_Interval.
    t.armDown(t.timers().masterDownUs);
  }
}

/** §6.4.2 / §6.4.3 "If a Shutdown event is received". */
function onShutdown(t: Step): void {
  if (t.n.state === VrrpState.INIT) return;
  const wasMaster = t.n.state === VrrpState.MASTER;
  // keepalived runs the STOP notifies first, then resigns (lab order: notify_stop, "sent 0 priority", VIPs).
  t.act({ type: 'notify', state: 'STOP', priority: t.n.effectivePriority });
  if (wasMaster) {
    t.act({ type: 'sendAdvert', priority: PRIO_STOP });
    t.log('info', 'sent 0 priority');
    t.removeAll();
  }
  t.n.state = VrrpState.INIT;
  t.n.timers = {};
  t.n.garpRefreshAt = null;
  t.n.wantMaster = false;
  t.n.preemptAt = null;
}

function onTimer(t: Step, name: TimerName): void {
  const due = t.n.timers[name];
  if (due === undefined || t.now < due) return; // stale or early: the runtime re-arms
  delete t.n.timers[name];
  switch (name) {
    case 'down':
      if (t.n.state !== VrrpState.BACKUP) return;
      if (t.c.syncGroup) {
        // keepalived vrrp_sync_can_goto_master: want MASTER, re-arm, and let the group decide.
        if (!t.n.wantMaster) t.log('debug', 'down timer expired, waiting for sync group to agree on MASTER');
        t.n.wantMaster = true;
        t.armDown(t.timers().masterDownUs);
        return;
      }
      // §6.4.2 "If the Master_Down_Timer fires".
      gotoMaster(t);
      return;
    case 'advert':
      if (t.n.state !== VrrpState.MASTER) return;
      // §6.4.3 "If the Adver_Timer fires": send an ADVERTISEMENT, reset the Adver_Timer.
      t.act({ type: 'sendAdvert', priority: t.n.effectivePriority });
      // keepalived checks garp_master_refresh after each advert it sends.
      if (t.n.garpRefreshAt !== null && t.now > t.n.garpRefreshAt) {
        t.act({ type: 'sendGarps', count: t.c.garp.masterRefreshRepeat });
        t.n.garpRefreshAt = t.now + t.c.garp.masterRefreshUs;
      }
      t.n.timers.advert = t.now + t.c.advertIntervalUs;
      return;
    case 'garpDelay':
      if (t.n.state === VrrpState.MASTER && t.n.vipsSet && t.c.garp.masterRepeat > 0)
        t.act({ type: 'sendGarps', count: t.c.garp.masterRepeat });
      return;
    case 'garpLowerPrio':
      if (t.n.state === VrrpState.MASTER && t.n.vipsSet && t.c.garp.lowerPrioRepeat > 0)
        t.act({ type: 'sendGarps', count: t.c.garp.lowerPrioRepeat });
      return;
  }
}

/**
 * §6.4.2 "Send an ADVERTISEMENT ... Transition to the {Active} state", in keepalived's order: advert
 * first (so the old master drops the VIPs before our GARPs), VIPs, routes, rules, GARP burst, notify.
 */
function gotoMaster(t: Step): void {
  const n = t.n;
  t.act({ type: 'sendAdvert', priority: n.effectivePriority });
  t.log('info', 'Entering MASTER STATE');
  t.act({ type: 'addVips' });
  t.act({ type: 'addRoutes' });
  t.act({ type: 'addRules' });
  n.vipsSet = true;
  if (t.c.garp.masterRepeat > 0) t.act({ type: 'sendGarps', count: t.c.garp.masterRepeat });
  t.act({ type: 'notify', state: 'MASTER', priority: n.effectivePriority });
  n.state = VrrpState.MASTER;
  n.wantMaster = false;
  n.masterAdverIntUs = t.c.advertIntervalUs;
  n.masterAddr = null;
  n.masterPriority = null;
  n.preemptAt = null;
  n.timers = { advert: t.now + t.c.advertIntervalUs };
  if (t.c.garp.masterDelayUs > 0) n.timers.garpDelay = t.now + t.c.garp.masterDelayUs;
  n.garpRefreshAt = t.c.garp.masterRefreshUs > 0 ? t.now + t.c.garp.masterRefreshUs : null;
}

/** §6.4.3 higher-priority advert: cancel Adver_Timer, set Master_Down_Timer, go Backup (no prio-0 advert). */
function leaveMasterToBackup(t: Step): void {
  t.log('info', 'Entering BACKUP STATE');
  t.removeAll();
  t.act({ type: 'notify', state: 'BACKUP', priority: t.n.effectivePriority });
  t.n.state = VrrpState.BACKUP;
  t.n.preemptAt = null;
  t.n.garpRefreshAt = null;
  t.armDown(t.timers().masterDownUs);
}

/** keepalived FAULT: a master resigns with a priority-0 advert and removes its VIPs; timers stop. */
function enterFault(t: Step): void {
  t.log('info', 'Entering FAULT STATE');
  if (t.n.state === VrrpState.MASTER) {
    t.act({ type: 'sendAdvert', priority: PRIO_STOP });
    t.removeAll();
  }
  t.act({ type: 'notify', state: 'FAULT', priority: t.n.effectivePriority });
  t.n.state = VrrpState.FAULT;
  t.n.timers = {};
  t.n.garpRefreshAt = null;
  t.n.wantMaster = false;
  t.n.preemptAt = null;
}

/** keepalived leaving FAULT: BACKUP with Master_Adver_Interval reset; owner wanting MASTER waits AdvInt + skew. */
function leaveFault(t: Step): void {
  t.log('info', 'Entering BACKUP STATE');
  t.act({ type: 'notify', state: 'BACKUP', priority: t.n.effectivePriority });
  t.n.state = VrrpState.BACKUP;
  t.n.masterAdverIntUs = t.c.advertIntervalUs;
  t.n.preemptAt = null;
  if (t.n.basePriority === PRIO_OWNER && t.c.initialState === 'MASTER')
    t.armDown(t.n.masterAdverIntUs + t.timers().skewUs);
  else t.armDown(t.timers().masterDownUs);
}

function onForce(t: Step, to: 'MASTER' | 'BACKUP' | 'FAULT'): void {
  const s = t.n.state;
  if (to === 'MASTER' && s === VrrpState.BACKUP) gotoMaster(t);
  else if (to === 'BACKUP' && s === VrrpState.MASTER) leaveMasterToBackup(t);
  else if (to === 'BACKUP' && s === VrrpState.FAULT && !t.n.faulted) leaveFault(t);
  else if (to === 'FAULT' && (s === VrrpState.BACKUP || s === VrrpState.MASTER)) enterFault(t);
}

/**
 * Reload of a kept instance, as keepalived does it: the new instance takes the old one's state (and
 * VIP-set flag) without a transition or notify, everything else comes from the new configuration
 * (base and effective priority, advert interval, preempt settings; a learned v3 Master_Adver_Interval
 * and a running preempt_delay start afresh). Timers restart as keepalived's vrrp_init_instance_sands
 * sets them after a reload: a MASTER advertises at once (with the new settings), a BACKUP waits a
 * full new Master_Down_Interval, FAULT and INIT keep none.
 */
function onReload(t: Step, config: MachineConfig, effectivePriority: number): void {
  const n = t.n;
  const eff = config.priority === PRIO_OWNER ? PRIO_OWNER : effectivePriority;
  if (!Number.isInteger(eff) || eff < 1 || eff > 255) {
    t.act({ type: 'dropped', code: CONFIG_CODE, message: `(${config.name}) bad effective priority ${eff}` });
    return;
  }
  n.config = config;
  n.basePriority = config.priority;
  n.effectivePriority = eff;
  n.masterAdverIntUs = config.advertIntervalUs;
  n.preemptAt = null;
  if (n.state === VrrpState.MASTER) {
    n.timers = { ...n.timers, advert: t.now };
    n.garpRefreshAt = config.garp.masterRefreshUs > 0 ? t.now + config.garp.masterRefreshUs : null;
  } else if (n.state === VrrpState.BACKUP) {
    t.armDown(t.timers().masterDownUs);
  }
}

/** Tracking changed the effective priority; adverts and comparisons use it from now on. */
function onPriority(t: Step, p: number): void {
  if (!Number.isInteger(p) || p < 1 || p > 255) {
    t.act({ type: 'dropped', code: CONFIG_CODE, message: `(${t.c.name}) bad effective priority ${p}` });
    return;
  }
  if (t.n.basePriority === PRIO_OWNER || p === t.n.effectivePriority) return; // owner's priority never moves
  t.log('info', `Changing effective priority from ${t.n.effectivePriority} to ${p}`);
  t.n.effectivePriority = p;
}

function onAdvert(t: Step, rx: ReceivedAdvert): void {
  if (t.n.state !== VrrpState.BACKUP && t.n.state !== VrrpState.MASTER) return; // INIT / FAULT ignore adverts
  const cmp = compareIp(rx.src, t.c.primaryIp);
  if (cmp === null) {
    t.act({
      type: 'dropped',
      code: SRC_CODE,
      message: `(${t.c.name}) advert source ${JSON.stringify(rx.src)} is not an IP address`,
    });
    return;
  }
  if (t.n.state === VrrpState.BACKUP) backupRx(t, rx);
  else masterRx(t, rx, cmp);
}

/** §6.4.2 Backup: "If an ADVERTISEMENT is received". */
function backupRx(t: Step, rx: ReceivedAdvert): void {
  const n = t.n;
  const p = rx.advert.priority;
  const eff = n.effectivePriority;
  if (p === PRIO_STOP) {
    // "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer to Skew_Time".
    t.log('info', 'Backup received priority 0 advertisement');
    t.armDown(t.timers().skewUs);
    return;
  }
  const delay = t.c.preemptDelayUs;
  if (t.c.nopreempt || p >= eff || (delay > 0 && (n.preemptAt === null || n.preemptAt > t.now))) {
    // "If Preempt_Mode is False, or if the Priority ... is greater than or equal to the local Priority":
    // learn Master_Adver_Interval (v3), reset Master_Down_Timer. keepalived also accepts lower-priority
    // adverts while preempt_delay runs, and starts it on the first one.
    t.learnInterval(rx, false);
    t.armDown(t.timers().masterDownUs);
    n.masterAddr = rx.src;
    n.masterPriority = p;
    n.wantMaster = false;
    if (delay > 0) {
      if (p >= eff) {
        if (n.preemptAt !== null) t.log('debug', 'stop preempt delay');
        n.preemptAt = null;
      } else if (n.preemptAt === null) {
        n.preemptAt = t.now + delay;
        t.log('debug', `start preempt delay (${(delay / 1e6).toFixed(6)})`);
      }
    }
    return;
  }
  // "Otherwise: Discard the ADVERTISEMENT" - the down timer keeps running.
  t.log('info', `received lower priority (${p}) advert from ${rx.src} - discarding`);
  n.masterAddr = rx.src;
}

/** §6.4.3 Master: "If an ADVERTISEMENT is received", with keepalived's additions. */
function masterRx(t: Step, rx: ReceivedAdvert, cmp: -1 | 0 | 1): void {
  const n = t.n;
  const c = t.c;
  const p = rx.advert.priority;
  const higher = (eff: number) => p > eff || (p === eff && cmp > 0);
  const restartAdvert = () => {
    // keepalived restarts the advert timer after any packet handled in MASTER, unless lower_prio_no_advert.
    if (!c.lowerPrioNoAdvert) n.timers.advert = t.now + c.advertIntervalUs;
  };

  if (p === PRIO_STOP || (c.higherPrioSendAdvert && higher(n.effectivePriority))) {
    // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT, Reset the Adver_Timer".
    t.act({ type: 'sendAdvert', priority: n.effectivePriority });
    if (p === PRIO_STOP) {
      t.log('debug', 'Master received priority 0 message');
      restartAdvert();
      return;
    }
  }

  if (p === n.effectivePriority) {
    if (cmp === 0) {
      t.log('warn', 'WARNING - equal priority advert received from remote host with our IP address.');
    } else if (n.effectivePriority === PRIO_OWNER) {
      t.log(
        'warn',
        'CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority',
      );
      n.effectivePriority = PRIO_OWNER - 1;
      n.basePriority = PRIO_OWNER - 1;
    }
  }

  const eff = n.effectivePriority;
  if (p < eff || (p === eff && cmp < 0)) {
    // "the Priority ... is less than the local Priority, or equal and the primary IP Address of the
    // sender is less than the local primary IP Address": stay Master. keepalived answers with an advert
    // (unless lower_prio_no_advert) and refreshes ARP caches.
    t.log(
      'info',
      `Received advert from ${rx.src} with lower priority ${p}, ours ${eff}${c.lowerPrioNoAdvert ? '' : ', forcing new election'}`,
    );
    if (!c.lowerPrioNoAdvert) t.act({ type: 'sendAdvert', priority: eff });
    if (c.garp.lowerPrioRepeat > 0) {
      if (n.vipsSet) t.act({ type: 'sendGarps', count: c.garp.lowerPrioRepeat });
      if (c.garp.lowerPrioDelayUs > 0) n.timers.garpLowerPrio = t.now + c.garp.lowerPrioDelayUs;
    }
    t.act({ type: 'notifyMasterRxLowerPri', priority: eff });
    restartAdvert();
    return;
  }

  if (higher(eff)) {
    // "the Priority ... is greater than the local Priority, or equal and the sender's address is greater":
    // cancel Adver_Timer, learn Master_Adver_Interval (v3), set Master_Down_Timer, go Backup.
    t.log(
      'info',
      p > eff
        ? `Master received advert from ${rx.src} with higher priority ${p}, ours ${eff}`
        : `Master received advert from ${rx.src} with same priority ${p} but higher IP address than ours`,
    );
    t.learnInterval(rx, true);
    n.masterAddr = rx.src;
    n.masterPriority = p;
    leaveMasterToBackup(t);
    return;
  }
  // Equal priority from our own address: warned above, nothing else.
  restartAdvert();
}
