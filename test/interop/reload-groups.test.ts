/**
 * Reloads that change sync groups and use_vmac, keepalived-ts against Debian's keepalived 2.2.7:
 * each implementation runs alone in its own node (its own veths, never hearing the other), goes
 * through the same configurations with a SIGHUP between them, and each phase's notify calls
 * (instance and group), VIPs (by interface) and VMACs (name and parent) are compared.
 *
 * Groups: (a) a kept MASTER joins a MASTER group; (b) a member leaves while a FAULT instance and a
 * MASTER form a new group (e): GROUP FAULT, the MASTER forced to FAULT; (d) a group removed; a new
 * group over two MASTERs and an instance the reload adds: GROUP BACKUP, the MASTERs forced to
 * BACKUP, then all MASTER; a group's notify script changed (used at stop).
 * VMAC: two VMACs of one VRID (vrrp.52, vrrp1.52); use_vmac turned on (f: the instance replaced,
 * FAULT then BACKUP then MASTER, vrrp.51 made), renamed twice (g: no notify, the VMAC made again),
 * turned off (the VMAC deleted). keepalived 2.2.7 leaves a renamed VMAC without the VIP it had
 * (a VIP lost silently); keepalived-ts moves it there: the one difference asserted as such.
 * Review fixes: E1 a group removed releases a member it forced into FAULT; E2 a group shrunk to
 * members that waited for it goes MASTER; E3 a new group with a new faulted member goes FAULT with
 * no BACKUP step.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needKeepalived } from '../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import { describeIf } from '../support/privilege.js';

const header = `
global_defs {
  script_user root
  enable_script_security
}
`;

const instance = (s: string, name: string, vrid: number, extra = '', ifname = 'sg0') => `
vrrp_instance ${name} {
  state BACKUP
  interface ${ifname}
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

const group = (s: string, name: string, members: string[], notifyWord = '') => `
vrrp_sync_group ${name} {
  group {
${members.map((m) => `    ${m}\n`).join('')}  }
  notify ${notifyWord ? `"${s} ${notifyWord}"` : s}
}
`;

/** A keepalived MASTER of VRID 52 (priority 200) on each of `peers`, waited for. */
async function startPeers(peers: LabNode[]): Promise<void> {
  const peerConf = `${header}
vrrp_instance PV {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 200
  advert_int 1
  virtual_ipaddress {
    198.51.100.52/24
  }
}
`;
  for (const p of peers) p.startKeepalived(peerConf, 'peer');
  await waitFor({
    what: 'both peers MASTER of VRID 52',
    timeoutMs: 20_000,
    probe: async () =>
      (await Promise.all(peers.map((p) => p.hasAddress('198.51.100.52')))).every(Boolean) || undefined,
  });
}

const TRACK_T0 = '  track_interface {\n    t0\n  }';

interface Phase {
  /** Notify calls made during the phase, sorted (each call is its own process). */
  readonly notifies: string[];
  /** `ifname address` of every VIP (198.51.100.0/24 but the node's own address), sorted. */
  readonly vips: string[];
  /** `name@parent` of every macvlan, sorted. */
  readonly vmacs: string[];
}

async function snapshot(n: LabNode): Promise<Omit<Phase, 'notifies'>> {
  const vips = (await n.addresses())
    .filter((a) => a.local.startsWith('198.51.100.') && a.local !== '198.51.100.1')
    .map((a) => `${a.ifname} ${a.local}`)
    .sort();
  const links = JSON.parse(await n.ip(['-j', '-d', 'link', 'show'])) as {
    ifname: string;
    link?: string;
    linkinfo?: { info_kind?: string };
  }[];
  const vmacs = links
    .filter((l) => l.linkinfo?.info_kind === 'macvlan')
    .map((l) => `${l.ifname}@${l.link ?? '?'}`)
    .sort();
  return { vips, vmacs };
}

/**
 * One implementation through `confs` on node `n`: starts with the first, waits for `ready`, then one
 * SIGHUP per next configuration; a phase ends once no notify has come for 4.5 s (longer than the
 * Master_Down interval of advert_int 1). The last phase is the stop.
 */
async function drive(
  n: LabNode,
  impl: 'ka' | 'ts',
  rec: NotifyRecorder,
  confs: readonly string[],
  ready: readonly string[],
): Promise<Phase[]> {
  await n.ip(['link', 'add', 'sg0', 'type', 'veth', 'peer', 'name', 'sg0p']);
  await n.ip(['link', 'add', 'sm0', 'type', 'veth', 'peer', 'name', 'sm0p']);
  // t0 stays down: an instance tracking it is in FAULT
  await n.ip(['link', 'add', 't0', 'type', 'veth', 'peer', 'name', 't0p']);
  await n.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'sg0']);
  await n.ip(['addr', 'add', '203.0.113.1/24', 'dev', 'sm0']);
  for (const l of ['sg0p', 'sg0', 'sm0p', 'sm0']) await n.ip(['link', 'set', l, 'up']);
  const name = `${impl}-reload`;
  const h =
    impl === 'ka'
      ? n.startKeepalived(confs[0]!, name)
      : n.startDaemon({ command: keepalivedTsCommand(), config: confs[0]!, name });
  const calls = () => rec.entries().map((e) => e.args.join(' '));
  const quiet = async (from: number, what: string) => {
    let count = -1;
    let since = Date.now();
    await waitFor({
      what: `${impl}: ${what} settles`,
      timeoutMs: 30_000,
      intervalMs: 100,
      probe: () => {
        const c = calls().length;
        if (c !== count) {
          count = c;
          since = Date.now();
        }
        return Date.now() - since >= 4_500 && Date.now() - from >= 1_000 ? true : undefined;
      },
    });
  };
  const phases: Phase[] = [];
  let mark = 0;
  const close = async () => {
    const all = calls();
    phases.push({ notifies: all.slice(mark).sort(), ...(await snapshot(n)) });
    mark = all.length;
  };
  await waitFor({
    what: `${impl}: start-up notifies`,
    timeoutMs: 20_000,
    probe: () => ready.every((w) => calls().includes(w)) || undefined,
  });
  await quiet(Date.now(), 'start-up');
  await close();
  const { writeFileSync } = await import('node:fs');
  for (const [i, text] of confs.slice(1).entries()) {
    writeFileSync(h.configPath, text);
    const at = Date.now();
    process.kill(h.proc.pid, 'SIGHUP');
    await quiet(at, `reload ${i + 2}`);
    await close();
  }
  await h.proc.stop();
  await new Promise((r) => setTimeout(r, 1_000));
  await close();
  return phases;
}

/** keepalived on node `nodes[0]` and keepalived-ts on `nodes[1]`, each driven through `confs`. */
function sideBySide(
  topo: Topology,
  tag: string,
  nodes: readonly [string, string],
  confs: (script: string) => string[],
  ready: readonly string[],
): Promise<[Phase[], Phase[]]> {
  const recKa = notifyRecorder(topo.dir, `${tag}-ka`);
  const recTs = notifyRecorder(topo.dir, `${tag}-ts`);
  return Promise.all([
    drive(topo.node(nodes[0]), 'ka', recKa, confs(recKa.script), ready),
    drive(topo.node(nodes[1]), 'ts', recTs, confs(recTs.script), ready),
  ]);
}

describeIf('reloads changing sync groups and use_vmac, against keepalived', needKeepalived, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'ga', links: [{ addrs: ['192.0.2.3/24'] }] },
        { name: 'gb', links: [{ addrs: ['192.0.2.4/24'] }] },
        { name: 'va', links: [{ addrs: ['192.0.2.5/24'] }] },
        { name: 'vb', links: [{ addrs: ['192.0.2.6/24'] }] },
        // a MASTER of VRID 52 (keepalived, priority 200) next to each implementation
        { name: 'pa', links: [{ segment: 'pka', addrs: ['192.0.2.7/24'] }] },
        { name: 'pk', links: [{ segment: 'pka', addrs: ['192.0.2.8/24'] }] },
        { name: 'pb', links: [{ segment: 'pts', addrs: ['192.0.2.9/24'] }] },
        { name: 'pt', links: [{ segment: 'pts', addrs: ['192.0.2.10/24'] }] },
        // review fixes (E1..E3): each implementation alone, E2 next to a peer MASTER of VRID 52
        { name: 'e1a', links: [{ addrs: ['192.0.2.11/24'] }] },
        { name: 'e1b', links: [{ addrs: ['192.0.2.12/24'] }] },
        { name: 'e2a', links: [{ segment: 'e2ka', addrs: ['192.0.2.13/24'] }] },
        { name: 'e2k', links: [{ segment: 'e2ka', addrs: ['192.0.2.14/24'] }] },
        { name: 'e2b', links: [{ segment: 'e2ts', addrs: ['192.0.2.15/24'] }] },
        { name: 'e2t', links: [{ segment: 'e2ts', addrs: ['192.0.2.16/24'] }] },
        { name: 'e3a', links: [{ addrs: ['192.0.2.17/24'] }] },
        { name: 'e3b', links: [{ addrs: ['192.0.2.18/24'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('sync groups: the same notifies and VIPs as keepalived through joins, leaves, new, removed and changed groups', async () => {
    const confs = (s: string) => {
      const vi4 = instance(s, 'VI_4', 54, TRACK_T0);
      const base = `${instance(s, 'VI_1', 51)}${instance(s, 'VI_2', 52)}${instance(s, 'VI_3', 53)}${vi4}`;
      const vi5 = instance(s, 'VI_5', 55);
      return [
        `${header}${group(s, 'G1', ['VI_2', 'VI_3'])}${base}`,
        `${header}${group(s, 'G1', ['VI_1', 'VI_2', 'VI_3'])}${base}`,
        `${header}${group(s, 'G1', ['VI_1', 'VI_2'])}${group(s, 'G2', ['VI_3', 'VI_4'])}${base}`,
        `${header}${group(s, 'G2', ['VI_3', 'VI_4'])}${base}`,
        `${header}${group(s, 'G2', ['VI_3', 'VI_4'])}${group(s, 'G3', ['VI_1', 'VI_2', 'VI_5'])}${base}${vi5}`,
        `${header}${group(s, 'G2', ['VI_3', 'VI_4'])}${group(s, 'G3', ['VI_1', 'VI_2', 'VI_5'], 'NEW')}${base}${vi5}`,
      ];
    };
    const ready = ['INSTANCE VI_1 MASTER 100', 'INSTANCE VI_2 MASTER 100', 'INSTANCE VI_3 MASTER 100'];
    const [ka, ts] = await sideBySide(topo!, 'rg', ['ga', 'gb'], confs, ready);
    // what keepalived 2.2.7 did, phase by phase (start, five reloads, stop)
    expect(ka.map((p) => p.notifies)).toEqual([
      [
        'GROUP G1 BACKUP 0',
        'GROUP G1 MASTER 0',
        'INSTANCE VI_1 BACKUP 100',
        'INSTANCE VI_1 MASTER 100',
        'INSTANCE VI_2 BACKUP 100',
        'INSTANCE VI_2 MASTER 100',
        'INSTANCE VI_3 BACKUP 100',
        'INSTANCE VI_3 MASTER 100',
        'INSTANCE VI_4 FAULT 100',
      ],
      [],
      ['GROUP G2 FAULT 0', 'INSTANCE VI_3 FAULT 100'],
      [],
      [
        'GROUP G3 BACKUP 0',
        'GROUP G3 MASTER 0',
        'INSTANCE VI_1 BACKUP 100',
        'INSTANCE VI_1 MASTER 100',
        'INSTANCE VI_2 BACKUP 100',
        'INSTANCE VI_2 MASTER 100',
        'INSTANCE VI_5 BACKUP 100',
        'INSTANCE VI_5 MASTER 100',
      ],
      [],
      [
        'GROUP G2 STOP 0',
        'INSTANCE VI_1 STOP 100',
        'INSTANCE VI_2 STOP 100',
        'INSTANCE VI_3 STOP 100',
        'INSTANCE VI_4 STOP 100',
        'INSTANCE VI_5 STOP 100',
        'NEW GROUP G3 STOP 0',
      ],
    ]);
    expect(ts.map((p) => p.notifies)).toEqual(ka.map((p) => p.notifies));
    expect(ts.map((p) => p.vips)).toEqual(ka.map((p) => p.vips));
    // VI_3 forced to FAULT by its new group lost its VIP; every VIP gone at stop
    expect(ka[2]?.vips).toEqual(['sg0 198.51.100.51', 'sg0 198.51.100.52']);
    expect(ka[6]?.vips).toEqual([]);
  });

  it('use_vmac: the same notifies and VMACs as keepalived through on, renamed twice, off; the VIP follows a renamed VMAC', async () => {
    const confs = (s: string) => {
      const others = `${instance(s, 'VI_8', 52, '  use_vmac')}${instance(s, 'VI_9', 52, '  use_vmac', 'sm0')}`;
      return ['', '  use_vmac', '  use_vmac vk51', '  use_vmac vk52', ''].map(
        (v) => `${header}${instance(s, 'VI_1', 51, v)}${others}`,
      );
    };
    const ready = ['INSTANCE VI_1 MASTER 100', 'INSTANCE VI_8 MASTER 100', 'INSTANCE VI_9 MASTER 100'];
    const [ka, ts] = await sideBySide(topo!, 'rv', ['va', 'vb'], confs, ready);
    const replaced = ['INSTANCE VI_1 BACKUP 100', 'INSTANCE VI_1 FAULT 100', 'INSTANCE VI_1 MASTER 100'];
    expect(ka.map((p) => p.notifies).slice(1)).toEqual([
      replaced,
      [],
      [],
      replaced,
      ['INSTANCE VI_1 STOP 100', 'INSTANCE VI_8 STOP 100', 'INSTANCE VI_9 STOP 100'],
    ]);
    expect(ts.map((p) => p.notifies)).toEqual(ka.map((p) => p.notifies));
    const both = ['vrrp.52@sg0', 'vrrp1.52@sm0'];
    expect(ka.map((p) => p.vmacs)).toEqual([
      both,
      ['vrrp.51@sg0', ...both].sort(),
      ['vk51@sg0', ...both].sort(),
      ['vk52@sg0', ...both].sort(),
      both,
      [],
    ]);
    expect(ts.map((p) => p.vmacs)).toEqual(ka.map((p) => p.vmacs));
    const shared = ['vrrp.52 198.51.100.52', 'vrrp1.52 198.51.100.52'];
    expect(ka.map((p) => p.vips)).toEqual([
      ['sg0 198.51.100.51', ...shared],
      [...shared, 'vrrp.51 198.51.100.51'].sort(),
      // keepalived 2.2.7 logs "setting VIPs." but the renamed VMAC stays without its VIP
      shared,
      shared,
      ['sg0 198.51.100.51', ...shared],
      [],
    ]);
    expect(ts.map((p) => p.vips)).toEqual([
      ka[0]?.vips,
      ka[1]?.vips,
      [...shared, 'vk51 198.51.100.51'].sort(),
      [...shared, 'vk52 198.51.100.51'].sort(),
      ka[4]?.vips,
      [],
    ]);
  });

  it('a group over a MASTER and a BACKUP (a peer is MASTER): the same notifies and VIPs as keepalived, group made then removed', async () => {
    await startPeers([topo!.node('pk'), topo!.node('pt')]);
    const confs = (s: string) => {
      const base = `${instance(s, 'VI_1', 51, '', 'eth0')}${instance(s, 'VI_2', 52, '', 'eth0')}`;
      return [`${header}${base}`, `${header}${group(s, 'G1', ['VI_1', 'VI_2'])}${base}`, `${header}${base}`];
    };
    const ready = ['INSTANCE VI_1 MASTER 100', 'INSTANCE VI_2 BACKUP 100'];
    const [ka, ts] = await sideBySide(topo!, 'rp', ['pa', 'pb'], confs, ready);
    // keepalived 2.2.7: the new group is BACKUP, its MASTER forced to BACKUP (VIP removed)
    expect(ka[1]?.notifies).toEqual(['GROUP G1 BACKUP 0', 'INSTANCE VI_1 BACKUP 100']);
    expect(ka[1]?.vips).toEqual([]);
    // the group removed, VI_1 is on its own again: MASTER after Master_Down
    expect(ka[2]?.notifies).toEqual(['INSTANCE VI_1 MASTER 100']);
    expect(ts.map((p) => p.notifies)).toEqual(ka.map((p) => p.notifies));
    expect(ts.map((p) => p.vips)).toEqual(ka.map((p) => p.vips));
  });

  it('E1: a group removed by a reload releases the member it only forced into FAULT (BACKUP, then MASTER)', async () => {
    const confs = (s: string) => {
      const base = `${instance(s, 'VI_1', 51)}${instance(s, 'VI_3', 53, TRACK_T0)}`;
      return [`${header}${group(s, 'G1', ['VI_1', 'VI_3'])}${base}`, `${header}${base}`];
    };
    const ready = ['INSTANCE VI_1 FAULT 100', 'INSTANCE VI_3 FAULT 100'];
    const [ka, ts] = await sideBySide(topo!, 'e1', ['e1a', 'e1b'], confs, ready);
    // keepalived 2.2.7: VI_1 leaves FAULT once G1 is gone, VI_3 stays FAULT (t0 down)
    expect(ka[1]?.notifies).toEqual(['INSTANCE VI_1 BACKUP 100', 'INSTANCE VI_1 MASTER 100']);
    expect(ka[1]?.vips).toEqual(['sg0 198.51.100.51']);
    expect(ts.map((p) => p.notifies)).toEqual(ka.map((p) => p.notifies));
    expect(ts.map((p) => p.vips)).toEqual(ka.map((p) => p.vips));
  });

  it('E2: a group shrunk by a reload to members that waited for it goes MASTER', async () => {
    await startPeers([topo!.node('e2k'), topo!.node('e2t')]);
    const confs = (s: string) => {
      const base = ['VI_1', 'VI_2', 'VI_3'].map((name, i) => instance(s, name, 51 + i, '', 'eth0')).join('');
      return [
        `${header}${group(s, 'G1', ['VI_1', 'VI_2', 'VI_3'])}${base}`,
        `${header}${group(s, 'G1', ['VI_1', 'VI_3'])}${base}`,
      ];
    };
    // VI_2 BACKUP under the peer; VI_1 and VI_3 held BACKUP by their group
    const ready = ['INSTANCE VI_1 BACKUP 100', 'INSTANCE VI_2 BACKUP 100', 'INSTANCE VI_3 BACKUP 100'];
    const [ka, ts] = await sideBySide(topo!, 'e2', ['e2a', 'e2b'], confs, ready);
    expect(ka[0]?.vips).toEqual([]);
    expect(ka[1]?.notifies).toEqual([
      'GROUP G1 MASTER 0',
      'INSTANCE VI_1 MASTER 100',
      'INSTANCE VI_3 MASTER 100',
    ]);
    expect(ka[1]?.vips).toEqual(['eth0 198.51.100.51', 'eth0 198.51.100.53']);
    expect(ts.map((p) => p.notifies)).toEqual(ka.map((p) => p.notifies));
    expect(ts.map((p) => p.vips)).toEqual(ka.map((p) => p.vips));
  });

  it('E3: a new group over two MASTERs and a new faulted member goes FAULT at once, no BACKUP notify', async () => {
    const confs = (s: string) => {
      const base = `${instance(s, 'VI_1', 51)}${instance(s, 'VI_2', 52)}`;
      const vi4 = instance(s, 'VI_4', 54, TRACK_T0);
      return [`${header}${base}`, `${header}${group(s, 'G1', ['VI_1', 'VI_2', 'VI_4'])}${base}${vi4}`];
    };
    const ready = ['INSTANCE VI_1 MASTER 100', 'INSTANCE VI_2 MASTER 100'];
    const [ka, ts] = await sideBySide(topo!, 'e3', ['e3a', 'e3b'], confs, ready);
    const reload = [
      'GROUP G1 FAULT 0',
      'INSTANCE VI_1 FAULT 100',
      'INSTANCE VI_2 FAULT 100',
      'INSTANCE VI_4 FAULT 100',
    ];
    expect(ka[1]?.notifies).toEqual(reload);
    expect(ka[1]?.vips).toEqual([]);
    // sorted phases hide order, not extra calls: no BACKUP on our side either
    expect(ts[1]?.notifies.filter((c) => c.includes(' BACKUP '))).toEqual([]);
    expect(ts.map((p) => p.notifies)).toEqual(ka.map((p) => p.notifies));
    expect(ts.map((p) => p.vips)).toEqual(ka.map((p) => p.vips));
  });
});
