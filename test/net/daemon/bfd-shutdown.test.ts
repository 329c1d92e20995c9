/**
 * The daemon releases BFD when it stops, and when a stop or a start-up fails part-way (src/daemon/run.ts):
 * a real daemon in a lab node runs a bfd_instance whose peer is a BfdHost in a second node. Each case
 * shows what only a released BFD allows: the process exits by itself (the BFD sockets and timers
 * would keep it alive: nothing calls process.exit), nothing is left on UDP 3784 in the node, and the
 * peer's session goes Down. The peer's Down comes from detection-time expiry (diagnostic 1), not from
 * an AdminDown: keepalived 2.2.7 sends none on stop either (docs/BFD.md). The failing cases run the
 * compiled daemon mode with one host replaced by a subclass that fails (test/net/bfd/failing-daemon.mjs).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { BfdHost } from '../../../src/bfd/host.js';
import { UdpBfdTransport } from '../../../src/bfd/udp.js';
import { systemClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { inNetns } from '../../../src/sys/netns.js';
import { BFD_DIAG } from '../../../src/wire/bfd.js';
import { needLab } from '../../lab/gates.js';
import { type ExitInfo, keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';
import { bfdInstance } from '../../unit/bfd/fixtures.js';

const DRIVER = resolve(dirname(fileURLToPath(import.meta.url)), '../bfd/failing-daemon.mjs');
const D = '192.0.2.1';
const P = '192.0.2.2';
/** Longest a stop may take before the lab's SIGKILL: a bound on the wait, not a speed target. */
const GRACE_MS = 15_000;

const CONFIG = `
global_defs {
  router_id d
}
bfd_instance B1 {
  neighbor_ip ${P}
  source_ip ${D}
  min_rx 50
  min_tx 50
  multiplier 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    198.51.100.51/24
  }
  track_bfd {
    B1 weight -20
  }
}
`;

describeIf('BFD is released when the daemon stops or fails part-way', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let p: LabNode;
  let peer: BfdHost | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: [`${D}/24`] }] },
        { name: 'p', links: [{ addrs: [`${P}/24`] }] },
      ],
    });
    d = topo.node('d');
    p = topo.node('p');
  }, 60_000);

  afterEach(async () => {
    peer?.stop();
    peer = undefined;
    await d?.stopAll(2_000);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  /** The peer: our BfdHost in node p, over real UDP. */
  const startPeer = (): BfdHost => {
    const host = new BfdHost({
      instances: [bfdInstance('B1', D, { sourceIp: P, minRx: 50, minTx: 50, multiplier: 3 })],
      clock: systemClock,
      log: silentLogger,
      counters: new Counters(),
      transport: new UdpBfdTransport(),
    });
    inNetns(p.ns, () => host.start());
    peer = host;
    return host;
  };

  /** UDP sockets bound to port 3784 in node d (`ss`, one line per socket). */
  const bfdSockets = async (): Promise<string[]> =>
    (await d.exec('ss', ['-H', '-u', '-a', '-n', 'sport = :3784']))
      .split('\n')
      .filter((l) => l.trim() !== '');

  const configIn = (name: string): { dir: string; config: string } => {
    const dir = join(topo!.dir, name);
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'keepalived.conf');
    writeFileSync(config, CONFIG);
    return { dir, config };
  };

  /** The error with the daemon's output appended. */
  const withOutput = (e: unknown, proc: LabProcess): Error =>
    new Error(`${(e as Error).message}\n--- daemon output ---\n${proc.output().slice(-4000)}`);

  const runningWithPeerUp = async (proc: LabProcess, host: BfdHost): Promise<void> => {
    try {
      await waitFor({
        what: 'the daemon on UDP 3784',
        probe: bfdSockets,
        until: (s) => s.length > 0,
        timeoutMs: 15_000,
      });
      await waitFor({
        what: 'the peer session Up',
        probe: () => host.state('B1') === 'Up',
        timeoutMs: 15_000,
      });
    } catch (e) {
      throw withOutput(e, proc);
    }
    expect(proc.running).toBe(true);
  };

  /** The peer goes Down by detection-time expiry (no AdminDown arrived); returns its local diagnostic. */
  const peerDownDiag = async (host: BfdHost): Promise<number | undefined> => {
    await waitFor({
      what: 'the peer session Down',
      probe: () => host.state('B1') === 'Down',
      timeoutMs: 10_000,
    });
    return host.session('B1')?.localDiag;
  };

  /** Waits for the process to end by itself; the lab's SIGKILL after GRACE_MS shows as signal SIGKILL. */
  const stopped = (proc: LabProcess): Promise<ExitInfo> => proc.stop(GRACE_MS);

  it('SIGTERM: the daemon exits by itself with 0, 3784 is closed and the peer expires', async () => {
    const host = startPeer();
    const h = d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'term' });
    await runningWithPeerUp(h.proc, host);
    expect(existsSync(h.pidPath)).toBe(true);

    expect(await stopped(h.proc)).toEqual({ code: 0, signal: null });
    expect(h.proc.output()).toContain('Stopped keepalived-ts');
    expect(await bfdSockets()).toEqual([]);
    expect(existsSync(h.pidPath)).toBe(false);
    expect(await peerDownDiag(host)).toBe(BFD_DIAG.ControlDetectionTimeExpired);
  }, 60_000);

  it('a VRRP stop that throws still stops BFD: exit 0, 3784 closed, the peer expires', async () => {
    const host = startPeer();
    const { dir, config } = configIn('stopfail');
    const proc = d.spawn([process.execPath, DRIVER, 'stop', config, dir], { name: 'stopfail' });
    await runningWithPeerUp(proc, host);

    expect(await stopped(proc)).toEqual({ code: 0, signal: null });
    const out = proc.output();
    expect(out).toContain('error while stopping');
    expect(out).toContain('injected: VRRP stop failed');
    expect(out).toContain('Stopped keepalived-ts');
    expect(await bfdSockets()).toEqual([]);
    expect(existsSync(join(dir, 'keepalived.pid'))).toBe(false);
    expect(await peerDownDiag(host)).toBe(BFD_DIAG.ControlDetectionTimeExpired);
  }, 60_000);

  it('a start-up that fails after BFD started releases it: exit 1 by itself, 3784 closed, pid files gone', async () => {
    const { dir, config } = configIn('startfail');
    const proc = d.spawn([process.execPath, DRIVER, 'start', config, dir], { name: 'startfail' });
    const exit = await waitFor({
      what: 'the daemon to exit after its failed start',
      probe: async () => (proc.running ? undefined : await proc.exited),
      timeoutMs: GRACE_MS,
    }).catch((e) => {
      throw withOutput(e, proc);
    });

    expect(exit).toEqual({ code: 1, signal: null });
    const out = proc.output();
    // BFD had opened its sockets when the failure came.
    expect(out.indexOf('Starting BFD')).toBeGreaterThan(-1);
    expect(out.indexOf('Start-up failed: injected: scheduling start failed')).toBeGreaterThan(
      out.indexOf('Starting BFD'),
    );
    expect(out).not.toContain('Startup complete');
    expect(await bfdSockets()).toEqual([]);
    expect(['keepalived.pid', 'vrrp.pid'].filter((f) => existsSync(join(dir, f)))).toEqual([]);
  }, 60_000);
});
