/**
 * virtual_routes / virtual_rules: installed when keepalived-ts becomes MASTER, removed at a graceful
 * stop (read back with `ip route` / `ip rule` in the node).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.90';
const CONFIG = `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 9
  priority 100
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
  virtual_routes {
    198.51.100.0/24 via 192.0.2.254 dev eth0
    203.0.113.0/24 dev eth0 table 100
  }
  virtual_rules {
    from ${VIP} table 100 preference 1000
  }
}
`;

describeIf('virtual_routes and virtual_rules follow mastership', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let d: DaemonHandle;

  const routes = async () => ({
    main: (await n.ip(['route', 'show'])).trim(),
    t100: (await n.ip(['route', 'show', 'table', '100'])).trim(),
    rules: (await n.ip(['rule', 'show'])).trim(),
  });

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'v', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('v');
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('adds them as MASTER and removes them at SIGTERM', async () => {
    d = n.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([n], VIP, ['v'], 15_000);
    const on = await waitFor({
      what: 'routes and rule installed',
      probe: routes,
      until: (r) =>
        r.main.includes('198.51.100.0/24') && r.t100.includes('203.0.113.0/24') && r.rules.includes('1000:'),
      timeoutMs: 5_000,
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${d.proc.output().slice(-2000)}`);
    });
    console.log(`vroutes: as MASTER:\n${on.main}\n${on.t100}\n${on.rules}`);
    expect(on.main).toMatch(/198\.51\.100\.0\/24 via 192\.0\.2\.254 dev eth0 proto keepalived/);
    // scope global (not shown), as keepalived 2.2.7 installs a dev-only route
    expect(on.t100).toMatch(/^203\.0\.113\.0\/24 dev eth0 proto keepalived\s*$/m);
    expect(on.rules).toMatch(/1000:\s+from 192\.0\.2\.90 lookup 100 proto keepalived/);
    await d.proc.stop();
    const off = await routes();
    expect(off.main).not.toContain('198.51.100.0/24');
    expect(off.t100).toBe('');
    expect(off.rules).not.toContain('1000:');
    expect(await n.hasAddress(VIP)).toBe(false);
  });
});
