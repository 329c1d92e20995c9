/**
 * The daemon runs static_ipaddress / static_routes / static_rules: present from start (before any
 * instance is MASTER), changed by SIGHUP (kept ones untouched), removed at SIGTERM; a virtual_routes
 * onlink route through an off-subnet gateway is installed as MASTER. Also a configuration with static
 * entries and no vrrp_instance.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const conf = (addr: string, vrrp: boolean) => `
static_ipaddress {
  ${addr}/24 dev eth0
}
static_routes {
  203.0.113.0/24 via 198.51.100.1 dev eth0 onlink mtu 1400
}
static_rules {
  from 192.0.2.10 table 100 preference 1000
}
${
  vrrp
    ? `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 9
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.90/24
  }
  virtual_routes {
    198.51.100.128/25 via 198.51.100.1 dev eth0 onlink metric 20
  }
}`
    : ''
}
`;

describeIf('daemon: static entries', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  const state = async () =>
    [
      await n.ip(['-4', 'addr', 'show', 'dev', 'eth0']),
      await n.ip(['route', 'show']),
      await n.ip(['rule', 'show']),
    ].join('\n');

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('d');
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  for (const vrrp of [true, false]) {
    it(`start, reload, stop (${vrrp ? 'with' : 'without'} a vrrp_instance)`, async () => {
      const d = n.startDaemon({
        command: keepalivedTsCommand(),
        config: conf('192.0.2.10', vrrp),
        name: `ka${vrrp}`,
      });
      const started = await waitFor({
        what: 'static entries',
        probe: state,
        until: (s) => s.includes('192.0.2.10/24') && s.includes('203.0.113.0/24') && s.includes('1000:'),
        timeoutMs: 10_000,
      }).catch((e) => {
        throw new Error(`${(e as Error).message}\n${d.proc.output().slice(-2000)}`);
      });
      expect(started).toMatch(
        /203\.0\.113\.0\/24 via 198\.51\.100\.1 dev eth0 proto keepalived onlink mtu 1400/,
      );
      if (vrrp) {
        expect(started).not.toContain('192.0.2.90'); // BACKUP still: static entries do not wait for MASTER
        const master = await waitFor({
          what: 'MASTER with its virtual onlink route',
          probe: state,
          until: (s) => s.includes('198.51.100.128/25'),
          timeoutMs: 15_000,
        });
        expect(master).toMatch(
          /198\.51\.100\.128\/25 via 198\.51\.100\.1 dev eth0 proto keepalived metric 20 onlink/,
        );
      }
      writeFileSync(d.configPath, conf('192.0.2.11', vrrp));
      d.proc.signal('SIGHUP');
      const reloaded = await waitFor({
        what: 'reloaded static address',
        probe: state,
        until: (s) => s.includes('192.0.2.11/24') && !s.includes('192.0.2.10/24'),
        timeoutMs: 10_000,
      });
      expect(reloaded).toContain('203.0.113.0/24');
      expect(reloaded).toContain('1000:');
      await d.proc.stop();
      const off = await state();
      for (const gone of ['192.0.2.11', '203.0.113.0/24', '1000:', '198.51.100.128/25', '192.0.2.90'])
        expect(off).not.toContain(gone);
      console.log(
        d.proc
          .output()
          .split('\n')
          .filter((l) => /static|Restoring|no longer|removed/.test(l))
          .join('\n'),
      );
    });
  }
});
