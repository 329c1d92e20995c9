/**
 * keepalived's DBus object tree as data: object paths, introspection XML and the answer to each
 * method call, with no bus. keepalived 2.2.7 serves it through GDBus; what a client sees of it was
 * observed on a private bus (docs/DBUS.md) and is reproduced here, quirks included:
 * - the `Name` property is introspected as `s` but its value is the struct `(s)`;
 * - errors carry GDBus's names and texts (UnknownMethod for a missing object, interface or method,
 *   InvalidArgs for bad arguments and properties);
 * - org.freedesktop.DBus.Peer answers on every path, Introspect on every path (empty node when
 *   nothing is there), the other calls only on registered objects.
 * The calls that act (dumps, reload, GARPs) go to `DbusActions`; the tree only routes them.
 */
import { Variant } from '@particle/dbus-next';
import { DbusErrors } from './errors.js';

export const DEFAULT_SERVICE_NAME = 'org.keepalived.Vrrp1';
export const OBJECT_ROOT = '/org/keepalived/Vrrp1';
export const VRRP_INTERFACE = 'org.keepalived.Vrrp1.Vrrp';
export const INSTANCE_INTERFACE = 'org.keepalived.Vrrp1.Instance';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
const PEER = 'org.freedesktop.DBus.Peer';
export const ERROR_UNKNOWN_METHOD = 'org.freedesktop.DBus.Error.UnknownMethod';
export const ERROR_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs';
export const ERROR_FAILED = 'org.freedesktop.DBus.Error.Failed';

/** VrrpStatusChange's value for an instance that stops with the daemon (keepalived's VRRP_STATE_STOP). */
export const STATE_STOP = 98;

/** keepalived's state words in the `State` property. */
export function stateText(state: number): string {
  return ['Init', 'Backup', 'Master', 'Fault'][state] ?? 'Unknown';
}

/** Where the objects hang: keepalived puts the network namespace and the instance name in the path. */
export interface PathScope {
  readonly namespace?: string | undefined;
  readonly instance?: string | undefined;
}

/** A path element: keepalived maps every character that is not [A-Za-z0-9] to `_`. */
export function pathElement(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, '_');
}

function scopePrefix(scope: PathScope): string {
  // keepalived inserts both verbatim (a name a path cannot hold makes its registration fail);
  // here they are mapped like an interface name so the objects always register
  const parts = [scope.namespace, scope.instance].filter((p): p is string => p !== undefined && p !== '');
  return [OBJECT_ROOT, ...parts.map(pathElement)].join('/');
}

/** `/org/keepalived/Vrrp1[/NAMESPACE][/INSTANCE]/Vrrp`. */
export function vrrpObjectPath(scope: PathScope = {}): string {
  return `${scopePrefix(scope)}/Vrrp`;
}

/** `/org/keepalived/Vrrp1[/NAMESPACE][/INSTANCE]/Instance/<ifname>/<vrid>/<IPv4|IPv6>`. */
export function instanceObjectPath(scope: PathScope, ifname: string, vrid: number, family: 4 | 6): string {
  return `${scopePrefix(scope)}/Instance/${pathElement(ifname)}/${vrid}/IPv${family}`;
}

/** What an instance object reads of its VRRP instance, live (VrrpInstance fits). */
export interface DbusInstanceSource {
  readonly name: string;
  /** keepalived's numeric state (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT). */
  readonly state: number;
}

/** The acts behind the methods; each may be asynchronous, and its failure becomes a DBus error. */
export interface DbusActions {
  /** PrintData: keepalived.data, as the VRRP half of SIGUSR1 writes it. */
  printData(): void | Promise<void>;
  /** PrintStats (clear false) and PrintStatsClear (clear true): keepalived.stats as SIGUSR2 writes it. */
  printStats(clear: boolean): void | Promise<void>;
  /** ReloadConfig: the reload SIGHUP starts (keepalived answers first, then signals itself). */
  reload(): void | Promise<void>;
  /** SendGarp: one round of the instance's gratuitous ARPs / unsolicited NAs. */
  sendGarp(instance: string): void | Promise<void>;
}

/** A method call as the bus delivers it. */
export interface DbusCall {
  readonly path: string;
  readonly interface: string | undefined;
  readonly member: string;
  /** The body's signature ('' for none). */
  readonly signature: string;
  readonly body: readonly unknown[];
}

export type DbusReply =
  | { readonly signature: string; readonly body: readonly unknown[] }
  | {
      readonly error: string;
      readonly message: string;
      /** KA_ERR_DBUS_BAD_CALL (the caller's mistake) or KA_ERR_DBUS_ACTION (ours). */
      readonly code: string;
    };

const ok = (signature = '', body: readonly unknown[] = []): DbusReply => ({ signature, body });
const badCall = (error: string, message: string): DbusReply => ({
  error,
  message,
  code: DbusErrors.KA_ERR_DBUS_BAD_CALL,
});
const q = (s: string) => `\u201c${s}\u201d`;

interface Member {
  readonly kind: 'method' | 'signal' | 'property';
  readonly name: string;
  /** method: in-arguments; signal: arguments; property: type. */
  readonly type: string;
  readonly argName?: string;
}

const VRRP_MEMBERS: readonly Member[] = [
  { kind: 'method', name: 'PrintData', type: '' },
  { kind: 'method', name: 'PrintStats', type: '' },
  { kind: 'method', name: 'PrintStatsClear', type: '' },
  { kind: 'method', name: 'ReloadConfig', type: '' },
  { kind: 'signal', name: 'VrrpStarted', type: '' },
  { kind: 'signal', name: 'VrrpReloaded', type: '' },
  { kind: 'signal', name: 'VrrpStopped', type: '' },
];

const INSTANCE_MEMBERS: readonly Member[] = [
  { kind: 'method', name: 'SendGarp', type: '' },
  { kind: 'signal', name: 'VrrpStatusChange', type: 'u', argName: 'status' },
  { kind: 'property', name: 'Name', type: 's' },
  { kind: 'property', name: 'State', type: '(us)' },
];

/** The standard interfaces GDBus adds to each registered object, in its order. */
const STANDARD_XML = [
  `  <interface name="${PROPERTIES}">`,
  '    <method name="Get">',
  '      <arg type="s" name="interface_name" direction="in"/>',
  '      <arg type="s" name="property_name" direction="in"/>',
  '      <arg type="v" name="value" direction="out"/>',
  '    </method>',
  '    <method name="GetAll">',
  '      <arg type="s" name="interface_name" direction="in"/>',
  '      <arg type="a{sv}" name="properties" direction="out"/>',
  '    </method>',
  '    <method name="Set">',
  '      <arg type="s" name="interface_name" direction="in"/>',
  '      <arg type="s" name="property_name" direction="in"/>',
  '      <arg type="v" name="value" direction="in"/>',
  '    </method>',
  '    <signal name="PropertiesChanged">',
  '      <arg type="s" name="interface_name"/>',
  '      <arg type="a{sv}" name="changed_properties"/>',
  '      <arg type="as" name="invalidated_properties"/>',
  '    </signal>',
  '  </interface>',
  `  <interface name="${INTROSPECTABLE}">`,
  '    <method name="Introspect">',
  '      <arg type="s" name="xml_data" direction="out"/>',
  '    </method>',
  '  </interface>',
  `  <interface name="${PEER}">`,
  '    <method name="Ping"/>',
  '    <method name="GetMachineId">',
  '      <arg type="s" name="machine_uuid" direction="out"/>',
  '    </method>',
  '  </interface>',
];

const XML_HEADER = [
  '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
  '                      "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
];

function interfaceXml(name: string, members: readonly Member[]): string[] {
  const out = [`  <interface name="${name}">`];
  for (const m of members) {
    if (m.kind === 'method') out.push(`    <method name="${m.name}">`, '    </method>');
    else if (m.kind === 'signal') {
      out.push(`    <signal name="${m.name}">`);
      if (m.type !== '') out.push(`      <arg type="${m.type}" name="${m.argName ?? ''}">`, '      </arg>');
      out.push('    </signal>');
    } else out.push(`    <property type="${m.type}" name="${m.name}" access="read">`, '    </property>');
  }
  out.push('  </interface>');
  return out;
}

type Registered =
  | { readonly kind: 'vrrp' }
  | { readonly kind: 'instance'; readonly source: DbusInstanceSource };

/** One instance object: where it hangs and what it reads. */
export interface DbusInstanceObject {
  readonly path: string;
  readonly source: DbusInstanceSource;
}

export class VrrpObjectTree {
  readonly vrrpPath: string;
  private readonly objects = new Map<string, Registered>();

  constructor(
    readonly scope: PathScope,
    /** org.freedesktop.DBus.Peer.GetMachineId's answer. */
    private readonly machineId: () => string,
  ) {
    this.vrrpPath = vrrpObjectPath(scope);
    this.objects.set(this.vrrpPath, { kind: 'vrrp' });
  }

  /** Replace the instance objects (the Vrrp object stays). Two instances on one path: the first wins. */
  setInstances(list: readonly DbusInstanceObject[]): void {
    for (const [p, o] of this.objects) if (o.kind === 'instance') this.objects.delete(p);
    for (const i of list)
      if (!this.objects.has(i.path)) this.objects.set(i.path, { kind: 'instance', source: i.source });
  }

  /** Registered object paths, sorted. */
  paths(): string[] {
    return [...this.objects.keys()].sort();
  }

  /** Introspection XML of any path: a registered object's interfaces and the child nodes below it. */
  introspect(path: string): string {
    const obj = this.objects.get(path);
    const prefix = path === '/' ? '/' : `${path}/`;
    const children = new Set<string>();
    for (const p of this.objects.keys())
      if (p.startsWith(prefix)) children.add(p.slice(prefix.length).split('/')[0] ?? '');
    const out = [...XML_HEADER, '<node>'];
    if (obj) {
      out.push(...STANDARD_XML);
      out.push(
        ...(obj.kind === 'vrrp'
          ? interfaceXml(VRRP_INTERFACE, VRRP_MEMBERS)
          : interfaceXml(INSTANCE_INTERFACE, INSTANCE_MEMBERS)),
      );
    }
    // in order of registration (the Vrrp object first), as GDBus lists them in the common case
    for (const c of children) out.push(`  <node name="${c}"/>`);
    out.push('</node>', '');
    return out.join('\n');
  }

  /** The reply to one method call; actions run here (awaited) and their failure is an error reply. */
  async call(c: DbusCall, actions: DbusActions): Promise<DbusReply> {
    const noIface = () =>
      badCall(ERROR_UNKNOWN_METHOD, `No such interface ${q(c.interface ?? '')} on object at path ${c.path}`);
    if (c.interface === PEER) {
      if (c.member === 'Ping' && c.signature === '') return ok();
      if (c.member === 'GetMachineId' && c.signature === '') return ok('s', [this.machineId()]);
      return noIface();
    }
    if (c.interface === INTROSPECTABLE && c.member === 'Introspect') {
      return c.signature === '' ? ok('s', [this.introspect(c.path)]) : noIface();
    }
    const obj = this.objects.get(c.path);
    if (!obj) return badCall(ERROR_UNKNOWN_METHOD, `Object does not exist at path ${q(c.path)}`);
    if (c.interface === PROPERTIES) return this.properties(c, obj, noIface);
    const own = obj.kind === 'vrrp' ? VRRP_INTERFACE : INSTANCE_INTERFACE;
    const members = obj.kind === 'vrrp' ? VRRP_MEMBERS : INSTANCE_MEMBERS;
    if (c.interface !== undefined && c.interface !== own) return noIface();
    const method = members.find((m) => m.kind === 'method' && m.name === c.member);
    if (!method) return badCall(ERROR_UNKNOWN_METHOD, `No such method ${q(c.member)}`);
    if (c.signature !== method.type)
      return badCall(
        ERROR_INVALID_ARGS,
        `Type of message, ${q(`(${c.signature})`)}, does not match expected type ${q(`(${method.type})`)}`,
      );
    try {
      switch (c.member) {
        case 'PrintData':
          await actions.printData();
          break;
        case 'PrintStats':
          await actions.printStats(false);
          break;
        case 'PrintStatsClear':
          await actions.printStats(true);
          break;
        case 'ReloadConfig':
          await actions.reload();
          break;
        case 'SendGarp':
          if (obj.kind === 'instance') await actions.sendGarp(obj.source.name);
          break;
      }
    } catch (e) {
      return {
        error: ERROR_FAILED,
        message: `${c.member}: ${(e as Error).message}`,
        code: DbusErrors.KA_ERR_DBUS_ACTION,
      };
    }
    return ok();
  }

  /** Values of the instance properties, as keepalived sends them (Name as the struct `(s)`). */
  static propertyValues(source: DbusInstanceSource): Record<string, Variant> {
    const state = source.state;
    return {
      Name: new Variant('(s)', [source.name]),
      State: new Variant('(us)', [state, stateText(state)]),
    };
  }

  private properties(c: DbusCall, obj: Registered, noIface: () => DbusReply): DbusReply {
    const own = obj.kind === 'vrrp' ? VRRP_INTERFACE : INSTANCE_INTERFACE;
    const values = obj.kind === 'instance' ? VrrpObjectTree.propertyValues(obj.source) : {};
    const iface = c.body[0];
    const noSuchIface = () => badCall(ERROR_INVALID_ARGS, `No such interface ${q(String(iface))}`);
    if (c.member === 'GetAll') {
      if (c.signature !== 's') return noIface();
      return iface === own ? ok('a{sv}', [values]) : noSuchIface();
    }
    if (c.member === 'Get' || c.member === 'Set') {
      if (c.signature !== (c.member === 'Get' ? 'ss' : 'ssv')) return noIface();
      if (iface !== own) return noSuchIface();
      const name = String(c.body[1]);
      // own properties only: `constructor`, `__proto__`, `toString` are no property here
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      if (value === undefined) return badCall(ERROR_INVALID_ARGS, `No such property ${q(name)}`);
      if (c.member === 'Set') return badCall(ERROR_INVALID_ARGS, `Property ${q(name)} is not writable`);
      return ok('v', [value]);
    }
    return badCall(ERROR_UNKNOWN_METHOD, `No such method ${q(c.member)}`);
  }
}
