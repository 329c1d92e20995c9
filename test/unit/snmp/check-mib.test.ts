/**
 * KEEPALIVED-MIB check subtree: the tables built from fixtures/check.conf and an LVS state, against
 * the MIB's columns and the values keepalived's check_snmp.c gives (read, not run: keepalived's
 * checker needs kernel IPVS). Each expectation names the column.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import {
  type CheckMibInput,
  checkVarbinds,
  quorumTrap,
  realServerTrap,
} from '../../../src/snmp/check-mib.js';
import { walkLine } from '../../interop/snmp-walk.js';

const FIX = join(import.meta.dirname, 'fixtures');
const CHECK = '1.3.6.1.4.1.9586.100.5.3';
const { config } = loadConfig(join(FIX, 'check.conf'), { configId: 'lvs1' });
const hex = (s: string) => Buffer.from(s).toString('hex');

/** `column.index` → `type value` under a table of the check subtree. */
function table(input: CheckMibInput, t: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of checkVarbinds(input)) {
    const [oid = '', type = '', value = ''] = walkLine(v).split(' ');
    const prefix = `${CHECK}.${t}.1.`;
    if (oid.startsWith(prefix)) out.set(oid.slice(prefix.length), `${type} ${value}`);
  }
  return out;
}

/** State: the first virtual server lost its quorum, its second real server is down. */
const degraded: CheckMibInput = {
  config,
  virtualServers: [
    {
      name: '192.0.2.100 80',
      protocol: 'tcp',
      family: 'inet',
      quorumUp: false,
      realServers: [
        { addr: '198.51.100.1', port: 80, up: true, weight: 3 },
        { addr: '198.51.100.2', port: 80, up: false, weight: 0, failedChecks: 1 },
      ],
    },
  ],
};

describe('virtualServerGroupTable and virtualServerGroupMemberTable', () => {
  it('list each group, then its fwmarks, addresses and ranges in that order', () => {
    expect(table({ config }, 1)).toEqual(new Map([['2.1', `octets ${hex('WEB')}`]]));
    const m = table({ config }, 2);
    // Type: fwmark(1), ip(2), iprange(3)
    expect([m.get('2.1.1'), m.get('2.1.2'), m.get('2.1.3')]).toEqual(['integer 1', 'integer 2', 'integer 3']);
    expect(m.get('3.1.1')).toBe('gauge 7');
    // an address: AddrType and Address; a range: Addr1 and Addr2 (first and last of 192.0.2.20-22)
    expect(m.get('4.1.2')).toBe('integer 1');
    expect(m.get('5.1.2')).toBe('octets c000020a');
    expect([m.get('6.1.3'), m.get('7.1.3')]).toEqual(['octets c0000214', 'octets c0000216']);
    expect([m.get('8.1.2'), m.get('8.1.3')]).toEqual(['gauge 80', 'gauge 8080']);
    // a fwmark member has no address columns
    expect([m.get('4.1.1'), m.get('5.1.1'), m.get('8.1.1')]).toEqual([undefined, undefined, undefined]);
  });
});

describe('virtualServerTable', () => {
  it('describes each virtual server in configuration order', () => {
    const v = table({ config }, 3);
    // Type: fwmark(1), ip(2), group(3)
    expect([v.get('2.1'), v.get('2.2'), v.get('2.3')]).toEqual(['integer 2', 'integer 1', 'integer 3']);
    expect(v.get('3.3')).toBe(`octets ${hex('WEB')}`);
    expect(v.get('4.2')).toBe('gauge 5');
    expect([v.get('5.1'), v.get('6.1'), v.get('7.1')]).toEqual(['integer 1', 'octets c0000264', 'gauge 80']);
    // Protocol tcp(1), udp(2) … none(4) for a fwmark service (the MIB's value; keepalived's old code said udp)
    expect([v.get('8.1'), v.get('8.2'), v.get('8.3')]).toEqual(['integer 1', 'integer 4', 'integer 1']);
    // LoadBalancingAlgo: wrr(2), sh(8), mh(13)
    expect([v.get('9.1'), v.get('9.2'), v.get('9.3')]).toEqual(['integer 2', 'integer 8', 'integer 13']);
    // LoadBalancingKind: nat(1), dr(2), tun(3)
    expect([v.get('10.1'), v.get('10.2'), v.get('10.3')]).toEqual(['integer 2', 'integer 1', 'integer 3']);
    expect(v.get('12.1')).toBe(`octets ${hex('www.example.org')}`);
    // Persist enabled(1) with its timeout and granularity; none without persistence_timeout
    expect([v.get('13.1'), v.get('14.1'), v.get('15.1')]).toEqual([
      'integer 1',
      'gauge 300',
      'octets ffffff00',
    ]);
    // granularity 255.255.255.255 without persistence (keepalived 2.2.7's walk), none for IPv6
    expect([v.get('13.2'), v.get('14.2'), v.get('15.2')]).toEqual([
      'integer 2',
      undefined,
      'octets ffffffff',
    ]);
    expect([v.get('16.1'), v.get('16.2')]).toEqual(['gauge 6', 'gauge 60']);
    // HaSuspend, Alpha, Omega: 1 when set, else 2
    expect([v.get('17.3'), v.get('18.3'), v.get('19.3')]).toEqual(['integer 1', 'integer 1', 'integer 1']);
    expect([v.get('17.1'), v.get('18.1'), v.get('19.1')]).toEqual(['integer 2', 'integer 2', 'integer 2']);
    // RealServersTotal counts regular real servers only (not the sorry server)
    expect(v.get('20.1')).toBe('gauge 2');
    expect([v.get('22.1'), v.get('26.1')]).toEqual(['gauge 2', 'gauge 1']);
    expect(v.get('24.1')).toBe(`octets ${hex("'/bin/echo' 'up'")}`);
    expect(v.get('25.1')).toBe(`octets ${hex("'/bin/false'")}`);
    expect(v.get('24.2')).toBeUndefined();
    expect(v.get('37.1')).toBe('integer 2');
  });

  it("follows the LVS host's state: quorum, status, real servers up", () => {
    const ok = table({ config }, 3);
    expect([ok.get('11.1'), ok.get('23.1'), ok.get('21.1')]).toEqual(['integer 1', 'integer 1', 'gauge 2']);
    const v = table(degraded, 3);
    expect([v.get('11.1'), v.get('23.1'), v.get('21.1')]).toEqual(['integer 2', 'integer 2', 'gauge 1']);
  });
});

describe('realServerTable', () => {
  it('lists the sorry server first (type sorry(2), address only), then the real servers', () => {
    const r = table({ config }, 4);
    expect([r.get('2.1.1'), r.get('2.1.2'), r.get('2.1.3')]).toEqual(['integer 2', 'integer 1', 'integer 1']);
    expect([r.get('4.1.1'), r.get('5.1.1')]).toEqual(['octets c6336409', 'gauge 80']);
    expect([r.get('6.1.1'), r.get('7.1.1'), r.get('13.1.1')]).toEqual([undefined, undefined, undefined]);
    expect([r.get('3.3.1'), r.get('4.3.1'), r.get('5.3.1')]).toEqual([
      'integer 2',
      'octets fd000000000000000000000000000001',
      'gauge 8080',
    ]);
    // thresholds only when set; ActionWhenDown inhibit(2) with inhibit_on_failure, else remove(1)
    expect([r.get('8.1.2'), r.get('9.1.2'), r.get('8.1.3')]).toEqual(['gauge 100', 'gauge 10', undefined]);
    expect([r.get('10.1.2'), r.get('10.1.3')]).toEqual(['integer 2', 'integer 1']);
    expect(r.get('11.1.2')).toBe(`octets ${hex("'/bin/echo' 'rs' 'up'")}`);
    expect(r.get('12.1.2')).toBeUndefined();
  });

  it("reads status, weight and failed checks from the LVS host's state", () => {
    const r = table(degraded, 4);
    expect([r.get('6.1.2'), r.get('7.1.2'), r.get('13.1.2')]).toEqual(['integer 1', 'integer 3', 'gauge 0']);
    expect([r.get('6.1.3'), r.get('7.1.3'), r.get('13.1.3')]).toEqual(['integer 2', 'integer 0', 'gauge 1']);
  });
});

describe('check traps', () => {
  const lines = (t: ReturnType<typeof quorumTrap>) => [
    t?.trap.join('.'),
    ...(t?.objects.map(walkLine) ?? []),
  ];

  it("realServerStateChange: the real server, the virtual server's identity, counts, routerId", () => {
    expect(lines(realServerTrap(degraded, 0, '198.51.100.2', 80))).toEqual([
      `${CHECK}.5.0.1`,
      `${CHECK}.4.1.3 integer 1`,
      `${CHECK}.4.1.4 octets c6336402`,
      `${CHECK}.4.1.5 gauge 80`,
      `${CHECK}.4.1.6 integer 2`,
      `${CHECK}.3.1.2 integer 2`,
      `${CHECK}.3.1.5 integer 1`,
      `${CHECK}.3.1.6 octets c0000264`,
      `${CHECK}.3.1.7 gauge 80`,
      `${CHECK}.3.1.8 integer 1`,
      `${CHECK}.3.1.21 gauge 1`,
      `${CHECK}.3.1.20 gauge 2`,
      `1.3.6.1.4.1.9586.100.5.1.2.0 octets ${hex('lvs1')}`,
    ]);
    expect(realServerTrap(degraded, 0, '198.51.100.9', 80)).toBeUndefined();
    expect(realServerTrap(degraded, 9, '198.51.100.2', 80)).toBeUndefined();
  });

  it('virtualServerQuorumStateChange: identity, protocol, quorum status and quorum, counts', () => {
    expect(lines(quorumTrap(degraded, 2))).toEqual([
      `${CHECK}.5.0.2`,
      `${CHECK}.3.1.2 integer 3`,
      `${CHECK}.3.1.3 octets ${hex('WEB')}`,
      `${CHECK}.3.1.8 integer 1`,
      `${CHECK}.3.1.23 integer 1`,
      `${CHECK}.3.1.22 gauge 1`,
      `${CHECK}.3.1.21 gauge 1`,
      `${CHECK}.3.1.20 gauge 1`,
      `1.3.6.1.4.1.9586.100.5.1.2.0 octets ${hex('lvs1')}`,
    ]);
    expect(lines(quorumTrap(degraded, 0)).slice(6, 8)).toEqual([
      `${CHECK}.3.1.23 integer 2`,
      `${CHECK}.3.1.22 gauge 2`,
    ]);
  });
});
