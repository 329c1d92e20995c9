/**
 * Reload plans for sync-group and use_vmac changes (src/daemon/reload.ts planReload), one per case
 * observed with Debian's keepalived 2.2.7 (docs/DAEMON.md "What a reload applies"): a kept instance
 * joins or leaves a group, a group is added or removed, members change; use_vmac turned on or off
 * replaces a multicast instance; a VMAC renamed keeps it. Also the VMAC naming rule (vmacAutoName).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { planReload } from '../../../src/daemon/reload.js';
import { vmacAutoName } from '../../../src/daemon/vmac.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-reload-groups-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const inst = (name: string, vrid: number, extra = '') => `
vrrp_instance ${name} {
  interface eth0
  virtual_router_id ${vrid}
  priority 100
${extra}
  virtual_ipaddress {
    192.0.2.${vrid}/24
  }
}
`;
const group = (name: string, members: string[], extra = '') =>
  `vrrp_sync_group ${name} {\n  group {\n${members.map((m) => `    ${m}\n`).join('')}  }\n${extra}}\n`;
function conf(text: string): KeepalivedConfig {
  const p = join(dir, `c${n++}.conf`);
  writeFileSync(p, text);
  return loadConfig(p, {}).config;
}
const three = (g: string) => conf(`${g}${inst('VI_1', 51)}${inst('VI_2', 52)}${inst('VI_3', 53)}`);
const keptNames = (p: ReturnType<typeof planReload>) => p.kept.map((k) => k.next.name);
const changedOf = (p: ReturnType<typeof planReload>, name: string) =>
  p.kept.find((k) => k.next.name === name)?.changed;

describe('planReload: sync groups', () => {
  it('(a) a kept instance joins a group: kept, its syncGroup applied, the group changed', () => {
    const p = planReload(three(group('G1', ['VI_2', 'VI_3'])), three(group('G1', ['VI_1', 'VI_2', 'VI_3'])));
    expect(keptNames(p)).toEqual(['VI_1', 'VI_2', 'VI_3']);
    expect(p.added).toEqual([]);
    expect(p.removed).toEqual([]);
    expect(changedOf(p, 'VI_1')).toEqual(['syncGroup']);
    expect(changedOf(p, 'VI_2')).toEqual([]);
    expect(p.groups).toEqual([{ name: 'G1', how: 'changed' }]);
    expect(p.kept.every((k) => k.unapplied.length === 0)).toBe(true);
  });

  it('(b) a member leaves its group', () => {
    const p = planReload(three(group('G1', ['VI_1', 'VI_2', 'VI_3'])), three(group('G1', ['VI_1', 'VI_2'])));
    expect(changedOf(p, 'VI_3')).toEqual(['syncGroup']);
    expect(p.kept.find((k) => k.next.name === 'VI_3')?.next.syncGroup).toBeUndefined();
    expect(p.groups).toEqual([{ name: 'G1', how: 'changed' }]);
    expect(p.groupsRemoved).toEqual([]);
  });

  it('(c) a new group over kept instances', () => {
    const p = planReload(three(''), three(group('G2', ['VI_1', 'VI_2'])));
    expect(changedOf(p, 'VI_1')).toEqual(['syncGroup']);
    expect(changedOf(p, 'VI_2')).toEqual(['syncGroup']);
    expect(changedOf(p, 'VI_3')).toEqual([]);
    expect(p.groups).toEqual([{ name: 'G2', how: 'added' }]);
  });

  it('(d) a group removed', () => {
    const p = planReload(three(group('G1', ['VI_1', 'VI_2'])), three(''));
    expect(p.groups).toEqual([]);
    expect(p.groupsRemoved).toEqual(['G1']);
    expect(p.kept.filter((k) => k.changed.includes('syncGroup')).map((k) => k.next.name)).toEqual([
      'VI_1',
      'VI_2',
    ]);
  });

  it('(e) members swapped, and a group whose notify scripts only change is kept', () => {
    const p = planReload(three(group('G1', ['VI_1', 'VI_2'])), three(group('G1', ['VI_1', 'VI_3'])));
    expect(changedOf(p, 'VI_1')).toEqual([]);
    expect(changedOf(p, 'VI_2')).toEqual(['syncGroup']);
    expect(changedOf(p, 'VI_3')).toEqual(['syncGroup']);
    const q = planReload(
      three(group('G1', ['VI_1', 'VI_2'])),
      three(group('G1', ['VI_1', 'VI_2'], '  notify_master /bin/true\n')),
    );
    expect(q.groups).toEqual([{ name: 'G1', how: 'kept' }]);
    expect(q.kept.every((k) => k.changed.length === 0)).toBe(true);
  });

  it('(e) an instance the reload adds into a group is added, the group changed', () => {
    const p = planReload(
      conf(`${group('G1', ['VI_1', 'VI_2'])}${inst('VI_1', 51)}${inst('VI_2', 52)}`),
      three(group('G1', ['VI_1', 'VI_2', 'VI_3'])),
    );
    expect(p.added.map((c) => c.name)).toEqual(['VI_3']);
    expect(p.groups).toEqual([{ name: 'G1', how: 'changed' }]);
  });
});

describe('planReload: use_vmac', () => {
  const one = (extra: string) => conf(inst('VI_1', 51, extra));

  it('(f) turning use_vmac on or off replaces a multicast instance (keepalived vrrp_exist)', () => {
    for (const [a, b] of [
      ['', '  use_vmac'],
      ['  use_vmac', ''],
      ['  use_vmac\n', '  use_vmac\n  use_vmac_addr'],
    ] as const) {
      const p = planReload(one(a), one(b));
      expect(p.kept).toEqual([]);
      expect(p.removed.map((c) => c.name)).toEqual(['VI_1']);
      expect(p.added.map((c) => c.name)).toEqual(['VI_1']);
    }
  });

  it('(f) a unicast instance stays matched, and the toggle is reported unapplied', () => {
    const u = (extra: string) =>
      conf(inst('VI_1', 51, `  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }\n${extra}`));
    const p = planReload(u(''), u('  use_vmac'));
    expect(p.kept).toHaveLength(1);
    expect(p.kept[0]).toMatchObject({ unapplied: ['useVmac'], vmacChanged: false });
    expect(p.kept[0]?.changed).not.toContain('useVmac');
  });

  it('(g) a renamed VMAC keeps the instance and is made again; naming none keeps the running one', () => {
    const p = planReload(one('  use_vmac'), one('  use_vmac vk51'));
    expect(p.kept[0]).toMatchObject({ changed: ['useVmac'], vmacChanged: true, unapplied: [] });
    const q = planReload(one('  use_vmac vk51'), one('  use_vmac vk52'));
    expect(q.kept[0]).toMatchObject({ vmacChanged: true });
    // keepalived finds the running VMAC (same base, same MAC) and keeps its name
    const r = planReload(one('  use_vmac vk51'), one('  use_vmac'));
    expect(r.kept[0]).toMatchObject({ vmacChanged: false });
    expect(planReload(one('  use_vmac vk51'), one('  use_vmac vk51')).kept[0]).toMatchObject({
      changed: [],
      vmacChanged: false,
    });
    expect(
      planReload(one('  use_vmac vk51'), one('  use_vmac vk51 00:00:5e:00:01:99')).kept[0],
    ).toMatchObject({ vmacChanged: true });
    expect(planReload(one('  use_vmac'), one('  use_vmac\n  vmac_xmit_base')).kept[0]).toMatchObject({
      changed: ['vmacXmitBase'],
      vmacChanged: true,
    });
    // without a VMAC, vmac_xmit_base means nothing: nothing to make again
    expect(planReload(one(''), one('  vmac_xmit_base')).kept[0]).toMatchObject({ vmacChanged: false });
  });
});

describe('vmacAutoName (keepalived 2.2.7: vrrp.52, vrrp1.52, vrrp6.52)', () => {
  it('takes <prefix>.<vrid> when free', () => {
    expect(vmacAutoName('vrrp', 52, 4, () => false)).toBe('vrrp.52');
    expect(vmacAutoName('vrrp', 52, 6, () => false)).toBe('vrrp.52');
  });

  it('numbers the prefix 1, 2, … for IPv4 and 6, 1, …, 5, 7 for IPv6', () => {
    const used = new Set(['vrrp.52']);
    expect(vmacAutoName('vrrp', 52, 4, (x) => used.has(x))).toBe('vrrp1.52');
    expect(vmacAutoName('vrrp', 52, 6, (x) => used.has(x))).toBe('vrrp6.52');
    for (const x of ['vrrp1.52', 'vrrp6.52', 'vrrp2.52', 'vrrp3.52', 'vrrp4.52', 'vrrp5.52']) used.add(x);
    expect(vmacAutoName('vrrp', 52, 4, (x) => used.has(x))).toBe('vrrp7.52');
    expect(vmacAutoName('vrrp', 52, 6, (x) => used.has(x))).toBe('vrrp7.52');
    const seen: string[] = [];
    vmacAutoName('vrrp', 52, 6, (x) => {
      seen.push(x);
      return seen.length < 8;
    });
    expect(seen).toEqual([
      'vrrp.52',
      'vrrp6.52',
      'vrrp1.52',
      'vrrp2.52',
      'vrrp3.52',
      'vrrp4.52',
      'vrrp5.52',
      'vrrp7.52',
    ]);
  });

  it('shortens a long prefix to fit 15 characters', () => {
    expect(vmacAutoName('averyveryverylongprefix', 255, 4, () => false)).toBe('averyveryve.255');
    const taken = (x: string) => x === 'averyveryve.255';
    expect(vmacAutoName('averyveryverylongprefix', 255, 4, taken)).toBe('averyveryv1.255');
  });
});
