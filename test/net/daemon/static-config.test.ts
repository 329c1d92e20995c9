/**
 * StaticConfig against the kernel, in a namespace of its own: static addresses (IPv4 and IPv6),
 * routes (an onlink one through an off-subnet gateway, one with mtu lock / metric / table) and rules
 * applied over a real NetState, read back with `ip -n NS`; leftovers of a previous run taken over;
 * a reload that keeps, removes and adds one of each, with `ip monitor` proving the kept ones were
 * neither deleted nor re-added; a deleted static address, route and rule restored; everything removed
 * at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { Counters } from '../../../src/core/counters.js';
import { NetState } from '../../../src/daemon/netstate.js';
import { StaticConfig } from '../../../src/daemon/static-config.js';
import { enterNetns } from '../../../src/sys/netns.js';
import { needLab } from '../../lab/gates.js';
import type { LabNode, LabProcess } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const BEFORE = `
static_ipaddress {
  192.0.2.10/24 dev eth0
  192.0.2.11/24 dev eth0
  fd00::10/64 dev eth0
}
static_routes {
  203.0.113.0/24 via 198.51.100.1 dev eth0 onlink
  198.51.100.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 metric 50 table 100
  198.51.100.64/26 dev eth0 metric 7
}
static_rules {
  from 192.0.2.10 table 100 preference 1000
  from 192.0.2.11 table 100 preference 1001
}
`;
// kept: .10, fd00::10, the onlink route, the table 100 route, rule 1000; removed: .11, the /26,
// rule 1001; added: .12, 203.0.113.128/25 with advmss, rule 1002
const AFTER = `
static_ipaddress {
  192.0.2.10/24 dev eth0
  fd00::10/64 dev eth0
  192.0.2.12/24 dev eth0
}
static_routes {
  203.0.113.0/24 via 198.51.100.1 dev eth0 onlink
  198.51.100.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 metric 50 table 100
  203.0.113.128/25 via 192.0.2.254 dev eth0 advmss 1300
}
static_rules {
  from 192.0.2.10 table 100 preference 1000
  from 192.0.2.12 table 100 preference 1002
}
`;

describeIf('static addresses, routes and rules in a namespace', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let net: NetState | undefined;
  let mon: LabProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'static-net-'));
  const counters = new Counters();

  const load = (name: string, text: string): KeepalivedConfig => {
    const path = join(dir, name);
    writeFileSync(path, text);
    const { config, diagnostics } = loadConfig(path, { configId: 'test' });
    expect(diagnostics.filter((d) => d.severity !== 'warning').map((d) => d.message)).toEqual([]);
    return config;
  };
  const state = async () => ({
    v4: (await n.ip(['-4', 'addr', 'show', 'dev', 'eth0'])).trim(),
    v6: (await n.ip(['-6', 'addr', 'show', 'dev', 'eth0'])).trim(),
    main: (await n.ip(['route', 'show'])).trim(),
    t100: (await n.ip(['route', 'show', 'table', '100'])).trim(),
    rules: (await n.ip(['rule', 'show'])).trim(),
  });

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 's', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('s');
    // NetState's sockets are opened synchronously inside open(), so they live in the namespace
    const back = enterNetns(n.ns);
    let opening: Promise<NetState>;
    try {
      opening = NetState.open({ counters });
    } finally {
      back();
    }
    net = await opening;
  });

  afterAll(async () => {
    net?.close();
    await mon?.stop();
    await topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies, reconciles without touching kept entries, restores deleted entries, removes all', async () => {
    // followRoutes opens its route/rule notification socket at construction: inside the namespace
    const back = enterNetns(n.ns);
    let s: StaticConfig;
    try {
      s = new StaticConfig({ net: net!, counters, followRoutes: true });
    } finally {
      back();
    }
    // leftovers of a crashed run: one address, one route, one rule of the configuration
    await n.ip(['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
    await n.ip([
      'route',
      'add',
      '198.51.100.64/26',
      'dev',
      'eth0',
      'metric',
      '7',
      'proto',
      'keepalived',
      'scope',
      'global',
    ]);
    await n.ip(['rule', 'add', 'from', '192.0.2.10', 'table', '100', 'pref', '1000', 'proto', 'keepalived']);

    let t = performance.now();
    const applied = await s.apply(load('before.conf', BEFORE));
    const applyMs = performance.now() - t;
    expect(applied.errors.map((e) => e.message)).toEqual([]);
    expect(applied).toMatchObject({ added: 8, failed: 0 });
    const on = await state();
    console.log(
      `static: applied in ${applyMs.toFixed(1)} ms\n${on.v4}\n${on.v6}\n${on.main}\n${on.t100}\n${on.rules}`,
    );
    expect(on.v4).toMatch(/inet 192\.0\.2\.10\/24 scope global secondary eth0/);
    expect(on.v4).toMatch(/inet 192\.0\.2\.11\/24 scope global secondary eth0/);
    expect(on.v6).toMatch(/inet6 fd00::10\/64 scope global nodad/);
    expect(on.main).toMatch(/^203\.0\.113\.0\/24 via 198\.51\.100\.1 dev eth0 proto keepalived onlink\s*$/m);
    // scope global (not shown), as keepalived 2.2.7 installs a dev-only route
    expect(on.main).toMatch(/^198\.51\.100\.64\/26 dev eth0 proto keepalived metric 7\s*$/m);
    expect(on.t100).toMatch(
      /^198\.51\.100\.0\/24 via 192\.0\.2\.254 dev eth0 proto keepalived metric 50 mtu lock 1400\s*$/m,
    );
    expect(on.rules).toMatch(/^1000:\s+from 192\.0\.2\.10 lookup 100 proto keepalived$/m);
    expect(on.rules).toMatch(/^1001:\s+from 192\.0\.2\.11 lookup 100 proto keepalived$/m);
    // the leftovers were taken over, not duplicated
    expect(on.rules.match(/^1000:/gm)).toHaveLength(1);
    expect(on.main.match(/198\.51\.100\.64\/26/g)).toHaveLength(1);

    // ip monitor, ready once it reports a marker address
    mon = n.spawn(['ip', 'monitor', 'address', 'route', 'rule'], { name: 'monitor' });
    await waitFor({
      what: 'ip monitor reporting',
      probe: async () => {
        await n.ip(['addr', 'replace', '203.0.113.250/32', 'dev', 'eth0']);
        return mon!.stdout().includes('203.0.113.250/32');
      },
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    const from = mon.stdout().length;

    t = performance.now();
    const reloaded = await s.reconcile(load('after.conf', AFTER));
    const reconcileMs = performance.now() - t;
    expect(reloaded.errors.map((e) => e.message)).toEqual([]);
    expect(reloaded).toMatchObject({ added: 3, removed: 3, kept: 5, failed: 0 });
    // a second marker flushes every event of the reload through the monitor
    await n.ip(['addr', 'add', '203.0.113.251/32', 'dev', 'eth0']);
    await mon.waitForOutput(/203\.0\.113\.251\/32/, 10_000);
    const events = mon
      .stdout()
      .slice(from)
      .split('\n')
      .filter((l) => !/203\.0\.113\.25[01]/.test(l));
    const text = events.join('\n');
    console.log(`static: reconciled in ${reconcileMs.toFixed(1)} ms; ip monitor:\n${text}`);
    for (const kept of ['192.0.2.10', 'fd00::10', '203.0.113.0/24', '198.51.100.0/24', '1000:'])
      expect(text, `kept entry ${kept} was touched`).not.toContain(kept);
    expect(text).toMatch(/^Deleted .*inet 192\.0\.2\.11\/24/m);
    expect(text).toMatch(/^Deleted 198\.51\.100\.64\/26/m);
    expect(text).toMatch(/^Deleted 1001:/m);
    expect(text).toMatch(/^\d+: eth0\s+inet 192\.0\.2\.12\/24/m);
    expect(text).toMatch(/^203\.0\.113\.128\/25 via 192\.0\.2\.254 dev eth0 proto keepalived advmss 1300/m);
    expect(text).toMatch(/^1002:\s+from 192\.0\.2\.12 lookup 100 proto keepalived/m);
    const mid = await state();
    expect(mid.v4).not.toContain('192.0.2.11');
    expect(mid.rules).not.toContain('1001:');

    // deleted behind our back: restored from the netlink notification
    await n.ip(['addr', 'del', '192.0.2.12/24', 'dev', 'eth0']);
    await waitFor({
      what: 'static address 192.0.2.12 restored',
      probe: async () => (await n.ip(['-4', 'addr', 'show', 'dev', 'eth0'])).includes('192.0.2.12/24'),
      timeoutMs: 10_000,
    });
    await s.settled();
    expect(counters.get('static.restored')).toBe(1);

    // a route and a rule deleted behind our back: restored from the route / rule notifications
    await n.ip(['route', 'del', '203.0.113.0/24']);
    await n.ip(['rule', 'del', 'pref', '1000']);
    const back2 = await waitFor({
      what: 'static route and rule restored',
      probe: state,
      until: (x) =>
        /203\.0\.113\.0\/24 via 198\.51\.100\.1 dev eth0 proto keepalived onlink/.test(x.main) &&
        /^1000:/m.test(x.rules),
      timeoutMs: 10_000,
    });
    expect(back2.rules.match(/^1000:/gm)).toHaveLength(1);
    await s.settled();
    expect(counters.get('static.restored')).toBe(3);

    t = performance.now();
    const removed = await s.remove();
    const removeMs = performance.now() - t;
    expect(removed).toMatchObject({ removed: 8, failed: 0 });
    const off = await state();
    console.log(
      `static: removed in ${removeMs.toFixed(1)} ms\n${off.v4}\n${off.main}\n${off.t100}\n${off.rules}`,
    );
    for (const gone of ['192.0.2.10', '192.0.2.12']) expect(off.v4).not.toContain(gone);
    expect(off.v4).toContain('192.0.2.1/24');
    expect(off.v6).not.toContain('fd00::10');
    expect(off.main).not.toContain('proto keepalived');
    expect(off.t100).toBe('');
    expect(off.rules).not.toMatch(/^100[0-2]:/m);
    expect(counters.get('static.errors')).toBe(0);
  });
});
