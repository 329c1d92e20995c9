/**
 * BFD with Debian's keepalived as the peer: keepalived-ts and keepalived each run a bfd_instance
 * pointing at the other; both sessions come Up (each side's log says so, and keepalived's VRRP
 * instance sees its track_bfd Up). When keepalived stops, our session goes Down by detection-time
 * expiry: the instance tracking it with weight -20 advertises priority 80 instead of 100, the one
 * tracking it without weight goes FAULT (its adverts stop).
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import type { DaemonHandle } from '../../lab/node.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { adverts, type Capture, type Frame, startCapture, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const TS = '192.0.2.71';
const KA = '192.0.2.72';
const TS6 = 'fd00::71';
const KA6 = 'fd00::72';

const bfdBlock = (neighbor: string, source: string, name = 'B1', extra: string[] = [], ms = 100) => [
  `bfd_instance ${name} {`,
  ...extra,
  `  neighbor_ip ${neighbor}`,
  `  source_ip ${source}`,
  `  min_rx ${ms}`,
  `  min_tx ${ms}`,
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

/**
 * The BFD Control packets (IPv4, UDP 3784) among captured frames, read here by hand rather than with
 * src/wire/bfd.ts so the check does not depend on the codec under test.
 */
const bfdPackets = (frames: readonly Frame[]) =>
  frames.flatMap((f) => {
    const raw = f.raw;
    if (raw.length < 14 + 20 || raw.readUInt16BE(12) !== 0x0800 || raw[14 + 9] !== 17) return [];
    const o = 14 + (raw[14]! & 0x0f) * 4 + 8;
    if (raw.length < o + 24) return [];
    const flags = raw[o + 1]!;
    return [
      {
        src: f.srcIp,
        state: flags >> 6,
        poll: (flags & 0x20) !== 0,
        final: (flags & 0x10) !== 0,
        desiredMinTx: raw.readUInt32BE(o + 12),
        requiredMinRx: raw.readUInt32BE(o + 16),
      },
    ];
  });

/** The error, with both daemons' BFD-related log lines appended. */
function withLogs(e: unknown, ours: DaemonHandle | undefined, theirs: DaemonHandle | undefined): Error {
  const lines = (d: DaemonHandle | undefined) =>
    (d?.proc.output() ?? '')
      .split('\n')
      .filter((l) => /BFD|B1|B6|bfd|Reload/.test(l))
      .join('\n');
  return new Error(`${(e as Error).message}\n--- ts ---\n${lines(ours)}\n--- ka ---\n${lines(theirs)}`);
}

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
      throw withLogs(e, ts, ka);
    } finally {
      await ts.proc.stop();
      await ka.proc.stop();
    }
  }, 90_000);

  it('a reload changing only our timers renegotiates them by Poll/Final: neither side leaves Up', async () => {
    const t = topo!;
    const bcap = await startCapture(t, { filter: 'udp port 3784', name: 'bfd-reload' });
    const k = t.node('bka').startKeepalived(conf('bka', [bfdBlock(TS, KA)]), 'ka-reload');
    const vi = instance('VI_W', 71, 'B1 weight -20');
    const count = (re: RegExp) => d.proc.output().match(new RegExp(re.source, 'g'))?.length ?? 0;
    const UP = /\(VI_W\) Tracked BFD instance B1 is UP/;
    const DOWN = /\(VI_W\) Tracked BFD instance B1 is DOWN/;
    const d = t.node('bts').startDaemon({
      command: keepalivedTsCommand(),
      config: conf('bts', [bfdBlock(KA, TS), vi]),
      name: 'ts-reload',
    });
    try {
      await d.proc.waitForOutput(/\(B1\) Entering Up state/, 20_000);
      await k.proc.waitForOutput(/\(B1\) Entering Up state/, 20_000);
      await d.proc.waitForOutput(UP, 10_000);
      // Both sides done with the Up transition's own Poll sequence: min_tx 100 ms on the wire.
      await waitFor({
        what: 'both sides sending Up with min_tx 100 ms, no Poll',
        probe: () => bfdPackets(bcap.frames()).slice(-6),
        until: (p) =>
          p.length === 6 && p.every((x) => x.state === 3 && !x.poll && x.desiredMinTx === 100_000),
        timeoutMs: 10_000,
      });
      const before = bcap.frames().length;
      writeFileSync(d.configPath, conf('bts', [bfdBlock(KA, TS, 'B1', [], 200), vi]));
      d.proc.signal('SIGHUP');
      await d.proc.waitForOutput(/Reload complete/, 15_000);
      // Our Poll carries the new values; keepalived answers with a Final, then keeps the session Up:
      // watch 20 of its packets after the Final.
      const seen = await waitFor({
        what: 'our Poll with 200 ms, keepalived Final, then 20 more keepalived packets',
        probe: () => bfdPackets(bcap.frames().slice(before)),
        until: (p) => {
          const poll = p.findIndex((x) => x.src === TS && x.poll && x.desiredMinTx === 200_000);
          const fin = p.findIndex((x, i) => i > poll && x.src === KA && x.final);
          return poll >= 0 && fin > poll && p.slice(fin).filter((x) => x.src === KA).length > 20;
        },
        timeoutMs: 20_000,
      });
      expect(seen.every((x) => x.state === 3)).toBe(true);
      expect(seen.filter((x) => x.src === TS).at(-1)).toMatchObject({
        desiredMinTx: 200_000,
        requiredMinRx: 200_000,
      });
      expect(k.proc.output()).not.toMatch(/\(B1\) Entering Down state/);
      expect(d.proc.output()).not.toMatch(/\(B1\) Entering Down state/);
      // VRRP heard the state again on reload but logs changes only: one UP, no DOWN.
      expect([count(UP), count(DOWN)]).toEqual([1, 0]);

      // A reload that changes max_hops restarts the session: VRRP is told Down, then Up again.
      writeFileSync(d.configPath, conf('bts', [bfdBlock(KA, TS, 'B1', ['  max_hops 1'], 200), vi]));
      d.proc.signal('SIGHUP');
      await waitFor({
        what: 'VRRP told DOWN then UP again after the restarting reload',
        probe: () => [count(DOWN), count(UP)] as const,
        until: ([down, up]) => down === 1 && up === 2,
        timeoutMs: 20_000,
      });
      const out = d.proc.output();
      expect(out.search(DOWN)).toBeLessThan(out.lastIndexOf('Tracked BFD instance B1 is UP'));
    } catch (e) {
      throw withLogs(e, d, k);
    } finally {
      await d.proc.stop();
      await k.proc.stop();
      await bcap.stop();
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
