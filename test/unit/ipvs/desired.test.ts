import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  buildDesired,
  checksSuspended,
  expandRange,
  type HealthMap,
  type RealServerSpec,
  realServerId,
  shutdownEvents,
  type VirtualServerSpec,
  vsKey,
} from '../../../src/ipvs/desired.js';
import { SCHEDULERS } from '../../../src/ipvs/types.js';
import { Fwd, SvcFlag, TunFlag, TunType } from '../../../src/wire/ipvs.js';

const rs = (addr: string, weight = 1, extra: Partial<RealServerSpec> = {}): RealServerSpec => ({
  addr,
  port: 80,
  weight,
  hasCheckers: true,
  ...extra,
});

const vs = (extra: Partial<VirtualServerSpec> = {}): VirtualServerSpec => ({
  name: '192.0.2.10 80',
  target: { kind: 'addr', addr: '192.0.2.10', port: 80 },
  protocol: 'TCP',
  lbAlgo: 'wrr',
  lbKind: { method: 'NAT' },
  realServers: [rs('198.51.100.1', 3), rs('198.51.100.2', 2)],
  ...extra,
});

const health = (
  v: VirtualServerSpec,
  states: Record<string, boolean | { up: boolean; weight: number }>,
): HealthMap => {
  const m = new Map();
  for (const r of v.realServers) {
    const s = states[r.addr];
    if (s !== undefined) m.set(realServerId(v, r), typeof s === 'boolean' ? { up: s } : s);
  }
  return m;
};

const only = <T>(m: Map<string, T>): T => {
  expect(m.size).toBe(1);
  return [...m.values()][0] as T;
};

describe('buildDesired: services', () => {
  it('ip port service with NAT real servers and their weights', () => {
    const { table, quorum } = buildDesired([vs()], new Map());
    const t = only(table);
    expect(t.svc).toMatchObject({
      af: 2,
      protocol: 6,
      addr: '192.0.2.10',
      port: 80,
      sched: 'wrr',
      flags: 0,
      timeout: 0,
    });
    expect(t.svc.netmask).toBe(0xffffffff);
    expect(t.dests.map((d) => [d.addr, d.port, d.fwd, d.weight])).toEqual([
      ['198.51.100.1', 80, Fwd.MASQ, 3],
      ['198.51.100.2', 80, Fwd.MASQ, 2],
    ]);
    expect(quorum.get('192.0.2.10 80 TCP')).toBe(true);
  });

  it('accepts every kernel scheduler and rejects others', () => {
    for (const s of SCHEDULERS)
      expect(only(buildDesired([vs({ lbAlgo: s })], new Map()).table).svc.sched).toBe(s);
    expect(() => buildDesired([vs({ lbAlgo: 'bogus' })], new Map())).toThrow(/unknown lb_algo/);
  });

  it('lb_kind DR and TUN with GUE options; per-RS override', () => {
    const v = vs({
      lbKind: { method: 'TUN', tunnel: { type: 'gue', port: 6080, csum: 'remcsum' } },
      realServers: [rs('198.51.100.1'), rs('198.51.100.2', 1, { lbKind: { method: 'DR' } })],
    });
    const [a, b] = only(buildDesired([v], new Map()).table).dests;
    expect(a).toMatchObject({
      fwd: Fwd.TUNNEL,
      tunType: TunType.GUE,
      tunPort: 6080,
      tunFlags: TunFlag.REMCSUM,
    });
    expect(b).toMatchObject({ fwd: Fwd.DROUTE, tunType: 0, tunPort: 0 });
    expect(() =>
      buildDesired([vs({ lbKind: { method: 'TUN', tunnel: { type: 'gue' } } })], new Map()),
    ).toThrow(/gue/);
  });

  it('persistence: timeout, granularity mask/prefix, bare granularity implies 360, pe', () => {
    const a = only(
      buildDesired([vs({ persistenceTimeout: 50, persistenceGranularity: '255.255.255.0' })], new Map())
        .table,
    );
    expect(a.svc).toMatchObject({ flags: SvcFlag.PERSISTENT, timeout: 50, netmask: 0xffffff00 });
    const b = only(
      buildDesired([vs({ persistenceGranularity: '16', persistenceEngine: 'sip' })], new Map()).table,
    );
    expect(b.svc).toMatchObject({ flags: SvcFlag.PERSISTENT, timeout: 360, netmask: 0xffff0000, pe: 'sip' });
    expect(() => buildDesired([vs({ persistenceGranularity: '255.0.255.0' })], new Map())).toThrow(
      /contiguous/,
    );
  });

  it('IPv6 sh service with sh-port/sh-fallback, UDP + ops, prefix length granularity', () => {
    const v = vs({
      name: 'v6',
      target: { kind: 'addr', addr: 'fd00:0::10', port: 53 },
      protocol: 'UDP',
      lbAlgo: 'sh',
      schedFlags: { shPort: true, shFallback: true },
      ops: true,
      persistenceGranularity: '64',
      realServers: [rs('fd00::1', 1, { port: 53 })],
    });
    const t = only(buildDesired([v], new Map()).table);
    expect(t.svc).toMatchObject({ af: 10, addr: 'fd00::10', protocol: 17, netmask: 64 });
    expect(t.svc.flags).toBe(SvcFlag.SCHED1 | SvcFlag.SCHED2 | SvcFlag.ONEPACKET | SvcFlag.PERSISTENT);
    expect(() => buildDesired([vs({ schedFlags: { shPort: true } })], new Map())).toThrow(/need lb_algo sh/);
    // ops is ignored on TCP
    expect(only(buildDesired([vs({ ops: true })], new Map()).table).svc.flags).toBe(0);
  });

  it('fwmark service takes its family from ip_family or the real servers', () => {
    const v = vs({ name: 'fw', target: { kind: 'fwmark', fwmark: 7 }, realServers: [rs('fd00::2')] });
    const t = only(buildDesired([v], new Map()).table);
    expect(t.svc).toMatchObject({ af: 10, fwmark: 7, protocol: 0, port: 0 });
    const w = only(
      buildDesired([{ ...v, ipFamily: 'inet', realServers: [rs('192.0.2.7')] }], new Map()).table,
    );
    expect(w.svc).toMatchObject({ af: 2, fwmark: 7 });
  });

  it('family mismatch is allowed only for TUN', () => {
    expect(() => buildDesired([vs({ realServers: [rs('fd00::1')] })], new Map())).toThrow(/only TUN/);
    const t = buildDesired([vs({ lbKind: { method: 'TUN' }, realServers: [rs('fd00::1')] })], new Map());
    expect(only(t.table).dests[0]).toMatchObject({ af: 10, fwd: Fwd.TUNNEL, tunType: TunType.IPIP });
  });

  it('virtual_server_group expands ranges, CIDR and fwmark entries', () => {
    const v = vs({
      name: 'group G',
      target: {
        kind: 'group',
        name: 'G',
        entries: [
          { kind: 'addr', range: '192.0.2.1-3', port: 80 },
          { kind: 'addr', range: '203.0.113.8/31', port: 443 },
          { kind: 'addr', range: '192.0.2.50', port: 8080 },
          { kind: 'fwmark', fwmark: 9 },
        ],
      },
      realServers: [{ addr: '198.51.100.1', weight: 1, hasCheckers: false }],
    });
    const { table } = buildDesired([v], new Map());
    expect([...table.keys()]).toEqual([
      'tcp 192.0.2.1:80',
      'tcp 192.0.2.2:80',
      'tcp 192.0.2.3:80',
      'tcp 203.0.113.8:443',
      'tcp 203.0.113.9:443',
      'tcp 192.0.2.50:8080',
      'inet fwmark 9',
    ]);
    // the real server without a port takes each service's port
    expect(table.get('tcp 203.0.113.9:443')?.dests[0]?.port).toBe(443);
  });

  it('address ranges: full form, IPv6 short form, errors', () => {
    expect(expandRange('x', '192.0.2.254-192.0.3.1').addrs).toEqual([
      '192.0.2.254',
      '192.0.2.255',
      '192.0.3.0',
      '192.0.3.1',
    ]);
    expect(expandRange('x', 'fd00::a-c').addrs).toEqual(['fd00::a', 'fd00::b', 'fd00::c']);
    for (const bad of ['192.0.2.5-3', '192.0.2.1-300', 'nonsense', '10.0.0.0/8', 'fd00::1-fd00::/x']) {
      try {
        expandRange('x', bad);
        expect.unreachable(bad);
      } catch (e) {
        expect(isKaError(e, 'KA_ERR_IPVS_BAD_SPEC')).toBe(true);
      }
    }
  });

  it('two virtual servers defining the same service is an error', () => {
    expect(() => buildDesired([vs(), vs({ name: 'other' })], new Map())).toThrow(/also defined/);
  });
});

describe('buildDesired: health, inhibit, sorry server, quorum', () => {
  it('a down real server is removed, or kept at weight 0 with inhibit_on_failure', () => {
    const v = vs();
    const h = health(v, { '198.51.100.1': false });
    expect(only(buildDesired([v], h).table).dests.map((d) => d.addr)).toEqual(['198.51.100.2']);
    const inh = vs({ inhibitOnFailure: true });
    expect(
      only(buildDesired([inh], health(inh, { '198.51.100.1': false })).table).dests.map((d) => d.weight),
    ).toEqual([0, 2]);
  });

  it('misc_dynamic weight overrides the configured weight', () => {
    const v = vs();
    const t = only(buildDesired([v], health(v, { '198.51.100.2': { up: true, weight: 17 } })).table);
    expect(t.dests[1]?.weight).toBe(17);
  });

  it('alpha: checked servers start down until a first result', () => {
    const v = vs({
      alpha: true,
      realServers: [rs('198.51.100.1'), { ...rs('198.51.100.2'), hasCheckers: false }],
    });
    expect(only(buildDesired([v], new Map()).table).dests.map((d) => d.addr)).toEqual(['198.51.100.2']);
    expect(only(buildDesired([v], health(v, { '198.51.100.1': true })).table).dests).toHaveLength(2);
  });

  it('sorry server replaces the real servers when none is up; sorry_server_inhibit keeps it at 0', () => {
    const v = vs({ sorryServer: { addr: '198.51.100.99', port: 8080 } });
    const down = health(v, { '198.51.100.1': false, '198.51.100.2': false });
    const r = buildDesired([v], down);
    expect(only(r.table).dests.map((d) => [d.addr, d.port, d.weight])).toEqual([['198.51.100.99', 8080, 1]]);
    expect(r.quorum.get(vsKey(v))).toBe(false);
    expect(only(buildDesired([v], new Map()).table).dests.map((d) => d.addr)).not.toContain('198.51.100.99');
    const inh = { ...v, sorryServerInhibit: true };
    expect(only(buildDesired([inh], new Map()).table).dests.at(-1)).toMatchObject({
      addr: '198.51.100.99',
      weight: 0,
    });
  });

  it('quorum with hysteresis: up at >= q+h, down at < q-h, events on transitions', () => {
    const v = vs({ quorum: 4, hysteresis: 1, sorryServer: { addr: '198.51.100.99' } });
    // both up: sum 5, a first decision ("Starting with quorum up")
    let r = buildDesired([v], new Map());
    expect(r.quorum.get(vsKey(v))).toBe(true);
    expect(r.events).toEqual([
      { vs: vsKey(v), kind: 'quorum-up', weightSum: 5, threshold: 5, init: 'start' },
    ]);
    // .1 down: sum 2 < 3 -> down
    r = buildDesired([v], health(v, { '198.51.100.1': false }), r.quorum);
    expect(r.events).toEqual([{ vs: vsKey(v), kind: 'quorum-down', weightSum: 2, threshold: 3 }]);
    expect(only(r.table).dests.map((d) => d.addr)).toEqual(['198.51.100.99']);
    // .1 back with dynamic weight 2: sum 4 < q+h=5 -> stays down
    r = buildDesired([v], health(v, { '198.51.100.1': { up: true, weight: 2 } }), r.quorum);
    expect(r.quorum.get(vsKey(v))).toBe(false);
    expect(r.events).toEqual([]);
    // weight 3: sum 5 -> up
    r = buildDesired([v], health(v, { '198.51.100.1': { up: true, weight: 3 } }), r.quorum);
    expect(r.events).toEqual([{ vs: vsKey(v), kind: 'quorum-up', weightSum: 5, threshold: 5 }]);
    expect(only(r.table).dests.map((d) => d.addr)).toEqual(['198.51.100.1', '198.51.100.2']);
    // sum 3 is not < q-h=3 -> stays up
    r = buildDesired([v], health(v, { '198.51.100.1': { up: true, weight: 1 } }), r.quorum);
    expect(r.quorum.get(vsKey(v))).toBe(true);
  });

  it('a first decision needs quorum+hysteresis (keepalived starts every virtual server down)', () => {
    // live weight 4: quorum 4 reached, quorum+hysteresis 5 not
    const sorry = vs({ quorum: 4, hysteresis: 1, sorryServer: { addr: '198.51.100.99' } });
    const half = health(sorry, { '198.51.100.1': { up: true, weight: 2 } });
    let r = buildDesired([sorry], half);
    expect(r.quorum.get(vsKey(sorry))).toBe(false);
    expect(only(r.table).dests.map((d) => d.addr)).toEqual(['198.51.100.99']);
    expect(r.events).toEqual([
      { vs: vsKey(sorry), kind: 'quorum-down', weightSum: 4, threshold: 5, init: 'start' },
    ]);
    // then a transition: up at 5, worded as one
    r = buildDesired([sorry], health(sorry, { '198.51.100.1': true }), r.quorum);
    expect(r.events).toEqual([{ vs: vsKey(sorry), kind: 'quorum-up', weightSum: 5, threshold: 5 }]);
    // without a sorry server: the real servers stay, quorum down, nothing to notify
    const plain = vs({ quorum: 4, hysteresis: 1 });
    r = buildDesired([plain], health(plain, { '198.51.100.1': { up: true, weight: 2 } }));
    expect(r.quorum.get(vsKey(plain))).toBe(false);
    expect(r.events).toEqual([]);
    expect(only(r.table).dests.map((d) => d.addr)).toEqual(['198.51.100.1', '198.51.100.2']);
  });

  it('quorum is lost at live weight 0 even when quorum-hysteresis is 0', () => {
    const v = vs({ quorum: 1, hysteresis: 1 });
    const r = buildDesired(
      [v],
      health(v, { '198.51.100.1': false, '198.51.100.2': false }),
      new Map([[vsKey(v), true]]),
    );
    expect(r.quorum.get(vsKey(v))).toBe(false);
    expect(r.events).toEqual([{ vs: vsKey(v), kind: 'quorum-down', weightSum: 0, threshold: 0 }]);
  });

  it("a reload's first pass words a kept virtual server's change as a start, and puts a new sorry server in", () => {
    const v = vs({ quorum: 9, sorryServer: { addr: '198.51.100.99' } });
    const none = { newSorry: new Set<string>() };
    // was up, the reload raised the quorum: compared with quorum-hysteresis, worded "Starting"
    let r = buildDesired([v], new Map(), new Map([[vsKey(v), true]]), undefined, none);
    expect(r.events).toEqual([
      { vs: vsKey(v), kind: 'quorum-down', weightSum: 5, threshold: 9, init: 'reload' },
    ]);
    // was down and stays down: nothing, unless the reload brought the sorry server
    r = buildDesired([v], new Map(), new Map([[vsKey(v), false]]), undefined, none);
    expect(r.events).toEqual([]);
    r = buildDesired([v], new Map(), new Map([[vsKey(v), false]]), undefined, {
      newSorry: new Set([vsKey(v)]),
    });
    expect(r.events).toEqual([
      { vs: vsKey(v), kind: 'quorum-down', weightSum: 5, threshold: 9, init: 'reload' },
    ]);
    // was down, the reload lowered the quorum
    const low = { ...v, quorum: 5 };
    r = buildDesired([low], new Map(), new Map([[vsKey(v), false]]), undefined, none);
    expect(r.events).toEqual([
      { vs: vsKey(v), kind: 'quorum-up', weightSum: 5, threshold: 5, init: 'reload' },
    ]);
  });

  it('omega yields quorum-down at shutdown, whatever the quorum; ha_suspend follows the local addresses', () => {
    const v = vs({ omega: true, haSuspend: true, quorum: 3, hysteresis: 1 });
    expect(shutdownEvents([v], new Map([[vsKey(v), true]]))).toEqual([
      { vs: vsKey(v), kind: 'quorum-down', weightSum: 0, threshold: 2, stopping: true },
    ]);
    expect(shutdownEvents([v], new Map([[vsKey(v), false]]))).toHaveLength(1);
    expect(shutdownEvents([v], new Map())).toEqual([]);
    expect(shutdownEvents([vs()], new Map([[vsKey(v), true]]))).toEqual([]);
    expect(checksSuspended(v, new Set())).toBe(true);
    expect(checksSuspended(v, new Set(['192.0.2.10']))).toBe(false);
    expect(checksSuspended(vs(), new Set())).toBe(false);
  });
});
