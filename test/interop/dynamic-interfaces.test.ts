/**
 * dynamic_interfaces on the wire, with Debian's keepalived 2.2.7 as the other router: the two are
 * joined by a veth (vx0 in node d running keepalived-ts, vx0p in node k running keepalived) that
 * neither has at start, that is deleted (both ends go) and made again (new ifindexes). keepalived
 * must hear our adverts on the re-created link: it stays BACKUP (never sends, never takes the VIP)
 * while we are MASTER there, and takes over after our priority-0 advert at stop.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor, waitForHolders } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import { describeIf } from '../support/privilege.js';

const VRID = 62;
const VIP = '198.51.100.62';
const OURS = '198.51.100.1';
const PEER = '198.51.100.2';

const config = (o: { routerId: string; ifname: string; state: string; priority: number }) => `
global_defs {
  router_id ${o.routerId}
  dynamic_interfaces
}
vrrp_instance VI_1 {
  state ${o.state}
  interface ${o.ifname}
  virtual_router_id ${VRID}
  priority ${o.priority}
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

/** veth vx0 in `d`, its peer vx0p in `k`, both addressed and up; returns their ifindexes. */
async function makeLink(d: LabNode, k: LabNode): Promise<[number, number]> {
  await d.ip(['link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx0p', 'netns', k.ns]);
  await k.ip(['addr', 'add', `${PEER}/24`, 'dev', 'vx0p']);
  await d.ip(['addr', 'add', `${OURS}/24`, 'dev', 'vx0']);
  await k.ip(['link', 'set', 'vx0p', 'up']);
  await d.ip(['link', 'set', 'vx0', 'up']);
  const idx = async (n: LabNode, ifname: string) =>
    (JSON.parse(await n.ip(['-j', 'link', 'show', 'dev', ifname])) as { ifindex: number }[])[0]?.ifindex ??
    -1;
  return [await idx(d, 'vx0'), await idx(k, 'vx0p')];
}

describeIf('dynamic_interfaces with keepalived as the other router', needKeepalived, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'k', links: [{ addrs: ['192.0.2.2/24'] }] },
        { name: 'sa', links: [{ addrs: ['192.0.2.3/24'] }] },
        { name: 'sb', links: [{ addrs: ['192.0.2.4/24'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('alone on the link, keepalived-ts notifies exactly what keepalived does through missing, made, deleted, made again, stop', async () => {
    /** One implementation through the scenario on node `n` (veth vx0 / vx0p both in it); its notify calls. */
    const scenario = async (n: LabNode, impl: 'ka' | 'ts', rec: NotifyRecorder): Promise<string[]> => {
      const text = config({ routerId: n.name, ifname: 'vx0', state: 'MASTER', priority: 200 }).replace(
        '  virtual_ipaddress {',
        `  notify_fault "${rec.script} SCRIPT_FAULT"\n  notify ${rec.script}\n  virtual_ipaddress {`,
      );
      const h =
        impl === 'ka'
          ? n.startKeepalived(text, 'ka-alone')
          : n.startDaemon({ command: keepalivedTsCommand(), config: text, name: 'ts-alone' });
      const calls = () => rec.entries().map((e) => e.args.join(' '));
      const generic = () => calls().filter((c) => c.startsWith('INSTANCE'));
      const reach = (want: number, what: string) =>
        waitFor({
          what: `${impl}: ${what}`,
          timeoutMs: 20_000,
          probe: () => generic().length >= want || undefined,
        });
      const link = async () => {
        await n.ip(['link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx0p']);
        await n.ip(['addr', 'add', `${OURS}/24`, 'dev', 'vx0']);
        await n.ip(['link', 'set', 'vx0p', 'up']);
        await n.ip(['link', 'set', 'vx0', 'up']);
      };
      await reach(1, 'FAULT at start');
      await link();
      await reach(3, 'MASTER once made');
      await n.ip(['link', 'del', 'vx0']);
      await reach(4, 'FAULT once deleted');
      await link();
      await reach(6, 'MASTER once made again');
      expect(await n.hasAddress(VIP)).toBe(true);
      await h.proc.stop();
      await reach(7, 'STOP');
      // notify_fault and the generic call are separate processes: their relative order is not fixed
      return [...generic(), ...calls().filter((c) => c.startsWith('SCRIPT_'))];
    };
    const [ka, ts] = await Promise.all([
      scenario(topo!.node('sa'), 'ka', notifyRecorder(topo!.dir, 'alone-ka')),
      scenario(topo!.node('sb'), 'ts', notifyRecorder(topo!.dir, 'alone-ts')),
    ]);
    // keepalived's STOP carries the effective priority (200) as a rule, but 0 in one loaded run: its
    // notify and its priority-0 advert race at stop. Compared without it; ours reports 200.
    const noStopPrio = (l: string[]) => l.map((c) => c.replace(/^(INSTANCE VI_1 STOP) \d+$/, '$1'));
    expect(noStopPrio(ka)).toEqual([
      'INSTANCE VI_1 FAULT 200',
      'INSTANCE VI_1 BACKUP 200',
      'INSTANCE VI_1 MASTER 200',
      'INSTANCE VI_1 FAULT 200',
      'INSTANCE VI_1 BACKUP 200',
      'INSTANCE VI_1 MASTER 200',
      'INSTANCE VI_1 STOP',
      'SCRIPT_FAULT',
      'SCRIPT_FAULT',
    ]);
    expect(noStopPrio(ts)).toEqual(noStopPrio(ka));
    expect(ts).toContain('INSTANCE VI_1 STOP 200');
  });

  it('keepalived hears our adverts on a link made, deleted and made again', async () => {
    const d = topo!.node('d');
    const k = topo!.node('k');
    const ours = d.startDaemon({
      command: keepalivedTsCommand(),
      config: config({ routerId: 'd', ifname: 'vx0', state: 'MASTER', priority: 200 }),
      name: 'ts-dyn',
    });
    const ka = k.startKeepalived(
      config({ routerId: 'k', ifname: 'vx0p', state: 'BACKUP', priority: 100 }),
      'ka-dyn',
    );
    const missing =
      /Configuration specifies interface (vx0p?) which doesn't currently exist - will use if created/;
    expect((await ours.proc.waitForOutput(missing, 15_000))[1]).toBe('vx0');
    expect((await ka.proc.waitForOutput(missing, 15_000))[1]).toBe('vx0p');

    const first = await makeLink(d, k);
    await waitForHolders([d, k], VIP, ['d'], 20_000);

    await d.ip(['link', 'del', 'vx0']);
    await waitForHolders([d, k], VIP, [], 10_000);
    await ours.proc.waitForOutput(/Interface vx0 deleted/, 5_000);
    await ka.proc.waitForOutput(/Interface vx0p deleted/, 5_000);

    const second = await makeLink(d, k);
    expect(second[0]).not.toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
    await waitForHolders([d, k], VIP, ['d'], 20_000);

    // adverts on the new link: ours keep coming, keepalived (BACKUP, hearing them) sends none
    const tcpdump = k.spawn(['tcpdump', '-nli', 'vx0p', 'ip proto 112'], { name: 'tcpdump-vx0p' });
    try {
      const seen = () => {
        const lines = tcpdump.stdout().split('\n');
        return {
          ours: lines.filter((l) =>
            l.includes(`IP ${OURS} > 224.0.0.18: VRRPv2, Advertisement, vrid ${VRID}, prio 200`),
          ).length,
          peer: lines.filter((l) => l.includes(`IP ${PEER} > 224.0.0.18`)).length,
        };
      };
      // five adverts outlast keepalived's Master_Down interval (3 x 1 s + skew 0.61 s)
      await waitFor({
        what: 'five of our adverts on vx0p',
        timeoutMs: 20_000,
        probe: seen,
        until: (s) => s.ours >= 5,
      });
      expect(seen().peer).toBe(0);
      expect(await k.hasAddress(VIP)).toBe(false);
      expect(ka.proc.output()).not.toMatch(/\(VI_1\) Entering MASTER STATE/);

      // our stop: priority 0 on the new link, keepalived takes over
      expect((await ours.proc.stop()).code).toBe(0);
      await waitForHolders([d, k], VIP, ['k'], 10_000);
      await waitFor({
        what: 'our priority-0 advert on vx0p',
        timeoutMs: 5_000,
        probe: () =>
          tcpdump.stdout().includes(`IP ${OURS} > 224.0.0.18: VRRPv2, Advertisement, vrid ${VRID}, prio 0`),
      });
    } finally {
      await tcpdump.stop();
    }
    await ka.proc.stop();
  });
});
