/**
 * keepalived-ts alone on a veth through reloads of its sync groups, each phase checked against what
 * Debian's keepalived 2.2.7 did with the same files in the lab (docs/DAEMON.md "What a reload
 * applies"): at start G1 {VI_1, VI_3} with VI_3's tracked interface down puts G1 and VI_1 in FAULT
 * (VI_2, alone, MASTER); VI_3 leaving G1 for VI_2 takes G1 out of FAULT: GROUP BACKUP, both members
 * BACKUP, then MASTER together with GROUP MASTER; G1 removed: nothing notified, every VIP held, and
 * no group STOP at stop.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const inst = (s: string, name: string, vrid: number, extra = '') => `
vrrp_instance ${name} {
  state BACKUP
  interface gr0
  virtual_router_id ${vrid}
  priority 100
  advert_int 1
  notify ${s}
${extra}
  virtual_ipaddress {
    198.51.100.${vrid}/24
  }
}
`;
const group = (s: string, members: string[]) =>
  `vrrp_sync_group G1 {\n  group {\n${members.map((m) => `    ${m}\n`).join('')}  }\n  notify ${s}\n}\n`;
const conf = (s: string, members: string[] | undefined) =>
  `global_defs {\n  script_user root\n  enable_script_security\n}\n${members ? group(s, members) : ''}${inst(s, 'VI_1', 51)}${inst(s, 'VI_2', 52)}${inst(s, 'VI_3', 53, '  track_interface {\n    gt0\n  }')}`;

describeIf('reload of sync groups (keepalived-ts alone)', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let rec: NotifyRecorder;
  let h: DaemonHandle | undefined;
  let mark = 0;

  const calls = () => rec.entries().map((e) => e.args.join(' '));
  const vips = async () =>
    (await n.addresses())
      .filter((a) => a.local.startsWith('198.51.100.') && a.local !== '198.51.100.1')
      .map((a) => a.local)
      .sort();
  /** The notifies since the last phase once `want` are all there and 4.5 s passed without another. */
  const phase = async (what: string, want: readonly string[]) => {
    let count = -1;
    let since = Date.now();
    await waitFor({
      what,
      timeoutMs: 30_000,
      intervalMs: 100,
      probe: () => {
        const c = calls();
        if (c.length !== count) {
          count = c.length;
          since = Date.now();
        }
        const got = c.slice(mark);
        return want.every((w) => got.includes(w)) && Date.now() - since >= 4_500 ? true : undefined;
      },
    });
    const all = calls();
    const got = all.slice(mark).sort();
    mark = all.length;
    return got;
  };
  const reload = (members: string[] | undefined) => {
    writeFileSync(h!.configPath, conf(rec.script, members));
    process.kill(h!.proc.pid, 'SIGHUP');
  };

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'g', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('g');
    rec = notifyRecorder(topo.dir, 'notify');
    await n.ip(['link', 'add', 'gr0', 'type', 'veth', 'peer', 'name', 'gr0p']);
    await n.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'gr0']);
    await n.ip(['link', 'set', 'gr0p', 'up']);
    await n.ip(['link', 'set', 'gr0', 'up']);
    // stays down: VI_3 tracks it
    await n.ip(['link', 'add', 'gt0', 'type', 'veth', 'peer', 'name', 'gt0p']);
  });

  afterAll(async () => {
    await h?.proc.stop();
    await topo?.destroy();
  });

  it('a FAULT group recovers when its faulted member leaves; a removed group leaves its members be', async () => {
    h = n.startDaemon({
      command: keepalivedTsCommand(),
      config: conf(rec.script, ['VI_1', 'VI_3']),
      name: 'ts',
    });
    expect(await phase('start', ['INSTANCE VI_2 MASTER 100'])).toEqual([
      'GROUP G1 FAULT 0',
      'INSTANCE VI_1 FAULT 100',
      'INSTANCE VI_2 BACKUP 100',
      'INSTANCE VI_2 MASTER 100',
      'INSTANCE VI_3 FAULT 100',
    ]);
    expect(await vips()).toEqual(['198.51.100.52']);

    reload(['VI_1', 'VI_2']);
    expect(await phase('G1 {VI_1, VI_2}', ['GROUP G1 MASTER 0'])).toEqual([
      'GROUP G1 BACKUP 0',
      'GROUP G1 MASTER 0',
      'INSTANCE VI_1 BACKUP 100',
      'INSTANCE VI_1 MASTER 100',
      'INSTANCE VI_2 BACKUP 100',
      'INSTANCE VI_2 MASTER 100',
    ]);
    expect(await vips()).toEqual(['198.51.100.51', '198.51.100.52']);

    reload(undefined);
    expect(await phase('G1 removed', [])).toEqual([]);
    expect(await vips()).toEqual(['198.51.100.51', '198.51.100.52']);

    await h.proc.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(calls().slice(mark).sort()).toEqual([
      'INSTANCE VI_1 STOP 100',
      'INSTANCE VI_2 STOP 100',
      'INSTANCE VI_3 STOP 100',
    ]);
    expect(await vips()).toEqual([]);
  });
});
