import { describe, expect, it } from 'vitest';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { followVrrpState, syncDaemonPlan } from '../../../src/ipvs/sync-daemon.js';
import { DaemonState } from '../../../src/wire/ipvs.js';

const cfg = { interface: 'eth0', syncId: 51 };

describe('lvs_sync_daemon follows the VRRP state', () => {
  it('BACKUP starts the backup daemon, MASTER swaps to master, STOP removes it', async () => {
    const k = new FakeIpvs();
    expect(await followVrrpState(k, cfg, 'BACKUP')).toEqual([
      {
        kind: 'start',
        daemon: expect.objectContaining({ state: DaemonState.BACKUP, mcastIfn: 'eth0', syncId: 51 }),
      },
    ]);
    expect(await followVrrpState(k, cfg, 'BACKUP')).toEqual([]);
    const toMaster = await followVrrpState(k, cfg, 'MASTER');
    expect(toMaster.map((a) => a.kind)).toEqual(['stop', 'start']);
    expect((await k.listDaemons()).map((d) => d.state)).toEqual([DaemonState.MASTER]);
    await followVrrpState(k, cfg, 'FAULT');
    expect((await k.listDaemons()).map((d) => d.state)).toEqual([DaemonState.BACKUP]);
    await followVrrpState(k, cfg, 'STOP');
    expect(await k.listDaemons()).toEqual([]);
  });

  it('a running daemon with other parameters is restarted', () => {
    const running = [{ state: DaemonState.MASTER, mcastIfn: 'eth1', syncId: 51 }];
    expect(syncDaemonPlan(cfg, 'MASTER', running).map((a) => a.kind)).toEqual(['stop', 'start']);
    expect(syncDaemonPlan(cfg, 'MASTER', [{ ...running[0], mcastIfn: 'eth0' } as never])).toEqual([]);
  });
});
