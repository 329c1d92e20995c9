/**
 * VRRP-MIB (RFC 2787) and VRRPv3-MIB (RFC 6527) over a real snmpd: node A runs snmpd as AgentX
 * master and, one after the other, Debian's keepalived and keepalived-ts with the same
 * configuration (fixtures/snmp/node-a-rfc.conf: two VRRPv2 IPv4 instances, one MASTER with PASS
 * authentication and one BACKUP to node B; a VRRPv3 IPv4 MASTER with accept; a VRRPv3 IPv6
 * instance with nopreempt; a VRRPv2 IPv6 instance, which neither MIB lists). Both walks and the
 * notifications each daemon sends are compared. Then each daemon starts without VI_3 and a SIGHUP
 * adds it: the traps the added instance sends are compared too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensurePackagesSync, needKeepalived } from '../lab/gates.js';
import { keepalivedTsCommand, type LabNode, type LabProcess } from '../lab/node.js';
import { waitFor, waitForHolders } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import { describeIf } from '../support/privilege.js';
import {
  agentxSocket,
  parseTraps,
  type ReceivedTrap,
  startSnmpd,
  startTrapReceiver,
  walkNode,
} from './snmp-lab.js';
import { entryLine, type WalkEntry } from './snmp-walk.js';

const FIX = join(import.meta.dirname, 'fixtures/snmp');
const PORT = 16163;
const TRAP_PORT = 16264;
const V2 = '1.3.6.1.2.1.68';
const V3 = '1.3.6.1.2.1.207';

/** State columns that show the instances settled, by eth0's ifindex in node A. */
const settledStates = (ifindex: string): Readonly<Record<string, string>> => ({
  [`${V2}.1.3.1.3.${ifindex}.50`]: '3',
  [`${V3}.1.1.1.1.6.${ifindex}.51.1`]: '3',
  [`${V3}.1.1.1.1.6.${ifindex}.52.1`]: '2',
  [`${V3}.1.1.1.1.6.${ifindex}.61.1`]: '3',
  [`${V3}.1.1.1.1.6.${ifindex}.62.2`]: '3',
  [`${V3}.1.1.1.1.6.${ifindex}.55.1`]: '3',
});

/**
 * Columns compared by type only, with the reason: their values depend on timing, not on what the
 * daemon serves.
 */
const TYPE_ONLY: readonly [prefix: string, why: string][] = [
  [`${V2}.1.3.1.13.`, 'vrrpOperVirtualRouterUpTime: centiseconds from start to the last transition'],
  [`${V2}.2.4.1.2.`, 'vrrpStatsAdvertiseRcvd: adverts received so far (walk time)'],
  [`${V3}.1.1.1.1.12.`, 'vrrpv3OperationsUpTime: as vrrpOperVirtualRouterUpTime'],
  [`${V3}.1.2.5.1.3.`, 'vrrpv3StatisticsRcvdAdvertisements: as vrrpStatsAdvertiseRcvd'],
];

const needSnmp = (): string | null => needKeepalived() ?? ensurePackagesSync(['snmpd', 'snmp']);

describeIf('VRRP-MIB and VRRPv3-MIB served through snmpd: keepalived-ts against keepalived', needSnmp, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let receiver: LabProcess | undefined;
  let SETTLED: Readonly<Record<string, string>> = {};
  const walks: Record<string, WalkEntry[]> = {};
  const traps: Record<string, ReceivedTrap[]> = {};
  const reloadTraps: Record<string, ReceivedTrap[]> = {};

  const walk = async (): Promise<WalkEntry[]> => [
    ...(await walkNode(a, PORT, `.${V2}`)),
    ...(await walkNode(a, PORT, `.${V3}`)),
  ];

  let lastWalk: WalkEntry[] = [];
  const settledWalk = () =>
    waitFor({
      what: `${JSON.stringify(SETTLED)} in the walk`,
      probe: async () => {
        const w = await walk().catch(() => []);
        lastWalk = w;
        const v = (o: string) => w.find((e) => e.oid === o)?.value;
        return Object.entries(SETTLED).every(([o, x]) => v(o) === x) ? w : undefined;
      },
      timeoutMs: 30_000,
      intervalMs: 500,
    });

  const config = (): string =>
    readFileSync(join(FIX, 'node-a-rfc.conf'), 'utf8').replace('AGENTX_SOCKET', agentxSocket(a));

  /** Notifications the receiver printed since `from`, of these MIBs and KEEPALIVED-MIB. */
  const trapsSince = (from: number): ReceivedTrap[] =>
    parseTraps((receiver?.stdout() ?? '').slice(from)).filter((t) =>
      /^1\.3\.6\.1\.(2\.1\.(68|207)|4\.1\.9586)\./.test(t.trap),
    );

  /** Arrival order across instances depends on timing: compared as sorted lines. */
  const lines = (t: readonly ReceivedTrap[] | undefined): string[] =>
    (t ?? []).map((x) => [x.trap, ...x.objects.map((o) => `${o.oid}=${String(o.value)}`)].join(' ')).sort();

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'b', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    await a.ip(['link', 'set', 'lo', 'up']);
    SETTLED = settledStates((await a.exec('cat', ['/sys/class/net/eth0/ifindex'])).trim());
    b.startKeepalived(readFileSync(join(FIX, 'node-b.conf'), 'utf8'), 'ka-b');
    await waitForHolders([a, b], '192.0.2.103', ['b'], 15_000);
    await startSnmpd(a, PORT, TRAP_PORT);
    receiver = await startTrapReceiver(a, TRAP_PORT);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  for (const impl of ['ka', 'ts'] as const) {
    it(`walks ${impl === 'ka' ? "keepalived's" : "keepalived-ts's"} VRRP-MIB and VRRPv3-MIB, and takes its traps`, async () => {
      const from = receiver?.stdout().length ?? 0;
      const d =
        impl === 'ka'
          ? a.startKeepalived(config(), `ka-rfc`)
          : a.startDaemon({ command: keepalivedTsCommand(), config: config(), name: `ts-rfc` });
      try {
        await waitForHolders([a, b], '192.0.2.101', ['a'], 20_000);
        const w = await settledWalk().catch((e: unknown) => {
          console.log(`snmp rfc last walk ${impl}:\n${lastWalk.map(entryLine).join('\n')}`);
          throw e;
        });
        walks[impl] = w;
        console.log(`snmp rfc walk ${impl}: ${w.length} objects`);
        expect(w.length).toBeGreaterThan(40);
      } finally {
        await d.proc.stop();
        await waitForHolders([a, b], '192.0.2.101', [], 10_000);
      }
      await new Promise((r) => setTimeout(r, 1000));
      traps[impl] = trapsSince(from);
      console.log(`snmp rfc traps ${impl}:\n${lines(traps[impl]).join('\n')}`);
    });
  }

  it('keepalived-ts serves the VRRP-MIB and VRRPv3-MIB objects keepalived serves', () => {
    const ka = walks.ka;
    const ts = walks.ts;
    if (!ka || !ts) throw new Error('a walk is missing (see the tests above)');
    const t = new Map(ts.map((e) => [e.oid, e]));
    const k = new Map(ka.map((e) => [e.oid, e]));
    const missing = [...k.keys()].filter((o) => !t.has(o));
    const extra = [...t.keys()].filter((o) => !k.has(o));
    const differing: string[] = [];
    let equal = 0;
    let typeOnly = 0;
    for (const [oid, e] of k) {
      const g = t.get(oid);
      if (!g) continue;
      const loose = TYPE_ONLY.some(([p]) => oid.startsWith(p));
      const same = g.type === e.type && (loose || g.value === e.value);
      if (same && loose) typeOnly++;
      else if (same) equal++;
      else {
        differing.push(oid);
        console.log(
          `snmp rfc differs ${oid}: keepalived ${e.type} ${e.value}, keepalived-ts ${g.type} ${g.value}`,
        );
      }
    }
    for (const o of missing)
      console.log(`snmp rfc missing ${o}: keepalived ${k.get(o)?.type} ${k.get(o)?.value}`);
    for (const o of extra)
      console.log(`snmp rfc extra ${o}: keepalived-ts ${t.get(o)?.type} ${t.get(o)?.value}`);
    console.log(
      `snmp rfc compare: ${k.size} objects from keepalived, ${t.size} from keepalived-ts, ${equal} equal, ` +
        `${typeOnly} equal by type (timing), ${differing.length} differing, ${missing.length} missing, ${extra.length} extra`,
    );
    expect({ missing, extra, differing }).toEqual({ missing: [], extra: [], differing: [] });
    expect(equal + typeOnly).toBe(k.size);
  });

  it('keepalived-ts sends the new-master notifications keepalived sends', () => {
    const rfc = (x: readonly ReceivedTrap[] | undefined) =>
      lines(x).filter((l) => !l.startsWith('1.3.6.1.4.1.9586'));
    console.log(
      `snmp rfc traps compared: keepalived ${rfc(traps.ka).length}, keepalived-ts ${rfc(traps.ts).length}`,
    );
    expect(rfc(traps.ka).length).toBeGreaterThan(0);
    expect(rfc(traps.ts)).toEqual(rfc(traps.ka));
  });

  for (const impl of ['ka', 'ts'] as const) {
    it(`${impl === 'ka' ? 'keepalived' : 'keepalived-ts'}: an instance added by a reload sends its traps`, async () => {
      const full = config().replace('enable_traps', 'enable_traps\n  enable_snmp_vrrp');
      const without = full.replace(/vrrp_instance VI_3 \{[\s\S]*?\n\}\n/, '');
      const d =
        impl === 'ka'
          ? a.startKeepalived(without, 'ka-reload')
          : a.startDaemon({ command: keepalivedTsCommand(), config: without, name: 'ts-reload' });
      try {
        await waitForHolders([a, b], '192.0.2.101', ['a'], 20_000);
        // the first instances' traps are in; the ones after the reload are the added instance's
        await new Promise((r) => setTimeout(r, 3000));
        const from = receiver?.stdout().length ?? 0;
        const { writeFileSync } = await import('node:fs');
        writeFileSync(d.configPath, full);
        d.proc.signal('SIGHUP');
        await waitForHolders([a, b], '192.0.2.131', ['a'], 20_000);
        await new Promise((r) => setTimeout(r, 2000));
        reloadTraps[impl] = trapsSince(from);
        console.log(`snmp reload traps ${impl}:\n${lines(reloadTraps[impl]).join('\n')}`);
      } finally {
        await d.proc.stop();
        await waitForHolders([a, b], '192.0.2.101', [], 10_000);
      }
      expect((reloadTraps[impl] ?? []).length).toBeGreaterThan(0);
    });
  }

  it('after a reload, keepalived-ts sends the added instance traps keepalived sends', () => {
    expect(lines(reloadTraps.ka).length).toBeGreaterThan(0);
    expect(lines(reloadTraps.ts)).toEqual(lines(reloadTraps.ka));
  });
});
