/**
 * KEEPALIVED-MIB over a real snmpd: node A runs snmpd as AgentX master (its own config, socket and
 * UDP port on the node's 127.0.0.1) and, one after the other, Debian's keepalived and keepalived-ts
 * with the same configuration (test/interop/fixtures/snmp/node-a.conf: VI_1 MASTER with two VIPs in
 * sync group G1, VI_2 BACKUP to node B's keepalived). The two walks are compared object by object.
 * Then snmpd is killed under keepalived-ts and started again: the daemon lives on and serves again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensurePackagesSync, needKeepalived } from '../lab/gates.js';
import { keepalivedTsCommand, type LabNode, type LabProcess } from '../lab/node.js';
import { waitFor, waitForHolders } from '../lab/observe.js';
import { createTopology, type Topology } from '../lab/topology.js';
import { describeIf } from '../support/privilege.js';
import { agentxSocket, parseTraps, startSnmpd, startTrapReceiver, walkNode } from './snmp-lab.js';
import type { WalkEntry } from './snmp-walk.js';

const FIX = join(import.meta.dirname, 'fixtures/snmp');
const BASE = '.1.3.6.1.4.1.9586.100.5';
const PORT = 16161;
/** Where snmpd sends its traps (trap2sink), to snmp-trap-receiver.mjs. */
const TRAP_PORT = 16262;
/** KEEPALIVED-MIB::version: each implementation names itself; compared by type only. */
const VERSION_OID = '1.3.6.1.4.1.9586.100.5.1.1.0';

/** One configuration of node A, with the VIP that shows it is up and the objects that show it settled. */
const CASES = [
  {
    name: 'basic',
    conf: 'node-a.conf',
    what: 'a MASTER with two VIPs in a sync group, a BACKUP',
    vip: '192.0.2.101',
    settled: { '2.3.1.4.1': '2', '2.3.1.4.2': '1', '2.1.1.3.1': '2' },
  },
  {
    name: 'wide',
    conf: 'node-a-wide.conf',
    what: 'notify scripts, PASS auth, v3 IPv6, unicast, nopreempt, excluded and static addresses, mail settings',
    vip: '192.0.2.111',
    settled: { '2.3.1.4.1': '2', '2.3.1.4.2': '2', '2.3.1.4.3': '2', '2.1.1.3.1': '2', '2.1.1.3.2': '2' },
  },
  {
    name: 'track',
    conf: 'node-a-track.conf',
    what: 'vrrp_scripts (good, bad, reverse with init_fail), tracked interfaces and scripts, on a sync group too',
    vip: '192.0.2.121',
    settled: { '2.3.1.4.1': '2', '2.9.1.6.1': '3' },
  },
] as const;

/**
 * Differences the walks show that are not SNMP's: each names the object and the cause, so the test
 * fails both on a new difference and when one of these goes away (then remove it here).
 */
const KNOWN: Readonly<Record<string, Readonly<Record<string, string>>>> = {};

const needSnmp = (): string | null => needKeepalived() ?? ensurePackagesSync(['snmpd', 'snmp']);

describeIf('KEEPALIVED-MIB served through snmpd: keepalived-ts against keepalived', needSnmp, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let snmpd: LabProcess | undefined;
  let receiver: LabProcess | undefined;
  const trapsBy: Record<string, Record<string, string[][]>> = {};
  const walks: Record<string, WalkEntry[]> = {};

  const socketPath = () => agentxSocket(a);
  const startSnmpdA = () => startSnmpd(a, PORT, TRAP_PORT);
  const walk = (): Promise<WalkEntry[]> => walkNode(a, PORT, BASE);

  /** Walk until the listed objects (OID under KEEPALIVED-MIB: value) read as given: states settle after the VIPs. */
  const settledWalk = (want: Readonly<Record<string, string>>) =>
    waitFor({
      what: `${JSON.stringify(want)} in the walk`,
      probe: async () => {
        const w = await walk().catch(() => []);
        const v = (o: string) => w.find((e) => e.oid === `${BASE.slice(1)}.${o}`)?.value;
        return Object.entries(want).every(([o, x]) => v(o) === x) ? w : undefined;
      },
      timeoutMs: 30_000,
      intervalMs: 500,
    });

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24'] }, { segment: 'aux', ifname: 'eth1' }] },
        { name: 'b', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    await a.ip(['link', 'set', 'lo', 'up']);
    b.startKeepalived(readFileSync(join(FIX, 'node-b.conf'), 'utf8'), 'ka-b');
    await waitForHolders([a, b], '192.0.2.103', ['b'], 15_000);
    snmpd = await startSnmpdA();
    receiver = await startTrapReceiver(a, TRAP_PORT);
  });

  /**
   * KEEPALIVED-MIB traps the receiver printed after `from`, each as its trap OID and its objects
   * (`OID=value`, sysUpTime left out), grouped by the instance or group they name, in arrival order.
   */
  const trapsSince = (from: number): Record<string, string[][]> => {
    const out: Record<string, string[][]> = {};
    for (const t of parseTraps((receiver?.stdout() ?? '').slice(from))) {
      if (!t.trap.startsWith('1.3.6.1.4.1.9586.')) continue;
      const who = Buffer.from(String(t.objects[0]?.value ?? ''), 'hex').toString();
      out[who] = [...(out[who] ?? []), [t.trap, ...t.objects.map((v) => `${v.oid}=${String(v.value)}`)]];
    }
    return out;
  };

  for (const impl of ['ka', 'ts'] as const) {
    it(`traps: ${impl === 'ka' ? 'keepalived' : 'keepalived-ts'} with enable_traps, from start to stop`, async () => {
      const from = receiver?.stdout().length ?? 0;
      const config = readFileSync(join(FIX, 'node-a.conf'), 'utf8')
        .replace('AGENTX_SOCKET', socketPath())
        .replace('enable_snmp_vrrp', 'enable_snmp_vrrp\n  enable_traps');
      const d =
        impl === 'ka'
          ? a.startKeepalived(config, 'ka-traps')
          : a.startDaemon({ command: keepalivedTsCommand(), config, name: 'ts-traps' });
      try {
        await waitForHolders([a, b], '192.0.2.101', ['a'], 20_000);
        await settledWalk(CASES[0].settled);
      } finally {
        await d.proc.stop();
        await waitForHolders([a, b], '192.0.2.101', [], 10_000);
      }
      // snmpd forwards a trap as soon as it has it; give the last ones a moment
      await new Promise((r) => setTimeout(r, 1000));
      trapsBy[impl] = trapsSince(from);
      console.log(`snmp traps ${impl}: ${JSON.stringify(trapsBy[impl])}`);
      expect(Object.keys(trapsBy[impl] ?? {}).length).toBeGreaterThan(0);
    });
  }

  it('traps: keepalived-ts sends the traps keepalived sends, per instance and group, in order', () => {
    const count = (t: Record<string, string[][]> | undefined) =>
      Object.values(t ?? {}).reduce((n, l) => n + l.length, 0);
    console.log(`snmp traps compared: keepalived ${count(trapsBy.ka)}, keepalived-ts ${count(trapsBy.ts)}`);
    expect(count(trapsBy.ka)).toBeGreaterThan(0);
    expect(trapsBy.ts).toEqual(trapsBy.ka);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  for (const c of CASES) {
    for (const impl of ['ka', 'ts'] as const) {
      it(`${c.name}: walks ${impl === 'ka' ? "keepalived's" : "keepalived-ts's"} KEEPALIVED-MIB (${c.what})`, async () => {
        const config = readFileSync(join(FIX, c.conf), 'utf8').replace('AGENTX_SOCKET', socketPath());
        const d =
          impl === 'ka'
            ? a.startKeepalived(config, `ka-${c.name}`)
            : a.startDaemon({ command: keepalivedTsCommand(), config, name: `ts-${c.name}` });
        try {
          await waitForHolders([a, b], c.vip, ['a'], 20_000);
          const w = await settledWalk(c.settled);
          walks[`${c.name} ${impl}`] = w;
          console.log(`snmp walk ${c.name} ${impl}: ${w.length} objects`);
          expect(w.length).toBeGreaterThan(50);
        } finally {
          await d.proc.stop();
          await waitForHolders([a, b], c.vip, [], 10_000);
        }
      });
    }

    it(`${c.name}: keepalived-ts serves the objects keepalived serves, with the same types and values`, () => {
      const ka = walks[`${c.name} ka`];
      const ts = walks[`${c.name} ts`];
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
        else differing.push(oid);
        if (!same)
          console.log(
            `snmp differs ${c.name} ${oid}: keepalived ${e.type} ${e.value}, keepalived-ts ${g.type} ${g.value}`,
          );
      }
      console.log(
        `snmp compare ${c.name}: ${k.size} objects from keepalived, ${t.size} from keepalived-ts, ${equal} equal` +
          ` (version compared by type), ${differing.length} differing, ${missing.length} missing, ${extra.length} extra`,
      );
      const known = Object.keys(KNOWN[c.name] ?? {});
      expect({ missing, extra, differing }).toEqual({ missing: [], extra: [], differing: known });
      expect(equal).toBe(k.size - known.length);
    });
  }

  it('keepalived-ts survives snmpd being killed and serves again once snmpd is back', async () => {
    if (!snmpd) throw new Error('snmpd did not start (see beforeAll)');
    const config = readFileSync(join(FIX, 'node-a.conf'), 'utf8').replace('AGENTX_SOCKET', socketPath());
    const d = a.startDaemon({ command: keepalivedTsCommand(), config, name: 'ts-restart' });
    await waitForHolders([a, b], '192.0.2.101', ['a'], 20_000);
    const first = await settledWalk(CASES[0].settled);
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
    snmpd = await startSnmpdA();
    await waitFor({
      what: 'a second AgentX session',
      probe: () => connected() === 2 || undefined,
      timeoutMs: 40_000,
    });
    const w = await settledWalk(CASES[0].settled);
    expect(w.map((e) => e.oid)).toEqual(first.map((e) => e.oid));
    expect(d.proc.running).toBe(true);
    await d.proc.stop();
    expect(d.proc.output()).not.toMatch(/Uncaught|TypeError|RangeError/);
  });
});
