import { Variant } from '@particle/dbus-next';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbusErrors } from '../../../src/dbus/errors.js';
import {
  type DbusActions,
  type DbusCall,
  ERROR_FAILED,
  ERROR_INVALID_ARGS,
  ERROR_UNKNOWN_METHOD,
  INSTANCE_INTERFACE,
  instanceObjectPath,
  pathElement,
  stateText,
  VRRP_INTERFACE,
  VrrpObjectTree,
  vrrpObjectPath,
} from '../../../src/dbus/tree.js';

/** Actions that record what was asked. */
function recorder(fail?: string): DbusActions & { calls: string[] } {
  const calls: string[] = [];
  const act = (what: string) => {
    calls.push(what);
    if (fail === what) throw new Error(`${what} failed`);
  };
  return {
    calls,
    printData: () => act('data'),
    printStats: (clear) => act(clear ? 'stats+clear' : 'stats'),
    reload: () => act('reload'),
    sendGarp: (name) => act(`garp ${name}`),
  };
}

const VI1 = '/org/keepalived/Vrrp1/Instance/eth0/51/IPv4';
const VI6 = '/org/keepalived/Vrrp1/Instance/eth0/52/IPv6';

function tree() {
  const t = new VrrpObjectTree({}, () => '0123456789abcdef0123456789abcdef');
  const vi1 = { name: 'VI_1', state: 2 };
  const vi6 = { name: 'VI_6', state: 1 };
  t.setInstances([
    { path: VI1, source: vi1 },
    { path: VI6, source: vi6 },
  ]);
  return { t, vi1, vi6 };
}

const call = (
  path: string,
  iface: string | undefined,
  member: string,
  signature = '',
  body: unknown[] = [],
) => ({ path, interface: iface, member, signature, body }) satisfies DbusCall;

describe('object paths', () => {
  it("map each character outside [A-Za-z0-9] to '_' as keepalived does", () => {
    expect(pathElement('eth0.100')).toBe('eth0_100');
    expect(pathElement('br-lan:1')).toBe('br_lan_1');
    expect(instanceObjectPath({}, 'eth0.100', 7, 6)).toBe('/org/keepalived/Vrrp1/Instance/eth0_100/7/IPv6');
  });

  it('carry the network namespace and the instance name after the root', () => {
    expect(vrrpObjectPath({})).toBe('/org/keepalived/Vrrp1/Vrrp');
    expect(vrrpObjectPath({ namespace: 'kdbx' })).toBe('/org/keepalived/Vrrp1/kdbx/Vrrp');
    expect(instanceObjectPath({ namespace: 'ns-1', instance: 'a' }, 'e0', 51, 4)).toBe(
      '/org/keepalived/Vrrp1/ns_1/a/Instance/e0/51/IPv4',
    );
  });

  it('lists the registered objects; two instances on one path keep the first', () => {
    const { t } = tree();
    t.setInstances([
      { path: VI1, source: { name: 'A', state: 1 } },
      { path: VI1, source: { name: 'B', state: 1 } },
    ]);
    expect(t.paths()).toEqual([VI1, '/org/keepalived/Vrrp1/Vrrp']);
  });
});

describe('introspection', () => {
  it('of the Vrrp object: the standard interfaces, then its methods and signals', () => {
    const xml = tree().t.introspect('/org/keepalived/Vrrp1/Vrrp');
    const ifaces = [...xml.matchAll(/<interface name="([^"]+)">/g)].map((m) => m[1]);
    expect(ifaces).toEqual([
      'org.freedesktop.DBus.Properties',
      'org.freedesktop.DBus.Introspectable',
      'org.freedesktop.DBus.Peer',
      VRRP_INTERFACE,
    ]);
    const own = xml.slice(xml.indexOf(`<interface name="${VRRP_INTERFACE}">`));
    expect([...own.matchAll(/<(method|signal) name="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`)).toEqual([
      'method PrintData',
      'method PrintStats',
      'method PrintStatsClear',
      'method ReloadConfig',
      'signal VrrpStarted',
      'signal VrrpReloaded',
      'signal VrrpStopped',
    ]);
    expect(xml).not.toContain('<node name=');
  });

  it('of an instance object: SendGarp, VrrpStatusChange(u), Name (s) and State ((us)), read-only', () => {
    const xml = tree().t.introspect(VI1);
    const own = xml.slice(xml.indexOf(`<interface name="${INSTANCE_INTERFACE}">`));
    expect(own).toContain('<method name="SendGarp">');
    expect(own).toMatch(/<signal name="VrrpStatusChange">\s*<arg type="u" name="status">/);
    expect(
      [...own.matchAll(/<property type="([^"]+)" name="([^"]+)" access="([^"]+)"/g)].map((m) => m.slice(1)),
    ).toEqual([
      ['s', 'Name', 'read'],
      ['(us)', 'State', 'read'],
    ]);
  });

  it('of the nodes between: only their children; of an unknown path: an empty node', () => {
    const { t } = tree();
    const children = (p: string) =>
      [...t.introspect(p).matchAll(/<node name="([^"]+)"\/>/g)].map((m) => m[1]);
    expect(children('/')).toEqual(['org']);
    expect(children('/org/keepalived/Vrrp1')).toEqual(['Vrrp', 'Instance']);
    expect(children('/org/keepalived/Vrrp1/Instance/eth0')).toEqual(['51', '52']);
    expect(children('/org/keepalived/Vrrp1/Instance/eth0/51')).toEqual(['IPv4']);
    expect(t.introspect('/org/keepalived/Vrrp1')).not.toContain('<interface');
    expect(t.introspect('/nowhere')).toMatch(/<node>\n<\/node>/);
  });
});

describe('method calls', () => {
  it('PrintData, PrintStats, PrintStatsClear, ReloadConfig run their action and return nothing', async () => {
    const { t } = tree();
    const a = recorder();
    for (const m of ['PrintData', 'PrintStats', 'PrintStatsClear', 'ReloadConfig'])
      expect(await t.call(call('/org/keepalived/Vrrp1/Vrrp', VRRP_INTERFACE, m), a)).toEqual({
        signature: '',
        body: [],
      });
    expect(a.calls).toEqual(['data', 'stats', 'stats+clear', 'reload']);
  });

  it('SendGarp names the instance of the object it was called on', async () => {
    const { t } = tree();
    const a = recorder();
    await t.call(call(VI6, INSTANCE_INTERFACE, 'SendGarp'), a);
    await t.call(call(VI1, undefined, 'SendGarp'), a);
    expect(a.calls).toEqual(['garp VI_6', 'garp VI_1']);
  });

  it('a failing action is answered with org.freedesktop.DBus.Error.Failed and KA_ERR_DBUS_ACTION', async () => {
    const { t } = tree();
    const r = await t.call(call('/org/keepalived/Vrrp1/Vrrp', VRRP_INTERFACE, 'PrintData'), recorder('data'));
    expect(r).toEqual({
      error: ERROR_FAILED,
      message: 'PrintData: data failed',
      code: DbusErrors.KA_ERR_DBUS_ACTION,
    });
  });

  it('errors as GDBus gives them, each counted as KA_ERR_DBUS_BAD_CALL, no action run', async () => {
    const { t } = tree();
    const a = recorder();
    const cases: [DbusCall, string, string][] = [
      [
        call('/org/keepalived/Vrrp1/Instance/eth0/99/IPv4', INSTANCE_INTERFACE, 'SendGarp'),
        ERROR_UNKNOWN_METHOD,
        'Object does not exist at path \u201c/org/keepalived/Vrrp1/Instance/eth0/99/IPv4\u201d',
      ],
      [
        call('/org/keepalived/Vrrp1/Vrrp', VRRP_INTERFACE, 'Nope'),
        ERROR_UNKNOWN_METHOD,
        'No such method \u201cNope\u201d',
      ],
      [
        call('/org/keepalived/Vrrp1/Vrrp', VRRP_INTERFACE, 'PrintData', 's', ['x']),
        ERROR_INVALID_ARGS,
        'Type of message, \u201c(s)\u201d, does not match expected type \u201c()\u201d',
      ],
      [
        call(VI1, VRRP_INTERFACE, 'PrintData'),
        ERROR_UNKNOWN_METHOD,
        `No such interface \u201c${VRRP_INTERFACE}\u201d on object at path ${VI1}`,
      ],
      [
        call('/org/keepalived/Vrrp1/Vrrp', INSTANCE_INTERFACE, 'SendGarp'),
        ERROR_UNKNOWN_METHOD,
        `No such interface \u201c${INSTANCE_INTERFACE}\u201d on object at path /org/keepalived/Vrrp1/Vrrp`,
      ],
      [
        call('/org/keepalived/Vrrp1/Vrrp', VRRP_INTERFACE, 'CreateInstance', 'ssuu', ['a', 'b', 1, 4]),
        ERROR_UNKNOWN_METHOD,
        'No such method \u201cCreateInstance\u201d',
      ],
    ];
    for (const [c, error, message] of cases)
      expect(await t.call(c, a)).toEqual({ error, message, code: DbusErrors.KA_ERR_DBUS_BAD_CALL });
    expect(a.calls).toEqual([]);
  });

  it('Peer answers on every path, Introspect too', async () => {
    const { t } = tree();
    const a = recorder();
    expect(await t.call(call('/anything', 'org.freedesktop.DBus.Peer', 'Ping'), a)).toEqual({
      signature: '',
      body: [],
    });
    expect(await t.call(call('/org', 'org.freedesktop.DBus.Peer', 'GetMachineId'), a)).toEqual({
      signature: 's',
      body: ['0123456789abcdef0123456789abcdef'],
    });
    const r = await t.call(call('/org', 'org.freedesktop.DBus.Introspectable', 'Introspect'), a);
    expect('body' in r && r.body[0]).toContain('<node name="keepalived"/>');
  });
});

describe('properties', () => {
  it("Name is sent as the struct (s), State as (us) with keepalived's words, live", async () => {
    const { t, vi1 } = tree();
    const a = recorder();
    const get = (p: string) =>
      t.call(call(VI1, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [INSTANCE_INTERFACE, p]), a);
    expect(await get('Name')).toEqual({ signature: 'v', body: [new Variant('(s)', ['VI_1'])] });
    expect(await get('State')).toEqual({ signature: 'v', body: [new Variant('(us)', [2, 'Master'])] });
    vi1.state = 3;
    expect(await get('State')).toEqual({ signature: 'v', body: [new Variant('(us)', [3, 'Fault'])] });
    const all = await t.call(
      call(VI6, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [INSTANCE_INTERFACE]),
      a,
    );
    expect(all).toEqual({
      signature: 'a{sv}',
      body: [{ Name: new Variant('(s)', ['VI_6']), State: new Variant('(us)', [1, 'Backup']) }],
    });
  });

  it('the Vrrp object has none; unknown interfaces, unknown and written properties are errors', async () => {
    const { t } = tree();
    const a = recorder();
    const props = (path: string, member: string, signature: string, body: unknown[]) =>
      t.call(call(path, 'org.freedesktop.DBus.Properties', member, signature, body), a);
    expect(await props('/org/keepalived/Vrrp1/Vrrp', 'GetAll', 's', [VRRP_INTERFACE])).toEqual({
      signature: 'a{sv}',
      body: [{}],
    });
    const bad = async (p: Promise<unknown>, error: string, message: string) =>
      expect(await p).toEqual({ error, message, code: DbusErrors.KA_ERR_DBUS_BAD_CALL });
    await bad(
      props(VI1, 'Get', 'ss', ['org.foo', 'Name']),
      ERROR_INVALID_ARGS,
      'No such interface \u201corg.foo\u201d',
    );
    await bad(
      props(VI1, 'Get', 'ss', [INSTANCE_INTERFACE, 'Nope']),
      ERROR_INVALID_ARGS,
      'No such property \u201cNope\u201d',
    );
    await bad(
      props(VI1, 'Set', 'ssv', [INSTANCE_INTERFACE, 'Name', new Variant('s', 'x')]),
      ERROR_INVALID_ARGS,
      'Property \u201cName\u201d is not writable',
    );
    await bad(
      props(VI1, 'Get', 's', [INSTANCE_INTERFACE]),
      ERROR_UNKNOWN_METHOD,
      `No such interface \u201corg.freedesktop.DBus.Properties\u201d on object at path ${VI1}`,
    );
    await bad(
      props('/org/keepalived/Vrrp1/Instance', 'GetAll', 's', ['org.foo']),
      ERROR_UNKNOWN_METHOD,
      'Object does not exist at path \u201c/org/keepalived/Vrrp1/Instance\u201d',
    );
  });

  it("names an Object has (constructor, __proto__, toString, hasOwnProperty) are no property: GDBus's 'No such property'", async () => {
    const { t } = tree();
    const a = recorder();
    const props = (path: string, member: string, signature: string, body: unknown[]) =>
      t.call(call(path, 'org.freedesktop.DBus.Properties', member, signature, body), a);
    const inherited = [
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
    ];
    for (const [path, iface] of [
      [VI1, INSTANCE_INTERFACE],
      ['/org/keepalived/Vrrp1/Vrrp', VRRP_INTERFACE],
    ] as const)
      for (const name of inherited) {
        const noSuch = {
          error: ERROR_INVALID_ARGS,
          message: `No such property \u201c${name}\u201d`,
          code: DbusErrors.KA_ERR_DBUS_BAD_CALL,
        };
        expect(await props(path, 'Get', 'ss', [iface, name])).toEqual(noSuch);
        expect(await props(path, 'Set', 'ssv', [iface, name, new Variant('s', 'x')])).toEqual(noSuch);
      }
  });

  it('state words: Init, Backup, Master, Fault, else Unknown', () => {
    expect([0, 1, 2, 3, 98].map(stateText)).toEqual(['Init', 'Backup', 'Master', 'Fault', 'Unknown']);
  });
});

describe('any call', () => {
  it('is answered: a reply or an error with a code, never an exception', async () => {
    const { t } = tree();
    const a = recorder();
    const word = fc.constantFrom(
      'org.keepalived.Vrrp1.Vrrp',
      'org.keepalived.Vrrp1.Instance',
      'org.freedesktop.DBus.Properties',
      'org.freedesktop.DBus.Introspectable',
      'org.freedesktop.DBus.Peer',
      'Get',
      'GetAll',
      'Set',
      'Name',
      'State',
      'PrintData',
      'SendGarp',
      'Ping',
      'Introspect',
      'constructor',
      '__proto__',
      'toString',
    );
    const path = fc.oneof(fc.constantFrom(VI1, VI6, '/', '/org/keepalived/Vrrp1/Vrrp'), fc.string());
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(undefined),
      fc.constant(null),
      word,
      fc.object(),
    );
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.option(word, { nil: undefined }),
        fc.oneof(word, fc.string()),
        fc.constantFrom('', 's', 'ss', 'ssv', 'u', 'a{sv}'),
        fc.array(value, { maxLength: 4 }),
        async (p, iface, member, signature, body) => {
          const r = await t.call(call(p, iface, member, signature, body), a);
          if ('error' in r)
            expect([DbusErrors.KA_ERR_DBUS_BAD_CALL, DbusErrors.KA_ERR_DBUS_ACTION]).toContain(r.code);
          else {
            expect(typeof r.signature).toBe('string');
            // a reply dbus-next can marshal: no function anywhere in it
            expect(
              JSON.stringify(r.body, (_k, v: unknown) => (typeof v === 'function' ? 'FUNCTION' : v)),
            ).not.toContain('FUNCTION');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
