/**
 * KEEPALIVED-MIB over a real snmpd: node A runs snmpd as AgentX master (its own config, socket and
 * UDP port on the node's 127.0.0.1) and, one after the other, Debian's keepalived and keepalived-ts
 * with the same configuration (test/interop/fixtures/snmp/node-a.conf: VI_1 MASTER with two VIPs in
 * sync group G1, VI_2 BACKUP to node B's keepalived). The two walks are compared object by object.
 * Then snmpd is killed under keepalived-ts and started again: the daemon lives on and serves again.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensurePackagesSync, needKeepalived } from '../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode, type LabProcess } from '../lab/node.js';
import { waitFor, waitForHolders } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import { describeIf } from '../support/privilege.js';
import { parseWalkEntries, type WalkEntry } from './snmp-walk.js';

const FIX = join(import.meta.dirname, 'fixtures/snmp');
const BASE = '.1.3.6.1.4.1.9586.100.5';
const PORT = 16161;
/** KEEPALIVED-MIB::version: each implementation names itself; compared by type only. */
const VERSION_OID = '1.3.6.1.4.1.9586.100.5.1.1.0';

const needSnmp = (): string | null => needKeepalived() ?? ensurePackagesSync(['snmpd', 'snmp']);

describeIf('KEEPALIVED-MIB served through snmpd: keepalived-ts against keepalived', needSnmp, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let snmpd: LabProcess | undefined;
  const walks: Partial<Record<'ka' | 'ts', WalkEntry[]>> = {};
  let tsDaemon: DaemonHandle | undefined;

  const socketPath = () => join(a.dir, 'agentx');

  async function startSnmpd(): Promise<LabProcess> {
    mkdirSync(a.dir, { recursive: true });
    const conf = join(a.dir, 'snmpd.conf');
    writeFileSync(
      conf,
      ['master agentx', `agentXSocket unix:${socketPath()}`, 'rocommunity public 127.0.0.1', ''].join('\n'),
    );
    const p = a.spawn(
      [
        '/usr/sbin/snmpd',
        '-f',
        '-Lo',
        '-C',
        '-I',
        '-smux',
        '-c',
        conf,
        '-p',
        join(a.dir, 'snmpd.pid'),
        `udp:127.0.0.1:${PORT}`,
      ],
      { name: 'snmpd', env: { MIBS: '', SNMP_PERSISTENT_DIR: join(a.dir, 'snmp-persist') } },
    );
    await p.waitForOutput(/NET-SNMP version/, 10_000);
    await waitFor({
      what: 'the AgentX socket',
      probe: () => existsSync(socketPath()) || undefined,
      timeoutMs: 5_000,
    });
    return p;
  }

  const walk = async (): Promise<WalkEntry[]> =>
    parseWalkEntries(
      await a.exec('snmpwalk', [
        '-v2c',
        '-c',
        'public',
        '-On',
        '-t',
        '1',
        '-r',
        '2',
        `127.0.0.1:${PORT}`,
        BASE,
      ]),
    );

  /** Walk until VI_1 reads MASTER, VI_2 BACKUP and the group MASTER (states settle after the VIPs). */
  const settledWalk = () =>
    waitFor({
      what: 'VI_1 MASTER, VI_2 BACKUP and G1 MASTER in the walk',
      probe: async () => {
        const w = await walk().catch(() => []);
        const v = (o: string) => w.find((e) => e.oid === `${BASE.slice(1)}.${o}`)?.value;
        return v('2.3.1.4.1') === '2' && v('2.3.1.4.2') === '1' && v('2.1.1.3.1') === '2' ? w : undefined;
      },
      timeoutMs: 20_000,
      intervalMs: 500,
    });

  const nodeAConfig = () =>
    readFileSync(join(FIX, 'node-a.conf'), 'utf8').replace('AGENTX_SOCKET', socketPath());

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
    b.startKeepalived(readFileSync(join(FIX, 'node-b.conf'), 'utf8'), 'ka-b');
    await waitForHolders([a, b], '192.0.2.103', ['b'], 15_000);
    snmpd = await startSnmpd();
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  for (const impl of ['ka', 'ts'] as const) {
    it(`walks ${impl === 'ka' ? "keepalived's" : "keepalived-ts's"} KEEPALIVED-MIB for a MASTER with two VIPs and a BACKUP`, async () => {
      const d =
        impl === 'ka'
          ? a.startKeepalived(nodeAConfig(), 'ka-a')
          : a.startDaemon({ command: keepalivedTsCommand(), config: nodeAConfig(), name: 'ts-a' });
      await waitForHolders([a, b], '192.0.2.101', ['a'], 15_000);
      const w = await settledWalk();
      walks[impl] = w;
      console.log(`snmp walk ${impl}: ${w.length} objects`);
      expect(w.length).toBeGreaterThan(90);
      if (impl === 'ts') tsDaemon = d;
      else {
        await d.proc.stop();
        await waitForHolders([a, b], '192.0.2.101', [], 10_000);
      }
    });
  }

  it('serves the objects keepalived serves, with the same types and values (version by type)', () => {
    const ka = walks.ka;
    const ts = walks.ts;
    if (!ka || !ts) throw new Error('a walk is missing (see the tests above)');
    const byOid = (w: WalkEntry[]) => new Map(w.map((e) => [e.oid, e]));
    const k = byOid(ka);
    const t = byOid(ts);
    const missing = [...k.keys()].filter((o) => !t.has(o));
    const extra = [...t.keys()].filter((o) => !k.has(o));
    let equal = 0;
    const differing: string[] = [];
    for (const [oid, e] of k) {
      const g = t.get(oid);
      if (!g) continue;
      const same = oid === VERSION_OID ? g.type === e.type : g.type === e.type && g.value === e.value;
      if (same) equal++;
      else differing.push(`${oid}: keepalived ${e.type} ${e.value}, keepalived-ts ${g.type} ${g.value}`);
    }
    console.log(
      `snmp compare: ${k.size} objects from keepalived, ${t.size} from keepalived-ts, ${equal} equal` +
        ` (version compared by type), ${differing.length} differing, ${missing.length} missing, ${extra.length} extra`,
    );
    expect({ missing, extra, differing }).toEqual({ missing: [], extra: [], differing: [] });
    expect(equal).toBe(k.size);
  });

  it('keepalived-ts survives snmpd being killed and serves again once snmpd is back', async () => {
    const d = tsDaemon;
    if (!d || !snmpd) throw new Error('keepalived-ts or snmpd did not start (see the tests above)');
    const connected = () => (d.proc.output().match(/AgentX subagent connected/g) ?? []).length;
    expect(connected()).toBe(1);
    snmpd.signal('SIGKILL');
    await snmpd.exited;
    await waitFor({
      what: 'keepalived-ts to notice the master went away',
      probe: () => /KA_ERR_SNMP_CONNECT/.test(d.proc.output()) || undefined,
      timeoutMs: 10_000,
    });
    expect(d.proc.running).toBe(true);
    snmpd = await startSnmpd();
    await waitFor({
      what: 'a second AgentX session',
      probe: () => connected() === 2 || undefined,
      timeoutMs: 40_000,
    });
    const w = await settledWalk();
    expect(w.map((e) => e.oid)).toEqual(walks.ts?.map((e) => e.oid));
    expect(d.proc.running).toBe(true);
    await d.proc.stop();
    expect(d.proc.output()).not.toMatch(/Uncaught|TypeError|RangeError/);
  });
});
