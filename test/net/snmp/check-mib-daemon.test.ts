/**
 * KEEPALIVED-MIB check subtree served by the daemon through a real snmpd (node A), without kernel
 * IPVS (the LVS host runs its checkers on an in-memory table when the kernel has none): a virtual
 * server with two real servers on node B, one listening and one not. The walk shows their states;
 * the traps follow the start-up quorum decision, the failing real server, and its recovery.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentxSocket, parseTraps, startSnmpd, startTrapReceiver, walkNode } from '../../interop/snmp-lab.js';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const PORT = 16165;
const TRAP_PORT = 16266;
const CHECK = '1.3.6.1.4.1.9586.100.5.3';
const hex = (s: string) => Buffer.from(s).toString('hex');

const config = (socket: string) => `global_defs {
  router_id lvsA
  enable_snmp_checker
  enable_traps
  snmp_socket unix:${socket}
}
virtual_server 203.0.113.10 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 1
  real_server 198.51.100.2 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 198.51.100.2 8081 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`;

/** A TCP listener on node B. */
const listen = (b: LabNode, port: number): LabProcess =>
  b.spawn(
    [
      process.execPath,
      '-e',
      `require('net').createServer((s)=>s.end()).listen(${port},'198.51.100.2',()=>console.log('up'))`,
    ],
    { name: `listen-${port}` },
  );

describeIf('KEEPALIVED-MIB check subtree and traps from the daemon, through snmpd', needLab, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let receiver: LabProcess | undefined;
  let daemon: DaemonHandle | undefined;

  const checkTraps = () =>
    parseTraps(receiver?.stdout() ?? '')
      .filter((t) => t.trap.startsWith(`${CHECK}.5.0.`))
      .map((t) => [t.trap, ...t.objects.map((o) => `${o.oid}=${String(o.value)}`)].join(' '));

  const walkValue = async (oid: string) =>
    (await walkNode(a, PORT, `.${CHECK}`).catch(() => [])).find((e) => e.oid === oid)?.value;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['198.51.100.1/24'] }] },
        { name: 'b', links: [{ addrs: ['198.51.100.2/24'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    await a.ip(['link', 'set', 'lo', 'up']);
    await listen(b, 8080).waitForOutput(/up/, 10_000);
    await startSnmpd(a, PORT, TRAP_PORT);
    receiver = await startTrapReceiver(a, TRAP_PORT);
    daemon = a.startDaemon({
      command: keepalivedTsCommand(),
      config: config(agentxSocket(a)),
      name: 'ts-check',
    });
  });

  afterAll(async () => {
    await daemon?.proc.stop();
    await topo?.destroy();
  });

  it('serves the virtual and real servers with their checked states', async () => {
    await waitFor({
      what: 'real server 2 dead in realServerStatus',
      probe: async () => ((await walkValue(`${CHECK}.4.1.6.1.2`)) === '2' ? true : undefined),
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    const w = new Map(
      (await walkNode(a, PORT, `.${CHECK}`)).map((e) => [
        e.oid.slice(CHECK.length + 1),
        `${e.type} ${e.value}`,
      ]),
    );
    console.log(`snmp check walk: ${w.size} objects`);
    expect(w.get('3.1.2.1')).toBe('integer 2');
    expect(w.get('3.1.6.1')).toBe('octets cb00710a');
    expect(w.get('3.1.7.1')).toBe('gauge 80');
    expect([w.get('3.1.20.1'), w.get('3.1.21.1'), w.get('3.1.23.1')]).toEqual([
      'gauge 2',
      'gauge 1',
      'integer 1',
    ]);
    expect([w.get('4.1.4.1.1'), w.get('4.1.5.1.1'), w.get('4.1.6.1.1')]).toEqual([
      'octets c6336402',
      'gauge 8080',
      'integer 1',
    ]);
    expect([w.get('4.1.5.1.2'), w.get('4.1.6.1.2'), w.get('4.1.13.1.2')]).toEqual([
      'gauge 8081',
      'integer 2',
      'gauge 1',
    ]);
    // the global group is registered with the check subtree (keepalived's checker process)
    const g = await walkNode(a, PORT, '.1.3.6.1.4.1.9586.100.5.1.2');
    expect(g[0]?.value).toBe(hex('lvsA'));
  });

  it('sends the quorum trap at start, then realServerStateChange as real server 2 fails and recovers', async () => {
    const quorum = `${CHECK}.5.0.2 ${CHECK}.3.1.2=2 ${CHECK}.3.1.5=1 ${CHECK}.3.1.6=cb00710a ${CHECK}.3.1.7=80 ${CHECK}.3.1.8=1`;
    const rs = (up: boolean, n: number) =>
      `${CHECK}.5.0.1 ${CHECK}.4.1.3=1 ${CHECK}.4.1.4=c6336402 ${CHECK}.4.1.5=8081 ${CHECK}.4.1.6=${up ? 1 : 2} ` +
      `${CHECK}.3.1.2=2 ${CHECK}.3.1.5=1 ${CHECK}.3.1.6=cb00710a ${CHECK}.3.1.7=80 ${CHECK}.3.1.8=1 ` +
      `${CHECK}.3.1.21=${n} ${CHECK}.3.1.20=2 1.3.6.1.4.1.9586.100.5.1.2.0=${hex('lvsA')}`;
    const l = listen(b, 8081);
    await l.waitForOutput(/up/, 10_000);
    await waitFor({
      what: 'the recovery trap',
      probe: () => (checkTraps().length >= 3 ? true : undefined),
      timeoutMs: 20_000,
    });
    const got = checkTraps();
    console.log(`snmp check traps:\n${got.join('\n')}`);
    expect(got[0]?.startsWith(quorum)).toBe(true);
    expect(got[0]).toMatch(/3\.1\.23=1 .*3\.1\.22=1 .*3\.1\.21=\d .*3\.1\.20=2 /);
    expect(got.slice(1, 3)).toEqual([rs(false, 1), rs(true, 2)]);
  });
});
