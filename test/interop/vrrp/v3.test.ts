/**
 * VRRPv3, keepalived-ts with keepalived in both roles and with itself, on one bridge: IPv4 at
 * advert_int 0.1 (election and crash failover measured on the wire; a stalled backup that must not
 * take over) and IPv6 (the VIP moves, the new master's unsolicited NA is seen).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import type { LabNode } from '../../lab/node.js';
import {
  adverts,
  type Capture,
  failoverGapMs,
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
  type Role,
  startHiThenLo,
  startImpl,
  themePairs,
  themeSpecs,
  themeVrids,
} from './helpers.js';

const SPECS = themeSpecs({ 'v3/ipv4': [KA_KA], 'v3/ipv6': [], 'v3/stall': [KA_KA] });

const vip6 = (p: Pair) => `fd00::1:${p.vrid.toString(16)}`;

async function linkLocal(n: LabNode): Promise<string> {
  const a = (await n.addresses()).find((x) => x.family === 'inet6' && x.local.startsWith('fe80:'));
  if (!a) throw new Error(`${n.name} has no link-local address`);
  return a.local;
}

describeIf('VRRPv3 with keepalived: IPv4 at advert_int 0.1, IPv6 with unsolicited NA', needKeepalived, () => {
  let topo: Topology | undefined;
  let cap: Capture;
  let v4: Pair[] = [];
  let v6: Pair[] = [];
  let stall: Pair[] = [];

  beforeAll(async () => {
    topo = await createTopology({ nodes: pairNodes(themeVrids(SPECS)) });
    ({ 'v3/ipv4': v4, 'v3/ipv6': v6, 'v3/stall': stall } = themePairs(topo, SPECS));
    cap = await startCapture(topo);
  });

  afterAll(async () => {
    await cap?.stop();
    await topo?.destroy();
  });

  it.concurrent('IPv4 at advert_int 0.1: election, then crash failover after Master_Down_Interval', async () => {
    const conf = (p: Pair, who: Role) => pairConfig(p, who, { version: 3, advertInt: 0.1 });
    await eachPair(v4, async (p) => {
      await startHiThenLo(p, conf(p, 'hi'), conf(p, 'lo'), LO, 15_000);
      const first = await waitFor({
        what: `an advert from ${p.hi.primaryAddress()} in the capture`,
        probe: () => adverts(cap.frames(), p.vrid, p.hi.primaryAddress())[0],
        timeoutMs: 5_000,
      });
      expect(first.vrrp).toMatchObject({ version: 3, vrid: p.vrid, priority: HI, interval: 10 });
      // A second of 100 ms adverts later, the backup still has not claimed the VIP.
      await new Promise((r) => setTimeout(r, 1_000));
      // On failure, tells a master that fell silent on the wire from a backup that did not keep up.
      const sent = adverts(cap.frames(), p.vrid, p.hi.primaryAddress()).map((f) => f.tsUs);
      const silentMs = Math.max(0, ...sent.slice(1).map((t, i) => (t - (sent[i] ?? t)) / 1000));
      const why = `longest gap between the master's adverts on the wire: ${silentMs.toFixed(1)} ms`;
      expect(await p.lo.hasAddress(p.vip), why).toBe(false);
      expect(adverts(cap.frames(), p.vrid, p.lo.primaryAddress()), why).toEqual([]);
      await p.hi.crash();
      await waitForHolders([p.lo], p.vip, [p.lo.name], 10_000);
      const gap = await waitFor({
        what: 'the failover in the capture',
        probe: () => failoverGapMs(cap.frames(), p.vrid, p.hi.primaryAddress(), p.lo.primaryAddress()),
        timeoutMs: 5_000,
      });
      console.log(
        `vrrp ${p.label}: crash failover gap ${gap.toFixed(1)} ms at advert_int 0.1 (Master_Down_Interval 360.9 ms), new master ${implName(p.loImpl)}`,
      );
      // 3 missed adverts + skew: more than 3 intervals, well under the v2 figure.
      expect(gap).toBeGreaterThan(300);
      expect(gap).toBeLessThan(1_500);
      expect(adverts(cap.frames(), p.vrid, p.lo.primaryAddress())[0]?.vrrp).toMatchObject({
        version: 3,
        priority: LO,
        interval: 10,
      });
    });
  });

  it.concurrent('IPv6: election, unsolicited NA from the master, VIP moves on crash with NA from the new master', async () => {
    const conf = (p: Pair, who: Role) => pairConfig(p, who, { version: 3, vips: [`${vip6(p)}/64`] });
    await eachPair(v6, async (p) => {
      const vip = vip6(p);
      const hiLl = await linkLocal(p.hi);
      const loLl = await linkLocal(p.lo);
      p.hiD = startImpl(p.hi, p.hiImpl, conf(p, 'hi'), `${p.hiImpl}-hi`);
      await waitForHolders([p.hi, p.lo], vip, [p.hi.name], 15_000);
      p.loD = startImpl(p.lo, p.loImpl, conf(p, 'lo'), `${p.loImpl}-lo`);
      await waitFor({
        what: 'BACKUP notify of the low node',
        probe: () => genericCalls(p.loRec),
        until: (c) => c.includes(`INSTANCE VI_1 BACKUP ${LO}`),
        timeoutMs: 15_000,
      });
      const na = (mac: string) =>
        cap.frames().filter((f) => f.kind === 'na' && f.na?.target === vip && f.srcMac === mac);
      await waitFor({
        what: `NA for ${vip} from the master`,
        probe: () => na(p.hi.link().mac).length,
        timeoutMs: 5_000,
      });
      const first = adverts(cap.frames(), p.vrid, hiLl)[0];
      expect(first?.vrrp).toMatchObject({ version: 3, vrid: p.vrid, priority: HI, interval: 100 });
      await new Promise((r) => setTimeout(r, 4_000)); // past the backup's Master_Down_Interval
      expect(await p.lo.hasAddress(vip)).toBe(false);
      await p.hi.crash();
      await waitForHolders([p.lo], vip, [p.lo.name], 10_000);
      const nas = await waitFor({
        what: `NA for ${vip} from the new master`,
        probe: () => na(p.lo.link().mac),
        until: (x) => x.length > 0,
        timeoutMs: 5_000,
      });
      const gap = await waitFor({
        what: 'the failover in the capture',
        probe: () => failoverGapMs(cap.frames(), p.vrid, hiLl, loLl),
        timeoutMs: 5_000,
      });
      console.log(
        `vrrp ${p.label}: IPv6 crash failover gap ${gap.toFixed(1)} ms (Master_Down_Interval 3609 ms), ${nas.length} NAs from the new master ${implName(p.loImpl)}`,
      );
      expect(gap).toBeGreaterThan(3_300);
    });
  });

  it.concurrent('a backup stalled longer than Master_Down_Interval reads the adverts queued meanwhile and stays backup', async () => {
    const conf = (p: Pair, who: Role) => pairConfig(p, who, { version: 3, advertInt: 0.1 });
    const STALL_MS = 700; // Master_Down_Interval of the backup: 360.9 ms
    await eachPair(stall, async (p) => {
      await startHiThenLo(p, conf(p, 'hi'), conf(p, 'lo'), LO, 15_000);
      // keepalived runs VRRP in a child process; keepalived-ts in the one it was started as.
      const d = p.loD!;
      const pid = p.loImpl === 'ka' ? Number(readFileSync(d.vrrpPidPath, 'utf8')) : d.proc.pid;
      for (let trial = 0; trial < 3; trial++) {
        const t0 = Date.now() * 1000;
        process.kill(pid, 'SIGSTOP');
        try {
          await new Promise((r) => setTimeout(r, STALL_MS));
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        await new Promise((r) => setTimeout(r, 1_000));
        const sent = adverts(cap.frames(), p.vrid, p.hi.primaryAddress())
          .filter((f) => f.tsUs > t0)
          .map((f) => f.tsUs);
        const silentMs = Math.max(0, ...sent.slice(1).map((t, i) => (t - (sent[i] ?? t)) / 1000));
        const why = `trial ${trial}: the master kept advertising (longest gap ${silentMs.toFixed(1)} ms) while the backup was stopped for ${STALL_MS} ms`;
        expect(adverts(cap.frames(), p.vrid, p.lo.primaryAddress()), why).toEqual([]);
      }
      expect(genericCalls(p.loRec)).toEqual([`INSTANCE VI_1 BACKUP ${LO}`]);
      console.log(`vrrp ${p.label}: ${implName(p.loImpl)} backup stopped 3 × ${STALL_MS} ms, stayed backup`);
    });
  });
});
