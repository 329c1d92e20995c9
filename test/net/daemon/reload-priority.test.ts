/**
 * A reload applies a kept instance's new priority and authentication on a live pair of keepalived-ts
 * nodes, as keepalived does (its reloaded instance keeps the state, the rest comes from the new config):
 * raising the BACKUP's priority above the MASTER's makes it preempt without a restart; changing the
 * PASS on one node only splits the pair (each drops the other's adverts), and on both rejoins it.
 */

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.77';

const conf = (priority: number, pass: string) => `
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 17
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass ${pass}
  }
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

describeIf('reload applies priority and authentication of a kept instance', needLab, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let da: DaemonHandle;
  let db: DaemonHandle;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'b', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    da = a.startDaemon({ command: keepalivedTsCommand(), config: conf(120, 'one'), name: 'keepalived-ts' });
    await waitForHolders([a, b], VIP, ['a'], 15_000);
    db = b.startDaemon({ command: keepalivedTsCommand(), config: conf(100, 'one'), name: 'keepalived-ts' });
    await waitFor({
      what: 'b in BACKUP',
      probe: () => db.proc.output(),
      until: (o) => o.includes('(VI_1) Entering BACKUP STATE'),
      timeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('a raised priority on the BACKUP preempts the MASTER without a restart', async () => {
    writeFileSync(db.configPath, conf(150, 'one'));
    db.proc.signal('SIGHUP');
    const took = await waitForHolders([a, b], VIP, ['b'], 10_000);
    console.log(`reload-priority: b took the VIP ${took} ms after SIGHUP`);
    expect(db.proc.output()).toContain('(VI_1) reload: applying changed priority');
    expect(db.proc.running && da.proc.running).toBe(true);
    // a saw the higher priority and stepped down; b never restarted its instance.
    expect(da.proc.output()).toContain('(VI_1) Entering BACKUP STATE');
    expect(db.proc.output().match(/Entering BACKUP STATE \(init\)/g)).toHaveLength(1);
  });

  it('a new auth_pass on one node splits the pair; on both, it rejoins', async () => {
    writeFileSync(da.configPath, conf(120, 'two'));
    da.proc.signal('SIGHUP');
    // a drops b's adverts (wrong PASS), its Master_Down expires: both hold the VIP.
    await waitForHolders([a, b], VIP, ['a', 'b'], 10_000);
    writeFileSync(db.configPath, conf(150, 'two'));
    db.proc.signal('SIGHUP');
    await waitForHolders([a, b], VIP, ['b'], 10_000);
    expect(da.proc.output()).toContain('(VI_1) reload: applying changed authentication');
  });
});
