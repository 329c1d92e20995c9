/**
 * `--metrics-address`: a running keepalived-ts in a namespace serves Prometheus metrics and keepalived's
 * JSON state; a peer namespace scrapes them with curl over the lab bridge. The values follow the
 * daemon: the instance's state and advert counter are what the daemon is doing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.80';
const ADDR = '192.0.2.1';
const PORT = 9650;
const CONFIG = `
vrrp_instance VI_M {
  state MASTER
  interface eth0
  virtual_router_id 9
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 1
  lvs_sched rr
  lvs_method DR
  protocol TCP
  real_server ${ADDR} 9 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`;

describeIf('metrics and JSON state over HTTP', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let x: LabNode;
  let daemon: DaemonHandle;

  const get = (path: string) =>
    x.exec('curl', [
      '-s',
      '-o',
      '-',
      '-w',
      '\n%{http_code}',
      '--max-time',
      '5',
      `http://${ADDR}:${PORT}${path}`,
    ]);
  const split = (out: string) => {
    const i = out.lastIndexOf('\n');
    return { body: out.slice(0, i), status: Number(out.slice(i + 1)) };
  };

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: [`${ADDR}/24`] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    d = topo.node('d');
    x = topo.node('x');
    daemon = d.startDaemon({
      command: keepalivedTsCommand(),
      config: CONFIG,
      name: 'keepalived-ts',
      extraArgs: ['--metrics-address', `${ADDR}:${PORT}`],
    });
    await waitForHolders([d, x], VIP, ['d'], 15_000);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('GET /metrics: the MASTER state and a growing advert counter, in exporter-compatible names', async () => {
    const sent = async () => {
      const { body, status } = split(await get('/metrics'));
      expect(status).toBe(200);
      expect(body).toContain('keepalived_vrrp_state{iname="VI_M",intf="eth0",vrid="9"} 2');
      expect(body).toContain('keepalived_ts_vrrp_effective_priority{iname="VI_M",intf="eth0",vrid="9"} 150');
      const m = /^keepalived_advert_sent_total\{iname="VI_M",intf="eth0",vrid="9"\} (\d+)$/m.exec(body);
      expect(m).not.toBeNull();
      return Number(m?.[1]);
    };
    const first = await sent();
    expect(first).toBeGreaterThan(0);
    await waitFor({
      what: 'the advert counter to grow',
      probe: async () => ((await sent()) > first ? true : undefined),
      timeoutMs: 5_000,
    });
  });

  it("GET /state: keepalived's -J layout with the instance's data and stats", async () => {
    const { body, status } = split(await get('/state'));
    expect(status).toBe(200);
    const doc = JSON.parse(body) as {
      vrrp: { data: Record<string, unknown>; stats: Record<string, number> }[];
    };
    expect(doc.vrrp).toHaveLength(1);
    expect(doc.vrrp[0]?.data).toMatchObject({
      iname: 'VI_M',
      ifp_ifname: 'eth0',
      vrid: 9,
      state: 2,
      vipset: true,
    });
    expect(doc.vrrp[0]?.stats.advert_sent).toBeGreaterThan(0);
    expect(doc.vrrp[0]?.stats.become_master).toBe(1);
  });

  it("the checker worker's totals reach the daemon counters (attempts, failures by code)", async () => {
    // read into the daemon's counters every 10 s; the real server's port is closed (refused)
    const value = (body: string, name: string) =>
      Number(
        new RegExp(
          `^keepalived_ts_events_total\\{name="${name.replaceAll('.', '\\.')}"\\} (\\d+)$`,
          'm',
        ).exec(body)?.[1] ?? 0,
      );
    await waitFor({
      what: 'check.attempts in /metrics',
      probe: async () => (value(split(await get('/metrics')).body, 'check.attempts') > 0 ? true : undefined),
      timeoutMs: 25_000,
      intervalMs: 500,
    });
    const { body } = split(await get('/metrics'));
    expect(value(body, 'check.fail.KA_ERR_CHECK_REFUSED')).toBeGreaterThan(0);
    expect(value(body, 'check.failures')).toBeLessThanOrEqual(value(body, 'check.attempts'));
  });

  it('other paths are 404, other methods 405, and the daemon keeps serving', async () => {
    expect(split(await get('/nope')).status).toBe(404);
    const post = await x.exec('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-X',
      'POST',
      `http://${ADDR}:${PORT}/metrics`,
    ]);
    expect(Number(post)).toBe(405);
    expect(split(await get('/metrics')).status).toBe(200);
    expect(daemon.proc.running).toBe(true);
  });

  it('a metrics address it cannot listen on stops the start with KA_ERR_DAEMON_METRICS, exit 1', async () => {
    const other = d.startDaemon({
      command: keepalivedTsCommand(),
      config: CONFIG.replace('VI_M', 'VI_N').replace('virtual_router_id 9', 'virtual_router_id 10'),
      name: 'keepalived-ts-2',
      // the first daemon holds this port
      extraArgs: ['--metrics-address', `${ADDR}:${PORT}`],
    });
    expect((await other.proc.exited).code).toBe(1);
    expect(other.proc.output()).toContain('KA_ERR_DAEMON_METRICS');
  });
});
