import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { compareIp, initialState, type Machine, machineConfig, step } from '../../../src/vrrp/machine.js';
import { type MachineConfig, type VrrpAction, type VrrpEvent, VrrpState } from '../../../src/vrrp/types.js';
import { rx } from './helpers.js';

type Opts = Parameters<typeof machineConfig>[0];
const T0 = 10_000_000;

function cfg(o: Partial<Opts> = {}): MachineConfig {
  return machineConfig({ name: 'VI_1', vrid: 1, primaryIp: '192.0.2.1', ...o });
}

/** Run events in order; returns the final state and the actions of the last event. */
function run(m: Machine, ...evs: [VrrpEvent, number][]): { m: Machine; actions: VrrpAction[] } {
  let actions: VrrpAction[] = [];
  for (const [ev, now] of evs) ({ state: m, actions } = step(m, ev, now));
  return { m, actions };
}

const start = (o: Partial<Opts> = {}) => run(initialState(cfg(o)), [{ type: 'startup' }, T0]);
const log = (message: string, level: 'info' | 'warn' | 'debug' = 'info'): VrrpAction => ({
  type: 'log',
  level,
  message,
});
const becomeMaster = (prio: number): VrrpAction[] => [
  { type: 'sendAdvert', priority: prio },
  log('(VI_1) Entering MASTER STATE'),
  { type: 'addVips' },
  { type: 'addRoutes' },
  { type: 'addRules' },
  { type: 'sendGarps', count: 5 },
  { type: 'notify', state: 'MASTER', priority: prio },
];
const removeAll: VrrpAction[] = [{ type: 'removeRules' }, { type: 'removeRoutes' }, { type: 'removeVips' }];

/** A machine that became MASTER at T0 + its MDI. */
function master(o: Partial<Opts> = {}) {
  const s = start(o);
  const at = s.m.timers.down as number;
  return { ...run(s.m, [{ type: 'timer', timer: 'down' }, at]), at };
}

describe('startup (RFC 5798 §6.4.1, keepalived: always BACKUP first)', () => {
  it('removes stale addresses, enters BACKUP (init), notifies, arms Master_Down_Timer', () => {
    const { m, actions } = start();
    expect(actions).toEqual([
      ...removeAll,
      log('(VI_1) Entering BACKUP STATE (init)'),
      { type: 'notify', state: 'BACKUP', priority: 100 },
    ]);
    expect(m.state).toBe(VrrpState.BACKUP);
    expect(m.timers).toEqual({ down: T0 + 3_609_375 });
    expect(m.masterAdverIntUs).toBe(1_000_000);
  });

  it('priority 255 owner: down timer 1 µs, then MASTER in keepalived order', () => {
    const s = start({ priority: 255 });
    expect(s.m.timers).toEqual({ down: T0 + 1 });
    const { m, actions } = run(s.m, [{ type: 'timer', timer: 'down' }, T0 + 1]);
    expect(actions).toEqual(becomeMaster(255));
    expect(m.state).toBe(VrrpState.MASTER);
    expect(m.timers).toEqual({ advert: T0 + 1 + 1_000_000, garpDelay: T0 + 1 + 5_000_000 });
  });

  it('priority 255 with state BACKUP waits the normal MDI', () => {
    expect(start({ priority: 255, initialState: 'BACKUP' }).m.timers).toEqual({ down: T0 + 3_003_906 });
  });

  it('state MASTER below 255 behaves like BACKUP (MDI); in a sync group it waits AdvInt + SKEW_MIN', () => {
    expect(start({ initialState: 'MASTER' }).m.timers).toEqual({ down: T0 + 3_609_375 });
    expect(start({ initialState: 'MASTER', syncGroup: true }).m.timers).toEqual({ down: T0 + 1_003_906 });
  });

  it('a tracked fault before startup starts in FAULT with no timer', () => {
    const { m, actions } = run(initialState(cfg()), [{ type: 'fault' }, T0], [{ type: 'startup' }, T0]);
    expect(m.state).toBe(VrrpState.FAULT);
    expect(m.timers).toEqual({});
    expect(actions.slice(3)).toEqual([
      log('(VI_1) Entering FAULT STATE (init)'),
      { type: 'notify', state: 'FAULT', priority: 100 },
    ]);
  });

  it('a member of a sync group starting in FAULT enters FAULT (init) unfaulted; the group takes it out', () => {
    const { m, actions } = run(initialState(cfg({ syncGroup: true })), [
      { type: 'startup', groupFault: true },
      T0,
    ]);
    expect(m.state).toBe(VrrpState.FAULT);
    expect(m.faulted).toBe(false);
    expect(actions.slice(3)).toEqual([
      log('(VI_1) Entering FAULT STATE (init)'),
      { type: 'notify', state: 'FAULT', priority: 100 },
    ]);
    const out = run(m, [{ type: 'force', to: 'BACKUP' }, T0 + 10]);
    expect(out.m.state).toBe(VrrpState.BACKUP);
    expect(out.m.timers.down).toBeDefined();
  });

  it('a second startup is ignored', () => {
    const s = start();
    expect(run(s.m, [{ type: 'startup' }, T0 + 5]).actions).toEqual([]);
  });
});

describe('BACKUP receiving adverts (§6.4.2)', () => {
  it('higher or equal priority: reset Master_Down_Timer, remember the master', () => {
    const s = start();
    const { m, actions } = run(s.m, [{ type: 'advert', rx: rx(150, '192.0.2.2') }, T0 + 500_000]);
    expect(actions).toEqual([]);
    expect(m.timers).toEqual({ down: T0 + 500_000 + 3_609_375 });
    expect([m.masterAddr, m.masterPriority]).toEqual(['192.0.2.2', 150]);
    expect(run(s.m, [{ type: 'advert', rx: rx(100, '192.0.2.2') }, T0 + 7]).m.timers.down).toBe(
      T0 + 7 + 3_609_375,
    );
  });

  it('lower priority with preempt: discarded with keepalived log line, timer keeps running', () => {
    const s = start({ priority: 150 });
    const { m, actions } = run(s.m, [{ type: 'advert', rx: rx(100, '192.0.2.2') }, T0 + 500_000]);
    expect(actions).toEqual([log('(VI_1) received lower priority (100) advert from 192.0.2.2 - discarding')]);
    expect(m.timers).toEqual(s.m.timers);
  });

  it('nopreempt accepts a lower-priority master', () => {
    const s = start({ priority: 150, nopreempt: true });
    const { m } = run(s.m, [{ type: 'advert', rx: rx(100, '192.0.2.2') }, T0 + 500_000]);
    expect(m.timers).toEqual({ down: T0 + 500_000 + 3_414_062 });
  });

  it('priority 0: "Backup received priority 0 advertisement", down timer = Skew_Time', () => {
    const s = start();
    const { m, actions } = run(s.m, [{ type: 'advert', rx: rx(0, '192.0.2.2') }, T0 + 1_000]);
    expect(actions).toEqual([log('(VI_1) Backup received priority 0 advertisement')]);
    expect(m.timers).toEqual({ down: T0 + 1_000 + 609_375 });
  });

  it('preempt_delay: lower-priority adverts are accepted until the delay runs out, then discarded', () => {
    const s = start({ priority: 150, preemptDelayUs: 2_000_000 });
    const a = rx(100, '192.0.2.2');
    let r = run(s.m, [{ type: 'advert', rx: a }, T0 + 1_000_000]);
    expect(r.m.preemptAt).toBe(T0 + 3_000_000);
    expect(r.actions).toEqual([log('(VI_1) start preempt delay (2.000000)', 'debug')]);
    r = run(r.m, [{ type: 'advert', rx: a }, T0 + 2_999_999]);
    expect(r.m.timers.down).toBe(T0 + 2_999_999 + 3_414_062);
    const held = r.m.timers.down;
    r = run(r.m, [{ type: 'advert', rx: a }, T0 + 3_000_000]);
    expect(r.actions).toEqual([
      log('(VI_1) received lower priority (100) advert from 192.0.2.2 - discarding'),
    ]);
    expect(r.m.timers.down).toBe(held);
  });

  it('preempt_delay: an advert at or above our priority stops the delay', () => {
    const s = start({ priority: 150, preemptDelayUs: 2_000_000 });
    let r = run(s.m, [{ type: 'advert', rx: rx(100, '192.0.2.2') }, T0 + 1]);
    r = run(r.m, [{ type: 'advert', rx: rx(200, '192.0.2.3') }, T0 + 2]);
    expect(r.m.preemptAt).toBeNull();
    expect(r.actions).toEqual([log('(VI_1) stop preempt delay', 'debug')]);
  });

  it('v3 learns Master_Adver_Interval from the advert and derives MDI from it', () => {
    const s = start({ version: 3, advertIntervalUs: 1_000_000 });
    const { m, actions } = run(s.m, [
      { type: 'advert', rx: rx(150, '192.0.2.2', { version: 3, advertInterval: 10 }) },
      T0,
    ]);
    expect(m.masterAdverIntUs).toBe(100_000);
    expect(m.timers).toEqual({ down: T0 + 360_937 });
    expect(actions).toEqual([
      log('(VI_1) advertisement interval updated to 100 milli-sec from 1000 milli-sec'),
    ]);
  });

  it('v2 never learns an interval', () => {
    const { m } = run(start().m, [{ type: 'advert', rx: rx(150, '192.0.2.2', { advertInterval: 3 }) }, T0]);
    expect(m.masterAdverIntUs).toBe(1_000_000);
  });

  it('an advert whose source is not an address is dropped with a typed code', () => {
    const { m, actions } = run(start().m, [{ type: 'advert', rx: rx(150, 'not-an-ip') }, T0]);
    expect(actions).toEqual([
      {
        type: 'dropped',
        code: 'KA_ERR_VRRP_ADVERT_SRC',
        message: '(VI_1) advert source "not-an-ip" is not an IP address',
      },
    ]);
    expect(m.timers.down).toBe(T0 + 3_609_375);
  });
});

describe('Master_Down_Timer expiry (§6.4.2) and MASTER timers (§6.4.3)', () => {
  it('becomes MASTER in keepalived order: advert, log, VIPs, routes, rules, GARP burst, notify', () => {
    const { m, actions, at } = master();
    expect(at).toBe(T0 + 3_609_375);
    expect(actions).toEqual(becomeMaster(100));
    expect(m.timers).toEqual({ advert: at + 1_000_000, garpDelay: at + 5_000_000 });
    expect(m.vipsSet).toBe(true);
  });

  it('sends an advert every Advertisement_Interval and the second GARP burst after garp_master_delay', () => {
    const { m, at } = master();
    let r = run(m, [{ type: 'timer', timer: 'advert' }, at + 1_000_000]);
    expect(r.actions).toEqual([{ type: 'sendAdvert', priority: 100 }]);
    expect(r.m.timers.advert).toBe(at + 2_000_000);
    r = run(r.m, [{ type: 'timer', timer: 'garpDelay' }, at + 5_000_000]);
    expect(r.actions).toEqual([{ type: 'sendGarps', count: 5 }]);
    expect(r.m.timers.garpDelay).toBeUndefined();
  });

  it('garp_master_delay 0 means no second burst; garp_master_repeat 0 no burst at all', () => {
    const { m, actions } = master({ garp: { masterDelayUs: 0, masterRepeat: 0 } });
    expect(m.timers.garpDelay).toBeUndefined();
    expect(actions.some((a) => a.type === 'sendGarps')).toBe(false);
  });

  it('garp_master_refresh: checked at each advert, sent once the refresh time has passed', () => {
    const { m, at } = master({ garp: { masterRefreshUs: 2_000_000, masterRefreshRepeat: 2 } });
    expect(m.garpRefreshAt).toBe(at + 2_000_000);
    let r = run(m, [{ type: 'timer', timer: 'advert' }, at + 1_000_000]);
    r = run(r.m, [{ type: 'timer', timer: 'advert' }, at + 2_000_000]);
    expect(r.actions).toEqual([{ type: 'sendAdvert', priority: 100 }]); // not strictly after yet
    r = run(r.m, [{ type: 'timer', timer: 'advert' }, at + 3_000_000]);
    expect(r.actions).toEqual([
      { type: 'sendAdvert', priority: 100 },
      { type: 'sendGarps', count: 2 },
    ]);
    expect(r.m.garpRefreshAt).toBe(at + 5_000_000);
  });

  it('stale and early timer events are ignored', () => {
    const s = start();
    expect(run(s.m, [{ type: 'timer', timer: 'advert' }, T0 + 5_000_000]).actions).toEqual([]);
    const early = run(s.m, [{ type: 'timer', timer: 'down' }, T0 + 3_609_374]);
    expect(early.actions).toEqual([]);
    expect(early.m.timers.down).toBe(T0 + 3_609_375);
  });
});

describe('MASTER receiving adverts (§6.4.3 + keepalived)', () => {
  it('priority 0: answer with an advert at once and restart the advert timer', () => {
    const { m, at } = master();
    const r = run(m, [{ type: 'advert', rx: rx(0, '192.0.2.2') }, at + 300_000]);
    expect(r.actions).toEqual([
      { type: 'sendAdvert', priority: 100 },
      log('(VI_1) Master received priority 0 message', 'debug'),
    ]);
    expect(r.m.state).toBe(VrrpState.MASTER);
    expect(r.m.timers.advert).toBe(at + 1_300_000);
  });

  it('lower priority: log, advert, GARP burst, lower-prio notify, delayed burst, advert timer restart', () => {
    const { m, at } = master({ priority: 150 });
    const r = run(m, [{ type: 'advert', rx: rx(100, '192.0.2.2') }, at + 400_000]);
    expect(r.actions).toEqual([
      log('(VI_1) Received advert from 192.0.2.2 with lower priority 100, ours 150, forcing new election'),
      { type: 'sendAdvert', priority: 150 },
      { type: 'sendGarps', count: 5 },
      { type: 'notifyMasterRxLowerPri', priority: 150 },
    ]);
    expect(r.m.timers).toEqual({
      advert: at + 1_400_000,
      garpDelay: at + 5_000_000,
      garpLowerPrio: at + 5_400_000,
    });
    const later = run(r.m, [{ type: 'timer', timer: 'garpLowerPrio' }, at + 5_400_000]);
    expect(later.actions).toEqual([{ type: 'sendGarps', count: 5 }]);
  });

  it('lower_prio_no_advert: no answer, advert timer left alone; garp_lower_prio_repeat 0: no GARP', () => {
    const { m, at } = master({ priority: 150, lowerPrioNoAdvert: true, garp: { lowerPrioRepeat: 0 } });
    const r = run(m, [{ type: 'advert', rx: rx(100, '192.0.2.2') }, at + 400_000]);
    expect(r.actions).toEqual([
      log('(VI_1) Received advert from 192.0.2.2 with lower priority 100, ours 150'),
      { type: 'notifyMasterRxLowerPri', priority: 150 },
    ]);
    expect(r.m.timers.advert).toBe(at + 1_000_000);
  });

  it('higher priority: yield to BACKUP without a priority-0 advert, removing rules, routes, VIPs', () => {
    const { m, at } = master();
    const r = run(m, [{ type: 'advert', rx: rx(150, '192.0.2.2') }, at + 200_000]);
    expect(r.actions).toEqual([
      log('(VI_1) Master received advert from 192.0.2.2 with higher priority 150, ours 100'),
      log('(VI_1) Entering BACKUP STATE'),
      ...removeAll,
      { type: 'notify', state: 'BACKUP', priority: 100 },
    ]);
    expect(r.m.state).toBe(VrrpState.BACKUP);
    expect(r.m.timers).toEqual({ down: at + 200_000 + 3_609_375 });
    expect(r.m.vipsSet).toBe(false);
  });

  it('higher_prio_send_advert: one advert before yielding', () => {
    const { m, at } = master({ higherPrioSendAdvert: true });
    const r = run(m, [{ type: 'advert', rx: rx(150, '192.0.2.2') }, at + 1]);
    expect(r.actions[0]).toEqual({ type: 'sendAdvert', priority: 100 });
    expect(r.m.state).toBe(VrrpState.BACKUP);
  });

  it('v3: learns the new master interval when yielding', () => {
    const { m, at } = master({ version: 3, advertIntervalUs: 100_000 });
    const r = run(m, [{ type: 'advert', rx: rx(150, '192.0.2.2', { version: 3, advertInterval: 100 }) }, at]);
    expect(r.m.masterAdverIntUs).toBe(1_000_000);
    expect(r.m.timers).toEqual({ down: at + 3_609_375 });
    expect(r.actions[1]).toEqual(
      log('(VI_1) advertisement interval updated from 100 to 1000 milli-sec from higher priority master'),
    );
  });

  it('equal priority: the higher primary address wins, compared as unsigned integers', () => {
    // String order would put "192.0.2.9" above "192.0.2.10"; numeric order does not.
    const { m, at } = master({ primaryIp: '192.0.2.9' });
    const r = run(m, [{ type: 'advert', rx: rx(100, '192.0.2.10') }, at + 1]);
    expect(r.actions[0]).toEqual(
      log(
        '(VI_1) Master received advert from 192.0.2.10 with same priority 100 but higher IP address than ours',
      ),
    );
    expect(r.m.state).toBe(VrrpState.BACKUP);
    const low = run(m, [{ type: 'advert', rx: rx(100, '192.0.2.8') }, at + 1]);
    expect(low.m.state).toBe(VrrpState.MASTER);
    expect(low.actions[0]).toEqual(
      log('(VI_1) Received advert from 192.0.2.8 with lower priority 100, ours 100, forcing new election'),
    );
  });

  it('equal priority from our own address: warning only', () => {
    const { m, at } = master();
    const r = run(m, [{ type: 'advert', rx: rx(100, '192.0.2.1') }, at + 1]);
    expect(r.actions).toEqual([
      log('(VI_1) WARNING - equal priority advert received from remote host with our IP address.', 'warn'),
    ]);
    expect(r.m.state).toBe(VrrpState.MASTER);
  });

  it('two address owners: ours drops to 254 and yields to the other 255', () => {
    const s = start({ priority: 255 });
    const m = run(s.m, [{ type: 'timer', timer: 'down' }, T0 + 1]).m;
    const r = run(m, [{ type: 'advert', rx: rx(255, '192.0.2.2') }, T0 + 2]);
    expect(r.actions.slice(0, 2)).toEqual([
      log(
        '(VI_1) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority',
        'warn',
      ),
      log('(VI_1) Master received advert from 192.0.2.2 with higher priority 255, ours 254'),
    ]);
    expect([r.m.effectivePriority, r.m.basePriority, r.m.state]).toEqual([254, 254, VrrpState.BACKUP]);
  });
});

describe('compareIp', () => {
  it('IPv6 compares all 128 bits big-endian', () => {
    expect(compareIp('fd00::1:0', 'fd00::ffff')).toBe(1);
    expect(compareIp('fe80::ff:fe00:5501', 'fe80::ff:fe00:5502')).toBe(-1);
    expect(compareIp('fd00::1', 'fd00:0:0:0:0:0:0:1')).toBe(0);
  });
  it('mixed families compare equal (keepalived); garbage is null', () => {
    expect(compareIp('192.0.2.1', 'fd00::1')).toBe(0);
    expect(compareIp('x', '192.0.2.1')).toBeNull();
  });
});

describe('FAULT (keepalived)', () => {
  it('MASTER -> FAULT: log, priority-0 advert, remove rules/routes/VIPs, notify; timers stop', () => {
    const { m, at } = master();
    const r = run(m, [{ type: 'fault' }, at + 10]);
    expect(r.actions).toEqual([
      log('(VI_1) Entering FAULT STATE'),
      { type: 'sendAdvert', priority: 0 },
      ...removeAll,
      { type: 'notify', state: 'FAULT', priority: 100 },
    ]);
    expect(r.m.state).toBe(VrrpState.FAULT);
    expect(r.m.timers).toEqual({});
  });

  it('in FAULT adverts are ignored; leaving FAULT goes BACKUP with MAI reset and a fresh MDI', () => {
    const s = start({ version: 3 });
    let r = run(s.m, [{ type: 'advert', rx: rx(150, '192.0.2.2', { version: 3, advertInterval: 10 }) }, T0]);
    expect(r.m.masterAdverIntUs).toBe(100_000);
    r = run(r.m, [{ type: 'fault' }, T0 + 1]);
    expect(r.actions).toEqual([
      log('(VI_1) Entering FAULT STATE'),
      { type: 'notify', state: 'FAULT', priority: 100 },
    ]);
    expect(run(r.m, [{ type: 'advert', rx: rx(150, '192.0.2.2', { version: 3 }) }, T0 + 2]).actions).toEqual(
      [],
    );
    r = run(r.m, [{ type: 'unfault' }, T0 + 5]);
    expect(r.actions).toEqual([
      log('(VI_1) Entering BACKUP STATE'),
      { type: 'notify', state: 'BACKUP', priority: 100 },
    ]);
    expect(r.m.masterAdverIntUs).toBe(1_000_000);
    expect(r.m.timers).toEqual({ down: T0 + 5 + 3_609_375 });
  });

  it('an owner wanting MASTER leaves FAULT with AdvInt + skew', () => {
    const s = start({ priority: 255 });
    const r = run(s.m, [{ type: 'fault' }, T0], [{ type: 'unfault' }, T0 + 10]);
    expect(r.m.timers).toEqual({ down: T0 + 10 + 1_003_906 });
  });

  it('a sync-group member stays in FAULT on unfault (the group releases it)', () => {
    const s = start({ syncGroup: true });
    const r = run(s.m, [{ type: 'fault' }, T0], [{ type: 'unfault' }, T0 + 10]);
    expect([r.m.state, r.m.faulted, r.actions]).toEqual([VrrpState.FAULT, false, []]);
    expect(run(r.m, [{ type: 'force', to: 'BACKUP' }, T0 + 11]).m.state).toBe(VrrpState.BACKUP);
  });
});

describe('shutdown, priority changes, sync-group forcing', () => {
  it('MASTER shutdown: STOP notify, priority-0 advert, "sent 0 priority", removal; back to INIT', () => {
    const { m, at } = master();
    const r = run(m, [{ type: 'shutdown' }, at + 10]);
    expect(r.actions).toEqual([
      { type: 'notify', state: 'STOP', priority: 100 },
      { type: 'sendAdvert', priority: 0 },
      log('(VI_1) sent 0 priority'),
      ...removeAll,
    ]);
    expect([r.m.state, r.m.timers]).toEqual([VrrpState.INIT, {}]);
  });

  it('BACKUP shutdown only notifies STOP', () => {
    expect(run(start().m, [{ type: 'shutdown' }, T0]).actions).toEqual([
      { type: 'notify', state: 'STOP', priority: 100 },
    ]);
  });

  it('effective priority: keepalived log line, used by the next advert; owner never moves; bad value dropped', () => {
    const { m, at } = master({ priority: 150 });
    let r = run(m, [{ type: 'priority', effectivePriority: 90 }, at + 1]);
    expect(r.actions).toEqual([log('(VI_1) Changing effective priority from 150 to 90')]);
    r = run(r.m, [{ type: 'timer', timer: 'advert' }, at + 1_000_000]);
    expect(r.actions).toEqual([{ type: 'sendAdvert', priority: 90 }]);
    expect(
      run(start({ priority: 255 }).m, [{ type: 'priority', effectivePriority: 200 }, T0]).actions,
    ).toEqual([]);
    expect(run(m, [{ type: 'priority', effectivePriority: 256 }, at]).actions[0]?.type).toBe('dropped');
  });

  it('sync group: a member whose down timer fires wants MASTER and re-arms instead of going MASTER', () => {
    const s = start({ syncGroup: true });
    const r = run(s.m, [{ type: 'timer', timer: 'down' }, T0 + 3_609_375]);
    expect([r.m.state, r.m.wantMaster]).toEqual([VrrpState.BACKUP, true]);
    expect(r.m.timers).toEqual({ down: T0 + 2 * 3_609_375 });
    const f = run(r.m, [{ type: 'force', to: 'MASTER' }, T0 + 3_609_376]);
    expect(f.actions).toEqual(becomeMaster(100));
    expect(f.m.wantMaster).toBe(false);
    const b = run(f.m, [{ type: 'force', to: 'BACKUP' }, T0 + 4_000_000]);
    expect(b.m.state).toBe(VrrpState.BACKUP);
    expect(b.actions.some((a) => a.type === 'sendAdvert')).toBe(false);
    const x = run(f.m, [{ type: 'force', to: 'FAULT' }, T0 + 4_000_000]);
    expect(x.actions[1]).toEqual({ type: 'sendAdvert', priority: 0 });
  });
});

describe('configuration checks', () => {
  it.each([
    [{ priority: 0 }, 'priority 0 not in 1..255'],
    [{ vrid: 256 }, 'virtual_router_id 256 not in 1..255'],
    [{ advertIntervalUs: 1_500_000 }, 'advert_int 1500000 µs is not 1..255 whole seconds (VRRPv2)'],
    [
      { version: 3 as const, advertIntervalUs: 5_000 },
      'advert_int 5000 µs is not 10 ms..40.95 s in 10 ms steps (VRRPv3)',
    ],
    [{ downTimerAdverts: 0 }, 'down_timer_adverts 0 not in 1..100'],
    [{ primaryIp: 'fd00::1', family: 4 as const }, 'source address fd00::1 is not an IPv4 address'],
  ])('%o is refused with KA_ERR_VRRP_MACHINE_CONFIG', (o, msg) => {
    let err: unknown;
    try {
      cfg(o);
    } catch (e) {
      err = e;
    }
    expect(isKaError(err, 'KA_ERR_VRRP_MACHINE_CONFIG')).toBe(true);
    expect((err as Error).message).toBe(`(VI_1) ${msg}`);
  });

  it('defaults follow keepalived: 100/BACKUP, 255 => MASTER, lower-prio GARP knobs follow the master ones', () => {
    const c = cfg({ garp: { masterDelayUs: 2_000_000, masterRepeat: 3 } });
    expect([c.priority, c.initialState, c.version, c.downTimerAdverts]).toEqual([100, 'BACKUP', 2, 3]);
    expect(c.garp).toEqual({
      masterDelayUs: 2_000_000,
      masterRepeat: 3,
      masterRefreshUs: 0,
      masterRefreshRepeat: 1,
      lowerPrioDelayUs: 2_000_000,
      lowerPrioRepeat: 3,
    });
    expect(cfg({ priority: 255 }).initialState).toBe('MASTER');
    expect(cfg({ primaryIp: 'fd00::1' }).version).toBe(3);
  });
});
