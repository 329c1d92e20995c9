/**
 * Every route / rule option vroutes.ts applies, accepted by the kernel: each configured line is
 * added with routeMessages / ruleMessages over a NetState in a namespace of its own, read back with
 * `ip -n NS route|rule`, deleted with the matching delete message and checked gone; route types
 * (local, broadcast, anycast, multicast, a number) are read back with theirs. Also: the onlink route
 * through an off-subnet gateway that the kernel refuses without the flag, and the types it refuses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { NetState } from '../../../src/daemon/netstate.js';
import { routeMessages, ruleMessages } from '../../../src/daemon/vroutes.js';
import { isSysError } from '../../../src/sys/errors.js';
import { enterNetns } from '../../../src/sys/netns.js';
import { needLab } from '../../lab/gates.js';
import type { LabNode } from '../../lab/node.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

/** [configured line, `ip` arguments that list it, fragments the kernel's line must show] */
const ROUTES: [string, string[], string[]][] = [
  [
    '203.0.113.0/24 via 198.51.100.1 dev eth0 onlink',
    ['route', 'show'],
    ['via 198.51.100.1 dev eth0', 'onlink'],
  ],
  [
    '198.51.100.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 advmss 1360 metric 50 table 100 initcwnd 10 initrwnd 20 rtt 300ms rttvar 250ms rto_min 200ms hoplimit 9 features ecn quickack 1 fastopen_no_cookie 1 window 7 cwnd lock 8 ssthresh 9 reordering 4 congctl reno',
    ['route', 'show', 'table', '100'],
    [
      'metric 50',
      'mtu lock 1400',
      'advmss 1360',
      'initcwnd 10',
      'initrwnd 20',
      'rtt 300ms',
      'rttvar 250ms',
      'rto_min 200ms',
      'hoplimit 9',
      'features ecn',
      'quickack 1',
      'fastopen_no_cookie 1',
      'window 7',
      'cwnd lock 8',
      'ssthresh 9',
      'reordering 4',
      'congctl reno',
    ],
  ],
  [
    '198.51.100.0/24 dev eth0 tos 0x04 realms 3/7',
    // no scope given: universe, as keepalived 2.2.7 sends (iproute2 would pick link)
    ['-d', 'route', 'show'],
    ['tos 0x04', 'realms 3/7', 'scope global'],
  ],
  [
    '198.51.100.0/24 dev eth0 protocol static no_track src 192.0.2.1',
    ['route', 'show'],
    ['proto static', 'src 192.0.2.1'],
  ],
  ['blackhole 198.51.100.0/24 table 1000', ['route', 'show', 'table', '1000'], ['blackhole 198.51.100.0/24']],
  [
    '198.51.100.0/24 nexthop via 192.0.2.2 dev eth0 weight 2 nexthop via 192.0.2.3 dev eth0',
    ['route', 'show'],
    ['nexthop via 192.0.2.2 dev eth0 weight 2', 'nexthop via 192.0.2.3 dev eth0 weight 1'],
  ],
  // route types beyond unicast/blackhole/...: the RTN_* the config gives, read back from the kernel
  [
    'local 198.51.100.7 dev eth0 table 100 scope host',
    ['route', 'show', 'table', 'all'],
    ['local 198.51.100.7 dev eth0 table 100', 'scope host'],
  ],
  [
    'broadcast 198.51.100.255 dev eth0 table 100 scope link',
    ['route', 'show', 'table', 'all'],
    ['broadcast 198.51.100.255 dev eth0 table 100', 'scope link'],
  ],
  [
    'anycast 198.51.100.8 dev eth0 table 100 scope link',
    ['route', 'show', 'table', 'all'],
    ['anycast 198.51.100.8 dev eth0 table 100', 'scope link'],
  ],
  [
    'multicast 203.0.113.0/24 dev eth0 table 100',
    ['route', 'show', 'table', '100'],
    ['multicast 203.0.113.0/24'],
  ],
  // a number is the RTN_* itself: 2 is local
  [
    '2 198.51.100.9 dev eth0 table 100 scope host',
    ['route', 'show', 'table', 'all'],
    ['local 198.51.100.9 dev eth0 table 100'],
  ],
  [
    'fd00:1::/64 via fd00::2 dev eth0 metric 10 pref high expires 300',
    ['-6', 'route', 'show'],
    ['metric 10', 'expires', 'pref high'],
  ],
  // what keepalived 2.2.7 installs for these (read back with ip route in its namespace): table
  // numbers cut to 32 bits, octal; a bare rtt in kernel units and times kept in [200 ms, 120 s]
  [
    '198.51.100.1 dev eth0 table -1',
    ['route', 'show', 'table', 'all'],
    ['198.51.100.1 dev eth0 table 4294967295'],
  ],
  ['198.51.100.2 dev eth0 table 010', ['route', 'show', 'table', 'all'], ['198.51.100.2 dev eth0 table 8']],
  ['198.51.100.3 dev eth0 rtt 300', ['route', 'show'], ['rtt 200ms']],
  ['198.51.100.4 dev eth0 rtt 121s rttvar lock 1', ['route', 'show'], ['rtt 120s', 'rttvar lock 200ms']],
  // C numbers where keepalived reads them with strtoul base 0 (010 is 8: proto gated); times rounded
  [
    '198.51.100.5 dev eth0 scope 010 protocol 010 tos 010 no_track',
    ['-d', 'route', 'show'],
    ['proto gated', 'scope 8', 'tos 0x08'],
  ],
  ['198.51.100.6 dev eth0 rtt 1.0005s rto_min 300.5', ['route', 'show'], ['rtt 1.001s', 'rto_min 301ms']],
];

const RULES: [string, string[]][] = [
  [
    'from 192.0.2.10 to 198.51.100.0/24 table 100 preference 1100 ipproto tcp sport 1000-2000 dport 80-80 uidrange 100-200',
    [
      '1100:',
      'from 192.0.2.10 to 198.51.100.0/24',
      'ipproto tcp',
      'sport 1000-2000',
      'dport 80',
      'uidrange 100-200',
      'lookup 100',
    ],
  ],
  ['not from 192.0.2.11 table 100 preference 1101 tos 0x04', ['1101:', 'not from 192.0.2.11', 'tos 0x04']],
  [
    'fwmark 0x10/0xff table 100 preference 1102 suppress_prefixlength 0',
    ['1102:', 'fwmark 0x10/0xff', 'suppress_prefixlength 0'],
  ],
  ['from 192.0.2.12 goto 1105 preference 1103', ['1103:', 'goto 1105']],
  ['from 192.0.2.13 table 100 preference 1104 realms 5', ['1104:', 'realms 5']],
  // as keepalived 2.2.7 installs them
  ['from 192.0.2.14 table -1 preference 1105', ['1105:', 'lookup 4294967295']],
  ['from 192.0.2.15 table 010 preference 1106', ['1106:', 'lookup 8']],
  [
    'from 192.0.2.16 table 100 suppress_prefixlength 129 preference 1107',
    ['1107:', 'suppress_prefixlength 129'],
  ],
  // keepalived 2.2.7: fwmark, realms, suppress_ifgroup and preference are C numbers (010 is 8)
  [
    'from 192.0.2.17 table 100 fwmark 010/017 realms 010/011 suppress_ifgroup 010 preference 010',
    ['8:', 'fwmark 0x8/0xf', 'realms 8/9', 'suppress_ifgroup 8'],
  ],
  ['from 192.0.2.18 table 100 preference 0x20', ['32:', 'lookup 100']],
  // and a leading '+' is a number
  ['from 192.0.2.19 goto +1120 protocol +4 no_track preference 1108', ['1108:', 'goto 1120', 'proto static']],
  [
    'from 192.0.2.20 table 100 fwmark +5/+7 realms +3/+4 suppress_ifgroup +5 tos +4 preference 1109',
    ['1109:', 'fwmark 0x5/0x7', 'realms 3/4', 'suppress_ifgroup 5', 'tos 0x04'],
  ],
];

describeIf('route and rule options accepted by the kernel', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let net: NetState | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'vroutes-net-'));
  let k = 0;
  const load = (block: string, line: string): KeepalivedConfig => {
    const path = join(dir, `k${k++}.conf`);
    writeFileSync(path, `${block} {\n  ${line}\n}\n`);
    const { config, diagnostics } = loadConfig(path, { configId: 'test' });
    // keepalived 2.2.7 reports a rounded time and keeps the route
    const kept = (m: string) => m.endsWith('has too many decimal places');
    expect(
      diagnostics.filter((d) => d.severity !== 'warning' && !kept(d.message)).map((d) => d.message),
    ).toEqual([]);
    return config;
  };
  const resolve = (dev: string) => net!.link(dev)?.ifindex;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [{ name: 'r', links: [{ addrs: ['192.0.2.1/24', 'fd00::1/64'] }] }],
    });
    n = topo.node('r');
    await n.ip(['-6', 'addr', 'change', 'fd00::1/64', 'dev', 'eth0', 'nodad']);
    const back = enterNetns(n.ns);
    let opening: Promise<NetState>;
    try {
      opening = NetState.open();
    } finally {
      back();
    }
    net = await opening;
  });

  afterAll(async () => {
    net?.close();
    await topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an off-subnet gateway needs onlink: refused without it', async () => {
    const plain = routeMessages(
      load('static_routes', '203.0.113.0/24 via 198.51.100.1 dev eth0').staticRoutes[0]!,
      resolve,
    );
    let err: unknown;
    try {
      await net!.request(plain.add);
    } catch (e) {
      err = e;
    }
    expect(isSysError(err, 'ENETUNREACH')).toBe(true);
  });

  it('routes: every option shows in `ip route`, and the delete message removes the route', async () => {
    for (const [line, show, fragments] of ROUTES) {
      const m = routeMessages(load('static_routes', line).staticRoutes[0]!, resolve);
      await net!.request(m.add);
      // the prefix: the first word with a dot or colon (a type word may come first)
      const dst = line.split(' ').find((w) => /[.:]/.test(w))!;
      const out = (await n.ip(show)).trim();
      console.log(`${line}\n  -> ${out.replace(/\n/g, '\n     ')}`);
      expect(out, line).toContain(dst);
      for (const f of fragments) expect(out, `${line}: ${f}`).toContain(f);
      // a no_track route with a protocol lists its own among the fragments
      if (!fragments.some((f) => f.startsWith('proto '))) expect(out).toContain('proto keepalived');
      await net!.request(m.del);
      expect(await n.ip(show), line).not.toContain(dst);
    }
  });

  it('types the kernel refuses are sent as configured and refused (EINVAL), as keepalived 2.2.7 logs', async () => {
    // keepalived 2.2.7 with these static_routes: "Netlink: error: Invalid argument(22), type=RTM_NEWROUTE"
    // for each; IPv4 has no nat/xresolve routes, and local without a scope is sent with scope universe
    for (const line of [
      'nat 203.0.113.9 dev eth0 table 100 scope host',
      'xresolve 203.0.113.64/26 dev eth0 table 100',
      'local 198.51.100.7 dev eth0 table 100',
    ]) {
      let err: unknown;
      try {
        await net!.request(routeMessages(load('static_routes', line).staticRoutes[0]!, resolve).add);
      } catch (e) {
        err = e;
      }
      expect(isSysError(err, 'EINVAL'), line).toBe(true);
    }
    expect((await n.ip(['route', 'show', 'table', '100'])).trim()).toBe('');
  });

  it('append puts a second route to the same prefix after the first (without it: before)', async () => {
    const msgs = (line: string) => routeMessages(load('static_routes', line).staticRoutes[0]!, resolve);
    const first = msgs('198.51.100.0/24 via 192.0.2.4 dev eth0');
    const order = async (line: string) => {
      const second = msgs(line);
      await net!.request(first.add);
      await net!.request(second.add);
      const out = await n.ip(['route', 'show', '198.51.100.0/24']);
      await net!.request(second.del);
      await net!.request(first.del);
      return out
        .split('\n')
        .map((l) => / via (\S+)/.exec(l)?.[1])
        .filter(Boolean);
    };
    expect(await order('198.51.100.0/24 via 192.0.2.5 dev eth0 append')).toEqual(['192.0.2.4', '192.0.2.5']);
    expect(await order('198.51.100.0/24 via 192.0.2.5 dev eth0')).toEqual(['192.0.2.5', '192.0.2.4']);
  });

  it('rules: every option shows in `ip rule`, and the delete message removes the rule', async () => {
    for (const [line, fragments] of RULES) {
      const m = ruleMessages(load('static_rules', line).staticRules[0]!);
      await net!.request(m.add);
      const out = (await n.ip(['rule', 'show'])).split('\n').find((l) => l.startsWith(fragments[0]!)) ?? '';
      console.log(`${line}\n  -> ${out}`);
      for (const f of fragments) expect(out, `${line}: ${f}`).toContain(f);
      await net!.request(m.del);
      expect(await n.ip(['rule', 'show']), line).not.toContain(fragments[0]!);
    }
  });
});
