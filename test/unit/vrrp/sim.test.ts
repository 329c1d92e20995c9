import { describe, expect, it } from 'vitest';
import { type SimHost, SimLan, type SimWire } from '../../../src/vrrp/sim.js';
import { type MachineConfig, VrrpState } from '../../../src/vrrp/types.js';
import { validateAdvert } from '../../../src/vrrp/validate.js';
import { encodeVrrpIpv4Packet } from '../../../src/wire/vrrp.js';

// Whole elections on a simulated LAN (src/vrrp/sim.ts) driven by a FakeClock: every time asserted below
// is an exact µs value derived from keepalived's timer arithmetic.

const V = '192.0.2.100';
type Extra = Partial<Omit<MachineConfig, 'garp'>>;

function lan(...nodes: [name: string, ip: string, prio: number, extra?: Extra][]) {
  const l = new SimLan();
  for (const [name, ip, priority, extra] of nodes) {
    const h = l.addHost(name, ip.includes(':') ? { ip6: ip } : { ip4: ip });
    h.addInstance({ name: 'VI_1', vrid: 1, priority, vips: [ip.includes(':') ? 'fe80::1' : V], ...extra });
  }
  return l;
}

const inst = (l: SimLan, h: string) => l.host(h).instance('VI_1');
const stateOf = (l: SimLan, h: string) => inst(l, h).state;
/** Times at which `host` entered MASTER (the advert that opens the transition). */
const masterAt = (l: SimLan, h: string, instance = 'VI_1') =>
  l.timeline
    .filter(
      (e) =>
        e.host === h &&
        e.instance === instance &&
        e.action.type === 'log' &&
        e.action.message.endsWith('Entering MASTER STATE'),
    )
    .map((e) => e.t);
const advertTimes = (l: SimLan, h: string, prio?: number) =>
  l.timeline
    .filter(
      (e) =>
        e.host === h && e.action.type === 'sendAdvert' && (prio === undefined || e.action.priority === prio),
    )
    .map((e) => e.t);
const notifies = (h: SimHost) => h.notifies.map((n) => `${n.state}@${n.t}`);

describe('elections', () => {
  it('two nodes started together: the higher priority wins at its own MDI (3.414062 s)', () => {
    const l = lan(['a', '192.0.2.1', 150], ['b', '192.0.2.2', 100]);
    l.host('a').start();
    l.host('b').start();
    l.run(60_000_000);
    expect(masterAt(l, 'a')).toEqual([3_414_062]);
    expect(masterAt(l, 'b')).toEqual([]);
    expect(notifies(l.host('b'))).toEqual(['BACKUP@0']);
    expect(l.host('a').installed.get('VI_1')).toEqual([V]);
    expect(l.host('b').installed.has('VI_1')).toBe(false);
    // one advert per second after the first
    const adv = advertTimes(l, 'a');
    expect(adv.slice(0, 3)).toEqual([3_414_062, 4_414_062, 5_414_062]);
    expect(adv.every((t, i) => t === 3_414_062 + i * 1_000_000)).toBe(true);
  });

  it('lab sequence: p=100 alone is MASTER at 3.609375 s; p=150 started at 6 s preempts 3.414062 s later', () => {
    const l = lan(['a', '192.0.2.1', 150], ['b', '192.0.2.2', 100]);
    l.host('b').start();
    l.run(6_000_000);
    expect(masterAt(l, 'b')).toEqual([3_609_375]);
    l.host('a').start();
    l.run(20_000_000);
    expect(masterAt(l, 'a')).toEqual([9_414_062]);
    expect(stateOf(l, 'b')).toBe(VrrpState.BACKUP);
    expect(notifies(l.host('b'))).toEqual(['BACKUP@0', 'MASTER@3609375', 'BACKUP@9414062']);
    const discards = l.timeline.filter(
      (e) =>
        e.host === 'a' &&
        e.action.type === 'log' &&
        e.action.message.includes('received lower priority (100)'),
    );
    expect(discards.map((e) => e.t)).toEqual([6_609_375, 7_609_375, 8_609_375]);
  });

  it('three nodes: 200 beats 150 and 100 at 3.218750 s, nobody else ever becomes MASTER', () => {
    const l = lan(['a', '192.0.2.1', 150], ['b', '192.0.2.2', 100], ['c', '192.0.2.3', 200]);
    for (const h of l.hosts.values()) h.start();
    l.run(30_000_000);
    expect(masterAt(l, 'c')).toEqual([3_218_750]);
    expect([masterAt(l, 'a'), masterAt(l, 'b')]).toEqual([[], []]);
  });

  it('equal priorities started together: the higher address keeps MASTER', () => {
    const l = lan(['a', '192.0.2.1', 100], ['b', '192.0.2.2', 100]);
    l.host('a').start();
    l.host('b').start();
    l.run(20_000_000);
    // both timers expire at the same µs; a sees b's equal-priority advert from a higher address and yields
    expect(masterAt(l, 'a')).toEqual([3_609_375]);
    expect(masterAt(l, 'b')).toEqual([3_609_375]);
    expect([stateOf(l, 'a'), stateOf(l, 'b')]).toEqual([VrrpState.BACKUP, VrrpState.MASTER]);
    expect(notifies(l.host('a'))).toEqual(['BACKUP@0', 'MASTER@3609375', 'BACKUP@3609375']);
  });

  it('IPv6 VRRPv3 with link-local sources: the higher priority wins, advert carries the IPv6 VIP', () => {
    const l = lan(
      ['a', 'fe80::ff:fe00:5501', 150, { version: 3 }],
      ['b', 'fe80::ff:fe00:5502', 100, { version: 3 }],
    );
    l.host('a').start();
    l.host('b').start();
    l.run(10_000_000);
    expect(masterAt(l, 'a')).toEqual([3_414_062]);
    expect(inst(l, 'a').buildAdvert(150)).toMatchObject({
      version: 3,
      family: 6,
      advertInterval: 100,
      addresses: ['fe80::1'],
    });
  });
});

/** a (150) is MASTER since 3.414062 s, b (100) BACKUP. */
function pair(extraA: Extra = {}, extraB: Extra = {}) {
  const l = lan(['a', '192.0.2.1', 150, extraA], ['b', '192.0.2.2', 100, extraB]);
  l.host('a').start();
  l.host('b').start();
  l.run(10_000_000);
  expect(stateOf(l, 'a')).toBe(VrrpState.MASTER);
  return l;
}

describe('failover', () => {
  it('crash of the master: the backup takes over exactly MDI (3.609375 s) after the last advert', () => {
    const l = pair();
    l.runUntil(10_500_000);
    l.host('a').crash();
    l.run(10_000_000);
    const last = advertTimes(l, 'a').at(-1) as number;
    expect(last).toBe(10_414_062);
    expect(masterAt(l, 'b')).toEqual([last + 3_609_375]);
    expect(l.host('b').installed.get('VI_1')).toEqual([V]);
  });

  it('graceful stop: priority-0 advert, backup takes over after Skew_Time (0.609375 s)', () => {
    const l = pair();
    l.runUntil(10_500_000);
    l.host('a').stop();
    l.run(5_000_000);
    expect(advertTimes(l, 'a', 0)).toEqual([10_500_000]);
    expect(masterAt(l, 'b')).toEqual([10_500_000 + 609_375]);
    expect(l.host('a').installed.has('VI_1')).toBe(false);
    expect(notifies(l.host('a')).at(-1)).toBe('STOP@10500000');
  });

  it('preempt: the restarted higher-priority node takes MASTER back after its own MDI', () => {
    const l = pair();
    l.runUntil(10_500_000);
    l.host('a').crash();
    l.runUntil(20_000_000);
    expect(stateOf(l, 'b')).toBe(VrrpState.MASTER);
    l.host('a').restart();
    l.runUntil(40_000_000);
    expect(masterAt(l, 'a')).toEqual([3_414_062, 23_414_062]);
    expect(stateOf(l, 'b')).toBe(VrrpState.BACKUP);
  });

  it('nopreempt: the restarted higher-priority node stays BACKUP behind a live lower master', () => {
    const l = pair({ nopreempt: true });
    l.runUntil(10_500_000);
    l.host('a').crash();
    l.runUntil(20_000_000);
    l.host('a').restart();
    l.runUntil(80_000_000);
    expect(masterAt(l, 'a')).toEqual([3_414_062]);
    expect(stateOf(l, 'a')).toBe(VrrpState.BACKUP);
    expect(stateOf(l, 'b')).toBe(VrrpState.MASTER);
  });

  it('preempt_delay 10 s: lower adverts accepted for 10 s after the first, then MDI after the last accepted', () => {
    const l = pair();
    l.runUntil(10_500_000);
    l.host('a').crash();
    l.runUntil(20_000_000);
    const bAdverts = advertTimes(l, 'b');
    const a2 = l.host('a');
    a2.instances.clear();
    a2.addInstance({ name: 'VI_1', vrid: 1, priority: 150, vips: [V], preemptDelayUs: 10_000_000 });
    a2.start();
    l.runUntil(60_000_000);
    // b (MASTER since 14.023437 s) sends at 14.023437 + k s; the first one a hears is at 20.023437 s
    expect(bAdverts[0]).toBe(14_023_437);
    const first = 20_023_437;
    const lastAccepted = first + 9_000_000; // adverts at first+10 s and later are discarded
    expect(masterAt(l, 'a')).toEqual([3_414_062, lastAccepted + 3_414_062]);
  });

  it('owner 255 joining a running router becomes MASTER 1 µs after start', () => {
    const l = lan(['a', '192.0.2.1', 255], ['b', '192.0.2.2', 100]);
    l.host('b').start();
    l.runUntil(10_000_000);
    l.host('a').start();
    l.run(10_000_000);
    expect(masterAt(l, 'a')).toEqual([10_000_001]);
    expect(notifies(l.host('b'))).toEqual(['BACKUP@0', 'MASTER@3609375', 'BACKUP@10000001']);
  });

  it('VRRPv3 advert_int 0.1 s: takeover 3 x 100 ms + skew (341406 µs) after the last advert', () => {
    const l = pair({ version: 3, advertIntervalUs: 100_000 }, { version: 3, advertIntervalUs: 100_000 });
    l.runUntil(10_050_000);
    l.host('a').crash();
    l.run(2_000_000);
    const last = advertTimes(l, 'a').at(-1) as number;
    expect(last).toBe(10_041_406);
    expect(masterAt(l, 'b')).toEqual([last + 360_937]);
  });

  it('VRRPv3 learned interval: a 0.1 s backup behind a 1 s master waits 3 x 1 s + skew(1 s)', () => {
    const l = pair({ version: 3, advertIntervalUs: 1_000_000 }, { version: 3, advertIntervalUs: 100_000 });
    expect(inst(l, 'b').machine.masterAdverIntUs).toBe(1_000_000);
    l.runUntil(10_500_000);
    l.host('a').crash();
    l.run(10_000_000);
    // b (MDI 0.360937 s at its own 0.1 s) was briefly MASTER at start until a's 150 advert arrived
    expect(masterAt(l, 'b')).toEqual([360_937, 10_414_062 + 3_609_375]);
    // once MASTER, b advertises at its own 0.1 s
    const adv = advertTimes(l, 'b');
    expect((adv[1] ?? Number.NaN) - (adv[0] ?? Number.NaN)).toBe(100_000);
  });
});

describe('tracking', () => {
  it('FAULT on the master: priority 0 sent, backup in after skew; unfault -> BACKUP then preempts back', () => {
    const l = pair();
    l.runUntil(10_500_000);
    inst(l, 'a').fault();
    l.runUntil(11_500_000);
    expect(advertTimes(l, 'a', 0)).toEqual([10_500_000]);
    expect(masterAt(l, 'b')).toEqual([11_109_375]);
    expect(l.host('a').installed.has('VI_1')).toBe(false);
    l.runUntil(15_000_000);
    inst(l, 'a').unfault();
    l.runUntil(30_000_000);
    expect(notifies(l.host('a'))).toEqual([
      'BACKUP@0',
      'MASTER@3414062',
      'FAULT@10500000',
      'BACKUP@15000000',
      'MASTER@18414062',
    ]);
    expect(stateOf(l, 'b')).toBe(VrrpState.BACKUP);
  });

  it('effective priority 150 -> 90 hands MASTER to the 100 node; back to 150 takes it back', () => {
    const l = pair();
    l.runUntil(10_500_000);
    inst(l, 'a').setEffectivePriority(90);
    l.runUntil(30_000_000);
    // b accepted a's last 150 advert at 10.414062 s, discards the 90s, and takes over at MDI
    expect(masterAt(l, 'b')).toEqual([10_414_062 + 3_609_375]);
    expect(stateOf(l, 'a')).toBe(VrrpState.BACKUP);
    inst(l, 'a').setEffectivePriority(150);
    l.runUntil(60_000_000);
    // a accepted b's 100 adverts until 30 s; b's adverts are at 14.023437 + k s, the last one before 30 s
    // is 29.023437 s; its MDI at priority 90 was 3 s + 166/256 s = 3.648437 s
    expect(masterAt(l, 'a')).toEqual([3_414_062, 29_023_437 + 3_648_437]);
    expect(stateOf(l, 'b')).toBe(VrrpState.BACKUP);
  });
});

describe('GARP schedule and notify order', () => {
  it('5 GARPs on becoming MASTER and 5 more 5 s later, nothing after without refresh', () => {
    const l = pair();
    l.runUntil(60_000_000);
    expect(l.host('a').garps).toEqual([
      { t: 3_414_062, instance: 'VI_1', rounds: 5, addresses: [V] },
      { t: 8_414_062, instance: 'VI_1', rounds: 5, addresses: [V] },
    ]);
  });

  it('garp_master_refresh 10 s: one refresh GARP at the first advert after each 10 s', () => {
    const l = lan(['a', '192.0.2.1', 150], ['b', '192.0.2.2', 100]);
    l.host('a').instances.clear();
    l.host('a').addInstance({
      name: 'VI_1',
      vrid: 1,
      priority: 150,
      vips: [V],
      garp: { masterRefreshUs: 10_000_000 },
    });
    l.host('a').start();
    l.runUntil(40_000_000);
    expect(l.host('a').garps.map((g) => `${g.rounds}@${g.t}`)).toEqual([
      '5@3414062',
      '5@8414062',
      '1@14414062',
      '1@25414062',
      '1@36414062',
    ]);
  });

  it('becoming MASTER runs advert, VIPs, routes, rules, GARP, notify in that order', () => {
    const l = pair();
    const seq = l.timeline.filter((e) => e.host === 'a' && e.t === 3_414_062).map((e) => e.action.type);
    expect(seq).toEqual(['sendAdvert', 'log', 'addVips', 'addRoutes', 'addRules', 'sendGarps', 'notify']);
  });
});

describe('sync group', () => {
  function groupPair() {
    const l = new SimLan();
    for (const [name, ip, priority] of [
      ['a', '192.0.2.1', 150],
      ['b', '192.0.2.2', 100],
    ] as const) {
      const h = l.addHost(name, { ip4: ip });
      h.addInstance({ name: 'VI_1', vrid: 1, priority, vips: ['192.0.2.101'], syncGroup: true });
      h.addInstance({ name: 'VI_2', vrid: 2, priority, vips: ['192.0.2.102'], syncGroup: true });
      h.addSyncGroup('G1', ['VI_1', 'VI_2']);
      h.start();
    }
    return l;
  }
  const st = (h: SimHost) => [...h.instances.values()].map((i) => i.state);

  it('both members go MASTER together once both want to', () => {
    const l = groupPair();
    l.runUntil(10_000_000);
    expect(st(l.host('a'))).toEqual([VrrpState.MASTER, VrrpState.MASTER]);
    expect(st(l.host('b'))).toEqual([VrrpState.BACKUP, VrrpState.BACKUP]);
    // the group's initial BACKUP (members placed at start), then MASTER
    expect(l.host('a').groupNotifies).toEqual([
      { t: 0, group: 'G1', state: 'BACKUP' },
      { t: 3_414_062, group: 'G1', state: 'MASTER' },
    ]);
  });

  it('one member faulting moves both to FAULT; the peer takes both; unfault brings both back', () => {
    const l = groupPair();
    l.runUntil(10_500_000);
    l.host('a').instance('VI_1').fault();
    expect(st(l.host('a'))).toEqual([VrrpState.FAULT, VrrpState.FAULT]);
    expect(advertTimes(l, 'a', 0)).toEqual([10_500_000, 10_500_000]);
    l.runUntil(12_000_000);
    expect(st(l.host('b'))).toEqual([VrrpState.MASTER, VrrpState.MASTER]);
    expect(l.host('b').groupNotifies.map((n) => `${n.state}@${n.t}`)).toEqual([
      'BACKUP@0',
      'MASTER@11109375',
    ]);
    expect(l.host('a').installed.size).toBe(0);
    l.host('a').instance('VI_1').unfault();
    expect(st(l.host('a'))).toEqual([VrrpState.BACKUP, VrrpState.BACKUP]);
    l.runUntil(40_000_000);
    expect(st(l.host('a'))).toEqual([VrrpState.MASTER, VrrpState.MASTER]);
    expect(st(l.host('b'))).toEqual([VrrpState.BACKUP, VrrpState.BACKUP]);
    expect(l.host('a').groupNotifies.map((n) => n.state)).toEqual([
      'BACKUP',
      'MASTER',
      'FAULT',
      'BACKUP',
      'MASTER',
    ]);
  });

  it('one member yielding to a higher priority takes the other member to BACKUP too', () => {
    const l = groupPair();
    l.runUntil(10_500_000);
    // a third host claims VRID 1 only, with priority 200
    const c = l.addHost('c', { ip4: '192.0.2.3' });
    c.addInstance({ name: 'VI_1', vrid: 1, priority: 200, vips: ['192.0.2.101'] });
    c.start();
    l.runUntil(20_000_000);
    expect(stateOf(l, 'c')).toBe(VrrpState.MASTER);
    expect(l.host('a').instance('VI_2').state).toBe(VrrpState.BACKUP);
    expect(l.host('a').groupNotifies.map((n) => n.state)).toEqual(['BACKUP', 'MASTER', 'BACKUP']);
  });
});

describe('medium impairments', () => {
  it('2 lost adverts in a row do not make the backup flap; 3 do, and the master wins back at once', () => {
    const l = pair();
    l.runUntil(10_500_000);
    l.dropNext('a', 2);
    l.runUntil(20_500_000);
    expect(masterAt(l, 'b')).toEqual([]);
    l.dropNext('a', 3);
    l.runUntil(30_000_000);
    // last advert b heard: 20.414062 s; lost at 21, 22, 23 .414062; takeover at 20.414062 + 3.609375
    expect(masterAt(l, 'b')).toEqual([24_023_437]);
    // a answers b's lower-priority advert at once ("forcing new election"): b is back in BACKUP in the same µs
    expect(notifies(l.host('b')).slice(-2)).toEqual(['MASTER@24023437', 'BACKUP@24023437']);
    expect(l.host('a').notifies.at(-1)).toEqual({
      t: 24_023_437,
      instance: 'VI_1',
      state: 'MASTER_RX_LOWER_PRI',
      priority: 150,
    });
  });

  it('random 30% loss over 10 minutes: b takes over exactly once per run of >= 3 lost adverts', () => {
    const l = new SimLan({ seed: 12345 });
    for (const [name, ip, priority] of [
      ['a', '192.0.2.1', 150],
      ['b', '192.0.2.2', 100],
    ] as const) {
      l.addHost(name, { ip4: ip }).addInstance({ name: 'VI_1', vrid: 1, priority, vips: [V] });
    }
    l.host('a').start();
    l.runUntil(4_000_000); // a is MASTER alone first
    l.host('b').start();
    l.impair({ lossRate: 0.3 });
    l.runUntil(604_000_000);
    const lost = new Set(l.losses.filter((x) => x.from === 'a').map((x) => x.t));
    const sent = advertTimes(l, 'a', 150).filter((t) => t >= 4_000_000);
    let run = 0;
    let runs = 0;
    for (const t of sent) {
      run = lost.has(t) ? run + 1 : 0;
      if (run === 3) runs++;
    }
    const heard = sent.filter((t) => !lost.has(t));
    const takeovers = masterAt(l, 'b');
    expect(runs).toBeGreaterThan(3); // the seed does produce some long runs
    expect(takeovers.length).toBe(runs);
    // each takeover is exactly MDI after the last advert b heard
    for (const t of takeovers) expect(t - (heard.filter((x) => x < t).at(-1) as number)).toBe(3_609_375);
    expect(stateOf(l, 'a')).toBe(VrrpState.MASTER);
  });

  it('corrupted frames are rejected (checksum) and count as silence', () => {
    const l = pair();
    l.impair({ corruptRate: 1 });
    l.runUntil(20_000_000);
    expect(l.stats.rejected.checksum).toBeGreaterThan(5);
    expect(masterAt(l, 'b')).toEqual([10_414_062 + 3_609_375 - 1_000_000]);
  });

  it('partition makes two masters; healing lets the higher priority win on its next advert', () => {
    const l = pair();
    l.partition(['a'], ['b']);
    l.runUntil(20_000_000);
    expect([stateOf(l, 'a'), stateOf(l, 'b')]).toEqual([VrrpState.MASTER, VrrpState.MASTER]);
    l.heal();
    l.runUntil(22_000_000);
    expect([stateOf(l, 'a'), stateOf(l, 'b')]).toEqual([VrrpState.MASTER, VrrpState.BACKUP]);
  });

  it('delay shifts the takeover by the same amount', () => {
    const l = new SimLan({ delayUs: 2_000 });
    for (const [name, ip, priority] of [
      ['a', '192.0.2.1', 150],
      ['b', '192.0.2.2', 100],
    ] as const) {
      l.addHost(name, { ip4: ip }).addInstance({ name: 'VI_1', vrid: 1, priority, vips: [V] });
      l.host(name).start();
    }
    l.runUntil(10_500_000);
    l.host('a').crash();
    l.runUntil(20_000_000);
    expect(masterAt(l, 'b')).toEqual([10_414_062 + 2_000 + 3_609_375]);
  });
});

/** The daemon's real receive path for IPv4: IP_HDRINCL frame -> validateAdvert against the instance. */
const ipv4Wire: SimWire = {
  encode: (advert, src, dst) => encodeVrrpIpv4Packet({ advert, id: 1, src, dst, ipChecksum: 'compute' }),
  corruptFrom: 20, // the kernel drops IPv4 headers with a bad checksum before a raw socket sees them
  accept: (frame, inst, _meta) => {
    const c = inst.config;
    const r = validateAdvert(
      { family: 4, packet: frame },
      {
        vrid: c.vrid,
        version: c.version,
        family: c.family,
        authType: 0,
        vips: inst.buildAdvert(0).addresses,
        advertInterval: c.advertIntervalUs / 1_000_000,
        unicastPeers: [],
        checkUnicastSrc: false,
        skipCheckAdvAddr: false,
        inBackup: inst.state === VrrpState.BACKUP,
      },
    );
    return r.ok ? { ok: true, rx: r.received } : { ok: false, code: r.code, drop: r.drop };
  },
};

describe('simulated LAN over the real codec and receive validation', () => {
  function wired(seed: number) {
    const l = new SimLan({ seed, wire: ipv4Wire });
    for (const [name, ip, priority] of [
      ['a', '192.0.2.1', 150],
      ['b', '192.0.2.2', 100],
    ] as const) {
      const h = l.addHost(name, { ip4: ip });
      h.addInstance({ name: 'VI_1', vrid: 1, priority, vips: [V] });
      h.addInstance({ name: 'VI_2', vrid: 2, priority, vips: ['192.0.2.102'] });
    }
    return l;
  }

  it('elects as without the wire; frames for the other VRID are silently not ours', () => {
    const l = wired(1);
    l.host('a').start();
    l.host('b').start();
    l.runUntil(20_000_000);
    expect(masterAt(l, 'a')).toEqual([3_414_062]);
    expect(l.host('a').instance('VI_2').state).toBe(VrrpState.MASTER);
    expect(l.stats.rejected).toEqual({});
    expect(l.stats.delivered).toBeGreaterThan(30);
  });

  it('40% corrupted frames over 10 minutes: each rejected with a typed code; takeover only after 3 unusable adverts in a row', () => {
    const l = wired(777);
    l.host('a').start();
    l.runUntil(4_000_000);
    l.host('b').start();
    l.impair({ corruptRate: 0.4 });
    l.runUntil(604_000_000);
    const codes = Object.keys(l.stats.rejected);
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) expect(code).toMatch(/^KA_ERR_VRRP_RX_/);
    const bad = new Set(l.corruptions.filter((x) => x.from === 'a' && x.vrid === 1).map((x) => x.t));
    const sent = l.timeline
      .filter(
        (e) => e.host === 'a' && e.instance === 'VI_1' && e.action.type === 'sendAdvert' && e.t >= 4_000_000,
      )
      .map((e) => e.t);
    let run = 0;
    let runs = 0;
    for (const t of sent) {
      run = bad.has(t) ? run + 1 : 0;
      if (run === 3) runs++;
    }
    expect(runs).toBeGreaterThan(3);
    expect(masterAt(l, 'b').length).toBe(runs);
  });
});
