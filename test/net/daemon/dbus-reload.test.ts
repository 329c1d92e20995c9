/**
 * enable_dbus changed by a reload (keepalived 2.2.7, observed by the DBus review on a private bus):
 * a reload that adds it takes the bus name, one that drops it releases the name. A private
 * dbus-daemon (test/net/dbus/private-bus.ts) is pointed at with DBUS_SYSTEM_BUS_ADDRESS.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';
import { type PrivateBus, startPrivateBus } from '../dbus/private-bus.js';

const NAME = 'org.keepalived.Vrrp1';

const config = (dbus: boolean) => `
global_defs {
  ${dbus ? 'enable_dbus' : ''}
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 74
  priority 255
  advert_int 1
  virtual_ipaddress {
    192.0.2.74/24
  }
}
`;

describeIf('enable_dbus added and removed by a reload of keepalived-ts', needLab, () => {
  let topo: Topology | undefined;
  let bus: PrivateBus | undefined;

  beforeAll(async () => {
    bus = await startPrivateBus();
    topo = await createTopology({ nodes: [{ name: 'r', links: [{ addrs: ['192.0.2.1/24'] }] }] });
  });

  afterAll(async () => {
    await topo?.destroy();
    await bus?.stop();
  });

  it('takes the name at a reload that adds enable_dbus and releases it at one that drops it', async () => {
    const r = topo!.node('r');
    const owned = async () =>
      (await bus!.busctl(['list', '--no-legend'])).split('\n').some((l) => l.startsWith(`${NAME} `));
    const prior = process.env.DBUS_SYSTEM_BUS_ADDRESS;
    process.env.DBUS_SYSTEM_BUS_ADDRESS = bus!.address;
    let h: ReturnType<typeof r.startDaemon>;
    try {
      // the node's spawn copies process.env as it starts the daemon
      h = r.startDaemon({ command: keepalivedTsCommand(), config: config(false), name: 'ka-dbusreload' });
    } finally {
      if (prior === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
      else process.env.DBUS_SYSTEM_BUS_ADDRESS = prior;
    }
    await waitForHolders([r], '192.0.2.74', ['r'], 15_000);
    expect(await owned()).toBe(false);
    const reloads = () => (h.proc.output().match(/Reload complete/g) ?? []).length;

    writeFileSync(h.configPath, config(true));
    h.proc.signal('SIGHUP');
    await waitFor({
      what: 'the bus name taken',
      timeoutMs: 15_000,
      probe: async () => ((await owned()) ? true : undefined),
    });
    expect(reloads()).toBe(1);
    // the instance is served under its path, with its state
    const state = await bus!.busctl([
      'get-property',
      NAME,
      '/org/keepalived/Vrrp1/Instance/eth0/74/IPv4',
      'org.keepalived.Vrrp1.Instance',
      'State',
    ]);
    expect(state.trim()).toBe('(us) 2 "Master"');

    writeFileSync(h.configPath, config(false));
    h.proc.signal('SIGHUP');
    await waitFor({
      what: 'the bus name released',
      timeoutMs: 15_000,
      probe: async () => ((await owned()) ? undefined : true),
    });
    expect(h.proc.running).toBe(true);
    expect(await r.hasAddress('192.0.2.74')).toBe(true);
  });
});
