/**
 * Lab self-test with Debian's keepalived: two nodes on a bridge (priorities 150 and 100, one VIP),
 * election, crash failover measured on the wire, and teardown leaving nothing behind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import type { DaemonHandle, LabNode } from '../../lab/node.js';
import {
  adverts,
  type Capture,
  failoverGapMs,
  garps,
  type NotifyRecorder,
  notifyRecorder,
  startCapture,
  vipHolders,
  waitFor,
  waitForHolders,
} from '../../lab/observe.js';
import { liveResources, runSync } from '../../lab/resources.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VRID = 42;
const VIP = '192.0.2.100';

const config = (name: string, priority: number, notify: string) => `
global_defs {
  router_id ${name}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id ${VRID}
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
  notify ${notify}
}
`;

describeIf('lab self-test with Debian keepalived', needKeepalived, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let cap: Capture;
  let notifyA: NotifyRecorder;
  let notifyB: NotifyRecorder;
  let startUs = 0;
  let kaA: DaemonHandle;
  let kaB: DaemonHandle;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24', 'fd00::1/64'] }] },
        { name: 'b', links: [{ addrs: ['192.0.2.2/24', 'fd00::2/64'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    console.log(`lab: topology ${topo.id} up in ${topo.setupMs.toFixed(0)} ms`);
    cap = await startCapture(topo);
    notifyA = notifyRecorder(topo.dir, 'notify-a');
    notifyB = notifyRecorder(topo.dir, 'notify-b');
    startUs = Date.now() * 1000;
    // a first: with its shorter Master_Down_Interval (3.41 s vs 3.61 s) it must win. Started the other
    // way round on a loaded machine, b's timer may run out first and both are master for a moment.
    kaA = a.startKeepalived(config('a', 150, notifyA.script));
    kaB = b.startKeepalived(config('b', 100, notifyB.script));
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('elects the priority-150 node: it alone holds the VIP and advertises', async () => {
    await waitForHolders([a, b], VIP, ['a'], 15_000);
    const firstA = await waitFor({
      what: `an advert from ${a.primaryAddress()}`,
      probe: () => adverts(cap.frames(), VRID, a.primaryAddress())[0],
      timeoutMs: 5_000,
    });
    const electionMs = (firstA.tsUs - startUs) / 1000;
    console.log(`lab: election: first advert of the p150 node ${electionMs.toFixed(0)} ms after start`);
    // Master_Down_Interval for p=150 is 3.414 s: nobody may claim mastership before it ran out.
    expect(electionMs).toBeGreaterThan(3_000);
    expect(firstA.vrrp).toMatchObject({ version: 2, vrid: VRID, priority: 150, interval: 1 });
    await waitFor({
      what: 'MASTER notify on a',
      probe: () => notifyA.entries().map((e) => e.args.join(' ')),
      until: (l) => l.includes('INSTANCE VI_1 MASTER 150'),
      timeoutMs: 5_000,
    });
    // keepalived's first burst: garp_master_repeat (5) gratuitous ARPs right after the VIP is added.
    const burst = await waitFor({
      what: `5 GARPs for ${VIP}`,
      probe: () => garps(cap.frames(), VIP),
      until: (g) => g.length >= 5,
      timeoutMs: 5_000,
    });
    expect(burst.every((f) => f.srcMac === a.link().mac)).toBe(true);
    expect(adverts(cap.frames(), VRID, b.primaryAddress())).toEqual([]);
    expect(notifyB.entries().map((e) => e.args.join(' '))).toEqual(['INSTANCE VI_1 BACKUP 100']);
    expect(await vipHolders([a, b], VIP)).toEqual(['a']);
    await kaA.proc.waitForOutput(/\(VI_1\) Entering MASTER STATE/, 5_000);
    expect(kaB.proc.output()).toContain('(VI_1) Entering BACKUP STATE');
    expect(kaB.proc.output()).not.toContain('Entering MASTER STATE');
  });

  it('fails over to the priority-100 node after SIGKILL of the master, within ~Master_Down_Interval', async () => {
    const killed = await a.crash();
    expect(killed.length).toBeGreaterThan(0);
    expect(await a.pids()).toEqual([]);
    // A killed keepalived cannot remove its VIP: both hold it now, b as the new master.
    await waitForHolders([a, b], VIP, ['a', 'b'], 10_000);
    await waitFor({
      what: `GARP for ${VIP} from b`,
      probe: () => garps(cap.frames(), VIP).filter((f) => f.srcMac === b.link().mac).length,
      timeoutMs: 5_000,
    });
    const frames = await cap.stop();
    const gap = failoverGapMs(frames, VRID, a.primaryAddress(), b.primaryAddress());
    if (gap === undefined) throw new Error('no failover visible in the capture');
    console.log(
      `lab: failover gap (last advert of dead master -> first advert of new master): ${gap.toFixed(1)} ms`,
    );
    // Master_Down_Interval for p=100, advert_int 1: 3 * 1 s + (256-100)/256 s = 3609 ms.
    expect(gap).toBeGreaterThan(3_300);
    expect(gap).toBeLessThan(4_800);
    const firstB = adverts(frames, VRID, b.primaryAddress())[0];
    expect(firstB?.vrrp?.priority).toBe(100);
    await waitFor({
      what: 'MASTER notify on b',
      probe: () => notifyB.entries().map((e) => e.args.join(' ')),
      until: (l) => l.includes('INSTANCE VI_1 MASTER 100'),
      timeoutMs: 5_000,
    });
    await kaB.proc.waitForOutput(/\(VI_1\) Entering MASTER STATE/, 5_000);
  });

  it('tears down every namespace, link and process of the run', async () => {
    if (!topo) throw new Error('no topology');
    const namespaces = topo.namespaces();
    const pids = [...topo.nodes.values()].flatMap((n) => n.processes().map((p) => p.pid));
    expect(pids.length).toBe(2);
    const report = await topo.destroy();
    console.log(`lab: teardown ${report.ms.toFixed(0)} ms`);
    expect(report.leftNamespaces).toEqual([]);
    expect(report.leftPids).toEqual([]);
    const listed = runSync('ip', ['netns', 'list']);
    for (const ns of namespaces) expect(listed).not.toContain(ns);
    expect(runSync('ip', ['-o', 'link', 'show'])).not.toContain(topo.id);
    expect(liveResources().filter((r) => r.includes(topo!.id))).toEqual([]);
  });
});
