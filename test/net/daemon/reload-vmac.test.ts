/**
 * keepalived-ts alone on a lab segment, through a reload that renames a MASTER's VMAC: the old VMAC
 * is deleted, the new one made, and the MASTER keeps its state without a notify, its VIP moved onto
 * the new VMAC (keepalived 2.2.7 leaves it off: docs/INTERFACES.md), announced there (GARPs after the
 * reload) and its adverts going on; its virtual route (the VIP as source) set again. Also the names of VMACs that use_vmac does not name, as
 * keepalived 2.2.7 gives them: vrrp.52, then vrrp1.52 for the same VRID on another interface,
 * vrrp6.52 for the IPv6 one, and vrrp1.53 when an interface that is no VMAC holds vrrp.53.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import {
  type Capture,
  type NotifyRecorder,
  notifyRecorder,
  startCapture,
  waitFor,
} from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.151';
/** VI_1's virtual route: its VIP as source, so deleting the VIP from a link takes it away. */
const ROUTE = '198.51.100.0/24';

const config = (s: string, ifname: string, vmac1: string) => `
global_defs {
  script_user root
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  interface ${ifname}
  virtual_router_id 51
  priority 100
  advert_int 1
  ${vmac1}
  notify ${s}
  virtual_ipaddress {
    ${VIP}/24
  }
  virtual_routes {
    ${ROUTE} via 192.0.2.254 src ${VIP}
  }
}
vrrp_instance VI_8 {
  interface ${ifname}
  virtual_router_id 52
  priority 100
  advert_int 1
  use_vmac
  virtual_ipaddress {
    192.0.2.152/24
  }
}
vrrp_instance VI_9 {
  interface vs0
  virtual_router_id 52
  priority 100
  advert_int 1
  use_vmac
  virtual_ipaddress {
    203.0.113.152/24
  }
}
vrrp_instance VI_6 {
  interface ${ifname}
  virtual_router_id 52
  priority 100
  advert_int 1
  use_vmac
  virtual_ipaddress {
    fe80::152/64
  }
}
vrrp_instance VI_7 {
  interface vs0
  virtual_router_id 53
  priority 100
  advert_int 1
  use_vmac
  virtual_ipaddress {
    203.0.113.153/24
  }
}
`;

describeIf('reload renaming a VMAC, and VMAC names', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let rec: NotifyRecorder;
  let h: DaemonHandle | undefined;
  let cap: Capture | undefined;

  const macvlans = async () =>
    (
      JSON.parse(await n.ip(['-j', '-d', 'link', 'show'])) as {
        ifname: string;
        link?: string;
        linkinfo?: { info_kind?: string };
      }[]
    )
      .filter((l) => l.linkinfo?.info_kind === 'macvlan')
      .map((l) => `${l.ifname}@${l.link ?? '?'}`)
      .sort();
  const holder = async (addr: string) =>
    (await n.addresses()).filter((a) => a.local === addr).map((a) => a.ifname);
  const calls = () => rec.entries().map((e) => e.args.join(' '));
  const routes = async () =>
    (
      JSON.parse(await n.ip(['-j', 'route', 'show', ROUTE])) as {
        dst: string;
        gateway?: string;
        prefsrc?: string;
      }[]
    ).map((r) => `${r.dst} via ${r.gateway ?? '-'} src ${r.prefsrc ?? '-'}`);
  const ourRoute = [`${ROUTE} via 192.0.2.254 src ${VIP}`];

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'v', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('v');
    rec = notifyRecorder(topo.dir, 'notify');
    await n.ip(['link', 'add', 'vs0', 'type', 'veth', 'peer', 'name', 'vs0p']);
    await n.ip(['addr', 'add', '203.0.113.1/24', 'dev', 'vs0']);
    await n.ip(['link', 'set', 'vs0p', 'up']);
    await n.ip(['link', 'set', 'vs0', 'up']);
    // an interface named as VI_7's VMAC would be, that is no VMAC
    await n.ip(['link', 'add', 'vrrp.53', 'type', 'veth', 'peer', 'name', 'x53']);
  });

  afterAll(async () => {
    await cap?.stop();
    await h?.proc.stop();
    await topo?.destroy();
  });

  it('VMACs not named get vrrp.52, vrrp1.52, vrrp6.52 and vrrp1.53', async () => {
    const ifname = n.link().ifname;
    h = n.startDaemon({
      command: keepalivedTsCommand(),
      config: config(rec.script, ifname, 'use_vmac'),
      name: 'ts-vmac',
    });
    await waitFor({
      what: 'VI_1 MASTER with its VIP on vrrp.51',
      timeoutMs: 20_000,
      probe: async () =>
        (calls().includes('INSTANCE VI_1 MASTER 100') && (await holder(VIP)).includes('vrrp.51')) ||
        undefined,
    });
    expect(await macvlans()).toEqual(
      [`vrrp.51@${ifname}`, `vrrp.52@${ifname}`, 'vrrp1.52@vs0', `vrrp6.52@${ifname}`, 'vrrp1.53@vs0'].sort(),
    );
  });

  it('a renamed VMAC keeps its MASTER (no notify), its VIP and route moved, announced and advertised on the new one', async () => {
    const ifname = n.link().ifname;
    const before = calls().length;
    await waitFor({
      what: `${ROUTE} set by the MASTER`,
      timeoutMs: 5_000,
      probe: async () => (await routes()).length > 0 || undefined,
    });
    expect(await routes()).toEqual(ourRoute);
    cap = await startCapture(topo!, { name: 'rename' });
    writeFileSync(h!.configPath, config(rec.script, ifname, 'use_vmac vk51'));
    const reloadAt = Date.now() * 1000;
    process.kill(h!.proc.pid, 'SIGHUP');
    await waitFor({
      what: `${VIP} on vk51`,
      timeoutMs: 10_000,
      probe: async () => (await holder(VIP)).includes('vk51') || undefined,
    });
    const seen = await waitFor({
      what: 'GARPs and 3 adverts of VRID 51 after the reload',
      timeoutMs: 10_000,
      probe: () => {
        const after = cap!.frames().filter((f) => f.tsUs >= reloadAt);
        const garps = after.filter((f) => f.kind === 'arp' && f.arp?.senderIp === VIP);
        const adverts = after.filter((f) => f.vrrp?.vrid === 51);
        return garps.length > 0 && adverts.length >= 3 ? { garps, adverts } : undefined;
      },
    });
    // every frame of VRID 51 from the VRRP MAC, as before the rename, at priority 100 (still MASTER)
    expect(new Set(seen.adverts.map((f) => f.srcMac))).toEqual(new Set(['00:00:5e:00:01:33']));
    expect(new Set(seen.adverts.map((f) => f.vrrp?.priority))).toEqual(new Set([100]));
    expect(seen.garps[0]?.srcMac).toBe('00:00:5e:00:01:33');
    expect(await holder(VIP)).toEqual(['vk51']);
    // the route went with the VIP off the old VMAC: set again (it stayed lost before a fix)
    expect(
      await waitFor({
        what: `${ROUTE} back after the rename`,
        timeoutMs: 5_000,
        probe: async () => {
          const r = await routes();
          return r.length > 0 ? r : undefined;
        },
      }),
    ).toEqual(ourRoute);
    expect(await macvlans()).toEqual(
      [`vk51@${ifname}`, `vrrp.52@${ifname}`, 'vrrp1.52@vs0', `vrrp6.52@${ifname}`, 'vrrp1.53@vs0'].sort(),
    );
    expect(calls().slice(before)).toEqual([]);
    await h!.proc.stop();
    expect(await macvlans()).toEqual([]);
    expect(calls().slice(before)).toEqual(['INSTANCE VI_1 STOP 100']);
  });

  it('vmac_xmit_base turned on by a reload: adverts leave from the parent, the VIP stays on the VMAC', async () => {
    const ifname = n.link().ifname;
    const parentMac = (
      JSON.parse(await n.ip(['-j', 'link', 'show', 'dev', ifname])) as { address: string }[]
    )[0]?.address;
    h = n.startDaemon({
      command: keepalivedTsCommand(),
      config: config(rec.script, ifname, 'use_vmac vk51'),
      name: 'ts-xmit',
    });
    const before = calls().length;
    await waitFor({
      what: 'VI_1 MASTER again with its VIP on vk51',
      timeoutMs: 20_000,
      probe: async () =>
        (calls().slice(before).includes('INSTANCE VI_1 MASTER 100') &&
          (await holder(VIP)).includes('vk51')) ||
        undefined,
    });
    const mark = calls().length;
    await cap?.stop();
    cap = await startCapture(topo!, { name: 'xmit' });
    writeFileSync(h.configPath, config(rec.script, ifname, 'use_vmac vk51\n  vmac_xmit_base'));
    const reloadAt = Date.now() * 1000;
    process.kill(h.proc.pid, 'SIGHUP');
    const adverts = await waitFor({
      what: '3 adverts of VRID 51 from the parent after the reload',
      timeoutMs: 10_000,
      probe: () => {
        const a = cap!.frames().filter((f) => f.tsUs >= reloadAt && f.vrrp?.vrid === 51);
        return a.filter((f) => f.srcMac === parentMac).length >= 3 ? a : undefined;
      },
    });
    // once the first advert left from the parent, none from the VRRP MAC
    const first = adverts.findIndex((f) => f.srcMac === parentMac);
    expect(adverts.slice(first).every((f) => f.srcMac === parentMac)).toBe(true);
    expect(await holder(VIP)).toEqual(['vk51']);
    expect(calls().slice(mark)).toEqual([]);
  });
});
