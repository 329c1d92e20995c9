/**
 * Election, crash failover, preempt on return and graceful stop, run side by side on one bridge by four
 * pairs (each its own VRID and VIP): keepalived-ts as master with keepalived as backup, keepalived as
 * master with keepalived-ts as backup, keepalived-ts with keepalived-ts, and keepalived with
 * keepalived as the reference. The notify calls of every keepalived-ts node are compared with those of
 * the keepalived node in the same role of the reference pair, which went through the same scenario.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import type { LabNode } from '../../lab/node.js';
import {
  adverts,
  type Capture,
  failoverGapMs,
  garps,
  startCapture,
  waitFor,
  waitForHolders,
} from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';
import {
  eachPair,
  genericCalls,
  HI,
  implName,
  KA_KA,
  LO,
  type Pair,
  pairConfig,
  pairNodes,
  recOf,
  scriptCalls,
  startHiThenLo,
  startImpl,
  themePairs,
  themeSpecs,
  themeVrids,
  unlikeKeepalived,
  waitBackToStart,
  waitLastNotify,
} from './helpers.js';

const SPECS = themeSpecs({ election: [KA_KA] });
/** Filled in beforeAll, once the topology exists. */
let PAIRS: Pair[] = [];

const addr = (n: LabNode) => n.primaryAddress();

describeIf(
  'VRRP election and failover, keepalived-ts with keepalived-ts and with keepalived',
  needKeepalived,
  () => {
    let topo: Topology | undefined;
    let cap: Capture;

    beforeAll(async () => {
      topo = await createTopology({ nodes: pairNodes(themeVrids(SPECS)) });
      const t = topo;
      PAIRS = themePairs(t, SPECS).election;
      cap = await startCapture(topo);
    });

    afterAll(async () => {
      await cap?.stop();
      await topo?.destroy();
    });

    const each = (f: (p: Pair) => Promise<void>) => eachPair(PAIRS, f);

    it('elects the higher priority: it alone holds the VIP, advertises and sends GARPs', async () => {
      await each(async (p) => {
        const t0 = Date.now() * 1000;
        await startHiThenLo(p, pairConfig(p, 'hi'), pairConfig(p, 'lo'), LO);
        const first = await waitFor({
          what: `an advert from ${addr(p.hi)} in the capture`,
          probe: () => adverts(cap.frames(), p.vrid, addr(p.hi))[0],
          timeoutMs: 5_000,
        });
        expect(first.vrrp).toMatchObject({ version: 2, vrid: p.vrid, priority: HI, interval: 1 });
        const g = await waitFor({
          what: `GARPs for ${p.vip}`,
          probe: () => garps(cap.frames(), p.vip),
          until: (x) => x.length >= 5,
          timeoutMs: 5_000,
        });
        expect(g.every((f) => f.srcMac === p.hi.link().mac)).toBe(true);
        console.log(
          `vrrp ${p.label}: ${implName(p.hiImpl)} master after ${((first.tsUs - t0) / 1000).toFixed(0)} ms (first advert), ${g.length} GARPs`,
        );
        expect(adverts(cap.frames(), p.vrid, addr(p.lo))).toEqual([]);
        expect(await p.lo.hasAddress(p.vip)).toBe(false);
      });
    });

    it('crash (SIGKILL) of the master: the backup takes over after Master_Down_Interval', async () => {
      await each(async (p) => {
        await p.hi.crash();
        // A killed daemon cannot remove its VIP: both nodes hold it now.
        await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name, p.lo.name], 10_000);
        await waitFor({
          what: `an advert from the low node ${addr(p.lo)}`,
          probe: () => adverts(cap.frames(), p.vrid, addr(p.lo)).length,
          timeoutMs: 5_000,
        });
        const gap = failoverGapMs(cap.frames(), p.vrid, addr(p.hi), addr(p.lo));
        if (gap === undefined) throw new Error('no failover in the capture');
        console.log(
          `vrrp ${p.label}: crash failover gap ${gap.toFixed(1)} ms (Master_Down_Interval 3609 ms), new master ${implName(p.loImpl)}`,
        );
        // The new master waited for the down timer (3 adverts + skew), not less and not a whole advert more.
        expect(gap).toBeGreaterThan(3_300);
        expect(gap).toBeLessThan(4_600);
        expect(adverts(cap.frames(), p.vrid, addr(p.lo))[0]?.vrrp?.priority).toBe(LO);
      });
    });

    it('the crashed node comes back, removes its stale VIP and preempts', async () => {
      await each(async (p) => {
        const t0 = performance.now();
        p.hiD = startImpl(p.hi, p.hiImpl, pairConfig(p, 'hi'), `${p.hiImpl}-hi2`);
        await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name], 15_000);
        console.log(
          `vrrp ${p.label}: ${implName(p.hiImpl)} restarted and preempted in ${(performance.now() - t0).toFixed(0)} ms`,
        );
        await waitBackToStart(p);
      });
    });

    it('graceful stop (SIGTERM) of the master: priority 0 advert, backup takes over after skew time', async () => {
      await each(async (p) => {
        await p.hiD?.proc.stop();
        await waitForHolders([p.hi, p.lo], p.vip, [p.lo.name], 10_000);
        // The new master's notify calls come after its VIPs and GARPs: wait for them, so that the
        // stop of this node in the next step cannot overtake them.
        await waitLastNotify(p.loRec, 'MASTER', LO);
        // The capture file may lag: wait until it shows the priority-0 advert and an advert after it.
        const { zero, next } = await waitFor({
          what: 'a priority-0 advert of the old master, then an advert of the new one',
          probe: () => {
            const ads = adverts(cap.frames(), p.vrid);
            const zero = ads.findLast((f) => f.srcIp === addr(p.hi) && f.vrrp?.priority === 0);
            const next = zero && ads.find((f) => f.srcIp === addr(p.lo) && f.tsUs > zero.tsUs);
            return zero && next ? { zero, next } : undefined;
          },
          timeoutMs: 5_000,
        });
        const ms = (next.tsUs - zero.tsUs) / 1000;
        console.log(
          `vrrp ${p.label}: graceful takeover ${ms.toFixed(1)} ms after priority 0 (skew time 609 ms)`,
        );
        // Skew time, not Master_Down_Interval (3609 ms): the backup reacted to priority 0.
        expect(ms).toBeGreaterThan(400);
        expect(ms).toBeLessThan(1_500);
      });
    });

    it('graceful stop of the last node removes the VIP; notify calls of keepalived-ts match keepalived', async () => {
      await each(async (p) => {
        await p.loD?.proc.stop();
        await waitForHolders([p.hi, p.lo], p.vip, [], 5_000);
        // The comparison below shows what is missing if a STOP call never comes.
        await waitLastNotify(p.hiRec, 'STOP', HI).catch(() => undefined);
        await waitLastNotify(p.loRec, 'STOP', LO).catch(() => undefined);
      });
      const ka = PAIRS.find((p) => p.hiImpl === 'ka' && p.loImpl === 'ka')!;
      console.log(`vrrp notify keepalived hi: ${JSON.stringify(genericCalls(ka.hiRec))}`);
      console.log(`vrrp notify keepalived lo: ${JSON.stringify(genericCalls(ka.loRec))}`);
      expect([
        ...unlikeKeepalived(PAIRS, (p, who) => genericCalls(recOf(p, who)), 'notify'),
        ...unlikeKeepalived(PAIRS, (p, who) => scriptCalls(recOf(p, who)), 'notify scripts'),
      ]).toEqual([]);
      expect(genericCalls(ka.hiRec).length).toBeGreaterThan(2);
    });
  },
);
