/**
 * BFD with Debian's keepalived as the peer: keepalived-ts and keepalived each run a bfd_instance
 * pointing at the other; both sessions come Up (each side's log says so, and keepalived's VRRP
 * instance sees its track_bfd Up). When keepalived stops, our session goes Down by detection-time
 * expiry: the instance tracking it with weight -20 advertises priority 80 instead of 100, the one
 * tracking it without weight goes FAULT (its adverts stop).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import type { DaemonHandle } from '../../lab/node.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { adverts, type Capture, startCapture, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const TS = '192.0.2.71';
const KA = '192.0.2.72';
const TS6 = 'fd00::71';
const KA6 = 'fd00::72';

const bfdBlock = (neighbor: string, source: string, name = 'B1', extra: string[] = []) => [
  `bfd_instance ${name} {`,
  ...extra,
  `  neighbor_ip ${neighbor}`,
  `  source_ip ${source}`,
  '  min_rx 100',
  '  min_tx 100',
  '  multiplier 3',
  '}',
];

const instance = (name: string, vrid: number, track: string, state = 'MASTER') => [
  `vrrp_instance ${name} {`,
  `  state ${state}`,
  '  interface eth0',
  `  virtual_router_id ${vrid}`,
  '  priority 100',
  '  advert_int 1',
  `  virtual_ipaddress { 198.51.100.${vrid}/24 }`,
  `  track_bfd { ${track} }`,
  '}',
];

const conf = (routerId: string, blocks: string[][]) =>
  `${['global_defs {', `  router_id ${routerId}`, '}', ...blocks.flat()].join('\n')}\n`;

describeIf('BFD with Debian keepalived as the peer', needKeepalived, () => {
  let topo: Topology | undefined;
  let cap: Capture | undefined;
  let ts: DaemonHandle | undefined;
  let ka: DaemonHandle | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'bts', links: [{ segment: 'lan', addrs: [`${TS}/24`, `${TS6}/64`] }] },
        { name: 'bka', links: [{ segment: 'lan', addrs: [`${KA}/24`, `${KA6}/64`] }] },
      ],
    });
    cap = await startCapture(topo, { filter: 'ip proto 112' });
  }, 60_000);

  afterAll(async () => {
    await cap?.stop();
    await topo?.destroy();
  });

  it('both sessions come Up; stopping keepalived takes ours Down, lowering or faulting the trackers', async () => {
    const t = topo!;
    ka = t
      .node('bka')
      .startKeepalived(
        conf('bka', [bfdBlock(TS, KA), bfdBlock(TS6, KA6, 'B6'), instance('VI_K', 73, 'B1', 'BACKUP')]),
        'ka-bfd',
      );
    ts = t.node('bts').startDaemon({
      command: keepalivedTsCommand(),
      config: conf('bts', [
        bfdBlock(KA, TS),
        // no hoplimit: keepalived's IPv6 default (64, sent and expected) must be ours too
        bfdBlock(KA6, TS6, 'B6'),
        instance('VI_W', 71, 'B1 weight -20'),
        instance('VI_F', 72, 'B1'),
      ]),
      name: 'ts-bfd',
    });
    try {
      await ts.proc.waitForOutput(/\(B1\) Entering Up state/, 20_000);
      await ka.proc.waitForOutput(/\(B1\) Entering Up state/, 20_000);
      await ts.proc.waitForOutput(/\(B6\) Entering Up state/, 20_000);
      await ka.proc.waitForOutput(/\(B6\) Entering Up state/, 20_000);
      // keepalived's VRRP process got the Up event from its BFD process.
      await ka.proc.waitForOutput(/Tracked BFD instance B1 is UP/, 10_000);
      await ts.proc.waitForOutput(/VRRP_Instance\(VI_W\) Tracked BFD instance B1 is UP/, 10_000);
      // With the session Up: VI_W advertises its full priority, VI_F runs (not FAULT).
      await waitFor({
        what: 'VI_W adverts at priority 100 and VI_F adverts',
        probe: () => cap!.frames(),
        until: (f) =>
          adverts(f, 71, TS).some((a) => a.vrrp?.priority === 100) && adverts(f, 72, TS).length > 0,
        timeoutMs: 15_000,
      });

      const before = cap!.frames().length;
      await ka.proc.stop();
      await ts.proc.waitForOutput(
        /\(B1\) Entering Down state \(Local diagnostic - Control Detection Time Expired/,
        10_000,
      );
      await ts.proc.waitForOutput(/VRRP_Instance\(VI_W\) Tracked BFD instance B1 is DOWN/, 5_000);
      await ts.proc.waitForOutput(
        /\(B6\) Entering Down state \(Local diagnostic - Control Detection Time Expired/,
        10_000,
      );
      await ts.proc.waitForOutput(/\(VI_F\) Entering FAULT STATE/, 5_000);
      const after = await waitFor({
        what: 'VI_W adverts at priority 80',
        probe: () => cap!.frames().slice(before),
        until: (f) => adverts(f, 71, TS).some((a) => a.vrrp?.priority === 80),
        timeoutMs: 10_000,
      });
      const vi1 = adverts(after, 71, TS);
      // Once at 80, it stays at 80 (no flapping back while the peer is gone).
      const firstLow = vi1.findIndex((a) => a.vrrp?.priority === 80);
      expect(vi1.slice(firstLow).every((a) => a.vrrp?.priority === 80)).toBe(true);
      expect(ts.proc.output()).not.toMatch(/KA_ERR_BFD_BAD_TTL|KA_ERR_BFD_NO_SESSION/);
    } catch (e) {
      const bfdLines = (d: DaemonHandle | undefined) =>
        (d?.proc.output() ?? '')
          .split('\n')
          .filter((l) => /BFD|B1|B6|bfd/.test(l))
          .join('\n');
      throw new Error(`${(e as Error).message}\n--- ts ---\n${bfdLines(ts)}\n--- ka ---\n${bfdLines(ka)}`);
    } finally {
      await ts.proc.stop();
      await ka.proc.stop();
    }
  }, 90_000);

  it('-B (--no_bfd) runs no BFD: nothing listens on port 3784', async () => {
    const node = topo!.node('bts');
    const d = node.startDaemon({
      command: keepalivedTsCommand(),
      config: conf('bts', [bfdBlock(KA, TS), instance('VI_W', 71, 'B1 weight -20')]),
      name: 'ts-nobfd',
      extraArgs: ['-B'],
    });
    try {
      await d.proc.waitForOutput(/Startup complete/, 15_000);
      expect(d.proc.output()).toMatch(/BFD disabled \(-B\)/);
      expect(await node.exec('ss', ['-H', '-u', '-l', '-n', 'sport = :3784'])).toBe('');
      // The tracker stays Down: the weight applies.
      await d.proc.waitForOutput(/\(VI_W\) Changing effective priority from 100 to 80/, 5_000);
    } finally {
      await d.proc.stop();
    }
  }, 60_000);

  it('a passive session of ours comes Up with keepalived active, and keepalived passive with ours active', async () => {
    const t = topo!;
    for (const [tsExtra, kaExtra] of [
      [['  passive'], []],
      [[], ['  passive']],
    ] as const) {
      const k = t
        .node('bka')
        .startKeepalived(conf('bka', [bfdBlock(TS, KA, 'B1', [...kaExtra])]), 'ka-passive');
      const d = t.node('bts').startDaemon({
        command: keepalivedTsCommand(),
        config: conf('bts', [bfdBlock(KA, TS, 'B1', [...tsExtra])]),
        name: 'ts-passive',
      });
      try {
        await d.proc.waitForOutput(/\(B1\) Entering Up state/, 20_000);
        await k.proc.waitForOutput(/\(B1\) Entering Up state/, 20_000);
      } finally {
        await d.proc.stop();
        await k.proc.stop();
      }
    }
  }, 90_000);
});
