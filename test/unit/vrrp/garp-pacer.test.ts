import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock, type Micros } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import {
  type AnnounceKind,
  GarpPacer,
  type PaceDomain,
  type PaceRequest,
  pacingDomains,
  pacingIntervals,
} from '../../../src/vrrp/garp-pacer.js';

/** A pacer on a fake clock recording every frame it lets out, with the time it left. */
function harness(start: Micros = 0) {
  const clock = new FakeClock(start);
  const counters = new Counters();
  const pacer = new GarpPacer({ clock, counters });
  const sent: { id: string; at: Micros; domain: string; kind: AnnounceKind }[] = [];
  let wanted = true;
  const req = (
    id: string,
    domain: PaceDomain,
    o: { rank?: number; owner?: string; kind?: AnnounceKind } = {},
  ): PaceRequest => ({
    owner: o.owner ?? 'VI_1',
    id,
    rank: o.rank ?? 0,
    domain,
    kind: o.kind ?? 'arp',
    send: () => void sent.push({ id, at: clock.now(), domain: domain.key, kind: o.kind ?? 'arp' }),
    wanted: () => wanted,
  });
  return {
    clock,
    counters,
    pacer,
    sent,
    req,
    setWanted: (w: boolean) => {
      wanted = w;
    },
  };
}

const eth0 = (garpUs: Micros, gnaUs = 0): PaceDomain => ({ key: 'if:eth0', garpUs, gnaUs });

describe('GarpPacer', () => {
  it('without an interval sends every request at once (the burst keepalived sends by default)', () => {
    const h = harness();
    for (let r = 0; r < 5; r++)
      for (const [i, id] of ['a', 'b'].entries())
        expect(h.pacer.request(h.req(id, eth0(0), { rank: i }))).toBe('sent');
    expect(h.sent.map((s) => s.id)).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(h.pacer.queued).toBe(0);
    expect(h.clock.armed).toBe(0);
    expect(h.counters.get('vrrp.garp_queued')).toBe(0);
  });

  it('spaces one interface by the interval and collapses repeats of a queued address (keepalived 2.2.7 on the wire)', () => {
    // 3 VIPs, garp_master_repeat 3, vrrp_garp_interval 0.3: keepalived 2.2.7 sent .10 at once, then
    // .10, .11, .12 at +0.30 s, +0.60 s, +0.90 s (4 frames, captured in a namespace).
    const h = harness(1_000_000);
    const d = eth0(300_000);
    const vips = ['192.0.2.10', '192.0.2.11', '192.0.2.12'];
    for (let r = 0; r < 3; r++)
      for (const [i, v] of vips.entries()) h.pacer.request(h.req(v, d, { rank: i }));
    expect(h.sent.map((s) => s.id)).toEqual(['192.0.2.10']);
    expect(h.pacer.queued).toBe(3);
    expect(h.pacer.nextWake).toBe(1_300_000);
    h.clock.advance(5_000_000);
    expect(h.sent.map((s) => [s.id, s.at])).toEqual([
      ['192.0.2.10', 1_000_000],
      ['192.0.2.10', 1_300_000],
      ['192.0.2.11', 1_600_000],
      ['192.0.2.12', 1_900_000],
    ]);
    expect(h.counters.get('vrrp.garp_queued')).toBe(8);
    expect(h.counters.get('vrrp.garp_merged')).toBe(5);
    expect(h.pacer.queued).toBe(0);
    expect(h.clock.armed).toBe(0);
  });

  it('sends queued work in configuration order (instance, then address), not in arrival order', () => {
    const h = harness();
    const d = eth0(100_000);
    h.pacer.request(h.req('first', d, { rank: 0 })); // sent, opens the interval
    h.pacer.request(h.req('late', d, { owner: 'VI_2', rank: 0x10000 + 1 }));
    h.pacer.request(h.req('early', d, { owner: 'VI_2', rank: 0x10000 }));
    h.pacer.request(h.req('x', d, { owner: 'VI_1', rank: 3 }));
    h.clock.advance(1_000_000);
    expect(h.sent.map((s) => s.id)).toEqual(['first', 'x', 'early', 'late']);
    expect(h.sent.map((s) => s.at)).toEqual([0, 100_000, 200_000, 300_000]);
  });

  it('a garp_group shares one budget; an interface outside it has its own', () => {
    const dom = pacingDomains({
      vrrpGarpInterval: 0,
      vrrpGnaInterval: 0,
      garpGroups: [{ garpInterval: 0.5, gnaInterval: undefined, interfaces: ['eth1', 'eth2'] }],
    });
    const h = harness();
    h.pacer.request(h.req('a', dom('eth1'), { rank: 0 }));
    h.pacer.request(h.req('b', dom('eth2'), { rank: 1 }));
    h.pacer.request(h.req('c', dom('eth3'), { rank: 2 }));
    h.pacer.request(h.req('d', dom('eth3'), { rank: 3 }));
    h.clock.advance(2_000_000);
    expect(h.sent.map((s) => [s.id, s.at])).toEqual([
      ['a', 0],
      ['c', 0],
      ['d', 0],
      ['b', 500_000],
    ]);
  });

  it('paces ARP and NA apart: each kind has its own interval and next slot', () => {
    const h = harness();
    const d = eth0(200_000, 50_000);
    for (const id of ['v4a', 'v4b'])
      h.pacer.request(h.req(id, d, { kind: 'arp', rank: id === 'v4a' ? 0 : 1 }));
    for (const id of ['v6a', 'v6b'])
      h.pacer.request(h.req(id, d, { kind: 'na', rank: id === 'v6a' ? 2 : 3 }));
    h.clock.advance(1_000_000);
    expect(h.sent.map((s) => [s.id, s.at])).toEqual([
      ['v4a', 0],
      ['v6a', 0],
      ['v6b', 50_000],
      ['v4b', 200_000],
    ]);
  });

  it('drops queued work of an instance that is no longer MASTER when its turn comes', () => {
    const h = harness();
    const d = eth0(100_000);
    h.pacer.request(h.req('a', d, { rank: 0 }));
    h.pacer.request(h.req('b', d, { rank: 1 }));
    h.setWanted(false);
    h.clock.advance(1_000_000);
    expect(h.sent.map((s) => s.id)).toEqual(['a']);
    expect(h.counters.get('vrrp.garp_dropped')).toBe(1);
    expect(h.clock.armed).toBe(0);
  });

  it('dropOwner and stop discard pending work and cancel the timer', () => {
    const h = harness();
    const d = eth0(100_000);
    h.pacer.request(h.req('a', d, { owner: 'VI_1', rank: 0 }));
    h.pacer.request(h.req('b', d, { owner: 'VI_1', rank: 1 }));
    h.pacer.request(h.req('c', d, { owner: 'VI_2', rank: 0x10000 }));
    h.pacer.dropOwner('VI_1');
    expect(h.pacer.queued).toBe(1);
    h.pacer.stop();
    expect(h.pacer.queued).toBe(0);
    expect(h.clock.armed).toBe(0);
    h.clock.advance(1_000_000);
    expect(h.sent.map((s) => s.id)).toEqual(['a']);
    expect(h.counters.get('vrrp.garp_dropped')).toBe(2);
  });

  it('a reload changing the interval moves the next slot to the last send + the new interval', () => {
    const h = harness();
    h.pacer.request(h.req('a', eth0(1_000_000), { rank: 0 }));
    h.clock.advance(100_000);
    // the configuration now says 0.2 s: the slot after the send at 0 is at 0.2 s, not 1 s
    h.pacer.request(h.req('b', eth0(200_000), { rank: 1 }));
    h.clock.advance(2_000_000);
    expect(h.sent.map((s) => [s.id, s.at])).toEqual([
      ['a', 0],
      ['b', 200_000],
    ]);
  });

  it('never lets two frames of one kind out of one domain closer than its interval, and loses none that stay wanted', () => {
    const domains = [eth0(70_000, 30_000), { key: 'group:0', garpUs: 250_000, gnaUs: 0 }];
    const arb = fc.array(
      fc.record({
        gap: fc.integer({ min: 0, max: 400_000 }),
        vip: fc.integer({ min: 0, max: 5 }),
        dom: fc.integer({ min: 0, max: 1 }),
        na: fc.boolean(),
      }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(arb, (reqs) => {
        const h = harness();
        const ids = new Set<string>();
        for (const r of reqs) {
          h.clock.advance(r.gap);
          const domain = domains[r.dom] as PaceDomain;
          const id = `${domain.key}/${r.na ? 'na' : 'arp'}/${r.vip}`;
          ids.add(id);
          h.pacer.request(h.req(id, domain, { rank: r.vip, kind: r.na ? 'na' : 'arp' }));
        }
        h.clock.advance(60_000_000);
        expect(h.pacer.queued).toBe(0);
        // every address asked for went out at least once
        expect(new Set(h.sent.map((s) => s.id))).toEqual(ids);
        for (const d of domains)
          for (const kind of ['arp', 'na'] as const) {
            const interval = kind === 'arp' ? d.garpUs : d.gnaUs;
            const times = h.sent.filter((s) => s.domain === d.key && s.kind === kind).map((s) => s.at);
            for (let i = 1; i < times.length; i++)
              expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(interval);
          }
      }),
      { numRuns: 200 },
    );
  });
});

describe('pacingDomains', () => {
  it('gives an interface outside any group the global intervals, in µs', () => {
    const dom = pacingDomains({ vrrpGarpInterval: 0.000123, vrrpGnaInterval: 1.5, garpGroups: [] });
    expect(dom('eth0')).toEqual({ key: 'if:eth0', garpUs: 123, gnaUs: 1_500_000 });
    expect(dom('eth1').key).not.toBe(dom('eth0').key);
  });

  it('gives a group only its own intervals (a kind it leaves unset is not paced), first group wins', () => {
    const dom = pacingDomains({
      vrrpGarpInterval: 0.1,
      vrrpGnaInterval: 0.2,
      garpGroups: [
        { garpInterval: 0.5, gnaInterval: undefined, interfaces: ['eth1'] },
        { garpInterval: undefined, gnaInterval: 0.7, interfaces: ['eth1', 'eth2'] },
      ],
    });
    expect(dom('eth1')).toEqual({ key: 'group:0', garpUs: 500_000, gnaUs: 0 });
    expect(dom('eth2')).toEqual({ key: 'group:1', garpUs: 0, gnaUs: 700_000 });
    expect(dom('eth3')).toEqual({ key: 'if:eth3', garpUs: 100_000, gnaUs: 200_000 });
  });
});

describe('GarpPacer across a reload (intervals come from the current configuration)', () => {
  const times = (h: ReturnType<typeof harness>) => h.sent.map((s) => `${s.id}@${s.at / 1e6}s`);

  it('queued work follows a shortened interval at once (reconfigure): the first queued goes first', () => {
    const h = harness();
    h.pacer.request(h.req('A', eth0(5_000_000), { rank: 0 }));
    h.pacer.request(h.req('B', eth0(5_000_000), { rank: 1 }));
    h.clock.advance(1_000_000);
    // reload at t=1 s: vrrp_garp_interval 5 -> 0.1
    h.pacer.reconfigure(pacingIntervals({ vrrpGarpInterval: 0.1, vrrpGnaInterval: 0, garpGroups: [] }));
    h.pacer.request(h.req('C', eth0(100_000), { rank: 2 }));
    h.clock.advance(4_500_000);
    h.pacer.request(h.req('D', eth0(100_000), { rank: 3 }));
    h.clock.advance(10_000_000);
    expect(times(h)).toEqual(['A@0s', 'B@1s', 'C@1.1s', 'D@5.5s']);
  });

  it('a request queued before the reload does not bring the old interval back when it is sent', () => {
    const h = harness();
    h.pacer.request(h.req('A', eth0(5_000_000), { rank: 0 }));
    h.pacer.request(h.req('B', eth0(5_000_000), { rank: 1 }));
    h.clock.advance(1_000_000);
    // no reconfigure: the new interval arrives with the first request made after the reload
    h.pacer.request(h.req('C', eth0(100_000), { rank: 2 }));
    h.clock.advance(4_500_000);
    h.pacer.request(h.req('D', eth0(100_000), { rank: 3 }));
    h.pacer.request(h.req('E', eth0(100_000), { rank: 4 }));
    h.clock.advance(10_000_000);
    expect(times(h)).toEqual(['A@0s', 'B@1s', 'C@1.1s', 'D@5.5s', 'E@5.6s']);
  });

  it('queued work waits for a lengthened interval, counted from the last send', () => {
    const h = harness();
    const g = (garpUs: Micros): PaceDomain => ({ key: 'group:0', garpUs, gnaUs: 0 });
    h.pacer.request(h.req('A', g(1_000_000), { rank: 0 }));
    h.pacer.request(h.req('B', g(1_000_000), { rank: 1 }));
    h.clock.advance(500_000);
    h.pacer.reconfigure(
      pacingIntervals({
        vrrpGarpInterval: 0,
        vrrpGnaInterval: 0,
        garpGroups: [{ garpInterval: 3, gnaInterval: undefined, interfaces: ['eth0'] }],
      }),
    );
    expect(h.pacer.nextWake).toBe(3_000_000);
    h.clock.advance(10_000_000);
    expect(times(h)).toEqual(['A@0s', 'B@3s']);
  });

  it('pacingIntervals: global intervals for if: keys, the group by index, nothing for a gone group', () => {
    const at = pacingIntervals({
      vrrpGarpInterval: 0.5,
      vrrpGnaInterval: 0.25,
      garpGroups: [{ garpInterval: 2, gnaInterval: undefined, interfaces: ['eth1'] }],
    });
    expect(at('if:eth0')).toEqual({ garpUs: 500_000, gnaUs: 250_000 });
    expect(at('group:0')).toEqual({ garpUs: 2_000_000, gnaUs: 0 });
    expect(at('group:1')).toBeUndefined();
  });
});
