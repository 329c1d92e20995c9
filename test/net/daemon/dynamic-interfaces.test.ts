/**
 * An instance whose interface is missing at start, or deleted and re-created at run time, as
 * keepalived 2.2.7 handles it (docs/INTERFACES.md). The interface is a veth `vx0` made in node d
 * with its peer `vx0p` in node x (the other end of the "wire": capture and injection happen there).
 *
 * - dynamic_interfaces: the instance waits in FAULT (FAULT notifies) and binds once vx0 exists with
 *   an address; deleted, it goes to FAULT (notify) and re-created (a new ifindex) it is MASTER again,
 *   its adverts leave on the new link and it hears a peer's adverts there.
 * - use_vmac: the VMAC goes with its parent and is made again on the re-created one.
 * - without dynamic_interfaces a missing interface stops the daemon, as keepalived's does.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeVrrpIpv4Packet } from '../../../src/wire/vrrp.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const INJECT = resolve(dirname(fileURLToPath(import.meta.url)), 'inject.mjs');
const VRID = 61;
const VIP = '198.51.100.61';
const OURS = '198.51.100.1';
const PEER = '198.51.100.2';

const config = (o: { dynamic: boolean; vmac?: boolean; rec: NotifyRecorder }) => `
global_defs {
  ${o.dynamic ? 'dynamic_interfaces' : ''}
}
vrrp_instance VI_1 {
  state MASTER
  interface vx0
  virtual_router_id ${VRID}
  priority 200
  advert_int 1
  ${o.vmac ? 'use_vmac' : ''}
  virtual_ipaddress {
    ${VIP}/24
  }
  notify_fault "${o.rec.script} SCRIPT_FAULT"
  notify ${o.rec.script}
}
`;

/** veth vx0 in `d` (with our address) and vx0p in `x` (the peer's); returns vx0's ifindex. */
async function makeLink(d: LabNode, x: LabNode): Promise<number> {
  await d.ip(['link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx0p', 'netns', x.ns]);
  await x.ip(['addr', 'add', `${PEER}/24`, 'dev', 'vx0p']);
  await x.ip(['link', 'set', 'vx0p', 'up']);
  await d.ip(['addr', 'add', `${OURS}/24`, 'dev', 'vx0']);
  await d.ip(['link', 'set', 'vx0', 'up']);
  return ifindexOf(d, 'vx0');
}

async function ifindexOf(n: LabNode, ifname: string): Promise<number> {
  const [l] = JSON.parse(await n.ip(['-j', 'link', 'show', 'dev', ifname])) as { ifindex: number }[];
  if (!l) throw new Error(`no ${ifname} in ${n.name}`);
  return l.ifindex;
}

/** Generic-notify states recorded so far (`INSTANCE VI_1 STATE PRIO`). */
const states = (rec: NotifyRecorder) =>
  rec
    .entries()
    .filter((e) => e.args[0] === 'INSTANCE')
    .map((e) => e.args[2]);

async function waitStates(rec: NotifyRecorder, want: readonly string[], what: string): Promise<void> {
  await waitFor({
    what,
    timeoutMs: 15_000,
    probe: () => states(rec).join(','),
    until: (s) => s === want.join(','),
  });
  expect(states(rec)).toEqual(want);
}

/** One VRRP advert seen on x's vx0p: `IP SRC > 224.0.0.18: VRRPv2, Advertisement, vrid N, prio P`. */
async function advertOnWire(x: LabNode): Promise<string> {
  const out = await x.exec('timeout', ['10', 'tcpdump', '-nli', 'vx0p', '-c', '1', 'ip proto 112']);
  return out.trim();
}

describeIf('dynamic_interfaces: instances on interfaces that come and go', needLab, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
        { name: 'v', links: [{ addrs: ['192.0.2.3/24'] }] },
        { name: 'v2', links: [{ addrs: ['192.0.2.4/24'] }] },
        { name: 'n', links: [{ addrs: ['192.0.2.5/24'] }] },
        { name: 'g', links: [{ addrs: ['192.0.2.6/24'] }] },
        { name: 'g2', links: [{ addrs: ['192.0.2.7/24'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('waits in FAULT for a missing interface, takes part once it exists, and follows its deletion and re-creation', async () => {
    const d = topo!.node('d');
    const x = topo!.node('x');
    const rec = notifyRecorder(topo!.dir, 'notify-dyn');
    const h = d.startDaemon({
      command: keepalivedTsCommand(),
      config: config({ dynamic: true, rec }),
      name: 'dyn',
    });
    await h.proc.waitForOutput(
      /Configuration specifies interface vx0 which doesn't currently exist - will use if created/,
      15_000,
    );
    await waitStates(rec, ['FAULT'], 'FAULT at start');
    expect(rec.entries().some((e) => e.args[0] === 'SCRIPT_FAULT')).toBe(true);
    expect(h.proc.output()).toContain('(VI_1): entering FAULT state (interface vx0 down)');

    // created: BACKUP, then MASTER with the VIP, adverts on the new link
    const first = await makeLink(d, x);
    await waitStates(rec, ['FAULT', 'BACKUP', 'MASTER'], 'MASTER once vx0 exists');
    expect(await d.hasAddress(VIP)).toBe(true);
    expect(await advertOnWire(x)).toMatch(
      new RegExp(`IP ${OURS} > 224\\.0\\.0\\.18: VRRPv2, Advertisement, vrid ${VRID}, prio 200`),
    );

    // deleted: FAULT (notify_fault and the generic notify), the daemon runs on
    await d.ip(['link', 'del', 'vx0']);
    await waitStates(rec, ['FAULT', 'BACKUP', 'MASTER', 'FAULT'], 'FAULT once vx0 is deleted');
    await h.proc.waitForOutput(/Interface vx0 deleted/, 5_000);
    expect(rec.entries().filter((e) => e.args[0] === 'SCRIPT_FAULT')).toHaveLength(2);
    expect(h.proc.running).toBe(true);

    // re-created under a new ifindex: MASTER again, adverts on the new link
    const second = await makeLink(d, x);
    expect(second).not.toBe(first);
    await waitStates(
      rec,
      ['FAULT', 'BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER'],
      'MASTER again on the new vx0',
    );
    expect(await d.hasAddress(VIP)).toBe(true);
    expect(await advertOnWire(x)).toMatch(
      new RegExp(`IP ${OURS} > 224\\.0\\.0\\.18: VRRPv2, Advertisement, vrid ${VRID}`),
    );

    // the receive side follows too: a higher-priority advert from the peer on the new link wins
    const advert = encodeVrrpIpv4Packet({
      advert: {
        version: 2,
        type: 1,
        vrid: VRID,
        priority: 250,
        addresses: [VIP],
        authType: 0,
        advertInterval: 1,
        authData: Buffer.alloc(8),
        family: 4,
      },
      id: 1,
      src: PEER,
      dst: '224.0.0.18',
      ipChecksum: 'compute',
    });
    const input = JSON.stringify([{ hex: advert.toString('hex'), dst: '224.0.0.18' }]);
    expect(Number(await x.exec(process.execPath, [INJECT, 'vx0p'], input))).toBe(1);
    await waitStates(
      rec,
      ['FAULT', 'BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER', 'BACKUP'],
      'BACKUP under the peer heard on the new vx0',
    );
    expect(await d.hasAddress(VIP)).toBe(false);
    const exit = await h.proc.stop();
    expect(exit.code).toBe(0);
  });

  it('use_vmac: the VMAC goes with its deleted parent and is made again on the re-created one', async () => {
    const d = topo!.node('v');
    const x = topo!.node('v2');
    const rec = notifyRecorder(topo!.dir, 'notify-vmac');
    await makeLink(d, x);
    const h = d.startDaemon({
      command: keepalivedTsCommand(),
      config: config({ dynamic: true, vmac: true, rec }),
      name: 'dyn-vmac',
    });
    await waitStates(rec, ['BACKUP', 'MASTER'], 'MASTER on the VMAC');
    const vmac = `vrrp.${VRID}`;
    /** The VMAC's parent (undefined while there is no VMAC). */
    const parentOf = async () => {
      const all = JSON.parse(await d.ip(['-j', 'link', 'show'])) as { ifname: string; link?: string }[];
      return all.find((l) => l.ifname === vmac)?.link;
    };
    expect(await parentOf()).toBe('vx0');
    expect(await d.hasAddress(VIP)).toBe(true);

    await d.ip(['link', 'del', 'vx0']);
    await waitStates(rec, ['BACKUP', 'MASTER', 'FAULT'], 'FAULT with the parent gone');
    expect(await parentOf()).toBeUndefined();
    await makeLink(d, x);
    await waitStates(rec, ['BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER'], 'MASTER on the new VMAC');
    // made again on the new vx0, with the VIP on it
    expect(await parentOf()).toBe('vx0');
    const vipOn = JSON.parse(await d.ip(['-j', 'addr', 'show', 'dev', vmac])) as {
      addr_info: { local: string }[];
    }[];
    expect(vipOn[0]?.addr_info.map((a) => a.local)).toContain(VIP);
    expect((await h.proc.stop()).code).toBe(0);
    // the VMAC is deleted at stop, as before
    await expect(d.ip(['link', 'show', 'dev', vmac])).rejects.toThrow();
  });

  it('sync group: a member waiting for its interface holds the group in FAULT; created, the group goes MASTER', async () => {
    const d = topo!.node('g');
    const x = topo!.node('g2');
    const rec = notifyRecorder(topo!.dir, 'notify-group');
    const h = d.startDaemon({
      command: keepalivedTsCommand(),
      name: 'dyn-group',
      config: `
global_defs {
  dynamic_interfaces
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  notify ${rec.script}
}
${['VI_1 vx0 61 198.51.100.61', 'VI_2 eth0 62 192.0.2.62']
  .map((l) => l.split(' '))
  .map(
    ([name, ifname, vrid, vip]) => `
vrrp_instance ${name} {
  state MASTER
  interface ${ifname}
  virtual_router_id ${vrid}
  priority 200
  advert_int 1
  virtual_ipaddress {
    ${vip}/24
  }
  notify ${rec.script}
}`,
  )
  .join('\n')}
`,
    });
    // keepalived 2.2.7: the group and both members FAULT, no member BACKUP before vx0 exists
    const seen = () =>
      rec
        .entries()
        .map((e) => `${e.args[1]} ${e.args[2]}`)
        .sort();
    await waitFor({
      what: 'group and members in FAULT',
      timeoutMs: 15_000,
      probe: () => seen().join(','),
      until: (s) => s === 'G1 FAULT,VI_1 FAULT,VI_2 FAULT',
    });
    expect(await d.hasAddress('192.0.2.62')).toBe(false);
    await makeLink(d, x);
    await waitFor({
      what: 'group and members MASTER',
      timeoutMs: 20_000,
      probe: () =>
        seen()
          .filter((l) => l.endsWith('MASTER'))
          .join(','),
      until: (s) => s === 'G1 MASTER,VI_1 MASTER,VI_2 MASTER',
    });
    expect(await d.hasAddress('192.0.2.62')).toBe(true);
    expect(await d.hasAddress(VIP)).toBe(true);
    // VI_2 (on an interface that was always there) went FAULT, BACKUP, MASTER: never BACKUP at start
    const vi2 = rec
      .entries()
      .filter((e) => e.args[1] === 'VI_2')
      .map((e) => e.args[2]);
    expect(vi2).toEqual(['FAULT', 'BACKUP', 'MASTER']);
    expect((await h.proc.stop()).code).toBe(0);
  });

  it('without dynamic_interfaces a missing interface stops the daemon, as keepalived does', async () => {
    const n = topo!.node('n');
    const rec = notifyRecorder(topo!.dir, 'notify-static');
    const h = n.startDaemon({
      command: keepalivedTsCommand(),
      config: config({ dynamic: false, rec }),
      name: 'static',
    });
    const exit = await h.proc.exited;
    // keepalived 2.2.7: "exited with permanent error CONFIG. Terminating", exit 2
    expect(exit.code).toBe(2);
    expect(h.proc.output()).toContain("WARNING - interface vx0 for vrrp_instance VI_1 doesn't exist");
    expect(h.proc.output()).toContain('Non-existent interface specified in configuration');
    expect(h.proc.output()).toContain('exited with permanent error CONFIG. Terminating');
    expect(states(rec)).toEqual([]);
  });

  it('without dynamic_interfaces a reload naming a missing interface stops the daemon (exit 2), as keepalived does', async () => {
    const n = topo!.node('n');
    const rec = notifyRecorder(topo!.dir, 'notify-static-reload');
    const running = config({ dynamic: false, rec }).replace('interface vx0', 'interface eth0');
    const h = n.startDaemon({ command: keepalivedTsCommand(), config: running, name: 'static-reload' });
    await waitStates(rec, ['BACKUP', 'MASTER'], 'MASTER on eth0');
    writeFileSync(h.configPath, config({ dynamic: false, rec }));
    h.proc.signal('SIGHUP');
    const exit = await h.proc.exited;
    expect(exit.code).toBe(2);
    expect(h.proc.output()).toContain("WARNING - interface vx0 for vrrp_instance VI_1 doesn't exist");
    // the running instance stopped as at any stop: its STOP notify, the VIP released
    expect(states(rec)).toEqual(['BACKUP', 'MASTER', 'STOP']);
    expect(await n.hasAddress(VIP)).toBe(false);
  });
});
