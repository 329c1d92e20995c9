/**
 * Instance options, keepalived-ts with keepalived in both roles and with itself, all on one bridge
 * (each pair its own VRID):
 * nopreempt, preempt_delay, PASS authentication (mismatch ignored, match working) and unicast peers
 * with multicast blocked in the nodes. The themes run concurrently.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import type { LabNode } from '../../lab/node.js';
import { adverts, type Capture, startCapture, waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';
import {
  eachPair,
  genericCalls,
  HI,
  implName,
  implOf,
  KA_KA,
  LO,
  type Pair,
  pairConfig,
  pairNodes,
  type Role,
  sleep,
  startHiThenLo,
  startImpl,
  themePairs,
  themeSpecs,
  themeVrids,
} from './helpers.js';

const CASES = themeSpecs({
  nopreempt: [],
  preemptDelay: [KA_KA],
  authMismatch: [],
  authMatch: [],
  unicast: [],
});

const addr = (n: LabNode) => n.primaryAddress();
const ipDst = (raw: Buffer) => [...raw.subarray(30, 34)].join('.');
/** VRRPv2 auth type of an IPv4 frame. */
const authType = (raw: Buffer) => raw[14 + ((raw[14] ?? 0) & 0x0f) * 4 + 4];

const conf = (p: Pair, who: Role, extra: readonly string[] = []) => pairConfig(p, who, { extra });

describeIf(
  'VRRP options with keepalived: nopreempt, preempt_delay, PASS auth, unicast',
  needKeepalived,
  () => {
    let topo: Topology | undefined;
    let cap: Capture;
    let pairs = {} as Record<keyof typeof CASES, Pair[]>;

    beforeAll(async () => {
      topo = await createTopology({ nodes: pairNodes(themeVrids(CASES)) });
      pairs = themePairs(topo, CASES);
      cap = await startCapture(topo);
    });

    afterAll(async () => {
      await cap?.stop();
      await topo?.destroy();
    });

    it.concurrent('nopreempt: a higher-priority backup does not take over a running master', async () => {
      await eachPair(pairs.nopreempt, async (p) => {
        p.loD = startImpl(p.lo, p.loImpl, conf(p, 'lo'), `${p.loImpl}-lo`);
        await waitForHolders([p.hi, p.lo], p.vip, [p.lo.name], 15_000);
        p.hiD = startImpl(p.hi, p.hiImpl, conf(p, 'hi', ['nopreempt']), `${p.hiImpl}-hi`);
        await waitFor({
          what: 'BACKUP notify of the nopreempt node',
          probe: () => genericCalls(p.hiRec),
          until: (c) => c.includes(`INSTANCE VI_1 BACKUP ${HI}`),
          timeoutMs: 10_000,
        });
        // Longer than its Master_Down_Interval (3.41 s): a preempting node would have taken over by now.
        await sleep(5_000);
        expect(await p.hi.hasAddress(p.vip)).toBe(false);
        expect(await p.lo.hasAddress(p.vip)).toBe(true);
        expect(adverts(cap.frames(), p.vrid, addr(p.hi))).toEqual([]);
        expect(genericCalls(p.hiRec)).toEqual([`INSTANCE VI_1 BACKUP ${HI}`]);
        // Still a backup: it takes over when the master dies.
        await p.lo.crash();
        await waitForHolders([p.hi], p.vip, [p.hi.name], 10_000);
        console.log(
          `vrrp ${p.label}: ${implName(p.hiImpl)} with nopreempt stayed backup, took over after the crash`,
        );
      });
    });

    it.concurrent('preempt_delay: the higher priority takes over no earlier than the delay', async () => {
      const DELAY = 6;
      await eachPair(pairs.preemptDelay, async (p) => {
        p.loD = startImpl(p.lo, p.loImpl, conf(p, 'lo'), `${p.loImpl}-lo`);
        await waitForHolders([p.hi, p.lo], p.vip, [p.lo.name], 15_000);
        const t0 = performance.now();
        p.hiD = startImpl(p.hi, p.hiImpl, conf(p, 'hi', [`preempt_delay ${DELAY}`]), `${p.hiImpl}-hi`);
        await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name], 20_000);
        const ms = performance.now() - t0;
        const tookUs = Date.now() * 1000;
        // From the moment the node entered BACKUP (its notify), which leaves out process start-up.
        const backupUs = p.hiRec
          .entries()
          .find((e) => e.args.join(' ') === `INSTANCE VI_1 BACKUP ${HI}`)?.tsUs;
        const fromBackup = backupUs === undefined ? Number.NaN : (tookUs - backupUs) / 1000;
        console.log(
          `vrrp ${p.label}: ${implName(p.hiImpl)} preempted ${ms.toFixed(0)} ms after its start, ${fromBackup.toFixed(0)} ms after entering BACKUP (preempt_delay ${DELAY} s + Master_Down_Interval 3.41 s)`,
        );
        expect(ms).toBeGreaterThan(DELAY * 1000);
        await waitFor({
          what: 'the low node back to BACKUP',
          probe: () => genericCalls(p.loRec),
          until: (c) =>
            c.join() ===
            [`BACKUP ${LO}`, `MASTER ${LO}`, `BACKUP ${LO}`].map((x) => `INSTANCE VI_1 ${x}`).join(),
          timeoutMs: 5_000,
        });
      });
    });

    it.concurrent('PASS authentication mismatch: each ignores the other and both become master', async () => {
      await eachPair(pairs.authMismatch, async (p) => {
        p.hiD = startImpl(
          p.hi,
          p.hiImpl,
          conf(p, 'hi', ['authentication {', '  auth_type PASS', '  auth_pass one', '}']),
          `${p.hiImpl}-hi`,
        );
        p.loD = startImpl(
          p.lo,
          p.loImpl,
          conf(p, 'lo', ['authentication {', '  auth_type PASS', '  auth_pass two', '}']),
          `${p.loImpl}-lo`,
        );
        await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name, p.lo.name], 20_000);
        // Longer than a Master_Down_Interval: neither accepted the other's adverts as a reason to step
        // down. (keepalived as master restarts its advert timer on every packet it handles, even a
        // rejected one, so it may fall silent here: only the VIPs are compared.)
        await sleep(4_000);
        // Every keepalived-ts node counted the other's adverts as rejected.
        for (const who of ['hi', 'lo'] as const)
          if (implOf(p, who) === 'ts')
            expect((who === 'hi' ? p.hiD : p.loD)?.proc.output(), who).toContain('KA_ERR_VRRP_RX_AUTH_PASS');
        expect(await p.hi.hasAddress(p.vip)).toBe(true);
        expect(await p.lo.hasAddress(p.vip)).toBe(true);
        console.log(`vrrp ${p.label}: auth_pass mismatch, both master (as two keepalived would be)`);
      });
    });

    it.concurrent('PASS authentication match: normal election and failover', async () => {
      const auth = ['authentication {', '  auth_type PASS', '  auth_pass s3cret', '}'];
      await eachPair(pairs.authMatch, async (p) => {
        await startHiThenLo(p, conf(p, 'hi', auth), conf(p, 'lo', auth), LO);
        await sleep(4_000); // longer than the low node's Master_Down_Interval: it accepted the adverts
        expect(await p.lo.hasAddress(p.vip)).toBe(false);
        const ads = adverts(cap.frames(), p.vrid, addr(p.hi));
        expect(ads.length).toBeGreaterThan(0);
        expect(new Set(ads.map((f) => authType(f.raw)))).toEqual(new Set([1]));
        await p.hi.crash();
        await waitFor({
          what: 'an advert of the low node',
          probe: () => adverts(cap.frames(), p.vrid, addr(p.lo)).length,
          timeoutMs: 10_000,
        });
        expect(new Set(adverts(cap.frames(), p.vrid, addr(p.lo)).map((f) => authType(f.raw)))).toEqual(
          new Set([1]),
        );
        console.log(`vrrp ${p.label}: auth_pass match, ${implName(p.loImpl)} took over after the crash`);
      });
    });

    it.concurrent('unicast peers with multicast blocked: election and crash failover', async () => {
      const block = [
        'table inet kt_nomcast {',
        '  chain in { type filter hook input priority 0; ip daddr 224.0.0.18 drop; }',
        '  chain out { type filter hook output priority 0; ip daddr 224.0.0.18 drop; }',
        '}',
        '',
      ].join('\n');
      await eachPair(pairs.unicast, async (p) => {
        await p.hi.exec('nft', ['-f', '-'], block);
        await p.lo.exec('nft', ['-f', '-'], block);
        const uc = (self: LabNode, peer: LabNode) => [
          `unicast_src_ip ${addr(self)}`,
          'unicast_peer {',
          `  ${addr(peer)}`,
          '}',
        ];
        await startHiThenLo(p, conf(p, 'hi', uc(p.hi, p.lo)), conf(p, 'lo', uc(p.lo, p.hi)), LO);
        await sleep(4_000);
        expect(await p.lo.hasAddress(p.vip)).toBe(false);
        const hiAds = adverts(cap.frames(), p.vrid, addr(p.hi));
        expect(hiAds.length).toBeGreaterThan(0);
        expect(hiAds.every((f) => ipDst(f.raw) === addr(p.lo))).toBe(true);
        await p.hi.crash();
        await waitForHolders([p.lo], p.vip, [p.lo.name], 10_000);
        const loAds = await waitFor({
          what: 'an advert of the low node',
          probe: () => adverts(cap.frames(), p.vrid, addr(p.lo)),
          until: (a) => a.length > 0,
          timeoutMs: 5_000,
        });
        expect(loAds.every((f) => ipDst(f.raw) === addr(p.hi))).toBe(true);
        console.log(
          `vrrp ${p.label}: unicast election and failover without multicast, ${hiAds.length} unicast adverts from the master`,
        );
      });
    });
  },
);
