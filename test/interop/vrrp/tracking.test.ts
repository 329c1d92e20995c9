/**
 * Tracking, keepalived-ts with keepalived in both roles and with itself, on two segments (eth0 on
 * `lan`, eth1 on `lan2`): a sync group whose eth1 instance faults takes its eth0 sibling with it; a
 * vrrp_script weight moves mastership and back; track_interface puts the master in FAULT. The notify
 * calls of every keepalived-ts node are compared with keepalived's in the same role and scenario.
 */

import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../../lab/gates.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';
import {
  eachPair,
  genericCalls,
  HI,
  implName,
  LO,
  type Pair,
  pairConfig,
  priorityOf,
  type Role,
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

const THEMES = themeSpecs({ sync: [], script: [], track: [] });
type Theme = keyof typeof THEMES;

const vip2 = (p: Pair) => `198.51.100.${100 + p.vrid}`;

/** One instance's generic calls (and the group's) in a node's recorder. */
const instCalls = (p: Pair, who: Role, inst: string) =>
  genericCalls(recOf(p, who)).filter((c) => c.split(' ')[1] === inst || c.startsWith('GROUP'));

describeIf(
  'VRRP tracking with keepalived: sync group, vrrp_script weight, track_interface',
  needKeepalived,
  () => {
    let topo: Topology | undefined;
    let pairs = {} as Record<Theme, Pair[]>;

    beforeAll(async () => {
      topo = await createTopology({
        nodes: themeVrids(THEMES).flatMap((v) =>
          [0, 1].map((i) => ({
            name: `${i === 0 ? 'h' : 'l'}${v}`,
            links: [
              { segment: 'lan', addrs: [`192.0.2.${v + i}/24`] },
              { segment: 'lan2', addrs: [`198.51.100.${v + i}/24`] },
            ],
          })),
        ),
      });
      pairs = themePairs(topo, THEMES);
    });

    afterAll(async () => {
      await topo?.destroy();
    });

    /** Every keepalived-ts node's notify calls equal keepalived's in the same role and scenario. */
    const compareWithKeepalived = (theme: Theme, insts: readonly string[]) => {
      expect([
        ...insts.flatMap((inst) =>
          unlikeKeepalived(pairs[theme], (p, who) => instCalls(p, who, inst), `${theme} ${inst} notify`),
        ),
        ...unlikeKeepalived(pairs[theme], (p, who) => scriptCalls(recOf(p, who)), `${theme} notify scripts`),
      ]).toEqual([]);
    };

    it.concurrent('sync group: a FAULT of one member moves both instances to the peer, and back', async () => {
      const conf = (p: Pair, who: Role) =>
        pairConfig(
          p,
          who,
          { name: 'VI_1' },
          {
            blocks: ['vrrp_sync_group G {', '  group {', '    VI_1', '    VI_2', '  }', '}'],
            instances: [
              {
                name: 'VI_2',
                iface: 'eth1',
                vrid: p.vrid + 1,
                priority: priorityOf(who),
                vips: [`${vip2(p)}/24`],
                notify: recOf(p, who),
              },
            ],
          },
        );
      await eachPair(pairs.sync, async (p) => {
        const both = async (n: string, t: number) => {
          await waitForHolders([p.hi, p.lo], p.vip, [n], t);
          await waitForHolders([p.hi, p.lo], vip2(p), [n], t);
        };
        p.hiD = startImpl(p.hi, p.hiImpl, conf(p, 'hi'), `${p.hiImpl}-hi`);
        await both(p.hi.name, 15_000);
        p.loD = startImpl(p.lo, p.loImpl, conf(p, 'lo'), `${p.loImpl}-lo`);
        await waitFor({
          what: 'both instances of the low node in BACKUP',
          probe: () => genericCalls(p.loRec),
          until: (c) => c.includes(`INSTANCE VI_1 BACKUP ${LO}`) && c.includes(`INSTANCE VI_2 BACKUP ${LO}`),
          timeoutMs: 10_000,
        });
        const t0 = performance.now();
        await p.hi.linkDown('eth1');
        await both(p.lo.name, 10_000);
        console.log(
          `vrrp ${p.label}: eth1 down on the ${implName(p.hiImpl)} master, both VIPs on the peer after ${(performance.now() - t0).toFixed(0)} ms`,
        );
        await waitFor({
          what: 'FAULT notify of both instances on the master',
          probe: () => genericCalls(p.hiRec),
          until: (c) => c.includes(`INSTANCE VI_1 FAULT ${HI}`) && c.includes(`INSTANCE VI_2 FAULT ${HI}`),
          timeoutMs: 5_000,
        });
        await p.hi.linkUp('eth1');
        await both(p.hi.name, 15_000);
        for (const inst of ['VI_1', 'VI_2']) {
          await waitLastNotify(p.hiRec, 'MASTER', HI, inst);
          await waitLastNotify(p.loRec, 'BACKUP', LO, inst);
        }
      });
      compareWithKeepalived('sync', ['VI_1', 'VI_2']);
    });

    it.concurrent('vrrp_script weight: a failing check lowers the master below its peer, recovery moves it back', async () => {
      const flag = (p: Pair) => join(p.hi.dir, 'check-fails');
      const chk = join(topo!.dir, 'chk.sh');
      writeFileSync(chk, '#!/bin/sh\n[ ! -e "$1" ]\n');
      chmodSync(chk, 0o755);
      const conf = (p: Pair, who: Role) =>
        pairConfig(
          p,
          who,
          { extra: ['track_script {', '  chk', '}'] },
          {
            blocks: [
              'vrrp_script chk {',
              `  script "${chk} ${who === 'hi' ? flag(p) : join(p.lo.dir, 'never')}"`,
              '  interval 1',
              '  weight -60',
              '  rise 1',
              '  fall 1',
              '}',
            ],
          },
        );
      await eachPair(pairs.script, async (p) => {
        await startHiThenLo(p, conf(p, 'hi'), conf(p, 'lo'), LO);
        let t0 = performance.now();
        writeFileSync(flag(p), '');
        await waitForHolders([p.hi, p.lo], p.vip, [p.lo.name], 15_000);
        console.log(
          `vrrp ${p.label}: check failing on the ${implName(p.hiImpl)} master (150-60=90 < 100): peer took over in ${(performance.now() - t0).toFixed(0)} ms`,
        );
        t0 = performance.now();
        rmSync(flag(p));
        await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name], 15_000);
        console.log(
          `vrrp ${p.label}: check recovered: ${implName(p.hiImpl)} master again in ${(performance.now() - t0).toFixed(0)} ms`,
        );
        await waitBackToStart(p);
      });
      compareWithKeepalived('script', ['VI_1']);
    });

    it.concurrent('track_interface: the tracked link going down puts the master in FAULT, the peer takes over', async () => {
      const conf = (p: Pair, who: Role) =>
        pairConfig(p, who, { extra: who === 'hi' ? ['track_interface {', '  eth1', '}'] : [] });
      await eachPair(pairs.track, async (p) => {
        await startHiThenLo(p, conf(p, 'hi'), conf(p, 'lo'), LO);
        const t0 = performance.now();
        await p.hi.linkDown('eth1');
        await waitForHolders([p.hi, p.lo], p.vip, [p.lo.name], 15_000);
        console.log(
          `vrrp ${p.label}: tracked eth1 down on the ${implName(p.hiImpl)} master: peer master in ${(performance.now() - t0).toFixed(0)} ms`,
        );
        await waitFor({
          what: 'FAULT notify on the master',
          probe: () => genericCalls(p.hiRec),
          until: (c) => c.includes(`INSTANCE VI_1 FAULT ${HI}`),
          timeoutMs: 5_000,
        });
        await p.hi.linkUp('eth1');
        await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name], 15_000);
        await waitBackToStart(p);
      });
      compareWithKeepalived('track', ['VI_1']);
    });
  },
);
