/**
 * GARP / NA pacing of a running keepalived-ts on the wire (vrrp_garp_interval, vrrp_gna_interval,
 * garp_group; src/vrrp/garp-pacer.ts). Captured on the segments' bridges; the gaps measured are
 * printed, and only their lower bound (the interval, less a slack for capture timestamps) is asserted,
 * with the order and count of the frames. keepalived 2.2.7 with the first configuration, captured
 * the same way, sent .10 then .10, .11, .12 at +0.30 s steps (4 frames for 3 VIPs x 3 repeats).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { type Frame, garps, startCapture, waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

/** Capture timestamps are the bridge's; a frame is never early by more than this. */
const SLACK_US = 20_000;

const gapsMs = (fs: readonly Frame[]) => fs.slice(1).map((f, i) => (f.tsUs - fs[i]!.tsUs) / 1000);

describeIf('GARP pacing on one interface (vrrp_garp_interval, vrrp_gna_interval)', needLab, () => {
  let topo: Topology | undefined;
  const VIPS = ['192.0.2.10', '192.0.2.11', '192.0.2.12'];
  const NAS = ['fd00::10', 'fd00::11'];
  const CONFIG = `
global_defs {
  vrrp_garp_interval 0.3
  vrrp_gna_interval 0.2
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 255
  advert_int 1
  garp_master_repeat 3
  garp_master_delay 0
  virtual_ipaddress {
    ${VIPS.map((v) => `${v}/24`).join('\n    ')}
  }
  virtual_ipaddress_excluded {
    ${NAS.map((v) => `${v}/64`).join('\n    ')}
  }
}
`;

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('spaces GARPs by 0.3 s and NAs by 0.2 s, repeats of a queued address collapsing (as keepalived)', async () => {
    const t = topo!;
    const d = t.node('d');
    const cap = await startCapture(t, { name: 'garp-one-if' });
    d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([d], VIPS[0]!, ['d'], 15_000);
    // 4 GARPs (.10 at once, then .10 .11 .12) and 3 NAs (::10 at once, then ::10 ::11) are expected
    await waitFor({
      what: 'the paced GARPs and NAs',
      timeoutMs: 10_000,
      probe: () => {
        const fs = cap.frames();
        return fs.filter((f) => f.kind === 'arp').length >= 4 && fs.filter((f) => f.kind === 'na').length >= 3
          ? true
          : undefined;
      },
    });
    // a second burst would show within garp_master_delay (0: none); give anything late a chance
    await new Promise((r) => setTimeout(r, 1_500));
    const frames = await cap.stop();
    const arps = frames.filter((f) => f.kind === 'arp' && VIPS.includes(f.arp!.senderIp));
    const nas = frames.filter((f) => f.kind === 'na' && NAS.includes(f.na!.target));
    console.log(
      `GARPs ${arps.map((f) => f.arp!.senderIp).join(' ')}; gaps ms ${gapsMs(arps)
        .map((g) => g.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `NAs ${nas.map((f) => f.na!.target).join(' ')}; gaps ms ${gapsMs(nas)
        .map((g) => g.toFixed(1))
        .join(' ')}`,
    );
    expect(arps.map((f) => f.arp!.senderIp)).toEqual([
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.11',
      '192.0.2.12',
    ]);
    for (const g of gapsMs(arps)) expect(g * 1000).toBeGreaterThanOrEqual(300_000 - SLACK_US);
    expect(nas.map((f) => f.na!.target)).toEqual(['fd00::10', 'fd00::10', 'fd00::11']);
    for (const g of gapsMs(nas)) expect(g * 1000).toBeGreaterThanOrEqual(200_000 - SLACK_US);
    for (const v of VIPS) expect(garps(frames, v).length).toBeGreaterThan(0);
  });
});

describeIf('GARP pacing across a garp_group (two interfaces, one budget)', needLab, () => {
  let topo: Topology | undefined;
  const CONFIG = `
garp_group {
  garp_interval 0.25
  interfaces {
    eth0
    eth1
  }
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 52
  priority 255
  advert_int 1
  garp_master_repeat 1
  garp_master_delay 0
  virtual_ipaddress {
    192.0.2.20/24
    198.51.100.20/24 dev eth1
    192.0.2.21/24
    198.51.100.21/24 dev eth1
  }
}
`;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        {
          name: 'd',
          links: [{ addrs: ['192.0.2.1/24'] }, { segment: 'b', addrs: ['198.51.100.1/24'] }],
        },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('alternates the two interfaces at 0.25 s steps in configuration order', async () => {
    const t = topo!;
    const d = t.node('d');
    const capA = await startCapture(t, { segment: 'lan', name: 'group-a' });
    const capB = await startCapture(t, { segment: 'b', name: 'group-b' });
    d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([d], '192.0.2.20', ['d'], 15_000);
    await waitFor({
      what: 'four GARPs on the two segments',
      timeoutMs: 10_000,
      probe: () =>
        capA.frames().filter((f) => f.kind === 'arp').length +
          capB.frames().filter((f) => f.kind === 'arp').length >=
        4
          ? true
          : undefined,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    const all = [...(await capA.stop()), ...(await capB.stop())]
      .filter((f) => f.kind === 'arp' && f.arp!.senderIp === f.arp!.targetIp)
      .sort((a, b) => a.tsUs - b.tsUs);
    console.log(
      `group GARPs ${all.map((f) => f.arp!.senderIp).join(' ')}; gaps ms ${gapsMs(all)
        .map((g) => g.toFixed(1))
        .join(' ')}`,
    );
    expect(all.map((f) => f.arp!.senderIp)).toEqual([
      '192.0.2.20',
      '198.51.100.20',
      '192.0.2.21',
      '198.51.100.21',
    ]);
    for (const g of gapsMs(all)) expect(g * 1000).toBeGreaterThanOrEqual(250_000 - SLACK_US);
  });
});

describeIf('garp_extra_if: periodic GARPs on the other interfaces', needLab, () => {
  let topo: Topology | undefined;
  // keepalived 2.2.7 with this configuration (captured in a namespace): the burst on both interfaces,
  // then one GARP for 198.51.100.20 (the first VIP on the other interface) at each advert 2 s apart.
  const CONFIG = `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 53
  priority 255
  advert_int 1
  garp_master_repeat 1
  garp_master_delay 0
  garp_extra_if all 2
  virtual_ipaddress {
    192.0.2.30/24
    198.51.100.30/24 dev eth1
    192.0.2.31/24
    198.51.100.31/24 dev eth1
  }
}
`;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        {
          name: 'd',
          links: [{ addrs: ['192.0.2.1/24'] }, { segment: 'b', addrs: ['198.51.100.1/24'] }],
        },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('sends one GARP on the other interface every 2 s, none on the instance interface', async () => {
    const t = topo!;
    const d = t.node('d');
    const capA = await startCapture(t, { segment: 'lan', name: 'extra-a' });
    const capB = await startCapture(t, { segment: 'b', name: 'extra-b' });
    d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([d], '192.0.2.30', ['d'], 15_000);
    await waitFor({
      what: 'three GARPs for 198.51.100.30',
      timeoutMs: 15_000,
      probe: () => (garps(capB.frames(), '198.51.100.30').length >= 3 ? true : undefined),
    });
    const a = await capA.stop();
    const b = await capB.stop();
    const extra = garps(b, '198.51.100.30');
    console.log(
      `garp_extra_if GARPs for 198.51.100.30: gaps ms ${gapsMs(extra)
        .map((g) => g.toFixed(1))
        .join(' ')}`,
    );
    // the burst's one, then the periodic ones, spaced by the 2 s interval (a whole advert interval)
    for (const g of gapsMs(extra)) expect(g * 1000).toBeGreaterThanOrEqual(2_000_000 - SLACK_US);
    expect(garps(b, '198.51.100.31')).toHaveLength(1);
    expect(garps(a, '192.0.2.30')).toHaveLength(1);
    expect(garps(a, '192.0.2.31')).toHaveLength(1);
  });
});

describeIf('vrrp_min_garp: one GARP per VIP, no second burst', needLab, () => {
  let topo: Topology | undefined;
  // keepalived 2.2.7 with this configuration sent one GARP for each VIP and nothing in the next 8 s.
  const CONFIG = `
global_defs {
  vrrp_min_garp
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 54
  priority 255
  advert_int 1
  virtual_ipaddress {
    192.0.2.40/24
    192.0.2.41/24
  }
}
`;

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('sends each VIP once where the defaults would send 5 now and 5 more after 5 s', async () => {
    const t = topo!;
    const d = t.node('d');
    const cap = await startCapture(t, { name: 'min-garp' });
    d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([d], '192.0.2.40', ['d'], 15_000);
    // past the default garp_master_delay (5 s) with a margin
    await new Promise((r) => setTimeout(r, 6_500));
    const frames = await cap.stop();
    expect(garps(frames, '192.0.2.40')).toHaveLength(1);
    expect(garps(frames, '192.0.2.41')).toHaveLength(1);
  });
});
