/**
 * DBus (enable_dbus) on a private dbus-daemon (test/net/dbus/private-bus.ts), both daemons pointed
 * at it with DBUS_SYSTEM_BUS_ADDRESS (keepalived 2.2.7's GDBus honours it, as dbus-next does).
 * Node A runs Debian's keepalived, then keepalived-ts, with the same configuration: VI_1 (IPv4) and
 * VI_6 (IPv6) alone on the segment, so each goes BACKUP then MASTER. For each, busctl reads the
 * object tree, the introspection of every object, the properties, calls every method (the dumps
 * land in the node's own TMPDIR), checks that SendGarp puts GARPs on the wire, reloads through
 * ReloadConfig with VI_6 moved to another VRID, stops the daemon, and records every signal. The two
 * records are compared.
 *
 * keepalived-ts needs the daemon wiring (src/dbus/daemon.ts, docs/DBUS.md "Wiring") to pass.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sessionBus } from '@particle/dbus-next';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensurePackagesSync, needKeepalived } from '../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../lab/node.js';
import { type Capture, garps, startCapture, waitFor, waitForHolders } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import {
  type BusMessage,
  type BusMonitor,
  type PrivateBus,
  startPrivateBus,
} from '../net/dbus/private-bus.js';
import { describeIf } from '../support/privilege.js';

const NAME = 'org.keepalived.Vrrp1';
const ROOT = '/org/keepalived/Vrrp1';
const VRRP = `${ROOT}/Vrrp`;

const config = (vrid6: number) => `global_defs {
  enable_dbus
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.100/24
  }
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id ${vrid6}
  priority 100
  advert_int 1
  virtual_ipaddress {
    fd00::100/64
  }
}
`;

/** Everything seen of one daemon over DBus. */
interface DbusRecord {
  tree: string[];
  introspection: Texts;
  properties: Texts;
  errors: Texts;
  dumps: Texts;
  garps: number;
  treeAfterReload: string[];
  signals: string[];
}
type Texts = { [k: string]: string };

const needDbus = (): string | null =>
  needKeepalived() ?? ensurePackagesSync(['dbus-daemon', 'systemd', 'tcpdump']);

/** The keepalived signals of a monitor, as `path member [args]`. */
const said = (msgs: BusMessage[]) =>
  msgs
    .filter((m) => m.interface?.startsWith('org.keepalived.'))
    .map((m) => `${m.path} ${m.member}${m.payload?.data.length ? ` ${JSON.stringify(m.payload.data)}` : ''}`);

/**
 * Signals in order within each phase (the daemon's own signals, VrrpStarted / VrrpReloaded /
 * VrrpStopped, end one) and within each object, but not across objects of one phase: two instances
 * that become MASTER at about the same time do so in either order, in keepalived as in ours.
 */
function byPhase(signals: readonly string[]): string[] {
  const out: string[] = [];
  let phase = new Map<string, string[]>();
  const flush = () => {
    for (const [path, list] of [...phase].sort(([a], [b]) => a.localeCompare(b)))
      out.push(`${path}: ${list.join(', ')}`);
    phase = new Map();
  };
  for (const line of signals) {
    const [path = '', ...rest] = line.split(' ');
    if (path === `${ROOT}/Vrrp`) {
      flush();
      out.push(line);
    } else phase.set(path, [...(phase.get(path) ?? []), rest.join(' ')]);
  }
  flush();
  return out;
}

/** busctl introspect's table without the values column's live data (states differ in time). */
const table = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '))
    .filter((l) => l !== '')
    .sort();

describeIf('DBus: keepalived-ts against keepalived on a private bus', needDbus, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let bus: PrivateBus | undefined;
  let capture: Capture | undefined;
  const records: { [impl: string]: DbusRecord } = {};

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24', 'fd00::1/64'] }] },
        // idle until the BACKUP SendGarp test, where it is VI_1's master
        { name: 'b', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    await a.ip(['link', 'set', 'lo', 'up']);
    bus = await startPrivateBus();
    capture = await startCapture(topo, { filter: 'arp' });
  });

  afterAll(async () => {
    await capture?.stop();
    await topo?.destroy();
    await bus?.stop();
  });

  /** Start a daemon with TMPDIR set to its own directory (the dumps stay out of the shared /tmp). */
  function start(impl: 'ka' | 'ts', name: string, busAddress?: string): DaemonHandle {
    const tmp = join(a.dir, `${name}-tmp`);
    const env = { TMPDIR: tmp, DBUS_SYSTEM_BUS_ADDRESS: busAddress ?? bus?.address };
    const prior = {
      TMPDIR: process.env.TMPDIR,
      DBUS_SYSTEM_BUS_ADDRESS: process.env.DBUS_SYSTEM_BUS_ADDRESS,
    };
    const set = (e: { [k: string]: string | undefined }) => {
      for (const [k, v] of Object.entries(e)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    // the node's spawn copies process.env as it starts the daemon
    set(env);
    try {
      mkdirSync(tmp, { recursive: true });
      return impl === 'ka'
        ? a.startKeepalived(config(52), name)
        : a.startDaemon({ command: keepalivedTsCommand(), config: config(52), name });
    } finally {
      set(prior);
    }
  }

  const busctl = (args: readonly string[]) => {
    if (!bus) throw new Error('no bus');
    return bus.busctl(args);
  };
  const busctlError = async (args: readonly string[]) => {
    try {
      await busctl(args);
      return 'no error';
    } catch (e) {
      return String((e as { stderr?: string }).stderr ?? e).trim();
    }
  };
  /** GARPs for VI_1's VIP sent by node A (node B, VI_1's master in one test, sends its own). */
  const garpsFromA = () =>
    garps(capture?.frames() ?? [], '192.0.2.100').filter((f) => f.srcMac === a.link().mac);
  const signalSeen = (mon: BusMonitor, suffix: string) =>
    waitFor({
      what: `${suffix} on the bus`,
      probe: () => said(mon.signals(ROOT)).some((s) => s.endsWith(suffix)) || undefined,
      timeoutMs: 15_000,
    });

  for (const impl of ['ka', 'ts'] as const) {
    it(`records ${impl === 'ka' ? "keepalived's" : "keepalived-ts's"} DBus service from start to stop`, async () => {
      if (!bus || !capture) throw new Error('no bus (see beforeAll)');
      const mon = await bus.monitor();
      const name = `${impl}-dbus`;
      const garpsAtStart = garpsFromA().length;
      const d = start(impl, name);
      const tmp = join(a.dir, `${name}-tmp`);
      const rec: DbusRecord = {
        tree: [],
        introspection: {},
        properties: {},
        errors: {},
        dumps: {},
        garps: 0,
        treeAfterReload: [],
        signals: [],
      };
      try {
        await waitForHolders([a], '192.0.2.100', ['a'], 20_000);
        await waitFor({
          what: 'both instances MASTER on DBus',
          probe: async () => {
            const s = said(mon.signals(ROOT)).filter((x) => x.endsWith('VrrpStatusChange [2]'));
            return s.length === 2 || undefined;
          },
          timeoutMs: 20_000,
        });
        rec.tree = (await busctl(['tree', '--list', NAME])).split('\n');
        for (const p of rec.tree) {
          rec.introspection[p] = table(await busctl(['introspect', NAME, p])).join('\n');
          // busctl's table leaves the child nodes out: those from the XML
          const xml = JSON.parse(
            await busctl([
              'call',
              '--json=short',
              NAME,
              p,
              'org.freedesktop.DBus.Introspectable',
              'Introspect',
            ]),
          ) as { data: string[] };
          rec.introspection[`${p} nodes`] = [...(xml.data[0] ?? '').matchAll(/<node name="([^"]+)"/g)]
            .map((m) => m[1])
            // GDBus lists them in its hash table's order
            .sort()
            .join(' ');
          // the XML itself, but for GDBus's version comment and the order of the child nodes
          rec.introspection[`${p} xml`] = (xml.data[0] ?? '')
            .split('\n')
            .filter((l) => !l.startsWith('<!-- GDBus') && !l.includes('<node name='))
            .join('\n');
        }
        for (const p of rec.tree.filter((x) => x.includes('/Instance/') && /IPv[46]$/.test(x))) {
          for (const prop of ['Name', 'State'])
            rec.properties[`${p} ${prop}`] = await busctl([
              'get-property',
              '--json=short',
              NAME,
              p,
              'org.keepalived.Vrrp1.Instance',
              prop,
            ]);
          rec.properties[`${p} GetAll`] = await busctl([
            'call',
            '--json=short',
            NAME,
            p,
            'org.freedesktop.DBus.Properties',
            'GetAll',
            's',
            'org.keepalived.Vrrp1.Instance',
          ]);
        }
        const inst = `${ROOT}/Instance/eth0/51/IPv4`;
        rec.errors.object = await busctlError([
          'call',
          NAME,
          `${ROOT}/Instance/eth0/99/IPv4`,
          'org.keepalived.Vrrp1.Instance',
          'SendGarp',
        ]);
        rec.errors.method = await busctlError(['call', NAME, VRRP, 'org.keepalived.Vrrp1.Vrrp', 'Nope']);
        rec.errors.args = await busctlError([
          'call',
          NAME,
          VRRP,
          'org.keepalived.Vrrp1.Vrrp',
          'PrintData',
          's',
          'x',
        ]);
        rec.errors.iface = await busctlError(['call', NAME, inst, 'org.keepalived.Vrrp1.Vrrp', 'PrintData']);
        rec.errors.property = await busctlError([
          'get-property',
          NAME,
          inst,
          'org.keepalived.Vrrp1.Instance',
          'Nope',
        ]);
        rec.errors.write = await busctlError([
          'set-property',
          NAME,
          inst,
          'org.keepalived.Vrrp1.Instance',
          'Name',
          's',
          'x',
        ]);

        // the dumps are written before the method returns
        await busctl(['call', NAME, VRRP, 'org.keepalived.Vrrp1.Vrrp', 'PrintData']);
        rec.dumps.data = existsSync(join(tmp, 'keepalived.data'))
          ? (readFileSync(join(tmp, 'keepalived.data'), 'utf8').match(/VRRP Instance = \S+/g) ?? []).join(
              ', ',
            )
          : 'missing';
        await busctl(['call', NAME, VRRP, 'org.keepalived.Vrrp1.Vrrp', 'PrintStatsClear']);
        const statsAt = (f: string) =>
          (readFileSync(f, 'utf8').match(/VRRP Instance: \S+/g) ?? []).join(', ');
        rec.dumps.stats = existsSync(join(tmp, 'keepalived.stats'))
          ? statsAt(join(tmp, 'keepalived.stats'))
          : 'missing';
        await busctl(['call', NAME, VRRP, 'org.keepalived.Vrrp1.Vrrp', 'PrintStats']);
        // cleared by PrintStatsClear: no received advert since, no became-master since
        rec.dumps.cleared = /Became master: 0/.test(readFileSync(join(tmp, 'keepalived.stats'), 'utf8'))
          ? 'cleared'
          : 'not cleared';

        // SendGarp: GARPs for the VIP after the call, once the start-up ones are over (5 on entering
        // MASTER, 5 more vrrp_garp_master_delay = 5 s later)
        const fromA = () => garpsFromA().length - garpsAtStart;
        await waitFor({
          what: '10 GARPs after MASTER',
          probe: () => fromA() >= 10 || undefined,
          timeoutMs: 15_000,
        });
        const before = fromA();
        await busctl(['call', NAME, inst, 'org.keepalived.Vrrp1.Instance', 'SendGarp']);
        await waitFor({
          what: 'a GARP after SendGarp',
          probe: () => fromA() > before || undefined,
          timeoutMs: 5000,
        });
        // one round: let any further ones arrive before counting
        await new Promise((r) => setTimeout(r, 1500));
        rec.garps = fromA() - before;

        // ReloadConfig: the reload SIGHUP starts, with VI_6 moved to VRID 53
        writeFileSync(d.configPath, config(53));
        await busctl(['call', NAME, VRRP, 'org.keepalived.Vrrp1.Vrrp', 'ReloadConfig']);
        await signalSeen(mon, 'VrrpReloaded');
        await waitFor({
          what: 'VI_6 MASTER again after the reload',
          probe: () =>
            said(mon.signals(`${ROOT}/Instance/eth0/53`)).some((s) => s.endsWith('[2]')) || undefined,
          timeoutMs: 20_000,
        });
        rec.treeAfterReload = (await busctl(['tree', '--list', NAME])).split('\n');
      } finally {
        await d.proc.stop();
      }
      await signalSeen(mon, 'VrrpStopped').catch(() => undefined);
      rec.signals = said(mon.signals(ROOT));
      await mon.stop();
      records[impl] = rec;
      console.log(`dbus ${impl}: ${JSON.stringify(rec, null, 1)}`);
      expect(rec.tree.length).toBeGreaterThan(5);
      expect(rec.signals.length).toBeGreaterThan(5);
    });
  }

  /** A daemon that cannot have DBus runs on: VIP up, process alive; what it logged about DBus. */
  async function runsWithout(impl: 'ka' | 'ts', name: string, busAddress?: string): Promise<string> {
    const d = start(impl, name, busAddress);
    try {
      await waitForHolders([a], '192.0.2.100', ['a'], 20_000);
      expect(d.proc.running).toBe(true);
      return d.proc
        .output()
        .split('\n')
        .filter((l) => /DBus|dbus|the name/.test(l))
        .join('\n');
    } finally {
      await d.proc.stop();
      await waitForHolders([a], '192.0.2.100', [], 10_000);
    }
  }

  it('SendGarp on a BACKUP instance: as keepalived, no GARP (VIPs not set)', async () => {
    if (!bus || !capture) throw new Error('no bus (see beforeAll)');
    // node B is VI_1's master: node A's VI_1 stays BACKUP
    const peer = b.startKeepalived(
      'vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 200\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.100/24\n  }\n}\n',
      'peer-b',
    );
    const sent: { [impl: string]: number } = {};
    try {
      await waitForHolders([a, b], '192.0.2.100', ['b'], 20_000);
      for (const impl of ['ka', 'ts'] as const) {
        const mon = await bus.monitor();
        const d = start(impl, `${impl}-backup`);
        try {
          await waitFor({
            what: 'VI_6 MASTER and VI_1 BACKUP on DBus',
            probe: async () => {
              const s = said(mon.signals(ROOT));
              const state = async (path: string) =>
                JSON.parse(
                  await busctl([
                    'get-property',
                    '--json=short',
                    NAME,
                    path,
                    'org.keepalived.Vrrp1.Instance',
                    'State',
                  ]),
                ) as { data: [number, string] };
              if (!s.some((x) => x.includes('/52/IPv6 VrrpStatusChange [2]'))) return undefined;
              return (await state(`${ROOT}/Instance/eth0/51/IPv4`)).data[0] === 1 || undefined;
            },
            timeoutMs: 20_000,
          });
          const before = garpsFromA().length;
          await busctl([
            'call',
            NAME,
            `${ROOT}/Instance/eth0/51/IPv4`,
            'org.keepalived.Vrrp1.Instance',
            'SendGarp',
          ]);
          // what a master sends arrives within milliseconds (see the test above); give it ample time
          await new Promise((r) => setTimeout(r, 1500));
          sent[impl] = garpsFromA().length - before;
          const logged = d.proc
            .output()
            .split('\n')
            .filter((l) => /garp|gratuitous/i.test(l));
          console.log(`dbus SendGarp on BACKUP ${impl}: ${logged.join(' | ')}`);
        } finally {
          await d.proc.stop();
          await mon.stop();
        }
      }
    } finally {
      await peer.proc.stop();
    }
    console.log(`dbus SendGarp on BACKUP: keepalived ${sent.ka} GARPs, keepalived-ts ${sent.ts}`);
    expect(sent.ka).toBe(0);
    expect(sent.ts).toBe(sent.ka);
  });

  it('without a bus both run on; keepalived-ts logs and counts KA_ERR_DBUS_CONNECT', async () => {
    const absent = `unix:path=${join(a.dir, 'no-bus.sock')}`;
    const ka = await runsWithout('ka', 'ka-nobus', absent);
    const ts = await runsWithout('ts', 'ts-nobus', absent);
    console.log(
      `dbus without a bus: keepalived said ${JSON.stringify(ka)}; keepalived-ts said ${JSON.stringify(ts)}`,
    );
    expect(ts).toMatch(/KA_ERR_DBUS_CONNECT/);
  });

  it('with the name already owned both run on; keepalived-ts logs and counts KA_ERR_DBUS_NAME', async () => {
    if (!bus) throw new Error('no bus (see beforeAll)');
    const holder = sessionBus({ busAddress: bus.address });
    try {
      await new Promise<void>((r) => holder.once('connect', () => r()));
      expect(await holder.requestName(NAME, 4)).toBe(1);
      const ka = await runsWithout('ka', 'ka-taken');
      const ts = await runsWithout('ts', 'ts-taken');
      console.log(
        `dbus name taken: keepalived said ${JSON.stringify(ka)}; keepalived-ts said ${JSON.stringify(ts)}`,
      );
      expect(ka).toMatch(/Lost the name org.keepalived.Vrrp1/);
      expect(ts).toMatch(/KA_ERR_DBUS_NAME/);
    } finally {
      holder.disconnect();
    }
  });

  it('keepalived-ts serves what keepalived serves: tree, introspection, properties, errors, dumps, GARPs, signals', () => {
    const ka = records.ka;
    const ts = records.ts;
    if (!ka || !ts) throw new Error('a record is missing (see the tests above)');
    expect(ts.tree).toEqual(ka.tree);
    expect(ts.introspection).toEqual(ka.introspection);
    expect(ts.properties).toEqual(ka.properties);
    expect(ts.errors).toEqual(ka.errors);
    expect(ts.dumps).toEqual(ka.dumps);
    expect(ts.garps).toBe(ka.garps);
    expect(ts.treeAfterReload).toEqual(ka.treeAfterReload);
    expect(byPhase(ts.signals)).toEqual(byPhase(ka.signals));
    expect(ts.signals).toHaveLength(ka.signals.length);
  });
});
