/**
 * vrrp_sync_group semantics as pure logic over member states (keepalived 2.2.7 vrrp_sync.c):
 * - any member faulted -> the group goes FAULT and every other member is forced to FAULT;
 * - the group leaves FAULT only when no member is faulted: every member is forced to BACKUP;
 * - a member goes MASTER only when every other member wants MASTER too (its down timer expired) or the
 *   group is already MASTER; then all members are forced to MASTER ("prefer backup to avoid thrashing");
 * - a member leaving MASTER for BACKUP forces every other MASTER member to BACKUP.
 * `syncGroupStep` returns the forced transitions; `SyncGroupCoordinator` applies them to live members.
 *
 * A reload (SIGHUP) rebuilds every group from the new configuration over the running instances:
 * `syncGroupReloadStep` says where the rebuilt group stands and which members it forces (keepalived
 * 2.2.7, observed in the lab; docs/DAEMON.md "What a reload applies").
 */
import { type ForcedState, type StateName, stateName, VrrpState } from './types.js';

export interface SyncMemberView {
  name: string;
  state: VrrpState;
  /** Down timer expired while BACKUP: the member asks to go MASTER. */
  wantMaster: boolean;
  /** The member's own tracking says FAULT (not merely forced into FAULT by the group). */
  faulted: boolean;
}

export interface SyncDecision {
  groupState: VrrpState;
  forced: { name: string; to: ForcedState }[];
  /** Group-level notify (notify_master/backup/fault of the group; generic `notify` gets `GROUP name STATE 0`). */
  notify: StateName | null;
  logs: string[];
}

/**
 * React to a change of member `trigger` (previous state `from`). `groupState` is the group's current
 * state (BACKUP at startup).
 */
export function syncGroupStep(
  groupName: string,
  groupState: VrrpState,
  members: readonly SyncMemberView[],
  trigger: { name: string; from: VrrpState },
): SyncDecision {
  const d: SyncDecision = { groupState, forced: [], notify: null, logs: [] };
  const me = members.find((m) => m.name === trigger.name);
  if (!me) return d;
  const others = members.filter((m) => m !== me);
  const go = (to: VrrpState, logText: string, targets: SyncMemberView[], forced: ForcedState) => {
    d.groupState = to;
    d.notify = stateName(to);
    d.logs.push(`VRRP_Group(${groupName}) ${logText}`);
    for (const m of targets) d.forced.push({ name: m.name, to: forced });
  };

  if (members.some((m) => m.faulted)) {
    if (groupState !== VrrpState.FAULT)
      go(
        VrrpState.FAULT,
        'Syncing instances to FAULT state',
        others.filter((m) => m.state === VrrpState.BACKUP || m.state === VrrpState.MASTER),
        'FAULT',
      );
    else if (!me.faulted && (me.state === VrrpState.BACKUP || me.state === VrrpState.MASTER))
      // a member leaving INIT into a FAULT group (another member's interface missing at start):
      // keepalived starts it in FAULT too
      d.forced.push({ name: me.name, to: 'FAULT' });
    return d;
  }
  if (groupState === VrrpState.FAULT) {
    go(
      VrrpState.BACKUP,
      'Leaving FAULT state',
      members.filter((m) => m.state === VrrpState.FAULT),
      'BACKUP',
    );
    return d;
  }
  if (me.state === VrrpState.BACKUP && me.wantMaster) {
    if (
      groupState === VrrpState.MASTER ||
      others.every((m) => m.wantMaster || m.state === VrrpState.MASTER)
    ) {
      const targets = members.filter((m) => m.state === VrrpState.BACKUP);
      if (groupState === VrrpState.MASTER)
        d.forced.push(...targets.map((m) => ({ name: m.name, to: 'MASTER' as const })));
      else go(VrrpState.MASTER, 'Syncing instances to MASTER state', targets, 'MASTER');
    }
    return d;
  }
  if (trigger.from === VrrpState.MASTER && me.state === VrrpState.BACKUP && groupState !== VrrpState.BACKUP) {
    go(
      VrrpState.BACKUP,
      'Syncing instances to BACKUP state',
      others.filter((m) => m.state === VrrpState.MASTER),
      'BACKUP',
    );
    return d;
  }
  if (me.state === VrrpState.MASTER && groupState !== VrrpState.MASTER) {
    // A member reached MASTER on its own (not through the group): the others follow.
    go(
      VrrpState.MASTER,
      'Syncing instances to MASTER state',
      others.filter((m) => m.state === VrrpState.BACKUP),
      'MASTER',
    );
  }
  return d;
}

/**
 * A group (new, or kept with other members) rebuilt by a reload over members in their current
 * states; a member still in INIT is an instance the reload adds (it starts in BACKUP). keepalived
 * 2.2.7, observed: a member faulted on its own puts the group in FAULT and forces the others to FAULT
 * (`VRRP_Group(G1): Syncing VI_3 to FAULT state`); otherwise the group is MASTER when every member is
 * MASTER and BACKUP else, forcing its MASTER members (and those only forced into FAULT before) to
 * BACKUP. The group notifies its state only when it forces a member.
 */
export function syncGroupReloadStep(groupName: string, members: readonly SyncMemberView[]): SyncDecision {
  const faulted = members.filter((m) => m.faulted);
  const live = (m: SyncMemberView) => m.state === VrrpState.BACKUP || m.state === VrrpState.MASTER;
  let groupState: VrrpState;
  let forced: SyncDecision['forced'];
  const logs: string[] = [];
  if (faulted.length > 0) {
    groupState = VrrpState.FAULT;
    forced = members
      .filter((m) => !m.faulted && live(m))
      .map((m) => ({ name: m.name, to: 'FAULT' as const }));
    if (forced.length > 0)
      for (const f of faulted) logs.push(`VRRP_Group(${groupName}): Syncing ${f.name} to FAULT state`);
  } else if (members.length > 0 && members.every((m) => m.state === VrrpState.MASTER)) {
    groupState = VrrpState.MASTER;
    forced = [];
  } else {
    groupState = VrrpState.BACKUP;
    forced = members
      .filter((m) => m.state === VrrpState.MASTER || m.state === VrrpState.FAULT)
      .map((m) => ({ name: m.name, to: 'BACKUP' as const }));
  }
  return { groupState, forced, notify: forced.length > 0 ? stateName(groupState) : null, logs };
}

/** What the coordinator needs from a live member (VrrpInstance implements it). */
export interface SyncMember {
  readonly name: string;
  view(): SyncMemberView;
  force(to: ForcedState): void;
  /**
   * Subscribe to changes of state / wantMaster / faulted; `from` is the state before the change.
   * May return the function that unsubscribes (called when the group stops or is retired).
   */
  onChange(listener: (from: VrrpState) => void): (() => void) | undefined;
}

export interface SyncGroupHooks {
  log?(message: string): void;
  notify?(state: StateName | 'STOP'): void;
}

/** Runtime binding: listens to its members and applies `syncGroupStep`'s forced transitions. */
export class SyncGroupCoordinator {
  private groupState: VrrpState = VrrpState.BACKUP;
  private busy = false;
  /** The group has notified a state (keepalived notifies it once its first member leaves INIT). */
  private announced = false;
  private stopped = false;
  private readonly queue: { name: string; from: VrrpState }[] = [];
  /** Unsubscribes from the members (a retired group no longer holds them). */
  private readonly offs: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly members: readonly SyncMember[],
    private readonly hooks: SyncGroupHooks = {},
  ) {
    for (const m of members) {
      const off = m.onChange((from) => this.changed(m.name, from));
      if (off) this.offs.push(off);
    }
  }

  get state(): VrrpState {
    return this.groupState;
  }

  /**
   * Daemon stop, after the members' STOP: a group that has notified a state runs its notify_stop
   * and `GROUP name STOP 0` (keepalived 2.2.7 order: members first). Member changes are then ignored.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    if (this.announced) this.hooks.notify?.('STOP');
  }

  /**
   * A reload replaced this group (or removed it): it stops following its members, without a notify
   * (keepalived notifies nothing for a group a reload removes).
   */
  retire(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private unsubscribe(): void {
    for (const off of this.offs.splice(0)) off();
  }

  /**
   * Reload: place this group, just built over running members, as keepalived does
   * (syncGroupReloadStep). Members' changes caused by the forcing are the group's own doing and are
   * not reacted to again. A group with a running member counts as announced: its STOP is notified at
   * stop (keepalived 2.2.7 notifies STOP for a group a reload made over running instances).
   * `prior`: the state of the group of that name before the reload (none: a new group). The forced
   * members see it while they move, so their own notifies are sent (keepalived 2.2.7 sends them).
   */
  adopt(prior?: VrrpState): SyncDecision {
    const views = this.members.map((m) => m.view());
    const d = syncGroupReloadStep(this.name, views);
    this.groupState = prior ?? VrrpState.INIT;
    this.busy = true;
    try {
      for (const l of d.logs) this.hooks.log?.(l);
      for (const f of d.forced) this.members.find((m) => m.name === f.name)?.force(f.to);
    } finally {
      this.queue.length = 0;
      this.busy = false;
      this.groupState = d.groupState;
    }
    if (d.notify) this.hooks.notify?.(d.notify);
    if (views.some((v) => v.state !== VrrpState.INIT)) this.announced = true;
    // a member whose down timer already expired (wantMaster) does not signal it again: look now
    const want = this.members.find((m) => {
      const v = m.view();
      return v.state === VrrpState.BACKUP && v.wantMaster;
    });
    if (want) this.changed(want.name, VrrpState.BACKUP);
    return d;
  }

  private changed(name: string, from: VrrpState): void {
    if (this.stopped) return;
    this.queue.push({ name, from });
    if (this.busy) return; // a forced transition re-entered us; handled in the loop below
    this.busy = true;
    try {
      for (let tr = this.queue.shift(); tr; tr = this.queue.shift()) {
        const d = syncGroupStep(
          this.name,
          this.groupState,
          this.members.map((m) => m.view()),
          tr,
        );
        for (const l of d.logs) this.hooks.log?.(l);
        for (const f of d.forced) this.members.find((m) => m.name === f.name)?.force(f.to);
        // keepalived (vrrp_sync.c) sets the group state after forcing the members, so their own
        // transitions still see the old group state (it decides whether instance notifies are sent).
        this.groupState = d.groupState;
        if (d.notify) this.hooks.notify?.(d.notify);
        else if (!this.announced && tr.from === VrrpState.INIT && !this.stopped)
          // the first member placed, the group staying where it starts (BACKUP): keepalived 2.2.7
          // still runs the group's notify_backup and `GROUP name BACKUP 0`
          this.hooks.notify?.(stateName(this.groupState));
        if (d.notify || tr.from === VrrpState.INIT) this.announced = true;
      }
    } finally {
      this.busy = false;
    }
  }
}
