import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import {
  compareOids,
  findExact,
  findNext,
  type KeepalivedMibInput,
  keepalivedVarbinds,
  oidText,
  parseOid,
  type SnmpInstanceState,
  syncGroupState,
  type Varbind,
} from '../../../src/snmp/keepalived-mib.js';
import { parseWalk, walkLine } from '../../interop/snmp-walk.js';

const FIX = join(import.meta.dirname, '../../interop/fixtures/snmp');
const KA_VERSION = 'Keepalived v2.2.7 (01/16,2022)';

/** node-a.conf as keepalived ran it, with the runtime state its walk shows (README.md there). */
function nodeA(): KeepalivedMibInput {
  const { config } = loadConfig(join(FIX, 'node-a.conf'), { configId: 'nodeA' });
  const instances: SnmpInstanceState[] = [
    {
      iname: 'VI_1',
      state: 2,
      wantstate: 2,
      base_priority: 150,
      effective_priority: 150,
      vipset: true,
      ifp_ifname: 'eth0',
      ifindex: 2,
    },
    {
      iname: 'VI_2',
      state: 1,
      wantstate: 1,
      base_priority: 100,
      effective_priority: 100,
      vipset: false,
      ifp_ifname: 'eth0',
      ifindex: 2,
    },
  ];
  return { config, instances, version: KA_VERSION };
}

describe('KEEPALIVED-MIB from config and snapshot', () => {
  it("gives keepalived 2.2.7's walk of the same configuration and state, object by object", () => {
    const want = parseWalk(readFileSync(join(FIX, 'keepalived-2.2.7-walk.txt'), 'utf8'));
    const got = keepalivedVarbinds(nodeA()).map(walkLine);
    expect(want.length).toBe(104);
    expect(got).toEqual(want);
  });

  it('sorts by OID and leaves out unset objects (scripts, LVS sync interface)', () => {
    const binds = keepalivedVarbinds(nodeA());
    for (let i = 1; i < binds.length; i++) expect(compareOids(binds[i - 1]!.oid, binds[i]!.oid)).toBe(-1);
    const inst = (col: number, ix: number) => parseOid(`1.3.6.1.4.1.9586.100.5.2.3.1.${col}.${ix}`);
    expect(findExact(binds, inst(22, 1))).toBeUndefined();
    expect(findExact(binds, inst(17, 1))).toBeUndefined();
  });

  it('shows state changes, notify scripts, v3 accept and IPv6 VIPs as keepalived encodes them', () => {
    const base = nodeA();
    const { config } = loadConfig(join(FIX, 'node-a.conf'), { configId: 'nodeA' });
    const c0 = config.vrrpInstances[0]!;
    const v3 = {
      ...c0,
      version: 3 as const,
      accept: true,
      advertIntCs: 100,
      notify: {
        ...c0.notify,
        master: {
          text: '/bin/m arg',
          argv: ['/bin/m', 'arg'],
          user: undefined,
          group: undefined,
          pos: c0.pos,
        },
      },
      virtualIpaddress: [
        ...c0.virtualIpaddress,
        {
          ...c0.virtualIpaddress[0]!,
          address: 'fd00::5',
          prefix: 64,
          family: 'inet6' as const,
          scope: 'link' as const,
        },
      ],
    };
    const input: KeepalivedMibInput = {
      ...base,
      config: { ...config, vrrpInstances: [v3, config.vrrpInstances[1]!] },
      instances: base.instances.map((i) => (i.iname === 'VI_1' ? { ...i, state: 3, wantstate: 2 } : i)),
    };
    const binds = keepalivedVarbinds(input);
    const v = (o: string) => findExact(binds, parseOid(`1.3.6.1.4.1.9586.100.5.${o}`))?.value;
    expect(v('2.3.1.4.1')).toBe(3); // fault
    expect(v('2.3.1.6.1')).toBe(2); // still wants master
    expect(v('2.1.1.3.1')).toBe(3); // its group is in fault
    expect(v('2.3.1.12.1')).toBe(100); // v3: centiseconds
    expect(v('2.3.1.27.1')).toBe(1); // accept
    expect(v('2.3.1.27.2')).toBe(0); // v2: no accept mode
    expect(v('2.3.1.30.1')).toBe(3);
    expect(v('2.3.1.22.1')).toEqual(Buffer.from("'/bin/m' 'arg'"));
    expect(v('2.3.1.21.1')).toBe(1); // notify exec
    expect(v('2.6.1.2.1.3')).toBe(2); // ipv6
    expect(v('2.6.1.3.1.3')).toEqual(Buffer.from('fd000000000000000000000000000005', 'hex'));
    expect(v('2.6.1.4.1.3')).toBeUndefined(); // no broadcast for IPv6
    expect(v('2.6.1.5.1.3')).toBe(64);
    expect(v('2.6.1.6.1.3')).toBe(2); // link scope
  });

  it('lists only instances that run, and static addresses under instance 0', () => {
    const base = nodeA();
    const only2 = keepalivedVarbinds({
      ...base,
      instances: base.instances.filter((i) => i.iname === 'VI_2'),
    });
    const names = only2.filter((b) => oidText(b.oid).startsWith('1.3.6.1.4.1.9586.100.5.2.3.1.2.'));
    expect(names.map((b) => [oidText(b.oid), b.value.toString()])).toEqual([
      ['1.3.6.1.4.1.9586.100.5.2.3.1.2.1', 'VI_2'],
    ]);
    const c = base.config;
    const withStatic = keepalivedVarbinds({
      ...base,
      config: { ...c, staticIpaddress: [{ ...c.vrrpInstances[0]!.virtualIpaddress[0]!, dev: 'lo' }] },
      ifindexOf: (n) => (n === 'lo' ? 1 : undefined),
    });
    const v = (o: string) => findExact(withStatic, parseOid(`1.3.6.1.4.1.9586.100.5.2.6.1.${o}`))?.value;
    expect(v('8.0.1')).toEqual(Buffer.from('lo'));
    expect(v('7.0.1')).toBe(1);
    expect(v('11.0.1')).toBe(2); // not advertised
  });

  it('tracking tables follow the sync group rules, and vrrpScriptResult the tracker state', () => {
    const { config } = loadConfig(join(FIX, 'node-a-track.conf'), { configId: 'nodeA' });
    const inst = {
      iname: 'VI_1',
      state: 2,
      base_priority: 100,
      effective_priority: 110,
      vipset: true,
      ifp_ifname: 'eth0',
    };
    const walk = (up: boolean | undefined) =>
      keepalivedVarbinds({
        config,
        version: KA_VERSION,
        instances: [inst],
        trackers: up === undefined ? [] : [{ kind: 'script', name: 'chk_ok', up }],
      });
    const v = (b: Varbind[], o: string) => findExact(b, parseOid(`1.3.6.1.4.1.9586.100.5.2.${o}`))?.value;
    const good = walk(true);
    // VI_1's weighted scripts are dropped (sync group member): no vrrpTrackedScriptTable rows, and
    // vrrpScriptTable lists only chk_ok, which G1 tracks
    expect(good.filter((b) => oidText(b.oid).startsWith('1.3.6.1.4.1.9586.100.5.2.5.'))).toEqual([]);
    expect(v(good, '9.1.2.1')).toEqual(Buffer.from('chk_ok'));
    expect(v(good, '9.1.2.2')).toBeUndefined();
    expect(v(good, '9.1.3.1')).toEqual(Buffer.from("'/bin/true' 'ok'"));
    expect([v(good, '9.1.6.1'), v(walk(false), '9.1.6.1'), v(walk(undefined), '9.1.6.1')]).toEqual([3, 2, 1]);
    // interfaces keep their entries with weight 0; the reverse flag stays
    expect([v(good, '4.1.1.1.1'), v(good, '4.1.2.1.1'), v(good, '4.1.1.1.2'), v(good, '4.1.3.1.2')]).toEqual([
      Buffer.from('eth1'),
      0,
      Buffer.from('lo'),
      1,
    ]);
    expect([
      v(good, '14.1.1.1.1'),
      v(good, '14.1.2.1.1'),
      v(good, '15.1.2.1.1'),
      v(good, '15.1.3.1.1'),
    ]).toEqual([Buffer.from('eth1'), 7, Buffer.from('chk_ok'), 10]);
  });

  it('sync group state: FAULT if any member is, MASTER if all are, else BACKUP', () => {
    expect(syncGroupState([2, 2])).toBe(2);
    expect(syncGroupState([2, 1])).toBe(1);
    expect(syncGroupState([2, 3])).toBe(3);
    expect(syncGroupState([])).toBe(1);
  });
});

describe('OID search', () => {
  const binds: Varbind[] = [
    '1.3.6.1.4.1.9586.100.5.1.1.0',
    '1.3.6.1.4.1.9586.100.5.1.2.0',
    '1.3.6.1.4.1.9586.100.5.2.3.1.2.1',
  ].map((o, i) => ({ oid: parseOid(o), type: 'integer', value: i }));
  const p = parseOid;
  it('GetNext: strictly after start, at start with include, and never at or past end', () => {
    expect(findNext(binds, p('1.3.6.1.4.1.9586.100.5'))?.value).toBe(0);
    expect(findNext(binds, p('1.3.6.1.4.1.9586.100.5.1.1.0'))?.value).toBe(1);
    expect(findNext(binds, p('1.3.6.1.4.1.9586.100.5.1.1.0'), true)?.value).toBe(0);
    expect(
      findNext(binds, p('1.3.6.1.4.1.9586.100.5.1.2.0'), false, p('1.3.6.1.4.1.9586.100.5.2')),
    ).toBeUndefined();
    expect(findNext(binds, p('1.3.6.1.4.1.9586.100.5.2.3.1.2.1'))).toBeUndefined();
  });
  it('compares OIDs by subidentifier, a prefix first', () => {
    expect(compareOids(p('1.3.6.1.10'), p('1.3.6.1.9'))).toBe(1);
    expect(compareOids(p('1.3.6'), p('1.3.6.0'))).toBe(-1);
    expect(compareOids(p('1.3.6'), p('1.3.6'))).toBe(0);
    expect(() => parseOid('1.3.x')).toThrow(RangeError);
  });
});
