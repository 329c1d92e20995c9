import { describe, expect, it } from 'vitest';
import {
  SyncGroupCoordinator,
  type SyncMember,
  type SyncMemberView,
  syncGroupStep,
} from '../../../src/vrrp/sync-group.js';
import { type ForcedState, VrrpState } from '../../../src/vrrp/types.js';

const { INIT, BACKUP, MASTER, FAULT } = VrrpState;
const m = (name: string, state: VrrpState, o: Partial<SyncMemberView> = {}): SyncMemberView => ({
  name,
  state,
  wantMaster: false,
  faulted: false,
  ...o,
});

describe('syncGroupStep', () => {
  it('one member faulting forces every BACKUP/MASTER member to FAULT', () => {
    const d = syncGroupStep('G1', MASTER, [m('A', FAULT, { faulted: true }), m('B', MASTER), m('C', INIT)], {
      name: 'A',
      from: MASTER,
    });
    expect(d).toEqual({
      groupState: FAULT,
      forced: [{ name: 'B', to: 'FAULT' }],
      notify: 'FAULT',
      logs: ['VRRP_Group(G1) Syncing instances to FAULT state'],
    });
  });

  it('a member leaving INIT into a group in FAULT is forced to FAULT, without a second group notify', () => {
    // keepalived 2.2.7, observed: VI_1's interface missing at start (dynamic_interfaces) puts the
    // group and VI_2 in FAULT ("VRRP_Group(G1): Syncing VI_1 to FAULT state", "(VI_2) entering FAULT state")
    const d = syncGroupStep('G1', FAULT, [m('A', FAULT, { faulted: true }), m('B', BACKUP)], {
      name: 'B',
      from: INIT,
    });
    expect(d).toEqual({ groupState: FAULT, forced: [{ name: 'B', to: 'FAULT' }], notify: null, logs: [] });
    // a member faulted by its own tracking is already where it belongs
    const own = syncGroupStep(
      'G1',
      FAULT,
      [m('A', FAULT, { faulted: true }), m('B', FAULT, { faulted: true })],
      {
        name: 'B',
        from: INIT,
      },
    );
    expect(own.forced).toEqual([]);
  });

  it('the group stays in FAULT while any member is faulted, and leaves when none is', () => {
    const still = syncGroupStep(
      'G1',
      FAULT,
      [m('A', FAULT, { faulted: true }), m('B', FAULT, { faulted: false })],
      {
        name: 'B',
        from: FAULT,
      },
    );
    expect([still.groupState, still.forced, still.notify]).toEqual([FAULT, [], null]);
    const out = syncGroupStep('G1', FAULT, [m('A', FAULT), m('B', FAULT)], { name: 'A', from: FAULT });
    expect(out).toEqual({
      groupState: BACKUP,
      forced: [
        { name: 'A', to: 'BACKUP' },
        { name: 'B', to: 'BACKUP' },
      ],
      notify: 'BACKUP',
      logs: ['VRRP_Group(G1) Leaving FAULT state'],
    });
  });

  it('MASTER only when every member wants it ("prefer backup to avoid thrashing")', () => {
    const alone = syncGroupStep('G1', BACKUP, [m('A', BACKUP, { wantMaster: true }), m('B', BACKUP)], {
      name: 'A',
      from: BACKUP,
    });
    expect([alone.groupState, alone.forced]).toEqual([BACKUP, []]);
    const both = syncGroupStep(
      'G1',
      BACKUP,
      [m('A', BACKUP, { wantMaster: true }), m('B', BACKUP, { wantMaster: true })],
      { name: 'B', from: BACKUP },
    );
    expect(both).toEqual({
      groupState: MASTER,
      forced: [
        { name: 'A', to: 'MASTER' },
        { name: 'B', to: 'MASTER' },
      ],
      notify: 'MASTER',
      logs: ['VRRP_Group(G1) Syncing instances to MASTER state'],
    });
  });

  it('in a MASTER group a member that wants MASTER goes at once, without a new group notify', () => {
    const d = syncGroupStep('G1', MASTER, [m('A', MASTER), m('B', BACKUP, { wantMaster: true })], {
      name: 'B',
      from: BACKUP,
    });
    expect(d).toEqual({ groupState: MASTER, forced: [{ name: 'B', to: 'MASTER' }], notify: null, logs: [] });
  });

  it('a member leaving MASTER for BACKUP takes the other masters with it', () => {
    const d = syncGroupStep('G1', MASTER, [m('A', BACKUP), m('B', MASTER), m('C', MASTER)], {
      name: 'A',
      from: MASTER,
    });
    expect(d.forced).toEqual([
      { name: 'B', to: 'BACKUP' },
      { name: 'C', to: 'BACKUP' },
    ]);
    expect([d.groupState, d.notify]).toEqual([BACKUP, 'BACKUP']);
  });

  it('an unknown trigger or an uneventful change does nothing', () => {
    expect(syncGroupStep('G1', BACKUP, [m('A', BACKUP)], { name: 'Z', from: BACKUP }).forced).toEqual([]);
    expect(syncGroupStep('G1', BACKUP, [m('A', BACKUP), m('B', BACKUP)], { name: 'A', from: INIT })).toEqual({
      groupState: BACKUP,
      forced: [],
      notify: null,
      logs: [],
    });
  });
});

/** A member that applies forced transitions to its own view and reports them, like VrrpInstance. */
class FakeMember implements SyncMember {
  private listeners: ((from: VrrpState) => void)[] = [];
  readonly forcedLog: ForcedState[] = [];
  constructor(
    readonly name: string,
    public v: SyncMemberView,
  ) {}
  view(): SyncMemberView {
    return { ...this.v };
  }
  onChange(l: (from: VrrpState) => void): undefined {
    this.listeners.push(l);
    return undefined;
  }
  set(next: Partial<SyncMemberView>): void {
    const from = this.v.state;
    this.v = { ...this.v, ...next };
    for (const l of this.listeners) l(from);
  }
  force(to: ForcedState): void {
    this.forcedLog.push(to);
    this.set({ state: VrrpState[to], wantMaster: false });
  }
}

describe('SyncGroupCoordinator', () => {
  it('applies forced transitions, handles the re-entrant changes they cause, notifies once per group move', () => {
    const a = new FakeMember('A', m('A', BACKUP));
    const b = new FakeMember('B', m('B', BACKUP));
    const logs: string[] = [];
    const notes: string[] = [];
    const g = new SyncGroupCoordinator('G1', [a, b], {
      log: (l) => logs.push(l),
      notify: (s) => notes.push(s),
    });
    a.set({ wantMaster: true });
    expect([a.forcedLog, b.forcedLog, g.state]).toEqual([[], [], BACKUP]);
    b.set({ wantMaster: true });
    expect([a.forcedLog, b.forcedLog, g.state]).toEqual([['MASTER'], ['MASTER'], MASTER]);
    a.set({ state: FAULT, faulted: true });
    expect([b.forcedLog, g.state]).toEqual([['MASTER', 'FAULT'], FAULT]);
    a.set({ faulted: false });
    expect([a.v.state, b.v.state, g.state]).toEqual([BACKUP, BACKUP, BACKUP]);
    expect(notes).toEqual(['MASTER', 'FAULT', 'BACKUP']);
    expect(logs).toEqual([
      'VRRP_Group(G1) Syncing instances to MASTER state',
      'VRRP_Group(G1) Syncing instances to FAULT state',
      'VRRP_Group(G1) Leaving FAULT state',
    ]);
  });
});

describe('SyncGroupCoordinator: start and stop notifies (keepalived 2.2.7)', () => {
  it('notifies the initial BACKUP once, when the first member leaves INIT, and STOP at stop', () => {
    const a = new FakeMember('A', m('A', INIT));
    const b = new FakeMember('B', m('B', INIT));
    const notes: string[] = [];
    const g = new SyncGroupCoordinator('G1', [a, b], { notify: (s) => notes.push(s) });
    a.set({ state: BACKUP });
    b.set({ state: BACKUP });
    expect(notes).toEqual(['BACKUP']);
    a.set({ wantMaster: true });
    b.set({ wantMaster: true });
    expect(notes).toEqual(['BACKUP', 'MASTER']);
    g.stop();
    // members going to INIT after the group's STOP change nothing
    a.set({ state: INIT, wantMaster: false });
    g.stop();
    expect(notes).toEqual(['BACKUP', 'MASTER', 'STOP']);
  });

  it('a group starting in FAULT notifies FAULT only (no BACKUP first)', () => {
    const a = new FakeMember('A', m('A', INIT));
    const b = new FakeMember('B', m('B', INIT));
    const notes: string[] = [];
    new SyncGroupCoordinator('G1', [a, b], { notify: (s) => notes.push(s) });
    a.set({ state: FAULT, faulted: true });
    b.set({ state: BACKUP });
    expect(notes).toEqual(['FAULT']);
  });

  it('a group whose members never left INIT notifies nothing at stop', () => {
    const a = new FakeMember('A', m('A', INIT));
    const notes: string[] = [];
    const g = new SyncGroupCoordinator('G1', [a], { notify: (s) => notes.push(s) });
    g.stop();
    expect(notes).toEqual([]);
  });
});
