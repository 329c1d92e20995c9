/**
 * vroutes.ts: route and rule options of the configuration reach the rtnetlink message (header bytes
 * and attributes read back with the netlink decoder); refused options fail with KA_ERR_VRRP_ROUTE.
 * Configurations go through the real loader, so the option spelling is the parser's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type {
  RouteSpec as CfgRoute,
  RuleSpec as CfgRule,
  KeepalivedConfig,
} from '../../../src/config/model.js';
import { isKaError } from '../../../src/core/errors.js';
import { routeMessages, routeRequest, ruleMessages } from '../../../src/daemon/vroutes.js';
import { attrMap, decodeAttrs, encodeAttrs, NLM_F_APPEND } from '../../../src/wire/netlink.js';
import type { RtRequest } from '../../../src/wire/rtnetlink.js';

const dir = mkdtempSync(join(tmpdir(), 'vroutes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function load(body: string): KeepalivedConfig {
  const path = join(dir, `k${n++}.conf`);
  writeFileSync(path, body);
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  const errors = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal');
  expect(errors.map((d) => d.message)).toEqual([]);
  return config;
}

const route = (line: string) => load(`static_routes {\n  ${line}\n}\n`).staticRoutes[0]!;
/** A route line the config reports but keeps (its messages returned too). */
function reportedRoute(line: string): { route: CfgRoute; messages: string[] } {
  const path = join(dir, `k${n++}.conf`);
  writeFileSync(path, `static_routes {\n  ${line}\n}\n`);
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  return { route: config.staticRoutes[0]!, messages: diagnostics.map((d) => d.message) };
}
const rule = (line: string) => load(`static_rules {\n  ${line}\n}\n`).staticRules[0]!;
const ifindexes: Record<string, number> = { eth0: 2, eth1: 3 };
const resolve = (d: string) => ifindexes[d];

function attrs(req: RtRequest): Map<number, Buffer> {
  return attrMap(decodeAttrs(encodeAttrs(req.attrs)));
}

describe('route options', () => {
  it('onlink sets RTNH_F_ONLINK in rtm_flags, add and delete alike', () => {
    const m = routeMessages(route('203.0.113.0/24 via 198.51.100.1 dev eth0 onlink'), resolve);
    for (const req of [m.add, m.del]) {
      expect(req.header.readUInt32LE(8)).toBe(4);
      const a = attrs(req);
      expect([...a.get(5)!]).toEqual([198, 51, 100, 1]); // RTA_GATEWAY
      expect(a.get(4)!.readUInt32LE(0)).toBe(2); // RTA_OIF
    }
    // the base request without options has no flags: onlink is what this module adds
    expect(routeRequest(route('203.0.113.0/24 via 198.51.100.1 dev eth0'), resolve)).not.toHaveProperty(
      'flags',
    );
  });

  it('scope: added as universe unless configured; deleted with RT_SCOPE_NOWHERE (any scope) unless configured', () => {
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope (byte 6), type
    const plain = routeMessages(route('198.51.100.0/24 dev eth0'), resolve);
    expect(plain.add.header[6]).toBe(0); // RT_SCOPE_UNIVERSE, as keepalived 2.2.7 adds it
    expect(plain.del.header[6]).toBe(255); // matches a route installed as link too
    const link = routeMessages(route('198.51.100.0/24 dev eth0 scope link'), resolve);
    expect([link.add.header[6], link.del.header[6]]).toEqual([253, 253]);
  });

  it('metrics go into RTA_METRICS, with lock bits; metric, table and tos into their places', () => {
    const m = routeMessages(
      route(
        '203.0.113.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 advmss 1360 metric 50 table 1000 tos 0x10 initcwnd 10 initrwnd 20 rtt 300ms rttvar 2s rto_min 300 hoplimit 9 features ecn congctl cubic quickack 1 fastopen_no_cookie 1 window 7 cwnd 8 ssthresh 9 reordering 4',
      ),
      resolve,
    );
    const h = m.add.header;
    expect(h.readUInt8(3)).toBe(0x10); // rtm_tos
    expect(h.readUInt8(4)).toBe(0); // table > 255: RT_TABLE_UNSPEC in the header
    const a = attrs(m.add);
    expect(a.get(15)!.readUInt32LE(0)).toBe(1000); // RTA_TABLE
    expect(a.get(6)!.readUInt32LE(0)).toBe(50); // RTA_PRIORITY
    const mx = attrMap(decodeAttrs(a.get(8)!));
    const v = (t: number) => mx.get(t)!.readUInt32LE(0);
    expect(v(2)).toBe(1400); // mtu
    expect(v(8)).toBe(1360); // advmss
    expect(v(11)).toBe(10); // initcwnd
    expect(v(14)).toBe(20); // initrwnd
    expect(v(4)).toBe(2400); // rtt 300 ms, kernel unit ms << 3
    expect(v(5)).toBe(8000); // rttvar 2 s, ms << 2
    expect(v(13)).toBe(300); // rto_min ms
    expect(v(10)).toBe(9);
    expect(v(12)).toBe(1); // RTAX_FEATURE_ECN
    expect(mx.get(16)!.toString()).toBe('cubic');
    expect(v(15)).toBe(1);
    expect(v(17)).toBe(1);
    expect(v(3)).toBe(7);
    expect(v(7)).toBe(8);
    expect(v(6)).toBe(9);
    expect(v(9)).toBe(4);
    expect(v(1)).toBe(1 << 2); // RTAX_LOCK: mtu
  });

  it('realms, IPv6 pref and expires, append', () => {
    const r4 = routeMessages(route('198.51.100.0/24 dev eth0 realms 3/7 append'), resolve);
    expect(attrs(r4.add).get(11)!.readUInt32LE(0)).toBe((3 << 16) | 7);
    expect(r4.add.flags & NLM_F_APPEND).toBe(NLM_F_APPEND);
    expect(r4.del.flags & NLM_F_APPEND).toBe(0);
    const r6 = routeMessages(route('fd00:1::/64 via fd00::1 dev eth0 pref high expires 300'), resolve);
    const a = attrs(r6.add);
    expect(a.get(20)!.readUInt8(0)).toBe(1); // ICMPV6_ROUTER_PREF_HIGH
    expect(a.get(23)!.readUInt32LE(0)).toBe(300);
  });

  it('protocol holds only for no_track routes (keepalived resets tracked ones to RTPROT_KEEPALIVED)', () => {
    expect(
      routeMessages(route('198.51.100.0/24 dev eth0 protocol static no_track'), resolve).add.header[5],
    ).toBe(4);
    expect(routeMessages(route('198.51.100.0/24 dev eth0 protocol 99 no_track'), resolve).add.header[5]).toBe(
      99,
    );
    // the config reports a tracked route with another protocol (keepalived: "resetting protocol")
    const tracked = reportedRoute('198.51.100.0/24 dev eth0 protocol static');
    expect(tracked.messages.join('\n')).toMatch(/cannot be tracked/);
    expect(routeMessages(tracked.route, resolve).add.header[5]).toBe(18);
  });

  it('nexthops become RTA_MULTIPATH (weight - 1 in rtnh_hops, gateway attribute per hop)', () => {
    const m = routeMessages(
      route('198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2 dev eth1'),
      resolve,
    );
    const mp = attrs(m.add).get(9)!;
    expect(mp.length).toBe(2 * (8 + 8));
    expect(mp.readUInt16LE(0)).toBe(16);
    expect(mp.readUInt8(3)).toBe(1);
    expect(mp.readInt32LE(4)).toBe(2);
    expect([...attrMap(decodeAttrs(mp, 8, 16)).get(5)!]).toEqual([192, 0, 2, 1]);
    expect(mp.readUInt8(16 + 3)).toBe(0);
    expect(mp.readInt32LE(16 + 4)).toBe(3);
    expect(attrs(m.add).has(5)).toBe(false); // no top-level gateway
    expect(() => routeRequest(route('198.51.100.0/24 nexthop via 192.0.2.1 dev eth0'), resolve)).toThrow();
  });

  it('refuses options it cannot express, and unknown interfaces, with KA_ERR_VRRP_ROUTE', () => {
    // the config drops most of these with keepalived's messages; the runtime refuses them too,
    // whatever a model holds (and Object's own property names are not table entries)
    const base = route('198.51.100.0/24 dev eth0');
    const base6 = route('fd00:1::/64 dev eth0');
    const cases: [string, CfgRoute][] = [
      ['vrf red', { ...base, options: { vrf: 'red' } }],
      ['dev eth9', route('198.51.100.0/24 dev eth9')],
      ['table nosuchtable', { ...base, table: 'nosuchtable' }],
      ['mtu abc', { ...base, options: { mtu: 'abc' } }],
      ['rtt 1h', { ...base, options: { rtt: '1h' } }],
      ['table constructor', { ...base, table: 'constructor' }],
      ['scope constructor', { ...base, scope: 'constructor' }],
      ['protocol toString', { ...base, noTrack: true, options: { protocol: 'toString' } }],
      ['pref constructor', { ...base6, options: { pref: 'constructor' } }],
    ];
    for (const [what, r] of cases) {
      let caught: unknown;
      try {
        routeMessages(r, resolve);
      } catch (e) {
        caught = e;
      }
      expect(isKaError(caught, 'KA_ERR_VRRP_ROUTE'), what).toBe(true);
    }
  });
});

describe('rule ipproto', () => {
  it('takes /etc/protocols names and aliases as the config does (gre is 47)', () => {
    const m = ruleMessages(rule('from 192.0.2.0/24 table 100 preference 10 ipproto gre'));
    const a = attrs(m.add);
    expect(a.get(22)?.readUInt8(0)).toBe(47); // FRA_IP_PROTO
  });
});

describe('rule names', () => {
  it("refuses Object's own property names as tables, actions and ip_proto with KA_ERR_VRRP_ROUTE", () => {
    const base = rule('from 192.0.2.0/24 table 100 preference 10');
    const cases: [string, CfgRule][] = [
      ['table constructor', { ...base, table: 'constructor' }],
      ['action constructor', { ...base, action: 'constructor' }],
      ['ipproto constructor', { ...base, options: { ipproto: 'constructor' } }],
      ['ipproto __proto__', { ...base, options: { ipproto: '__proto__' } }],
    ];
    for (const [what, r] of cases) {
      let caught: unknown;
      try {
        ruleMessages(r);
      } catch (e) {
        caught = e;
      }
      expect(isKaError(caught, 'KA_ERR_VRRP_ROUTE'), what).toBe(true);
    }
  });
});

describe('rule options', () => {
  it('tos, not, goto, uidrange, ip_proto, ports, suppress_prefixlength, l3mdev, realms', () => {
    const m = ruleMessages(
      rule(
        'from 192.0.2.0/24 table 100 preference 500 tos 0x08 not uidrange 1000-2000 ipproto tcp sport 1000-2000 dport 80-80 suppress_prefixlength 0 realms 5',
      ),
    );
    expect(m.add.header.readUInt8(3)).toBe(8);
    expect(m.add.header.readUInt32LE(8)).toBe(2); // FIB_RULE_INVERT
    const a = attrs(m.add);
    expect(a.get(6)!.readUInt32LE(0)).toBe(500);
    expect([...a.get(20)!]).toEqual([0xe8, 0x03, 0, 0, 0xd0, 0x07, 0, 0]);
    expect(a.get(22)!.readUInt8(0)).toBe(6);
    expect([...a.get(23)!]).toEqual([0xe8, 0x03, 0xd0, 0x07]);
    expect([...a.get(24)!]).toEqual([80, 0, 80, 0]);
    expect(a.get(14)!.readUInt32LE(0)).toBe(0);
    expect(a.get(11)!.readUInt32LE(0)).toBe(5);
    expect(a.get(12)).toBeUndefined(); // keepalived 2.2.7 has no tunnel_id
    const g = ruleMessages(rule('from 192.0.2.1 goto 600 preference 501'));
    expect(g.add.header.readUInt8(7)).toBe(2); // FR_ACT_GOTO
    expect(attrs(g.add).get(4)!.readUInt32LE(0)).toBe(600);
    expect(
      attrs(ruleMessages(rule('iif eth0 l3mdev preference 502')).add)
        .get(19)!
        .readUInt8(0),
    ).toBe(1);
  });
});

describe('numbers as keepalived 2.2.7 reads them (its installed tables and values, ip route/rule)', () => {
  /** The table a message installs into: rtm_table, or RTA_TABLE / FRA_TABLE (15) above 255. */
  const tableOf = (req: RtRequest) => attrs(req).get(15)?.readUInt32LE(0) ?? req.header.readUInt8(4);
  it('table numbers are C unsigned longs cut to 32 bits: octal, hex, negative wrap, 2^32 is 0', () => {
    const cases: [string, number][] = [
      ['010', 8],
      ['0x10', 16],
      ['+5', 5],
      ['-1', 4294967295],
      ['-4294967295', 1],
      ['4294967295', 4294967295],
      ['4294967296', 0], // rtm_table 0: the kernel puts it in main, as it did keepalived's
    ];
    for (const [t, id] of cases) {
      expect(tableOf(routeMessages(route(`198.51.100.0/24 dev eth0 table ${t}`), resolve).add), t).toBe(id);
      if (id !== 0)
        expect(tableOf(ruleMessages(rule(`from 192.0.2.1 table ${t} preference 10`)).add), t).toBe(id);
    }
  });
  it('suppress_prefixlength up to INT_MAX reaches the kernel (keepalived installs 129)', () => {
    for (const v of [129, 2147483647]) {
      const a = attrs(
        ruleMessages(rule(`from 192.0.2.1 table 10 suppress_prefixlength ${v} preference 10`)).add,
      );
      expect(a.get(14)!.readUInt32LE(0)).toBe(v);
    }
  });
  it('time metrics: a bare number is kernel units; values are kept in [200 ms, 120 s]', () => {
    const metric = (r: CfgRoute, t: number) =>
      attrMap(decodeAttrs(attrs(routeMessages(r, resolve).add).get(8)!))
        .get(t)!
        .readUInt32LE(0);
    expect(metric(route('198.51.100.0/24 dev eth0 rtt 2000'), 4)).toBe(2000); // 250 ms
    expect(metric(route('198.51.100.0/24 dev eth0 rtt 300'), 4)).toBe(1600); // 37 ms: 200 ms
    expect(metric(route('198.51.100.0/24 dev eth0 rtt 121s'), 4)).toBe(960000); // 120 s
    expect(metric(route('198.51.100.0/24 dev eth0 rttvar 5s'), 5)).toBe(20000);
    expect(metric(route('198.51.100.0/24 dev eth0 rto_min 1.5s'), 13)).toBe(1500);
    const kept = reportedRoute('198.51.100.0/24 dev eth0 rtt 1.5');
    expect(kept.messages).toEqual([
      "number '1.5' has too many decimal places",
      'rtt value 1.5 below minimum 200ms, resetting',
    ]);
    // keepalived 2.2.7 names every time metric 'rtt' in its reset messages
    expect(reportedRoute('198.51.100.0/24 dev eth0 rto_min 121s').messages).toEqual([
      "number '121' outside range [0.000, 120.000]",
      'Invalid rto_min value 121s specified for route',
    ]);
    expect(reportedRoute('198.51.100.0/24 dev eth0 rttvar lock 1').messages).toEqual([
      'rtt value 1 below minimum 200ms, resetting',
    ]);
    expect(metric(kept.route, 4)).toBe(1600);
  });
  it('C numbers (octal, hex, +) where keepalived reads them with strtoul base 0; goto stays decimal', () => {
    // keepalived 2.2.7 installs fwmark 0x8/0xf, realms 8/9, suppress_ifgroup 8, pref 8 for these
    const r = ruleMessages(
      rule('from 192.0.2.1 table 10 fwmark 010/017 realms 010/011 suppress_ifgroup 010 preference 010'),
    ).add;
    const a = attrs(r);
    expect(a.get(10)!.readUInt32LE(0)).toBe(8); // FRA_FWMARK
    expect(a.get(16)!.readUInt32LE(0)).toBe(15); // FRA_FWMASK
    expect(a.get(11)!.readUInt32LE(0)).toBe((8 << 16) | 9); // FRA_FLOW
    expect(a.get(13)!.readUInt32LE(0)).toBe(8); // FRA_SUPPRESS_IFGROUP
    expect(a.get(6)!.readUInt32LE(0)).toBe(8); // FRA_PRIORITY
    for (const [p, v] of [
      ['0x20', 32],
      ['0X21', 33],
      ['+010', 8],
    ] as const)
      expect(
        attrs(ruleMessages(rule(`from 192.0.2.1 table 10 priority ${p}`)).add)
          .get(6)!
          .readUInt32LE(0),
      ).toBe(v);
    expect(
      attrs(ruleMessages(rule('from 192.0.2.1 goto 010 preference 5')).add)
        .get(4)!
        .readUInt32LE(0),
    ).toBe(10);
    const rt = routeMessages(
      route('198.51.100.0/24 dev eth0 scope 010 protocol 010 tos 010 no_track'),
      resolve,
    ).add;
    expect(rt.header.readUInt8(6)).toBe(8); // rtm_scope
    expect(rt.header.readUInt8(5)).toBe(8); // rtm_protocol: gated
    expect(rt.header.readUInt8(3)).toBe(8); // rtm_tos
  });
  it("rule values with a leading '+' install as keepalived does", () => {
    const a = attrs(
      ruleMessages(
        rule('from 192.0.2.1 goto +10 protocol +5 no_track fwmark +5/+7 tos +4 uidrange +1-2 preference 5'),
      ).add,
    );
    expect(a.get(4)!.readUInt32LE(0)).toBe(10); // FRA_GOTO
    expect(a.get(21)!.readUInt8(0)).toBe(5); // FRA_PROTOCOL
    expect(a.get(10)!.readUInt32LE(0)).toBe(5);
    expect(a.get(16)!.readUInt32LE(0)).toBe(7);
    expect([...a.get(20)!]).toEqual([1, 0, 0, 0, 2, 0, 0, 0]); // FRA_UID_RANGE
    const t = ruleMessages(
      rule('from 192.0.2.1 table 10 realms +3/+4 suppress_ifgroup +5 tos +4 preference 9'),
    ).add;
    expect(t.header.readUInt8(3)).toBe(4);
    expect(attrs(t).get(11)!.readUInt32LE(0)).toBe((3 << 16) | 4);
    expect(attrs(t).get(13)!.readUInt32LE(0)).toBe(5);
  });
  it("an empty prefix length is /0 without a message, as keepalived reads 'IP/'", () => {
    // keepalived 2.2.7 shows `from 198.51.100.0/` as `from all` (src_len 0)
    const r = ruleMessages(rule('from 198.51.100.0/ table 10 preference 5')).add;
    expect(r.header.readUInt8(2)).toBe(0); // src_len
    const rt = routeMessages(route('198.51.100.0/ dev eth0'), resolve).add;
    expect(rt.header.readUInt8(1)).toBe(0); // dst_len: the kernel refuses it (host bits), as keepalived's
  });
});
