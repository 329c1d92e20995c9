/**
 * DaemonDbus on a private dbus-daemon (private-bus.ts), driven and watched with busctl: the tree,
 * the properties, the methods and their actions, the signals through start, changes of state,
 * reload and stop; a name already owned and a bus that dies are typed failures, never a crash.
 * The instances are honest stand-ins (a name, a state, change listeners) for VrrpHost's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sessionBus } from '@particle/dbus-next';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { DaemonDbus } from '../../../src/dbus/daemon.js';
import { DbusErrors } from '../../../src/dbus/errors.js';
import { ensurePackagesSync } from '../../lab/gates.js';
import { waitFor } from '../../lab/observe.js';
import { describeIf } from '../../support/privilege.js';
import { type BusMessage, type PrivateBus, startPrivateBus } from './private-bus.js';

const needBus = () => ensurePackagesSync(['dbus-daemon', 'systemd']);

class FakeInstance {
  private readonly listeners: (() => void)[] = [];
  constructor(
    readonly name: string,
    public state: number,
  ) {}
  onChange(l: () => void): void {
    this.listeners.push(l);
  }
  set(s: number): void {
    this.state = s;
    for (const l of this.listeners) l();
  }
}

const CONF = (vrid6: number, withV3: boolean) => `global_defs {
  enable_dbus
}
vrrp_instance VI_1 {
  interface e0
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 192.0.2.100/24 }
}
vrrp_instance VI_6 {
  interface e0
  virtual_router_id ${vrid6}
  priority 100
  virtual_ipaddress { fd00::100/64 }
}
${withV3 ? 'vrrp_instance VI_3 {\n  interface e0\n  virtual_router_id 60\n  priority 100\n  virtual_ipaddress { 192.0.2.103/24 }\n}' : ''}
`;

const NAME = 'org.keepalived.Vrrp1';
const ROOT = '/org/keepalived/Vrrp1';
const VI1 = `${ROOT}/Instance/e0/51/IPv4`;

/** The keepalived signals of a monitor, as `path member [args]`. */
const said = (msgs: BusMessage[]) =>
  msgs
    .filter((m) => m.interface?.startsWith('org.keepalived.'))
    .map((m) => `${m.path} ${m.member}${m.payload?.data.length ? ` ${JSON.stringify(m.payload.data)}` : ''}`);

describeIf('DaemonDbus on a private bus', needBus, () => {
  let bus: PrivateBus;
  const dir = mkdtempSync(join(tmpdir(), 'kt-dbus-net-'));
  const config = (vrid6: number, withV3 = false) => {
    const f = join(dir, `k-${vrid6}-${withV3}.conf`);
    writeFileSync(f, CONF(vrid6, withV3));
    return loadConfig(f, { configId: 'x' }).config;
  };
  const calls: string[] = [];
  const actions = {
    printData: () => void calls.push('data'),
    printStats: (clear: boolean) => void calls.push(clear ? 'stats+clear' : 'stats'),
    reload: () => void calls.push('reload'),
    sendGarp: (name: string) => {
      calls.push(`garp ${name}`);
      if (name === 'VI_6') throw new Error('no link');
    },
  };

  beforeAll(async () => {
    bus = await startPrivateBus();
  });
  afterAll(async () => {
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('start, properties, methods, changes of state, reload and stop, as keepalived does them', async () => {
    const mon = await bus.monitor();
    const counters = new Counters();
    const vi1 = new FakeInstance('VI_1', 0);
    const vi6 = new FakeInstance('VI_6', 0);
    const d = DaemonDbus.create(config(52), {
      log: silentLogger,
      counters,
      actions,
      busAddress: bus.address,
    });
    if (!d) throw new Error('enable_dbus gave no service');
    // the daemon starts the bus before its instances, which are followed once they run
    const started = d.start();
    vi1.state = 1;
    vi6.state = 1;
    d.watch([vi1, vi6]);
    expect(await started).toBe(true);

    expect((await bus.busctl(['tree', '--list', NAME])).split('\n')).toEqual([
      '/',
      '/org',
      '/org/keepalived',
      ROOT,
      `${ROOT}/Instance`,
      `${ROOT}/Instance/e0`,
      `${ROOT}/Instance/e0/51`,
      VI1,
      `${ROOT}/Instance/e0/52`,
      `${ROOT}/Instance/e0/52/IPv6`,
      `${ROOT}/Vrrp`,
    ]);
    const prop = async (path: string, p: string) =>
      JSON.parse(
        await bus.busctl(['get-property', '--json=short', NAME, path, 'org.keepalived.Vrrp1.Instance', p]),
      ) as unknown;
    expect(await prop(VI1, 'Name')).toEqual({ type: '(s)', data: ['VI_1'] });
    expect(await prop(VI1, 'State')).toEqual({ type: '(us)', data: [1, 'Backup'] });

    for (const m of ['PrintData', 'PrintStats', 'PrintStatsClear', 'ReloadConfig'])
      await bus.busctl(['call', NAME, `${ROOT}/Vrrp`, 'org.keepalived.Vrrp1.Vrrp', m]);
    await bus.busctl(['call', NAME, VI1, 'org.keepalived.Vrrp1.Instance', 'SendGarp']);
    await expect(
      bus.busctl(['call', NAME, `${ROOT}/Instance/e0/52/IPv6`, 'org.keepalived.Vrrp1.Instance', 'SendGarp']),
    ).rejects.toThrow(/SendGarp: no link/);
    await expect(
      bus.busctl(['call', NAME, `${ROOT}/Instance/e0/99/IPv4`, 'org.keepalived.Vrrp1.Instance', 'SendGarp']),
    ).rejects.toThrow(/Object does not exist at path/);
    expect(calls).toEqual(['data', 'stats', 'stats+clear', 'reload', 'garp VI_1', 'garp VI_6']);
    expect(counters.get(DbusErrors.KA_ERR_DBUS_ACTION)).toBe(1);
    expect(counters.get(DbusErrors.KA_ERR_DBUS_BAD_CALL)).toBe(1);

    vi1.set(2);
    vi6.set(3);
    expect(await prop(VI1, 'State')).toEqual({ type: '(us)', data: [2, 'Master'] });

    // reload: VI_6's object moves to VRID 53 (the path a kept instance without `interface` changes
    // when default_interface does; keepalived deletes and creates the object), VI_3 is new
    const vi3 = new FakeInstance('VI_3', 1);
    d.reloading();
    d.reloaded(config(53, true), [vi1, vi6, vi3]);
    expect((await bus.busctl(['tree', '--list', NAME])).split('\n')).toContain(`${ROOT}/Instance/e0/60/IPv4`);
    expect((await bus.busctl(['tree', '--list', NAME])).split('\n')).not.toContain(
      `${ROOT}/Instance/e0/52/IPv6`,
    );

    // stop: the instances leave for INIT (98 on the bus), then VrrpStopped
    for (const i of [vi1, vi6, vi3]) i.set(0);
    await d.stop();
    await waitFor({
      what: 'VrrpStopped on the monitor',
      probe: () => said(mon.signals(ROOT)).some((s) => s.endsWith('VrrpStopped')) || undefined,
      timeoutMs: 5000,
    });
    expect(said(mon.signals(ROOT))).toEqual([
      `${ROOT}/Vrrp VrrpStarted`,
      `${VI1} VrrpStatusChange [1]`,
      `${ROOT}/Instance/e0/52/IPv6 VrrpStatusChange [1]`,
      `${VI1} VrrpStatusChange [2]`,
      `${ROOT}/Instance/e0/52/IPv6 VrrpStatusChange [3]`,
      // keepalived's order (docs/DBUS.md): the old object's FAULT, VrrpReloaded, the new objects' states
      `${ROOT}/Instance/e0/52/IPv6 VrrpStatusChange [3]`,
      `${ROOT}/Vrrp VrrpReloaded`,
      `${ROOT}/Instance/e0/53/IPv6 VrrpStatusChange [3]`,
      `${ROOT}/Instance/e0/60/IPv4 VrrpStatusChange [1]`,
      `${VI1} VrrpStatusChange [98]`,
      `${ROOT}/Instance/e0/53/IPv6 VrrpStatusChange [98]`,
      `${ROOT}/Instance/e0/60/IPv4 VrrpStatusChange [98]`,
      `${ROOT}/Vrrp VrrpStopped`,
    ]);
    // the name is gone with the connection
    expect(await bus.busctl(['list', '--json=short'])).not.toContain(NAME);
    await mon.stop();
  });

  it('arguments of every DBus type are answered (InvalidArgs), the service stays up', async () => {
    const counters = new Counters();
    const d = DaemonDbus.create(config(52), {
      log: silentLogger,
      counters,
      actions,
      busAddress: bus.address,
    });
    try {
      expect(await d?.start()).toBe(true);
      const args: string[][] = [
        ['y', '7'],
        ['b', 'true'],
        ['n', '-3'],
        ['q', '3'],
        ['i', '-70000'],
        ['u', '70000'],
        ['x', '-9007199254740993'],
        ['t', '18446744073709551615'],
        ['d', '2.5'],
        ['s', ''],
        ['o', '/a/b'],
        ['g', 'a{sv}'],
        ['ay', '3', '1', '2', '3'],
        ['aay', '1', '2', '0', '0'],
        ['a{sv}', '1', 'k', 'v', 's', 'x'],
        ['v', 'as', '2', 'a', 'b'],
        ['(iay)', '1', '0'],
      ];
      for (const a of args)
        await expect(
          bus.busctl(['call', '--', NAME, `${ROOT}/Vrrp`, 'org.keepalived.Vrrp1.Vrrp', 'PrintData', ...a]),
        ).rejects.toThrow(/does not match expected type/);
      expect(counters.get(DbusErrors.KA_ERR_DBUS_BAD_CALL)).toBe(args.length);
      expect(counters.get(DbusErrors.KA_ERR_DBUS_CONNECT)).toBe(0);
      calls.length = 0;
      await bus.busctl(['call', NAME, `${ROOT}/Vrrp`, 'org.keepalived.Vrrp1.Vrrp', 'PrintData']);
      expect(calls).toEqual(['data']);
    } finally {
      await d?.stop();
    }
  });

  it('a name already owned: start() resolves false, KA_ERR_DBUS_NAME counted, nothing thrown', async () => {
    const holder = sessionBus({ busAddress: bus.address });
    try {
      await new Promise<void>((r) => holder.once('connect', () => r()));
      expect(await holder.requestName(NAME, 4)).toBe(1);
      const counters = new Counters();
      const d = DaemonDbus.create(config(52), {
        log: silentLogger,
        counters,
        actions,
        busAddress: bus.address,
      });
      expect(await d?.start()).toBe(false);
      expect(counters.get(DbusErrors.KA_ERR_DBUS_NAME)).toBe(1);
      const vi1 = new FakeInstance('VI_1', 1);
      d?.watch([vi1]);
      vi1.set(2);
      await d?.stop();
    } finally {
      holder.disconnect();
    }
  });

  it('the bus dies under a running service: KA_ERR_DBUS_CONNECT counted once, later events do nothing', async () => {
    const own = await startPrivateBus();
    try {
      const counters = new Counters();
      const vi1 = new FakeInstance('VI_1', 1);
      const d = DaemonDbus.create(config(52), {
        log: silentLogger,
        counters,
        actions,
        busAddress: own.address,
      });
      expect(await d?.start()).toBe(true);
      d?.watch([vi1]);
      process.kill(own.pid, 'SIGKILL');
      await waitFor({
        what: 'the service to notice',
        probe: () => counters.get(DbusErrors.KA_ERR_DBUS_CONNECT) === 1 || undefined,
        timeoutMs: 5000,
      });
      vi1.set(2);
      d?.reloaded(config(52), [vi1]);
      await d?.stop();
      expect(counters.get(DbusErrors.KA_ERR_DBUS_CONNECT)).toBe(1);
    } finally {
      await own.stop();
    }
  });
});
