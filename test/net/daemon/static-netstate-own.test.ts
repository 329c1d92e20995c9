/**
 * NetState tells its own address changes from others' (the `own` flag of its 'addr' event), as
 * keepalived 2.2.7 does for `-a`: run with -a in a namespace, it logged "Netlink reflector reports IP
 * 192.0.2.77 added to eth0" / "removed from eth0" for an address added and removed with `ip`, and
 * nothing for its own VIP 192.0.2.101 going up (MASTER) and down (stop). The kernel puts the
 * requester's netlink port id in the notification; ours is the command socket's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NetState } from '../../../src/daemon/netstate.js';
import { enterNetns } from '../../../src/sys/netns.js';
import type { AddrInfo } from '../../../src/wire/rtnetlink.js';
import { delAddr, newAddr } from '../../../src/wire/rtnetlink.js';
import { needLab } from '../../lab/gates.js';
import type { LabNode } from '../../lab/node.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

describeIf('NetState: own address changes are marked', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let net: NetState | undefined;

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 's', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('s');
    const back = enterNetns(n.ns);
    let opening: Promise<NetState>;
    try {
      opening = NetState.open();
    } finally {
      back();
    }
    net = await opening;
  });

  afterAll(async () => {
    net?.close();
    await topo?.destroy();
  });

  it('our RTM_NEWADDR / RTM_DELADDR come back as own; `ip addr` changes do not', async () => {
    const seen: string[] = [];
    let wake = () => {};
    const on = (a: AddrInfo, own: boolean) => {
      if (a.address.startsWith('192.0.2.'))
        seen.push(`${a.deleted ? 'del' : 'add'} ${a.address} ${own ? 'own' : 'other'}`);
      wake();
    };
    const until = (k: number) =>
      new Promise<void>((r) => {
        wake = () => {
          if (seen.length >= k) r();
        };
        wake();
      });
    net!.on('addr', on);
    try {
      const ifindex = net!.link('eth0')!.ifindex;
      const vip = { family: 4 as const, ifindex, address: '192.0.2.101', prefixlen: 24 };
      await net!.request(newAddr(vip));
      await until(1);
      await n.ip(['addr', 'add', '192.0.2.77/24', 'dev', 'eth0']);
      await until(2);
      await n.ip(['addr', 'del', '192.0.2.77/24', 'dev', 'eth0']);
      await until(3);
      await net!.request(delAddr(vip));
      await until(4);
      expect(seen).toEqual([
        'add 192.0.2.101 own',
        'add 192.0.2.77 other',
        'del 192.0.2.77 other',
        'del 192.0.2.101 own',
      ]);
    } finally {
      net!.off('addr', on);
    }
  });
});
