/**
 * virtual_ipaddress options reach the kernel as keepalived sends them (one request builder for VIPs
 * and static addresses): `brd +` computed from the prefix, a label, a numeric scope, IPv6 nodad unless
 * `-nodad`, noprefixroute / home / mngtmpaddr flags, `brd -`, a peer address (with keepalived's
 * refusals of a prefix on either side). Before they shared it, a VIP with `brd +` failed
 * to be added at all (vrrp.vip_errors) and the flags were dropped.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const CONFIG = `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 72
  priority 255
  advert_int 1
  virtual_ipaddress {
    192.0.2.72/24 brd + dev eth0 label eth0:vip
    198.51.100.73/24 dev eth0 scope 200
    192.0.2.101/25 brd - dev eth0
    192.0.2.110/24 peer 192.0.2.111 dev eth0
    203.0.113.5/24 peer 203.0.113.9/30 dev eth0
  }
  virtual_ipaddress_excluded {
    fd00::72/64 dev eth0 noprefixroute home
    fd00::73/64 dev eth0 -nodad mngtmpaddr
  }
}
`;

const VIPS = [
  '192.0.2.72',
  '198.51.100.73',
  'fd00::72',
  'fd00::73',
  '192.0.2.101',
  '192.0.2.110',
  '203.0.113.5',
];

describeIf('virtual_ipaddress options of a running keepalived-ts', needLab, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'v', links: [{ addrs: ['192.0.2.1/24'] }] }] });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('adds each VIP with its broadcast, label, scope and flags, and removes them all at stop', async () => {
    const v = topo!.node('v');
    const h = v.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'ka-vipopts' });
    try {
      for (const a of VIPS) await waitForHolders([v], a, ['v'], 15_000);
    } catch (e) {
      console.log(h.proc.output());
      throw e;
    }
    const v4 = await v.ip(['-4', 'addr', 'show', 'dev', 'eth0']);
    const v6 = await v.ip(['-6', 'addr', 'show', 'dev', 'eth0']);
    expect(v4).toMatch(/inet 192\.0\.2\.72\/24 brd 192\.0\.2\.255 scope global secondary eth0:vip/);
    expect(v4).toMatch(/inet 198\.51\.100\.73\/24 scope site eth0/);
    // as keepalived 2.2.7 installs them: `brd -` is the network address; a peer makes a host address;
    // a peer given with a prefix is refused and the address goes in without it
    expect(v4).toMatch(/inet 192\.0\.2\.101\/25 brd 192\.0\.2\.0 scope global/);
    expect(v4).toMatch(/inet 192\.0\.2\.110 peer 192\.0\.2\.111\/32 scope global/);
    expect(v4).toMatch(/inet 203\.0\.113\.5\/24 scope global/);
    expect(v6).toMatch(/inet6 fd00::72\/64 scope global nodad home noprefixroute/);
    // -nodad: duplicate address detection runs (no nodad flag); mngtmpaddr kept
    const l73 = v6.split('\n').find((l) => l.includes('fd00::73/64')) ?? '';
    expect(l73).toMatch(/mngtmpaddr/);
    expect(l73).not.toMatch(/nodad/);
    expect(h.proc.output()).not.toMatch(/cannot add VIP/);
    await h.proc.stop();
    for (const a of VIPS) expect(await v.hasAddress(a), a).toBe(false);
  });
});
