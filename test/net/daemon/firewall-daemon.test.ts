/**
 * The daemon's accept-mode firewall (src/daemon/firewall.ts wired into the VRRP host): with
 * `vrrp_strict` an instance below priority 255 has accept off, so while it is MASTER keepalived's
 * nftables table drops traffic to its VIP, as Debian's keepalived does ("with vrrp_strict the VIP does
 * not answer ping"); the node's own address still answers. A reload that swaps the VIP never leaves
 * either address up without its drop rule, and the table is gone after SIGTERM.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived, needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.82';
const VIP2 = '192.0.2.83';
/** A second MASTER instance's VIP, swapped by the same reload. */
const G_VIP = '192.0.2.86';
const G_VIP2 = '192.0.2.87';
const ADDR = '192.0.2.1';
const PORT = 9651;
const instance = (name: string, vrid: number, vip: string) => `
vrrp_instance ${name} {
  state MASTER
  interface eth0
  virtual_router_id ${vrid}
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${vip}/24
  }
}`;
const CONFIG = `
global_defs {
  vrrp_strict
}
${instance('VI_F', 12, VIP)}
${instance('VI_G', 14, G_VIP)}
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
  /** `nft` runs so far (the firewall's counter, from /metrics). */
  const nftRuns = async (): Promise<number> => {
    const body = await x.exec('curl', ['-s', '--max-time', '5', `http://${ADDR}:${PORT}/metrics`]);
    const m = /^keepalived_ts_events_total\{name="firewall\.nft_runs"\} (\d+)$/m.exec(body);
    return Number(m?.[1] ?? Number.NaN);
  };

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: [`${ADDR}/24`] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    d = topo.node('d');
    x = topo.node('x');
    daemon = d.startDaemon({
      command: keepalivedTsCommand(),
      config: CONFIG,
      name: 'keepalived-ts',
      extraArgs: ['--metrics-address', `${ADDR}:${PORT}`],
    });
    await waitForHolders([d, x], VIP, ['d'], 15_000);
    await waitForHolders([d, x], G_VIP, ['d'], 15_000);
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

  it('reload swapping the VIP: neither address answers at any moment, the set follows', async () => {
    // a ping every 2 ms at the old and the new VIP across the reload: with the drop rule of the old
    // VIP removed before the address (or the new address set before its rule), replies get through
    const watch = [VIP, VIP2, G_VIP, G_VIP2].map((a) =>
      x.spawn(['ping', '-n', '-i', '0.002', '-w', '4', a], { name: `ping-${a}` }),
    );
    const runsBefore = await nftRuns();
    try {
      writeFileSync(
        daemon.configPath,
        readFileSync(daemon.configPath, 'utf8')
          .replace(`${VIP}/24`, `${VIP2}/24`)
          .replace(`${G_VIP}/24`, `${G_VIP2}/24`),
      );
      daemon.proc.signal('SIGHUP');
      for (const [held, gone] of [
        [VIP2, VIP],
        [G_VIP2, G_VIP],
      ] as const) {
        await waitForHolders([d, x], held, ['d'], 10_000);
        await waitForHolders([d, x], gone, [], 10_000);
      }
      for (const p of watch) await p.exited;
    } finally {
      for (const p of watch) await p.stop(2000);
    }
    // both instances' rules in one nft run before the addresses changed, one after
    expect((await nftRuns()) - runsBefore).toBe(2);
    for (const p of watch) {
      const sent = Number(/(\d+) packets transmitted/.exec(p.output())?.[1] ?? 0);
      expect(sent).toBeGreaterThan(50);
      expect(p.output()).toMatch(/ 0 received/);
    }
    const set = await d.exec('nft', ['list', 'set', 'ip', 'keepalived', 'vips']);
    expect(set).toContain(VIP2);
    expect(set).toContain(G_VIP2);
    expect(set).not.toContain(VIP);
    expect(set).not.toContain(G_VIP);
  });

  it('SIGTERM: the VIP and the table are gone', async () => {
    expect((await daemon.proc.stop(10_000)).code).toBe(0);
    expect(await tables()).not.toMatch(/keepalived/);
  });
});

// The address owner (priority 255) with an explicit no_accept: Debian's keepalived 2.2.7 installs
// no drop rule (its nftables ruleset stays empty while MASTER) and the VIP answers; so must we.
const OWNER_VIP = '192.0.2.84';
const OWNER_CONFIG = `
vrrp_instance VI_O {
  state MASTER
  interface eth0
  virtual_router_id 13
  priority 255
  no_accept
  advert_int 1
  virtual_ipaddress {
    ${OWNER_VIP}/24
  }
}
`;

describeIf(
  'address owner with no_accept: no drop rule (keepalived-ts and Debian keepalived)',
  needKeepalived,
  () => {
    let topo: Topology | undefined;

    beforeAll(async () => {
      topo = await createTopology({
        nodes: [
          { name: 'ts', links: [{ addrs: ['192.0.2.11/24'] }] },
          { name: 'ka', links: [{ addrs: ['192.0.2.12/24'] }] },
          { name: 'x', links: [{ addrs: ['192.0.2.13/24'] }] },
        ],
      });
    });

    afterAll(async () => {
      await topo?.destroy();
    });

    for (const impl of ['ka', 'ts'] as const) {
      it(`${impl === 'ts' ? 'keepalived-ts' : 'keepalived'}: the VIP is held and answers, no nftables table`, async () => {
        const n = topo!.node(impl);
        const x = topo!.node('x');
        const daemon =
          impl === 'ts'
            ? n.startDaemon({ command: keepalivedTsCommand(), config: OWNER_CONFIG, name: 'keepalived-ts' })
            : n.startKeepalived(OWNER_CONFIG);
        try {
          await waitForHolders([n, x], OWNER_VIP, [impl], 15_000);
          expect(await n.exec('nft', ['list', 'tables'])).not.toMatch(/keepalived/);
          await x.exec('ping', ['-c', '1', '-W', '2', OWNER_VIP]);
        } finally {
          await daemon.proc.stop(10_000);
        }
      });
    }
  },
);
