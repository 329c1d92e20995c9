import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../../src/core/clock.js';
import { ScriptRunner } from '../../../../src/notify/script.js';
import { InstanceTracking, type TrackerRef } from '../../../../src/vrrp/track/instance.js';
import { resolveInstanceTrackers, TrackingHub } from '../../../../src/vrrp/track/resolve.js';
import { runnerExec, VrrpScriptTracker } from '../../../../src/vrrp/track/script.js';

const t = (kind: TrackerRef['kind'], name: string, weight: number, reverse = false): TrackerRef => ({
  kind,
  name,
  weight,
  reverse,
});

describe('resolveInstanceTrackers (keepalived sync-group and owner rules)', () => {
  const own = [
    t('interface', 'eth1', -10),
    t('script', 'chk', -60),
    t('script', 'must', 0),
    t('file', 'fdef', 1),
    t('file', 'fw', 5),
    t('process', 'p', 2),
  ];

  it('plain instance keeps everything', () => {
    const r = resolveInstanceTrackers('VI_1', 100, own);
    expect(r.trackers).toEqual(own);
    expect(r.warnings).toEqual([]);
  });

  it('sync group without tracking weight: interface → 0, file default → 0, weighted others dropped', () => {
    const r = resolveInstanceTrackers('VI_1', 100, own, {
      name: 'G',
      trackers: [],
      trackingWeight: false,
      hasOwnerMember: false,
    });
    expect(r.trackers).toEqual([t('interface', 'eth1', 0), t('script', 'must', 0), t('file', 'fdef', 0)]);
    expect(r.warnings).toEqual([
      '(VI_1) ignoring eth1 tracked interface weight due to SYNC group',
      '(VI_1) ignoring tracked script chk with weights due to SYNC group',
      '(VI_1) ignoring weight from tracked file fdef due to SYNC group - specify weight 0',
      '(VI_1) ignoring tracked file fw with weights due to SYNC group',
      '(VI_1) ignoring tracked process p with weights due to SYNC group',
    ]);
  });

  it('sync_group_tracking_weight keeps weights and adds the group trackers', () => {
    const r = resolveInstanceTrackers('VI_1', 100, [t('script', 'chk', -60)], {
      name: 'G',
      trackers: [t('interface', 'eth2', -20), t('script', 'chk', -5)],
      trackingWeight: true,
      hasOwnerMember: false,
    });
    expect(r.trackers).toEqual([t('script', 'chk', -60), t('interface', 'eth2', -20)]);
  });

  it('address owner drops weighted interfaces; group weights cleared when a member is owner', () => {
    const r = resolveInstanceTrackers('VI_1', 255, [t('interface', 'eth1', -10), t('interface', 'eth9', 0)], {
      name: 'G',
      trackers: [t('script', 'gchk', -30)],
      trackingWeight: true,
      hasOwnerMember: true,
    });
    expect(r.trackers).toEqual([t('interface', 'eth9', 0), t('script', 'gchk', 0)]);
    expect(r.warnings[0]).toBe('(VI_1) ignoring eth1 tracked interface due to address owner');
  });
});

describe('TrackingHub + VrrpScriptTracker with a real script', () => {
  it('a failing check script lowers both instances that track it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kt-hub-'));
    try {
      const chk = join(dir, 'chk.sh');
      await writeFile(chk, '#!/bin/sh\nexit 3\n');
      await chmod(chk, 0o755);
      const hub = new TrackingHub();
      const prios: Record<string, number[]> = { VI_1: [], VI_2: [] };
      for (const [name, base] of [
        ['VI_1', 150],
        ['VI_2', 100],
      ] as const) {
        hub.add(
          new InstanceTracking({
            instance: name,
            basePriority: base,
            trackers: [t('script', 'chk', -60)],
            onChange: (n) => prios[name]?.push(n.effectivePriority),
          }),
        );
      }
      const runner = new ScriptRunner();
      const done = new Promise<void>((resolve) => {
        const tr = new VrrpScriptTracker(
          { name: 'chk', script: { name: 'chk', argv: [chk] }, intervalUs: 60_000_000 },
          {
            clock: systemClock,
            exec: runnerExec(runner),
            onChange: (s) => {
              hub.setState('script', 'chk', s);
              tr.stop();
              resolve();
            },
          },
        );
        tr.start();
      });
      await done;
      expect(prios).toEqual({ VI_1: [90], VI_2: [40] });
      expect(hub.setState('script', 'other', 'up')).toBe(0);
      await runner.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
