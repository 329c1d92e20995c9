/**
 * The daemon's accept-mode firewall (src/daemon/firewall.ts wired into the VRRP host): with
 * `vrrp_strict` an instance below priority 255 has accept off, so while it is MASTER keepalived's
 * nftables table drops traffic to its VIP, as Debian's keepalived does ("with vrrp_strict the VIP does
 * not answer ping"); the node's own address still answers, and the table is gone after SIGTERM.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.82';
const ADDR = '192.0.2.1';
const CONFIG = `
global_defs {
  vrrp_strict
}
vrrp_instance VI_F {
  state MASTER
  interface eth0
  virtual_router_id 12
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

describeIf('accept-mode firewall of the running daemon (vrrp_strict)', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let x: LabNode;
  let daemon: DaemonHandle;

  const answers = async (addr: string): Promise<boolean> => {
    try {
      await x.exec('ping', ['-c', '1', '-W', '1', addr]);
      return true;
    } catch {
      return false;
    }
  };
  const tables = async (): Promise<string> => d.exec('nft', ['list', 'tables']);

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: [`${ADDR}/24`] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    d = topo.node('d');
    x = topo.node('x');
    daemon = d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([d, x], VIP, ['d'], 15_000);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('MASTER: the VIP is held but drops traffic; the primary address answers', async () => {
    expect(await tables()).toMatch(/table ip keepalived/);
    const set = await d.exec('nft', ['list', 'set', 'ip', 'keepalived', 'vips']);
    expect(set).toContain(VIP);
    expect(await answers(ADDR)).toBe(true);
    expect(await answers(VIP)).toBe(false);
  });

  it('SIGTERM: the VIP and the table are gone', async () => {
    expect((await daemon.proc.stop(10_000)).code).toBe(0);
    expect(await tables()).not.toMatch(/keepalived/);
  });
});
