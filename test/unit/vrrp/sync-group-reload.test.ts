/**
 * Sync groups rebuilt by a reload (src/vrrp/sync-group.ts syncGroupReloadStep and
 * SyncGroupCoordinator.adopt/retire), against what Debian's keepalived 2.2.7 did in the lab:
 * (a) MASTER joins a MASTER group, (c) new group over two MASTERs: nothing moves, no notify;
 * (e) a FAULT instance joins a MASTER group: GROUP FAULT, the MASTER forced to FAULT;
 * new group over a MASTER and a BACKUP, or a BACKUP (or new) member joining a MASTER group: GROUP
 * BACKUP, the MASTERs forced to BACKUP. A group made by a reload notifies STOP at stop.
 */
import { describe, expect, it } from 'vitest';
import {
  SyncGroupCoordinator,
  type SyncMember,
  type SyncMemberView,
  syncGroupReloadStep,
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

describe('syncGroupReloadStep', () => {
  it('every member MASTER: the group is MASTER, nothing forced, no notify', () => {
    expect(syncGroupReloadStep('G1', [m('A', MASTER), m('B', MASTER)])).toEqual({
      groupState: MASTER,
      forced: [],
      notify: null,
      logs: [],
    });
  });

  it('every member BACKUP: BACKUP, nothing forced, no notify', () => {
    expect(syncGroupReloadStep('G1', [m('A', BACKUP), m('B', BACKUP)])).toEqual({
      groupState: BACKUP,
      forced: [],
      notify: null,
      logs: [],
    });
  });

  it('a member faulted on its own: FAULT, the others forced to FAULT, keepalived log line', () => {
    const d = syncGroupReloadStep('G1', [m('VI_1', MASTER), m('VI_3', FAULT, { faulted: true })]);
    expect(d).toEqual({
      groupState: FAULT,
      forced: [{ name: 'VI_1', to: 'FAULT' }],
      notify: 'FAULT',
      logs: ['VRRP_Group(G1): Syncing VI_3 to FAULT state'],
    });
  });

  it('MASTER with BACKUP (or a new member in INIT): BACKUP, the MASTERs forced to BACKUP', () => {
    expect(syncGroupReloadStep('G1', [m('A', MASTER), m('B', BACKUP)])).toEqual({
      groupState: BACKUP,
      forced: [{ name: 'A', to: 'BACKUP' }],
      notify: 'BACKUP',
      logs: [],
    });
    expect(syncGroupReloadStep('G1', [m('A', MASTER), m('B', MASTER), m('C', INIT)])).toMatchObject({
      groupState: BACKUP,
      forced: [
        { name: 'A', to: 'BACKUP' },
        { name: 'B', to: 'BACKUP' },
      ],
    });
  });

  it('members only forced into FAULT before (the faulted one left) go back to BACKUP', () => {
    expect(syncGroupReloadStep('G1', [m('A', FAULT), m('B', BACKUP)])).toEqual({
      groupState: BACKUP,
      forced: [{ name: 'A', to: 'BACKUP' }],
      notify: 'BACKUP',
      logs: [],
    });
  });

  it('only new members: BACKUP without a notify (the first one placed notifies, as at start)', () => {
    expect(syncGroupReloadStep('G1', [m('A', INIT), m('B', INIT)])).toEqual({
      groupState: BACKUP,
      forced: [],
      notify: null,
      logs: [],
    });
  });
});

/** A member whose forced transitions are applied at once and reported to its listeners. */
class FakeMember implements SyncMember {
  private readonly listeners: ((from: VrrpState) => void)[] = [];
  readonly forcedTo: ForcedState[] = [];
  constructor(
    readonly name: string,
    public v: SyncMemberView,
  ) {}
  view(): SyncMemberView {
    return this.v;
  }
  force(to: ForcedState): void {
    this.forcedTo.push(to);
    const from = this.v.state;
    this.v = { ...this.v, state: VrrpState[to], wantMaster: false };
    for (const l of this.listeners) l(from);
  }
  onChange(listener: (from: VrrpState) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  get listenerCount(): number {
    return this.listeners.length;
  }
  set(state: VrrpState, o: Partial<SyncMemberView> = {}): void {
    const from = this.v.state;
    this.v = { ...this.v, state, ...o };
    for (const l of this.listeners) l(from);
  }
}

describe('SyncGroupCoordinator across a reload', () => {
  const coordinator = (members: FakeMember[]) => {
    const notified: string[] = [];
    const logs: string[] = [];
    const g = new SyncGroupCoordinator('G1', members, {
      notify: (s) => notified.push(s),
      log: (l) => logs.push(l),
    });
    return { g, notified, logs };
  };

  it('adopt forces the members once, notifies the group once, and STOP follows at stop', () => {
    const a = new FakeMember('A', m('A', MASTER));
    const b = new FakeMember('B', m('B', FAULT, { faulted: true }));
    const { g, notified, logs } = coordinator([a, b]);
    const d = g.adopt(MASTER);
    expect(d.groupState).toBe(FAULT);
    expect(g.state).toBe(FAULT);
    expect(a.forcedTo).toEqual(['FAULT']);
    expect(notified).toEqual(['FAULT']);
    expect(logs).toEqual(['VRRP_Group(G1): Syncing B to FAULT state']);
    // the faulted member recovers: the group leaves FAULT as it does outside a reload
    b.set(FAULT, { faulted: false });
    expect(g.state).toBe(BACKUP);
    expect(a.forcedTo).toEqual(['FAULT', 'BACKUP']);
    g.stop();
    expect(notified).toEqual(['FAULT', 'BACKUP', 'STOP']);
  });

  it('a group made over two MASTERs is MASTER silently and still notifies STOP', () => {
    const a = new FakeMember('A', m('A', MASTER));
    const b = new FakeMember('B', m('B', MASTER));
    const { g, notified } = coordinator([a, b]);
    g.adopt();
    expect(g.state).toBe(MASTER);
    expect(notified).toEqual([]);
    expect(a.forcedTo).toEqual([]);
    g.stop();
    expect(notified).toEqual(['STOP']);
  });

  it('during adopt the forced members see the prior group state (their own notifies are sent)', () => {
    const a = new FakeMember('A', m('A', MASTER));
    const b = new FakeMember('B', m('B', BACKUP));
    const seen: VrrpState[] = [];
    const { g } = coordinator([a, b]);
    a.onChange(() => seen.push(g.state));
    g.adopt();
    // a new group: INIT while A moves, BACKUP after
    expect(seen).toEqual([INIT]);
    expect(g.state).toBe(BACKUP);
  });

  it('a retired group ignores its members and notifies nothing at stop', () => {
    const a = new FakeMember('A', m('A', BACKUP));
    const b = new FakeMember('B', m('B', BACKUP));
    const { g, notified } = coordinator([a, b]);
    a.set(BACKUP, { wantMaster: true });
    b.set(BACKUP, { wantMaster: true });
    expect([a.forcedTo, b.forcedTo]).toEqual([['MASTER'], ['MASTER']]);
    expect(notified).toEqual(['MASTER']);
    g.retire();
    a.set(FAULT, { faulted: true });
    // a live group would have forced B to FAULT
    expect(b.forcedTo).toEqual(['MASTER']);
    g.stop();
    expect(notified).toEqual(['MASTER']);
  });

  it('members whose down timer already expired (wantMaster) make a shrunk group MASTER at adopt', () => {
    // G1 {A, B, C}: a peer was MASTER of B only, A and C waited for B. The reload drops B.
    const a = new FakeMember('A', m('A', BACKUP, { wantMaster: true }));
    const c = new FakeMember('C', m('C', BACKUP, { wantMaster: true }));
    const { g, notified } = coordinator([a, c]);
    g.adopt(BACKUP);
    // keepalived 2.2.7 (lab): GROUP G1 MASTER, both members MASTER; no later expiry would signal it
    expect(g.state).toBe(MASTER);
    expect([a.forcedTo, c.forcedTo]).toEqual([['MASTER'], ['MASTER']]);
    expect(notified).toEqual(['MASTER']);
  });

  it('retire and stop unsubscribe from the members (no listener kept per reload)', () => {
    const a = new FakeMember('A', m('A', BACKUP));
    const b = new FakeMember('B', m('B', BACKUP));
    for (let i = 0; i < 50; i++) coordinator([a, b]).g.retire();
    expect([a.listenerCount, b.listenerCount]).toEqual([0, 0]);
    coordinator([a, b]).g.stop();
    expect([a.listenerCount, b.listenerCount]).toEqual([0, 0]);
  });
});
