import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { SnmpInstanceState } from '../../../src/snmp/keepalived-mib.js';
import {
  newMasterTraps,
  type VrrpRfcMibInput,
  vrrpMibVarbinds,
  vrrpv3MibVarbinds,
} from '../../../src/snmp/vrrp-rfc-mib.js';
import { walkLine } from '../../interop/snmp-walk.js';

const FIX = join(import.meta.dirname, '../../interop/fixtures/snmp');

/**
 * node-a-rfc.conf as it ran when keepalived-2.2.7-rfc-walk.txt was taken (fixtures README): eth0 is
 * ifindex 2001, VI_2 is BACKUP to node B (192.0.2.2) after 34 adverts, every other instance MASTER.
 */
function capturedView(): VrrpRfcMibInput {
  const { config } = loadConfig(join(FIX, 'node-a-rfc.conf'), { configId: 'nodeA' });
  const instances: SnmpInstanceState[] = config.vrrpInstances.map((c) => {
    const backup = c.name === 'VI_2';
    return {
      iname: c.name,
      state: backup ? 1 : 2,
      base_priority: c.priority,
      effective_priority: c.priority,
      vipset: !backup,
      ifp_ifname: 'eth0',
      master_addr: backup ? '192.0.2.2' : null,
      src_ip: c.family === 'inet6' ? 'fe80::ff:fe00:101' : '192.0.2.1',
      stats: (backup ? { 'vrrp.advert_rcvd': 34 } : { 'vrrp.become_master': 1 }) as Record<string, number>,
    };
  });
  return {
    config,
    instances,
    version: 'test',
    link: (n) =>
      n === 'eth0'
        ? { ifindex: 2001, mac: '02:00:00:00:01:01', ipv4: '192.0.2.1', ipv6: 'fe80::ff:fe00:101' }
        : undefined,
  };
}

/** Up-time columns depend on when the walk ran: compared by type. */
const TIMED = [/^1\.3\.6\.1\.2\.1\.68\.1\.3\.1\.13\./, /^1\.3\.6\.1\.2\.1\.207\.1\.1\.1\.1\.12\./];
const loosen = (line: string): string => {
  const [oid = '', type = ''] = line.split(' ');
  return TIMED.some((r) => r.test(oid)) ? `${oid} ${type}` : line;
};

describe('VRRP-MIB and VRRPv3-MIB tables', () => {
  it("build the objects of keepalived 2.2.7's walk, with its types and values", () => {
    const want = readFileSync(join(FIX, 'keepalived-2.2.7-rfc-walk.txt'), 'utf8').trim().split('\n');
    const view = capturedView();
    const got = [...vrrpMibVarbinds(view), ...vrrpv3MibVarbinds(view)].map(walkLine);
    expect(got.length).toBe(216);
    expect(got.map(loosen)).toEqual(want.map(loosen));
  });

  it('leaves out instances without VIPs or on an interface not known, and lists VRRPv2 IPv6 only in VRRPv3-MIB', () => {
    const view = capturedView();
    const unknownIf = { ...view, link: () => undefined };
    expect(vrrpMibVarbinds(unknownIf).map((v) => v.oid.join('.'))).toEqual([
      '1.3.6.1.2.1.68.1.1.0',
      '1.3.6.1.2.1.68.1.2.0',
      '1.3.6.1.2.1.68.2.1.0',
      '1.3.6.1.2.1.68.2.2.0',
      '1.3.6.1.2.1.68.2.3.0',
    ]);
    const rows = (vbs: ReturnType<typeof vrrpv3MibVarbinds>) =>
      new Set(vbs.filter((v) => v.oid[11] === 6).map((v) => v.oid.slice(12).join('.')));
    expect(rows(vrrpv3MibVarbinds(view))).toEqual(
      new Set(['2001.50.1', '2001.51.1', '2001.52.1', '2001.53.2', '2001.55.1', '2001.61.1', '2001.62.2']),
    );
    const noVips = {
      ...view,
      config: {
        ...view.config,
        vrrpInstances: view.config.vrrpInstances.map((c) =>
          c.name === 'VI_6' ? { ...c, virtualIpaddress: [] } : c,
        ),
      },
    };
    expect(rows(vrrpv3MibVarbinds(noVips)).has('2001.50.1')).toBe(false);
    // the lowest index left answers vrrpOperTable
    expect(vrrpMibVarbinds(noVips).some((v) => v.oid.join('.') === '1.3.6.1.2.1.68.1.3.1.3.2001.51')).toBe(
      true,
    );
  });

  it('counts receive errors into the global statistics and the protocol error reason', () => {
    const view = capturedView();
    const withErrors = {
      ...view,
      instances: view.instances.map((s) =>
        s.iname === 'VI_3'
          ? { ...s, stats: { 'vrrp.rx.KA_ERR_VRRP_RX_CHECKSUM': 2, 'vrrp.rx.KA_ERR_VRRP_RX_VERSION': 1 } }
          : s,
      ),
    };
    const v3 = new Map(vrrpv3MibVarbinds(withErrors).map((v) => [v.oid.join('.'), v.value]));
    expect(v3.get('1.3.6.1.2.1.207.1.2.1.0')).toBe(2n);
    expect(v3.get('1.3.6.1.2.1.207.1.2.2.0')).toBe(1n);
    expect(v3.get('1.3.6.1.2.1.207.1.2.5.1.6.2001.61.1')).toBe(3);
  });
});

describe('new-master traps', () => {
  it('carry the own address and, for VRRPv3-MIB, the reason', () => {
    const view = capturedView();
    const t = (name: string) =>
      newMasterTraps(view, name, { v2: true, v3: true }).map((x) =>
        [x.trap.join('.'), ...x.objects.map(walkLine)].join(' '),
      );
    expect(t('VI_1')).toEqual([
      '1.3.6.1.2.1.68.0.1 1.3.6.1.2.1.68.1.3.1.7.2001.51 ipaddress 192.0.2.1',
      '1.3.6.1.2.1.207.0.1 1.3.6.1.2.1.207.1.1.1.1.3.2001.51.1 octets c0000201 1.3.6.1.2.1.207.1.2.5.1.2.2001.51.1 integer 3',
    ]);
    expect(t('VI_4')).toEqual([
      '1.3.6.1.2.1.207.0.1 1.3.6.1.2.1.207.1.1.1.1.3.2001.62.2 octets fe80000000000000000000fffe000101 1.3.6.1.2.1.207.1.2.5.1.2.2001.62.2 integer 3',
    ]);
    expect(newMasterTraps(view, 'VI_1', { v2: false, v3: false })).toEqual([]);
    expect(newMasterTraps(view, 'nope', { v2: true, v3: true })).toEqual([]);
  });
});
