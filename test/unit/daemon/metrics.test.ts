import { describe, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import {
  createRegistry,
  keepalivedStats,
  type LvsSnapshot,
  type MetricsSources,
  parseListenAddress,
  stateDocument,
  stateJson,
  type VrrpInstanceSnapshot,
} from '../../../src/daemon/metrics.js';
import { parseOptions } from '../../../src/daemon/options.js';

const vi1: VrrpInstanceSnapshot = {
  iname: 'VI_1',
  ifp_ifname: 'eth0',
  vrid: 51,
  version: 2,
  state: 2,
  state_name: 'MASTER',
  base_priority: 100,
  effective_priority: 90,
  master_addr: '192.0.2.1',
  vipset: true,
  vips: ['192.0.2.100/32'],
  stats: {
    'vrrp.advert_sent': 7,
    'vrrp.advert_rcvd': 3,
    'vrrp.become_master': 1,
    'vrrp.rx.KA_ERR_VRRP_RX_TTL': 2,
    'vrrp.rx.KA_ERR_VRRP_RX_UNICAST_TTL': 1,
    'vrrp.rx.KA_ERR_VRRP_RX_AUTH_PASS': 4,
    'vrrp.rx.KA_ERR_VRRP_RX_CHECKSUM': 5,
  },
};

const lvs: LvsSnapshot = {
  virtualServers: [
    {
      name: '203.0.113.10:80',
      protocol: 'tcp',
      family: 'inet',
      quorumUp: true,
      realServers: [
        { addr: '198.51.100.1', port: 80, up: true, weight: 3 },
        { addr: '198.51.100.2', port: 80, up: false, weight: 0 },
      ],
    },
    // UDP on the same address and port: its own series, not overwriting the TCP one's
    {
      name: '203.0.113.10:80',
      protocol: 'udp',
      family: 'inet',
      quorumUp: false,
      realServers: [{ addr: '198.51.100.1', port: 80, up: false, weight: 5 }],
    },
    {
      name: 'fwmark 5',
      protocol: 'tcp',
      family: 'inet',
      quorumUp: null,
      realServers: [{ addr: '198.51.100.3', port: null, up: true, weight: 1 }],
    },
    // `fwmark 5` again for IPv6 (ip_family inet6): its own series
    {
      name: 'fwmark 5',
      protocol: 'tcp',
      family: 'inet6',
      quorumUp: true,
      realServers: [{ addr: 'fd00::3', port: null, up: true, weight: 1 }],
    },
    {
      name: 'fd00::10 80',
      protocol: 'tcp',
      family: 'inet6',
      quorumUp: null,
      realServers: [{ addr: 'fd00::1', port: 80, up: true, weight: 2 }],
    },
  ],
};

function sources(): MetricsSources {
  const counters = new Counters();
  counters.inc('vrrp.unknown_vrid', 6);
  return { vrrp: () => [vi1], lvs: () => lvs, counters };
}

describe('keepalived stats from our counters', () => {
  it('folds per-code receive drops into keepalived stat names, zero where nothing was counted', () => {
    const s = keepalivedStats(vi1.stats);
    expect(s).toMatchObject({
      advert_sent: 7,
      advert_rcvd: 3,
      become_master: 1,
      ip_ttl_err: 3,
      auth_failure: 4,
      packet_len_err: 0,
      pri_zero_sent: 0,
    });
    expect(Object.keys(s)).toHaveLength(14);
  });
});

describe('JSON state document', () => {
  it("has keepalived's -J layout: data with the instance keys and numeric state, stats, then lvs", () => {
    const doc = stateDocument(sources());
    expect(doc.vrrp).toEqual([
      {
        data: {
          iname: 'VI_1',
          ifp_ifname: 'eth0',
          vrid: 51,
          version: 2,
          state: 2,
          base_priority: 100,
          effective_priority: 90,
          master_addr: '192.0.2.1',
          vipset: true,
          vips: ['192.0.2.100/32'],
        },
        stats: keepalivedStats(vi1.stats),
      },
    ]);
    expect(doc.lvs).toBe(lvs);
    expect(stateDocument({ counters: new Counters() })).toEqual({ vrrp: [], lvs: null });
  });
});

describe('Prometheus registry', () => {
  it('exposes exporter-compatible VRRP metrics, drops by code, daemon counters and LVS health', async () => {
    const text = await createRegistry(sources()).metrics();
    const line = (l: string) => expect(text.split('\n')).toContain(l);
    line('keepalived_up 1');
    line('keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51"} 2');
    line('keepalived_advert_sent_total{iname="VI_1",intf="eth0",vrid="51"} 7');
    line('keepalived_ip_ttl_err_total{iname="VI_1",intf="eth0",vrid="51"} 3');
    line('keepalived_ts_vrrp_effective_priority{iname="VI_1",intf="eth0",vrid="51"} 90');
    line('keepalived_ts_vrrp_vips_set{iname="VI_1",intf="eth0",vrid="51"} 1');
    line(
      'keepalived_ts_vrrp_rx_dropped_total{iname="VI_1",intf="eth0",vrid="51",code="KA_ERR_VRRP_RX_CHECKSUM"} 5',
    );
    line('keepalived_ts_events_total{name="vrrp.unknown_vrid"} 6');
    line(
      'keepalived_ts_lvs_real_server_up{virtual_server="203.0.113.10:80",protocol="tcp",family="inet",real_server="198.51.100.2:80"} 0',
    );
    line(
      'keepalived_ts_lvs_real_server_weight{virtual_server="203.0.113.10:80",protocol="tcp",family="inet",real_server="198.51.100.1:80"} 3',
    );
    line(
      'keepalived_ts_lvs_real_server_up{virtual_server="203.0.113.10:80",protocol="tcp",family="inet",real_server="198.51.100.1:80"} 1',
    );
    line(
      'keepalived_ts_lvs_real_server_up{virtual_server="203.0.113.10:80",protocol="udp",family="inet",real_server="198.51.100.1:80"} 0',
    );
    line(
      'keepalived_ts_lvs_real_server_weight{virtual_server="203.0.113.10:80",protocol="udp",family="inet",real_server="198.51.100.1:80"} 5',
    );
    line(
      'keepalived_ts_lvs_real_server_up{virtual_server="fwmark 5",protocol="tcp",family="inet",real_server="198.51.100.3"} 1',
    );
    line('keepalived_ts_lvs_quorum_up{virtual_server="203.0.113.10:80",protocol="tcp",family="inet"} 1');
    line('keepalived_ts_lvs_quorum_up{virtual_server="203.0.113.10:80",protocol="udp",family="inet"} 0');
    line('keepalived_ts_lvs_quorum_up{virtual_server="fwmark 5",protocol="tcp",family="inet6"} 1');
    // IPv6 real servers in brackets, as keepalived's dumps and Prometheus' instance label write them
    line(
      'keepalived_ts_lvs_real_server_weight{virtual_server="fd00::10 80",protocol="tcp",family="inet6",real_server="[fd00::1]:80"} 2',
    );
    line(
      'keepalived_ts_lvs_real_server_up{virtual_server="fwmark 5",protocol="tcp",family="inet6",real_server="fd00::3"} 1',
    );
    expect(text).not.toContain('real_server="fd00::1:80"');
    expect(text).not.toContain(
      'keepalived_ts_lvs_quorum_up{virtual_server="fwmark 5",protocol="tcp",family="inet"}',
    );
    expect(text).toMatch(/^keepalived_ts_nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^keepalived_ts_process_resident_memory_bytes \d+/m);
  });

  it('reads the sources at every scrape: an instance that left MASTER shows its new state', async () => {
    let state = 2;
    const src: MetricsSources = { vrrp: () => [{ ...vi1, state }], counters: new Counters() };
    const reg = createRegistry(src);
    expect(await reg.metrics()).toContain('keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51"} 2');
    state = 3;
    expect(await reg.metrics()).toContain('keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51"} 3');
  });
});

describe('scrape cost', () => {
  it('takes one snapshot of each host per scrape, whatever the number of collectors', async () => {
    let lvsCalls = 0;
    let vrrpCalls = 0;
    const reg = createRegistry({
      vrrp: () => {
        vrrpCalls++;
        return [vi1];
      },
      lvs: () => {
        lvsCalls++;
        return lvs;
      },
      counters: new Counters(),
    });
    await reg.metrics();
    expect([vrrpCalls, lvsCalls]).toEqual([1, 1]);
    await reg.metrics();
    expect([vrrpCalls, lvsCalls]).toEqual([2, 2]);
  });
});

describe('a large scrape is sliced', () => {
  const many = (n: number): VrrpInstanceSnapshot[] =>
    Array.from({ length: n }, (_, i) => ({ ...vi1, iname: `VI_${i}`, vrid: (i % 250) + 1 }));
  const bigLvs: LvsSnapshot = {
    virtualServers: Array.from({ length: 1000 }, (_, v) => ({
      name: `203.0.113.${(v % 250) + 1} ${1000 + v}`,
      protocol: 'tcp',
      family: 'inet',
      quorumUp: true,
      realServers: Array.from({ length: 10 }, (_, r) => ({
        addr: `198.51.100.${r + 1}`,
        port: 1000 + v,
        up: r % 2 === 0,
        weight: r,
      })),
    })),
  };

  it('/metrics: 1,000 instances and 10,000 real servers are written in slices of 250 samples, a break after each', async () => {
    let breaks = 0;
    const chunks: string[] = [];
    await createRegistry(
      { vrrp: () => many(1000), lvs: () => bigLvs, counters: new Counters() },
      async () => {
        breaks++;
      },
    ).write((c) => chunks.push(c));
    const text = chunks.join('');
    const samples = text.split('\n').filter((l) => /^keepalived_(?!ts_(process|nodejs))/.test(l));
    // 18 per-instance families + 4 rx-drop codes per instance, 2 per real server, 1 per vs, keepalived_up
    expect(samples).toHaveLength(1000 * 18 + 1000 * 4 + 10_000 * 2 + 1000 + 1);
    expect(breaks).toBe(chunks.length - 1);
    expect(breaks).toBeGreaterThanOrEqual(Math.floor(samples.length / 250));
    // no slice but the last (Node's process metrics) carries more than 250 samples
    for (const c of chunks.slice(0, -1))
      expect(c.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length).toBeLessThanOrEqual(250);
    expect(samples).toContain(
      'keepalived_ts_lvs_real_server_weight{virtual_server="203.0.113.250 1249",protocol="tcp",family="inet",real_server="198.51.100.10:1249"} 9',
    );
  });

  it('/state: the sliced JSON is byte for byte JSON.stringify of the document', async () => {
    let breaks = 0;
    const pause = async () => {
      breaks++;
    };
    const cases: MetricsSources[] = [
      { vrrp: () => many(1000), lvs: () => bigLvs, counters: new Counters() },
      { counters: new Counters() },
      { vrrp: () => [], lvs: () => ({ virtualServers: [] }), counters: new Counters() },
      // a snapshot member beyond virtualServers keeps its place in the document
      {
        vrrp: () => many(3),
        lvs: () => ({ ...lvs, extra: { a: 1 } }) as LvsSnapshot,
        counters: new Counters(),
      },
    ];
    for (const src of cases) expect(await stateJson(src, pause)).toBe(JSON.stringify(stateDocument(src)));
    expect(breaks).toBe(10 + 10);
  });

  it('escapes label values and keeps odd values readable', async () => {
    const counters = new Counters();
    counters.inc('a"b\\c\nd', 2);
    const text = await createRegistry({ counters }).metrics();
    expect(text.split('\n')).toContain('keepalived_ts_events_total{name="a\\"b\\\\c\\nd"} 2');
  });
});

describe('--metrics-address', () => {
  it('is a daemon option taking a value, in both long forms', () => {
    for (const argv of [['--metrics-address', '192.0.2.1:9650'], ['--metrics-address=192.0.2.1:9650']]) {
      const r = parseOptions(argv);
      expect(r.ok && r.opts.metricsAddress).toBe('192.0.2.1:9650');
    }
    expect(parseOptions(['--metrics-address']).ok).toBe(false);
    const none = parseOptions(['-n']);
    expect(none.ok && none.opts.metricsAddress).toBeUndefined();
  });
  it('takes HOST:PORT and [V6]:PORT', () => {
    expect(parseListenAddress('192.0.2.1:9650')).toEqual({ host: '192.0.2.1', port: 9650 });
    expect(parseListenAddress('[fd00::1]:0')).toEqual({ host: 'fd00::1', port: 0 });
    expect(parseListenAddress('localhost:9650')).toEqual({ host: 'localhost', port: 9650 });
  });
  it.each(['9650', 'fd00::1:9650', '192.0.2.1:', '192.0.2.1:70000', '[fd00::1]', ''])(
    'rejects %j with KA_ERR_DAEMON_METRICS',
    (bad) => {
      expect(() => parseListenAddress(bad)).toThrow(KaError);
      try {
        parseListenAddress(bad);
      } catch (e) {
        expect((e as KaError).code).toBe('KA_ERR_DAEMON_METRICS');
      }
    },
  );
});
