/**
 * Data types of the VRRP state machine (STYLE.md habit 4): configuration, machine state, events and
 * actions. Everything here is plain data; `machine.ts` turns (state, event, now) into (state, actions)
 * and `instance.ts` executes the actions.
 */
import type { Micros } from '../core/clock.js';
import type { ReceivedAdvert } from '../wire/vrrp.js';

/** keepalived's state numbering (JSON/SNMP/DBus use the same codes). */
export const VrrpState = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3 } as const;
export type VrrpState = (typeof VrrpState)[keyof typeof VrrpState];
export const STATE_NAMES = ['INIT', 'BACKUP', 'MASTER', 'FAULT'] as const;
export type StateName = (typeof STATE_NAMES)[number];

export function stateName(s: VrrpState): StateName {
  return STATE_NAMES[s] as StateName;
}

/** Priority 255: the address owner; priority 0: "I am resigning" (RFC 5798 §5.2.4). */
export const PRIO_OWNER = 255;
export const PRIO_STOP = 0;

/** GARP / unsolicited NA knobs (keepalived global_defs / instance overrides), times in µs. */
export interface GarpConfig {
  /** `garp_master_delay`: second burst after becoming MASTER; 0 = none. Default 5 s. */
  masterDelayUs: Micros;
  /** `garp_master_repeat`: GARPs per VIP per burst. Default 5. */
  masterRepeat: number;
  /** `garp_master_refresh`: periodic refresh while MASTER (checked at each advert); 0 = off. */
  masterRefreshUs: Micros;
  /** `garp_master_refresh_repeat`. Default 1. */
  masterRefreshRepeat: number;
  /** `garp_lower_prio_delay`: second burst after a lower-priority advert. Default = masterDelayUs. */
  lowerPrioDelayUs: Micros;
  /** `garp_lower_prio_repeat`. Default = masterRepeat. */
  lowerPrioRepeat: number;
}

/** What the state machine needs from a `vrrp_instance` block (already defaulted and checked). */
export interface MachineConfig {
  /** Instance name as written in the config (`VI_1`); used in every log line. */
  name: string;
  version: 2 | 3;
  family: 4 | 6;
  vrid: number;
  /** Configured priority 1..255 (`base_priority`). */
  priority: number;
  /** `advert_int` in µs (v2: whole seconds; v3: multiples of 10 ms). */
  advertIntervalUs: Micros;
  /** `state MASTER|BACKUP` (keepalived's initial `wantstate`). */
  initialState: 'MASTER' | 'BACKUP';
  nopreempt: boolean;
  /** `preempt_delay` in µs; 0 = off. */
  preemptDelayUs: Micros;
  /** `down_timer_adverts` 1..100, default 3. */
  downTimerAdverts: number;
  /** Our address used in the equal-priority tie-break (`unicast_src_ip`/`mcast_src_ip` or interface primary). */
  primaryIp: string;
  garp: GarpConfig;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  /** Member of a `vrrp_sync_group`: going MASTER and leaving FAULT are decided by the group. */
  syncGroup: boolean;
}

/** Deadlines the runtime arms one timer for each (STYLE.md habit 5). */
export type TimerName = 'down' | 'advert' | 'garpDelay' | 'garpLowerPrio';
export const TIMER_NAMES: readonly TimerName[] = ['down', 'advert', 'garpDelay', 'garpLowerPrio'];
export type Deadlines = Readonly<Partial<Record<TimerName, Micros>>>;

export interface MachineState {
  readonly state: VrrpState;
  /** Priority used in adverts and comparisons (base + tracking weights; 255 never moves). */
  readonly effectivePriority: number;
  /** Base priority; only the equal-255 conflict changes it (to 254). */
  readonly basePriority: number;
  /** Master_Adver_Interval in µs (v3 learns it from the master; v2 = local interval). */
  readonly masterAdverIntUs: Micros;
  readonly timers: Deadlines;
  /** preempt_delay: lower-priority adverts are accepted until this time; null = not running. */
  readonly preemptAt: Micros | null;
  /** garp_master_refresh due time (checked when an advert is sent, as keepalived does). */
  readonly garpRefreshAt: Micros | null;
  /** VIPs (and routes, rules) are installed. */
  readonly vipsSet: boolean;
  /** A tracked object or the interface says FAULT (weight-0 tracking). */
  readonly faulted: boolean;
  /** Sync-group member whose down timer expired: waiting for the group to agree on MASTER. */
  readonly wantMaster: boolean;
  /** Last master seen while BACKUP (for data dumps). */
  readonly masterAddr: string | null;
  readonly masterPriority: number | null;
  /**
   * vrrp_startup_delay: until this time a BACKUP's Master_Down timer runs from here rather than from
   * now (keepalived's vrrp_delayed_start_time); null = no delay in force.
   */
  readonly startHoldUntil: Micros | null;
}

export type ForcedState = 'MASTER' | 'BACKUP' | 'FAULT';

export type VrrpEvent =
  /**
   * `groupFault`: a sync-group member whose group starts in FAULT (another member's interface missing
   * or tracking down): it enters FAULT (init) without being faulted itself; the group takes it out.
   */
  | { type: 'startup'; holdUntil?: Micros; groupFault?: boolean }
  | { type: 'shutdown' }
  | { type: 'timer'; timer: TimerName }
  /** An advert that already passed receive validation (validate.ts). */
  | { type: 'advert'; rx: ReceivedAdvert }
  | { type: 'priority'; effectivePriority: number }
  | { type: 'fault' }
  | { type: 'unfault' }
  /** A vrrp_sync_group moves this member (sync-group.ts). */
  | { type: 'force'; to: ForcedState }
  /**
   * SIGHUP kept this instance with a new configuration (checked) and the effective priority its new
   * tracking gives: the state is kept, the settings and timers follow the new configuration.
   */
  | { type: 'reload'; config: MachineConfig; effectivePriority: number };

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';
export type LogLevel = 'debug' | 'info' | 'warn';

export type VrrpAction =
  | { type: 'sendAdvert'; priority: number }
  | { type: 'addVips' }
  | { type: 'removeVips' }
  | { type: 'addRoutes' }
  | { type: 'removeRoutes' }
  | { type: 'addRules' }
  | { type: 'removeRules' }
  /** `count` rounds of one GARP / unsolicited NA per VIP and eVIP. */
  | { type: 'sendGarps'; count: number }
  | { type: 'notify'; state: NotifyState; priority: number }
  /** notify_master_rx_lower_pri (FIFO `MASTER_RX_LOWER_PRI`). */
  | { type: 'notifyMasterRxLowerPri'; priority: number }
  | { type: 'log'; level: LogLevel; message: string }
  /** An event the machine cannot use (bad input); the runtime counts it under `code`. */
  | { type: 'dropped'; code: string; message: string };

export interface StepResult {
  state: MachineState;
  actions: VrrpAction[];
}
