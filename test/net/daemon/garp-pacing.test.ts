/**
 * GARP / NA pacing of a running keepalived-ts on the wire (vrrp_garp_interval, vrrp_gna_interval,
 * garp_group; src/vrrp/garp-pacer.ts). Captured on the segments' bridges. No wall-clock bound is
 * asserted (the gaps measured are printed): pacing is proven by the order and count of the frames on
 * the wire (repeats collapse only while an address waits for its slot) and by the daemon's own pacer
 * counters (`vrrp.garp_queued`, `vrrp.garp_merged`, scraped from /metrics), whose values follow from
 * the requests made; garp_extra_if's period is counted in the instance's own adverts. keepalived 2.2.7
 * with the first configuration, captured the same way, sent .10 then .10, .11, .12 at +0.30 s steps
 * (4 frames for 3 VIPs x 3 repeats).
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { adverts, type Frame, garps, startCapture, waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const gapsMs = (fs: readonly Frame[]) => fs.slice(1).map((f, i) => (f.tsUs - fs[i]!.tsUs) / 1000);
const showGaps = (fs: readonly Frame[]) =>
  gapsMs(fs)
    .map((g) => g.toFixed(1))
    .join(' ');

/** --metrics-address of the daemon under test (in its own namespace). */
const METRICS = ['--metrics-address', '192.0.2.1:9651'];

/** The daemon's pacer counters (keepalived_ts_events_total; absent = 0), scraped in its namespace. */
async function pacerCounters(n: LabNode) {
  const body = await n.exec('curl', ['-s', '--max-time', '5', 'http://192.0.2.1:9651/metrics']);
  const get = (name: string) => {
    const m = new RegExp(
      `^keepalived_ts_events_total\\{name="${name.replaceAll('.', '\\.')}"\\} (\\d+)$`,
      'm',
    ).exec(body);
    return m ? Number(m[1]) : 0;
  };
  expect(body).toContain('keepalived_ts_events_total');
  return {
    queued: get('vrrp.garp_queued'),
    merged: get('vrrp.garp_merged'),
    dropped: get('vrrp.garp_dropped'),
  };
}

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
    d.startDaemon({
      command: keepalivedTsCommand(),
      config: CONFIG,
      name: 'keepalived-ts',
      extraArgs: METRICS,
    });
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
    const c = await pacerCounters(d);
    console.log(`GARPs ${arps.map((f) => f.arp!.senderIp).join(' ')}; gaps ms ${showGaps(arps)}`);
    console.log(`NAs ${nas.map((f) => f.na!.target).join(' ')}; gaps ms ${showGaps(nas)}`);
    console.log(`pacer: queued ${c.queued}, merged ${c.merged}, dropped ${c.dropped}`);
    // Unpaced, 3 rounds would put 9 GARPs and 6 NAs on the wire at once. Paced: the first of each
    // kind goes at once, every later request waits; a waiting address takes its repeats.
    expect(arps.map((f) => f.arp!.senderIp)).toEqual([
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.11',
      '192.0.2.12',
    ]);
    expect(nas.map((f) => f.na!.target)).toEqual(['fd00::10', 'fd00::10', 'fd00::11']);
    // 15 requests (3 rounds x 5 addresses), 2 sent at once: 13 waited; of them 8 found their address
    // already waiting (round 2: .11 .12 ::11, round 3: all 5) and merged
    expect(c).toEqual({ queued: 13, merged: 8, dropped: 0 });
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
    d.startDaemon({
      command: keepalivedTsCommand(),
      config: CONFIG,
      name: 'keepalived-ts',
      extraArgs: METRICS,
    });
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
    const c = await pacerCounters(d);
    console.log(`group GARPs ${all.map((f) => f.arp!.senderIp).join(' ')}; gaps ms ${showGaps(all)}`);
    console.log(`pacer: queued ${c.queued}, merged ${c.merged}, dropped ${c.dropped}`);
    expect(all.map((f) => f.arp!.senderIp)).toEqual([
      '192.0.2.20',
      '198.51.100.20',
      '192.0.2.21',
      '198.51.100.21',
    ]);
    // one budget for both interfaces: the first GARP goes at once, the 3 others wait (with a budget
    // per interface only 2 would; without the group none)
    expect(c).toEqual({ queued: 3, merged: 0, dropped: 0 });
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
      what: 'four GARPs for 198.51.100.30',
      timeoutMs: 20_000,
      probe: () => (garps(capB.frames(), '198.51.100.30').length >= 4 ? true : undefined),
    });
    const a = await capA.stop();
    const b = await capB.stop();
    const extra = garps(b, '198.51.100.30').slice(0, 4);
    // The burst's one (at the advert entering MASTER), then one at every 2nd advert (2 s at
    // advert_int 1): the daemon's own adverts on eth0 are the clock. From the first of the four to the
    // last (3 periods = 6 advert intervals) lie 5 adverts, plus the 2 sent in the same steps as the
    // first and last GARP, whichever way the two captures order those: 5 to 7. One GARP per advert
    // would give 2 to 4, one per 3 adverts 8 to 10.
    const ads = adverts(a, 53, '192.0.2.1');
    const within = ads.filter((f) => f.tsUs >= extra[0]!.tsUs && f.tsUs <= extra[3]!.tsUs).length;
    console.log(
      `garp_extra_if GARPs for 198.51.100.30: gaps ms ${showGaps(extra)}; adverts from first to fourth: ${within}`,
    );
    expect(within).toBeGreaterThanOrEqual(5);
    expect(within).toBeLessThanOrEqual(7);
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

describeIf('reload: a global GARP default reaches the running instance', needLab, () => {
  let topo: Topology | undefined;
  const config = (refresh: boolean) => `
global_defs {
  vrrp_garp_master_repeat 1
  vrrp_garp_master_delay 0
  ${refresh ? 'vrrp_garp_master_refresh 1' : ''}
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 55
  priority 255
  advert_int 1
  virtual_ipaddress {
    192.0.2.50/24
  }
}
`;

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('vrrp_garp_master_refresh added by SIGHUP starts refresh GARPs of the kept MASTER; removed, stops them', async () => {
    const t = topo!;
    const d = t.node('d');
    const own = (fs: readonly Frame[]) => adverts(fs, 55, '192.0.2.1');
    let cap = await startCapture(t, { name: 'reload-refresh-0' });
    const h = d.startDaemon({ command: keepalivedTsCommand(), config: config(false), name: 'keepalived-ts' });
    await waitForHolders([d], '192.0.2.50', ['d'], 15_000);
    // the MASTER burst (1 GARP), then nothing over 4 adverts: no refresh configured
    await waitFor({
      what: '4 adverts',
      timeoutMs: 15_000,
      probe: () => own(cap.frames()).length >= 4 || undefined,
    });
    const before = await cap.stop();
    expect(garps(before, '192.0.2.50')).toHaveLength(1);

    const reload = async (refresh: boolean, n: number) => {
      writeFileSync(h.configPath, config(refresh));
      const done = h.proc.output().match(/Reload complete/g)?.length ?? 0;
      h.proc.signal('SIGHUP');
      await waitFor({
        what: `reload ${n}`,
        timeoutMs: 15_000,
        probe: () => ((h.proc.output().match(/Reload complete/g)?.length ?? 0) > done ? true : undefined),
      });
    };
    await reload(true, 1);
    expect(h.proc.output()).toContain('(VI_1) reload: applying changed garp');
    cap = await startCapture(t, { name: 'reload-refresh-1' });
    await waitFor({
      what: '6 adverts',
      timeoutMs: 20_000,
      probe: () => own(cap.frames()).length >= 6 || undefined,
    });
    const refreshed = await cap.stop();
    // garp_master_refresh is checked after each advert (at most one refresh GARP per advert)
    const on = garps(refreshed, '192.0.2.50').length;

    await reload(false, 2);
    cap = await startCapture(t, { name: 'reload-refresh-2' });
    await waitFor({
      what: '4 adverts',
      timeoutMs: 15_000,
      probe: () => own(cap.frames()).length >= 4 || undefined,
    });
    const off = garps(await cap.stop(), '192.0.2.50').length;
    console.log(
      `refresh GARPs: ${on} over 6 adverts after the reload adding it, ${off} over 4 after removing it`,
    );
    expect(on).toBeGreaterThanOrEqual(2);
    expect(off).toBe(0);
    // the instance was kept: one MASTER entry
    expect(h.proc.output().match(/\(VI_1\) Entering MASTER STATE/g)).toHaveLength(1);
  });
});
