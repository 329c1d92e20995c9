/**
 * Sync-group notifies at start and stop, keepalived-ts against Debian's keepalived 2.2.7: group G1
 * (VI_1, VI_2) both BACKUP. keepalived runs the group's notify_backup and `GROUP G1 BACKUP 0` once
 * the members are placed, the members' own, and at stop the members' STOP then `GROUP G1 STOP 0`
 * and the group's notify_stop. Each implementation runs alone in its own node; advert_int 10 keeps
 * both in BACKUP for the whole run (Master_Down 30 s).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import { describeIf } from '../support/privilege.js';

const config = (ifname: string, s: string) => `
global_defs {
  script_user root
  enable_script_security
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  notify_backup "${s} GRP_BACKUP"
  notify_master "${s} GRP_MASTER"
  notify_fault "${s} GRP_FAULT"
  notify_stop "${s} GRP_STOP"
  notify ${s}
}
vrrp_instance VI_1 {
  state BACKUP
  interface ${ifname}
  virtual_router_id 81
  priority 100
  advert_int 10
  notify_backup "${s} VI_1_BACKUP"
  notify_stop "${s} VI_1_STOP"
  notify ${s}
  virtual_ipaddress {
    192.0.2.181/24
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface ${ifname}
  virtual_router_id 82
  priority 100
  advert_int 10
  virtual_ipaddress {
    192.0.2.182/24
  }
}
`;

describeIf('sync group notifies at start and stop, against keepalived', needKeepalived, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'sa', links: [{ addrs: ['192.0.2.3/24'] }] },
        { name: 'sb', links: [{ addrs: ['192.0.2.4/24'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('keepalived-ts runs the group BACKUP notifies at start and STOP at stop, as keepalived', async () => {
    const run = async (n: LabNode, impl: 'ka' | 'ts', rec: NotifyRecorder) => {
      // each node's own veth pair: the two implementations never hear each other
      await n.ip(['link', 'add', 'sg0', 'type', 'veth', 'peer', 'name', 'sg0p']);
      await n.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'sg0']);
      await n.ip(['link', 'set', 'sg0p', 'up']);
      await n.ip(['link', 'set', 'sg0', 'up']);
      const text = config('sg0', rec.script);
      const h =
        impl === 'ka'
          ? n.startKeepalived(text, `ka-sg`)
          : n.startDaemon({ command: keepalivedTsCommand(), config: text, name: 'ts-sg' });
      const calls = () => rec.entries().map((e) => e.args.join(' '));
      const reach = (what: string, want: readonly string[]) =>
        waitFor({
          what: `${impl}: ${what}`,
          timeoutMs: 15_000,
          probe: () => want.every((w) => calls().includes(w)) || undefined,
        });
      await reach('start notifies', [
        'GRP_BACKUP',
        'GROUP G1 BACKUP 0',
        'VI_1_BACKUP',
        'INSTANCE VI_1 BACKUP 100',
      ]);
      const atStart = calls();
      await h.proc.stop();
      await reach('stop notifies', ['VI_1_STOP', 'GRP_STOP', 'GROUP G1 STOP 0']);
      // settle: anything late would show in the comparison
      await new Promise((r) => setTimeout(r, 500));
      // each call is its own process: only the order within one script's calls is fixed
      return { atStart: [...atStart].sort(), all: [...calls()].sort(), entries: rec.entries() };
    };
    const [ka, ts] = await Promise.all([
      run(topo!.node('sa'), 'ka', notifyRecorder(topo!.dir, 'sg-ka')),
      run(topo!.node('sb'), 'ts', notifyRecorder(topo!.dir, 'sg-ts')),
    ]);
    const noStopPrio = (l: string[]) => l.map((c) => c.replace(/^(INSTANCE VI_\d STOP) \d+$/, '$1'));
    expect(noStopPrio(ka.all)).toEqual([
      'GROUP G1 BACKUP 0',
      'GROUP G1 STOP 0',
      'GRP_BACKUP',
      'GRP_STOP',
      'INSTANCE VI_1 BACKUP 100',
      'INSTANCE VI_1 STOP',
      'VI_1_BACKUP',
      'VI_1_STOP',
    ]);
    expect(noStopPrio(ts.all)).toEqual(noStopPrio(ka.all));
    expect(ts.atStart).toEqual(ka.atStart);
    // the group's STOP comes after the member's STOP (both implementations)
    for (const r of [ka, ts]) {
      const at = (w: string) => r.entries.find((e) => e.args.join(' ') === w)?.tsUs ?? Number.NaN;
      expect(at('GROUP G1 STOP 0')).toBeGreaterThanOrEqual(at('VI_1_STOP'));
    }
  });
});
