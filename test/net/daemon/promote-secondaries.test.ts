/**
 * promote_secondaries (vrrp_instance): keepalived 2.2.7 sets net.ipv4.conf.<if>.promote_secondaries=1
 * on the instance's interface at start (observed: 1 during vrrp_startup_delay already) and puts 0 back
 * at stop; an interface found at 1 is left alone (keepalived marks it "already set"). With it, the
 * kernel keeps a VIP (a secondary address) when the interface's primary address is deleted. A reload
 * (SIGHUP) that adds or removes the keyword sets it or puts 0 back on the running instance's interface.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const config = (promote: boolean) => `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 71
  priority 255
  advert_int 1
  ${promote ? 'promote_secondaries' : ''}
  virtual_ipaddress {
    192.0.2.71/24
  }
}
`;

const sysctl = async (n: LabNode, ifname = 'eth0') =>
  (await n.exec('cat', [`/proc/sys/net/ipv4/conf/${ifname}/promote_secondaries`])).trim();

/** Waits for the node's eth0 promote_secondaries to read `want`, then asserts it. */
async function sysctlBecomes(n: LabNode, want: string, what: string) {
  await waitFor({
    what: `promote_secondaries ${want} ${what}`,
    timeoutMs: 10_000,
    probe: async () => ((await sysctl(n)) === want ? true : undefined),
  });
  expect(await sysctl(n)).toBe(want);
}

describeIf('promote_secondaries of a running keepalived-ts', needLab, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'e', links: [{ addrs: ['192.0.2.2/24'] }] },
        { name: 'f', links: [{ addrs: ['192.0.2.3/24'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('sets promote_secondaries=1 while running and 0 again at stop; the VIP survives losing the primary', async () => {
    const d = topo!.node('d');
    // a namespace's interfaces may inherit 1 (devconf_inherit_init_net): start from 0
    await d.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=0']);
    const h = d.startDaemon({ command: keepalivedTsCommand(), config: config(true), name: 'ka-promote' });
    await waitForHolders([d], '192.0.2.71', ['d'], 15_000);
    expect(await sysctl(d)).toBe('1');
    // the VIP is a secondary of 192.0.2.1/24: promoted, not flushed, when the primary goes
    await d.ip(['addr', 'del', '192.0.2.1/24', 'dev', 'eth0']);
    expect(await d.hasAddress('192.0.2.71')).toBe(true);
    await h.proc.stop();
    await sysctlBecomes(d, '0', 'at stop');
  });

  it('leaves an interface already at 1 untouched, and does nothing without the keyword', async () => {
    const e = topo!.node('e');
    await e.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=1']);
    const h = e.startDaemon({ command: keepalivedTsCommand(), config: config(true), name: 'ka-already' });
    await waitForHolders([e], '192.0.2.71', ['e'], 15_000);
    await h.proc.stop();
    expect(await sysctl(e)).toBe('1');
    await e.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=0']);
    const h2 = e.startDaemon({ command: keepalivedTsCommand(), config: config(false), name: 'ka-without' });
    await waitForHolders([e], '192.0.2.71', ['e'], 15_000);
    expect(await sysctl(e)).toBe('0');
    await h2.proc.stop();
  });

  it('a reload turning promote_secondaries on sets it to 1; turning it off puts 0 back', async () => {
    const f = topo!.node('f');
    await f.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=0']);
    const h = f.startDaemon({ command: keepalivedTsCommand(), config: config(false), name: 'ka-reload' });
    await waitForHolders([f], '192.0.2.71', ['f'], 15_000);
    expect(await sysctl(f)).toBe('0');
    const reload = async (promote: boolean, want: string) => {
      writeFileSync(h.configPath, config(promote));
      h.proc.signal('SIGHUP');
      await sysctlBecomes(f, want, 'after reload');
    };
    await reload(true, '1');
    expect(h.proc.output()).toContain('(VI_1) reload: applying changed promoteSecondaries');
    await reload(false, '0');
    // the instance was kept (no restart) and still holds the VIP
    expect(h.proc.output().match(/\(VI_1\) Entering MASTER STATE/g) ?? []).toHaveLength(1);
    expect(await f.hasAddress('192.0.2.71')).toBe(true);
    expect(h.proc.running).toBe(true);
    await h.proc.stop();
    expect(await sysctl(f)).toBe('0');
  });
});
