import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Counters } from '../../../src/core/counters.js';
import type { silentLogger } from '../../../src/core/log.js';
import { DaemonDbus, dbusSettings, instancePath, sameDbusSettings } from '../../../src/dbus/daemon.js';
import { DbusErrors } from '../../../src/dbus/errors.js';
import { systemBusAddress, validBusName } from '../../../src/dbus/service.js';
import type { DbusActions } from '../../../src/dbus/tree.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-dbus-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function config(globals: string, instances = '') {
  const f = join(dir, `k${n++}.conf`);
  writeFileSync(f, `global_defs {\n${globals}\n}\n${instances}`);
  return loadConfig(f, { configId: 'x' }).config;
}

const INSTANCES = `
vrrp_instance VI_1 {
  interface eth0.100
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 192.0.2.100/24 }
}
vrrp_instance VI_6 {
  interface eth1
  virtual_router_id 52
  priority 100
  virtual_ipaddress { fd00::100/64 }
}
vrrp_instance VI_U {
  virtual_router_id 53
  unicast_src_ip 192.0.2.1
  unicast_peer { 192.0.2.2 }
  virtual_ipaddress { 192.0.2.101/24 }
}
`;

const noActions: DbusActions = {
  printData: () => undefined,
  printStats: () => undefined,
  reload: () => undefined,
  sendGarp: () => undefined,
};

/** A logger that keeps its lines (pino's interface, only what DaemonDbus calls). */
function lines() {
  const out: string[] = [];
  const rec =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      out.push(`${level} ${typeof a === 'string' ? a : String(b)}`);
    };
  const log = { info: rec('info'), warn: rec('warn'), error: rec('error'), debug: rec('debug') };
  return { out, log: log as unknown as typeof silentLogger };
}

describe('dbusSettings', () => {
  it('is off without enable_dbus, and names org.keepalived.Vrrp1 unless dbus_service_name is given', () => {
    expect(dbusSettings(config('router_id a'))).toBeUndefined();
    expect(dbusSettings(config('enable_dbus'))).toEqual({
      serviceName: 'org.keepalived.Vrrp1',
      scope: { namespace: undefined, instance: undefined },
    });
    expect(dbusSettings(config('enable_dbus\n dbus_service_name org.example.Ka'), 'blue')).toEqual({
      serviceName: 'org.example.Ka',
      scope: { namespace: 'blue', instance: undefined },
    });
  });

  it('sameDbusSettings: a reload keeps the service only with the same name, namespace and instance', () => {
    const on = dbusSettings(config('enable_dbus'));
    const off = dbusSettings(config('router_id a'));
    expect(sameDbusSettings(off, dbusSettings(config('router_id b')))).toBe(true);
    expect(sameDbusSettings(on, dbusSettings(config('enable_dbus\n router_id b')))).toBe(true);
    expect(sameDbusSettings(on, off)).toBe(false);
    expect(sameDbusSettings(off, on)).toBe(false);
    expect(sameDbusSettings(on, dbusSettings(config('enable_dbus\n dbus_service_name org.example.Ka')))).toBe(
      false,
    );
    expect(sameDbusSettings(on, dbusSettings(config('enable_dbus'), 'blue'))).toBe(false);
    expect(
      sameDbusSettings(
        dbusSettings(config('enable_dbus'), 'blue'),
        dbusSettings(config('enable_dbus'), 'blue'),
      ),
    ).toBe(true);
    expect(sameDbusSettings(on, { serviceName: 'org.keepalived.Vrrp1', scope: { instance: 'i1' } })).toBe(
      false,
    );
  });

  it('places each instance by interface (default_interface without one), VRID and family', () => {
    const c = config('enable_dbus\n default_interface eth9', INSTANCES);
    expect(instancePath(c, {}, 'VI_1')).toBe('/org/keepalived/Vrrp1/Instance/eth0_100/51/IPv4');
    expect(instancePath(c, {}, 'VI_6')).toBe('/org/keepalived/Vrrp1/Instance/eth1/52/IPv6');
    expect(instancePath(c, { namespace: 'blue' }, 'VI_U')).toBe(
      '/org/keepalived/Vrrp1/blue/Instance/eth9/53/IPv4',
    );
    expect(instancePath(c, {}, 'nope')).toBeUndefined();
  });
});

describe('bus names and addresses', () => {
  it('accepts well-known names only', () => {
    for (const ok of ['org.keepalived.Vrrp1', 'a.b', 'org.ex-ample._x']) expect(validBusName(ok)).toBe(true);
    for (const bad of ['', 'org', ':1.5', '.a.b', 'a..b', 'org.1abc', 'a.b/c', `a.${'b'.repeat(300)}`])
      expect(validBusName(bad)).toBe(false);
  });

  it('uses $DBUS_SYSTEM_BUS_ADDRESS, else the system socket', () => {
    expect(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/x' })).toBe('unix:path=/x');
    expect(systemBusAddress({})).toBe('unix:path=/run/dbus/system_bus_socket');
  });
});

describe('DaemonDbus without a usable bus', () => {
  it('a bad dbus_service_name: no service, KA_ERR_DBUS_SERVICE_NAME logged and counted', () => {
    const counters = new Counters();
    const { out, log } = lines();
    const d = DaemonDbus.create(config('enable_dbus\n dbus_service_name nodots'), {
      log,
      counters,
      actions: noActions,
    });
    expect(d).toBeUndefined();
    expect(counters.get(DbusErrors.KA_ERR_DBUS_SERVICE_NAME)).toBe(1);
    expect(out).toEqual(['error DBus: invalid dbus_service_name nodots; DBus disabled']);
  });

  const starts = async (busAddress: string) => {
    const counters = new Counters();
    const { out, log } = lines();
    const d = DaemonDbus.create(config('enable_dbus', INSTANCES), {
      log,
      counters,
      actions: noActions,
      busAddress,
    });
    if (!d) throw new Error('no service');
    const ok = await d.start();
    // later calls on a service that never came up do nothing and do not throw
    d.watch([{ name: 'VI_1', state: 1, onChange: () => undefined }]);
    d.reloading();
    d.reloaded(config('enable_dbus', INSTANCES), []);
    await d.stop();
    return { ok, counters, out };
  };

  it('a socket that is not there: start() resolves false, KA_ERR_DBUS_CONNECT logged and counted', async () => {
    const r = await starts(`unix:path=${join(dir, 'absent.sock')}`);
    expect(r.ok).toBe(false);
    expect(r.counters.get(DbusErrors.KA_ERR_DBUS_CONNECT)).toBe(1);
    expect(r.out.filter((l) => l.startsWith('error'))).toHaveLength(1);
    expect(r.out[0]).toMatch(
      /^error DBus: cannot connect to unix:path=.*absent\.sock: .*ENOENT.*; DBus disabled$/,
    );
  });

  it('an address dbus-next cannot parse: the same typed failure, no exception', async () => {
    const r = await starts('nonsense');
    expect(r.ok).toBe(false);
    expect(r.counters.get(DbusErrors.KA_ERR_DBUS_CONNECT)).toBe(1);
  });

  it('a peer that closes the connection during the handshake: the same', async () => {
    const sock = join(dir, 'closer.sock');
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const r = await starts(`unix:path=${sock}`);
      expect(r.ok).toBe(false);
      expect(r.counters.get(DbusErrors.KA_ERR_DBUS_CONNECT)).toBe(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
