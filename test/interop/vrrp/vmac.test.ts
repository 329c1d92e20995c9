/**
 * use_vmac, keepalived-ts with keepalived in both roles and with itself: the macvlan `vrrp.<VRID>` (VRRP MAC, mode private,
 * addr_gen_mode none, keepalived's sysctls), the VIP on it, adverts and GARPs leaving with the VRRP
 * MAC, crash failover to the peer's VMAC, and at a graceful stop the VMAC deleted and the parent's
 * sysctls restored. vmac_xmit_base: adverts leave from the parent, GARPs still from the VMAC.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import { LabNode } from '../../lab/node.js';
import { adverts, type Capture, garps, startCapture, waitFor, waitForHolders } from '../../lab/observe.js';
import { LabError, newRunId } from '../../lab/resources.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';
import {
  eachPair,
  genericCalls,
  HI,
  implName,
  LO,
  type Pair,
  pairConfig,
  pairNodes,
  type Role,
  startHiThenLo,
  startImpl,
  themePairs,
  themeSpecs,
  themeVrids,
} from './helpers.js';

const SPECS = themeSpecs({ vmac: [], 'vmac+xmit_base': [], 'vmac/ipv6': [] });
const vip6 = (p: Pair) => `fd00::1:${p.vrid.toString(16)}`;
const vmacMac6 = (vrid: number) => `00:00:5e:00:02:${vrid.toString(16).padStart(2, '0')}`;

const vmacMac = (vrid: number) => `00:00:5e:00:01:${vrid.toString(16).padStart(2, '0')}`;

async function sysctl(n: LabNode, ifname: string, key: string): Promise<number> {
  return Number((await n.exec('cat', [`/proc/sys/net/ipv4/conf/${ifname}/${key}`])).trim());
}

/** `ip -d -j link show dev IFNAME` in the node; undefined only when ip says the device does not exist. */
async function linkDetails(n: LabNode, ifname: string) {
  let out: string;
  try {
    out = await n.ip(['-d', '-j', 'link', 'show', 'dev', ifname]);
  } catch (e) {
    if (/does not exist|Cannot find device/.test((e as Error).message)) return undefined;
    throw e;
  }
  return (
    JSON.parse(out) as {
      ifname: string;
      address: string;
      link?: string;
      addr_gen_mode?: string;
      inet6_addr_gen_mode?: string;
      linkinfo?: { info_kind: string; info_data?: { mode?: string } };
    }[]
  )[0];
}

describeIf('use_vmac with keepalived', needKeepalived, () => {
  let topo: Topology | undefined;
  let cap: Capture;
  let pairs: (Pair & { xmitBase: boolean })[] = [];
  let v6: Pair[] = [];

  beforeAll(async () => {
    topo = await createTopology({ nodes: pairNodes(themeVrids(SPECS)) });
    const all = themePairs(topo, SPECS);
    v6 = all['vmac/ipv6'];
    pairs = [
      ...all.vmac.map((p) => ({ ...p, xmitBase: false })),
      ...all['vmac+xmit_base'].map((p) => ({ ...p, xmitBase: true })),
    ];
    cap = await startCapture(topo);
  });

  afterAll(async () => {
    await cap?.stop();
    await topo?.destroy();
  });

  it('linkDetails: absent only when the device does not exist; any other ip failure throws', async () => {
    const n = pairs[0]!.hi;
    expect(await linkDetails(n, 'eth0')).toMatchObject({ ifname: 'eth0' });
    expect(await linkDetails(n, 'vrrp.nosuch')).toBeUndefined();
    // A namespace that was never created: ip fails with "Cannot open network namespace".
    const gone = new LabNode('gone', newRunId(), n.dir, []);
    await expect(linkDetails(gone, 'eth0')).rejects.toThrow(LabError);
    await expect(linkDetails(gone, 'eth0')).rejects.toThrow(/Cannot open network namespace/);
  });

  const conf = (p: Pair & { xmitBase: boolean }, who: Role) =>
    pairConfig(p, who, { extra: ['use_vmac', ...(p.xmitBase && who === 'hi' ? ['vmac_xmit_base'] : [])] });

  it.concurrent('IPv6 VMAC: vrrp.<VRID> with 00:00:5e:00:02:VRID, VIP on it, adverts and NAs from it, failover', async () => {
    const conf6 = (p: Pair, who: Role) =>
      pairConfig(p, who, { version: 3, vips: [`${vip6(p)}/64`], extra: ['use_vmac'] });
    await eachPair(v6, async (p) => {
      const vm = `vrrp.${p.vrid}`;
      const mac = vmacMac6(p.vrid);
      const vip = vip6(p);
      p.hiD = startImpl(p.hi, p.hiImpl, conf6(p, 'hi'), `${p.hiImpl}-hi`);
      await waitForHolders([p.hi, p.lo], vip, [p.hi.name], 15_000);
      p.loD = startImpl(p.lo, p.loImpl, conf6(p, 'lo'), `${p.loImpl}-lo`);
      await waitFor({
        what: 'BACKUP notify of the low node',
        probe: () => genericCalls(p.loRec),
        until: (c) => c.includes(`INSTANCE VI_1 BACKUP ${LO}`),
        timeoutMs: 10_000,
      });
      const l = await linkDetails(p.hi, vm);
      expect(l).toMatchObject({ ifname: vm, address: mac, link: 'eth0' });
      expect((await p.hi.addresses()).filter((a) => a.ifname === vm).map((a) => a.local)).toContain(vip);
      const ads = await waitFor({
        what: 'adverts of the master in the capture',
        probe: () => adverts(cap.frames(), p.vrid).filter((f) => f.srcMac === mac && f.vrrp?.priority === HI),
        until: (a) => a.length > 0,
        timeoutMs: 5_000,
      });
      expect(ads[0]?.srcIp?.startsWith('fe80:')).toBe(true);
      const nas = await waitFor({
        what: 'NAs of the master in the capture',
        probe: () => cap.frames().filter((f) => f.kind === 'na' && f.na?.target === vip),
        until: (x) => x.length > 0,
        timeoutMs: 5_000,
      });
      expect(new Set(nas.map((f) => f.srcMac))).toEqual(new Set([mac]));
      await new Promise((r) => setTimeout(r, 4_000)); // past the backup's Master_Down_Interval
      expect(await p.lo.hasAddress(vip)).toBe(false);
      const t0 = Date.now() * 1000;
      await p.hi.crash();
      await waitForHolders([p.lo], vip, [p.lo.name], 10_000);
      expect((await p.lo.addresses()).filter((a) => a.local === vip).map((a) => a.ifname)).toEqual([vm]);
      await waitFor({
        what: 'NA from the new master VMAC',
        probe: () => cap.frames().filter((f) => f.kind === 'na' && f.na?.target === vip && f.tsUs > t0),
        until: (x) => x.length > 0 && x.every((f) => f.srcMac === mac),
        timeoutMs: 5_000,
      });
      console.log(
        `vrrp ${p.label}: ${implName(p.hiImpl)} master on ${vm} (${mac}), ${ads.length} adverts and ${nas.length} NAs from the VMAC; ${implName(p.loImpl)} took over`,
      );
    });
  });

  it.concurrent('VMAC created with the VRRP MAC and sysctls; VIP, adverts and GARPs on it; crash failover; removed at stop', async () => {
    await eachPair(pairs, async (p) => {
      const vm = `vrrp.${p.vrid}`;
      const mac = vmacMac(p.vrid);
      const loBefore = [await sysctl(p.lo, 'eth0', 'arp_ignore'), await sysctl(p.lo, 'eth0', 'arp_filter')];
      await startHiThenLo(p, conf(p, 'hi'), conf(p, 'lo'), LO);
      const l = await linkDetails(p.hi, vm);
      expect(l).toMatchObject({ ifname: vm, address: mac, link: 'eth0' });
      expect(l?.linkinfo?.info_kind).toBe('macvlan');
      expect(l?.linkinfo?.info_data?.mode).toBe('private');
      expect(l?.inet6_addr_gen_mode ?? l?.addr_gen_mode).toBe('none');
      const onVmac = (await p.hi.addresses()).filter((a) => a.ifname === vm).map((a) => a.local);
      expect(onVmac).toContain(p.vip);
      const vmSysctls = {
        arp_ignore: await sysctl(p.hi, vm, 'arp_ignore'),
        accept_local: await sysctl(p.hi, vm, 'accept_local'),
        rp_filter: await sysctl(p.hi, vm, 'rp_filter'),
        promote_secondaries: await sysctl(p.hi, vm, 'promote_secondaries'),
      };
      expect(vmSysctls).toEqual({ arp_ignore: 1, accept_local: 1, rp_filter: 0, promote_secondaries: 1 });
      expect([await sysctl(p.hi, 'eth0', 'arp_ignore'), await sysctl(p.hi, 'eth0', 'arp_filter')]).toEqual([
        1, 1,
      ]);
      // The capture file may lag behind: wait for it to show the master's adverts and GARPs.
      const ads = await waitFor({
        what: 'adverts of the master in the capture',
        probe: () => adverts(cap.frames(), p.vrid, p.hi.primaryAddress()),
        until: (a) => a.length > 0,
        timeoutMs: 5_000,
      });
      // The IPv4 source stays the parent's address; the frame leaves from the VMAC unless vmac_xmit_base.
      const wantAdvMac = p.xmitBase ? p.hi.link().mac : mac;
      expect(new Set(ads.map((f) => f.srcMac))).toEqual(new Set([wantAdvMac]));
      const g = await waitFor({
        what: 'GARPs of the master in the capture',
        probe: () => garps(cap.frames(), p.vip),
        until: (x) => x.length > 0,
        timeoutMs: 5_000,
      });
      expect(new Set(g.map((f) => f.srcMac))).toEqual(new Set([mac]));
      console.log(
        `vrrp ${p.label}: ${implName(p.hiImpl)} master on ${vm} (${mac}), ${ads.length} adverts from ${wantAdvMac}, ${g.length} GARPs from the VMAC`,
      );

      await p.hi.crash();
      await waitForHolders([p.lo], p.vip, [p.lo.name], 10_000);
      const loOn = (await p.lo.addresses()).filter((a) => a.local === p.vip).map((a) => a.ifname);
      expect(loOn).toEqual([vm]);
      await waitFor({
        what: 'GARP from the new master VMAC',
        probe: () => garps(cap.frames(), p.vip).filter((f) => f.tsUs > (g.at(-1)?.tsUs ?? 0)),
        until: (x) => x.length > 0 && x.every((f) => f.srcMac === mac),
        timeoutMs: 5_000,
      });
      // Restart the high node (the killed one left its VMAC behind), let it preempt, then stop it.
      p.hiD = startImpl(p.hi, p.hiImpl, conf(p, 'hi'), `${p.hiImpl}-hi2`);
      await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name], 20_000);
      await p.hiD.proc.stop();
      await waitForHolders([p.hi, p.lo], p.vip, [p.lo.name], 10_000);
      expect(await linkDetails(p.hi, vm)).toBeUndefined();
      // The low node never crashed: at its graceful stop its VMAC goes and, for keepalived-ts, its
      // parent's sysctls come back (Debian's keepalived leaves arp_ignore and arp_filter at 1).
      await p.loD?.proc.stop();
      await waitForHolders([p.hi, p.lo], p.vip, [], 5_000);
      expect(await linkDetails(p.lo, vm)).toBeUndefined();
      if (p.loImpl === 'ts')
        expect([await sysctl(p.lo, 'eth0', 'arp_ignore'), await sysctl(p.lo, 'eth0', 'arp_filter')]).toEqual(
          loBefore,
        );
    });
  });
});
