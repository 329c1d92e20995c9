/**
 * Static addresses / routes / rules: the reload plan (pure, with a property over random config
 * pairs) and StaticConfig over an in-memory kernel that keys entries as rtnetlink does (addresses by
 * ifindex, local address and prefix; routes and rules by their message body) and answers EEXIST /
 * ESRCH / EADDRNOTAVAIL like the kernel. Configurations go through the real loader.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { Counters } from '../../../src/core/counters.js';
import {
  addressMessage,
  hasStaticConfig,
  planStatic,
  StaticConfig,
  type StaticEntry,
  type StaticNet,
  staticEntries,
} from '../../../src/daemon/static-config.js';
import { SysError, SysErrors } from '../../../src/sys/errors.js';
import { attrMap, decodeAttrs, encodeAttrs } from '../../../src/wire/netlink.js';
import {
  type AddrInfo,
  IFA_LOCAL,
  IFF_RUNNING,
  IFF_UP,
  type LinkInfo,
  RTM_DELADDR,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_NEWADDR,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  type RtRequest,
} from '../../../src/wire/rtnetlink.js';

const dir = mkdtempSync(join(tmpdir(), 'static-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function load(body: string): KeepalivedConfig {
  const path = join(dir, `k${n++}.conf`);
  writeFileSync(path, body);
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  const errors = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal');
  expect(errors.map((d) => d.message)).toEqual([]);
  return config;
}

function conf(o: {
  addrs?: string[];
  routes?: string[];
  rules?: string[];
  global?: string;
  /** Put first, as is (e.g. the track_group that static entries name: keepalived wants it above). */
  before?: string;
}): KeepalivedConfig {
  const block = (name: string, lines: string[] | undefined) =>
    lines && lines.length > 0 ? `${name} {\n${lines.map((l) => `  ${l}\n`).join('')}}\n` : '';
  return load(
    `${o.before ?? ''}${o.global ? `global_defs {\n  ${o.global}\n}\n` : ''}${block('static_ipaddress', o.addrs)}${block('static_routes', o.routes)}${block('static_rules', o.rules)}`,
  );
}

const keys = (es: readonly StaticEntry[]) => es.map((e) => `${e.kind} ${e.text}`);

/** In-memory rtnetlink for the three object kinds, with kernel errnos. */
class FakeKernel extends EventEmitter implements StaticNet {
  readonly objects = new Map<string, RtRequest>();
  readonly ops: string[] = [];
  readonly links = new Map<string, number>([
    ['eth0', 2],
    ['eth1', 3],
  ]);
  /** errno the kernel answers for an add whose identity contains this text. */
  refuse = new Map<string, string>();

  link(name: string): Pick<LinkInfo, 'ifindex'> | undefined {
    const ifindex = this.links.get(name);
    return ifindex === undefined ? undefined : { ifindex };
  }

  private identity(req: RtRequest): string {
    const kind = { 20: 'addr', 21: 'addr', 24: 'route', 25: 'route', 32: 'rule', 33: 'rule' }[req.type];
    if (kind === 'addr') {
      // the kernel's key of an address: ifindex, local address, prefix length
      const local = attrMap(decodeAttrs(encodeAttrs(req.attrs))).get(IFA_LOCAL)!;
      return `addr ${req.header.readUInt32LE(4)} ${local.toString('hex')}/${req.header[1]}`;
    }
    const header = Buffer.from(req.header);
    // a route delete names RT_SCOPE_NOWHERE (any scope): the scope byte is not part of the key here
    if (kind === 'route') header[6] = 0;
    return `${kind} ${header.toString('hex')} ${encodeAttrs(req.attrs).toString('hex')}`;
  }

  async request(req: RtRequest): Promise<unknown> {
    const id = this.identity(req);
    const add = [RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWRULE].includes(req.type);
    this.ops.push(`${add ? 'add' : 'del'} ${id}`);
    const err = (errno: string) => new SysError(SysErrors.KA_ERR_SYS_NETLINK, errno, errno, 'netlink');
    if (add) {
      for (const [text, errno] of this.refuse) if (id.includes(text)) throw err(errno);
      if (this.objects.has(id)) throw err('EEXIST');
      this.objects.set(id, req);
    } else {
      expect([RTM_DELADDR, RTM_DELROUTE, RTM_DELRULE]).toContain(req.type);
      if (!this.objects.delete(id)) throw err(req.type === RTM_DELADDR ? 'EADDRNOTAVAIL' : 'ESRCH');
    }
    return [];
  }

  kinds(): string[] {
    return [...this.objects.keys()].map((k) => k.split(' ')[0]!).sort();
  }
}

const hex4 = (a: string) => Buffer.from(a.split('.').map(Number)).toString('hex');

describe('staticEntries', () => {
  it('lists addresses, routes, rules in that order; an address without dev uses default_interface', () => {
    const c = conf({
      global: 'default_interface eth1',
      rules: ['from 192.0.2.10 table 100 preference 1000'],
      routes: ['198.51.100.0/24 via 192.0.2.254 dev eth0'],
      addrs: ['192.0.2.10/24', '192.0.2.11/24 dev eth0', '192.0.2.10/24'],
    });
    expect(keys(staticEntries(c))).toEqual([
      'address 192.0.2.10/24 dev eth1',
      'address 192.0.2.11/24 dev eth0',
      'route 198.51.100.0/24 via 192.0.2.254 dev eth0',
      'rule from 192.0.2.10/32 table 100 preference 1000',
    ]);
  });

  it('hasStaticConfig: any of the three blocks', () => {
    expect(hasStaticConfig(conf({ rules: ['from 192.0.2.10 table 100 preference 1000'] }))).toBe(true);
    expect(hasStaticConfig(conf({ global: 'router_id x' }))).toBe(false);
  });

  it('identity ignores position and track_group, not what reaches the kernel', () => {
    const a = staticEntries(
      conf({ addrs: ['192.0.2.10/24 dev eth0'], routes: ['198.51.100.0/24 dev eth0 mtu 1400'] }),
    );
    const b = staticEntries(
      conf({
        global: 'router_id moved',
        addrs: ['192.0.2.10/24 dev eth0 track_group G'],
        routes: ['198.51.100.0/24 dev eth0 mtu 1400 track_group G'],
        before:
          'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  priority 100\n  virtual_ipaddress {\n    192.0.2.99\n  }\n}\ntrack_group G {\n  group {\n    VI_1\n  }\n}\n',
      }),
    );
    const c = staticEntries(
      conf({ addrs: ['192.0.2.10/24 dev eth0 brd +'], routes: ['198.51.100.0/24 dev eth0 mtu 1500'] }),
    );
    expect(b[0]!.spec.pos).not.toEqual(a[0]!.spec.pos);
    expect(b.map((e) => e.key)).toEqual(a.map((e) => e.key));
    expect(c[0]!.key).not.toBe(a[0]!.key);
    expect(c[1]!.key).not.toBe(a[1]!.key);
  });
});

describe('planStatic', () => {
  const before = staticEntries(
    conf({
      addrs: ['192.0.2.10/24 dev eth0', '192.0.2.11/24 dev eth0'],
      routes: ['198.51.100.0/24 via 192.0.2.254 dev eth0', '203.0.113.0/24 dev eth0 mtu 1400'],
      rules: ['from 192.0.2.10 table 100 preference 1000', 'from 192.0.2.11 table 100 preference 1001'],
    }),
  );
  const after = staticEntries(
    conf({
      addrs: ['192.0.2.10/24 dev eth0', '192.0.2.12/24 dev eth0'],
      routes: ['198.51.100.0/24 via 192.0.2.254 dev eth0', '203.0.113.0/24 dev eth0 mtu 1300'],
      rules: ['from 192.0.2.10 table 100 preference 1000', 'from 192.0.2.12 table 100 preference 1002'],
    }),
  );

  it('from nothing: everything added in keepalived order', () => {
    const p = planStatic([], before);
    expect(p.remove).toEqual([]);
    expect(p.keep).toEqual([]);
    expect(p.add.map((e) => e.kind)).toEqual(['address', 'address', 'route', 'route', 'rule', 'rule']);
  });

  it('removes what went (rules, routes, addresses), adds what came, keeps the rest; a changed option is a new entry', () => {
    const p = planStatic(
      before.map((entry) => ({ entry, set: true })),
      after,
    );
    expect(keys(p.remove)).toEqual([
      'rule from 192.0.2.11/32 table 100 preference 1001',
      'route 203.0.113.0/24 dev eth0',
      'address 192.0.2.11/24 dev eth0',
    ]);
    expect(keys(p.add)).toEqual([
      'address 192.0.2.12/24 dev eth0',
      'route 203.0.113.0/24 dev eth0',
      'rule from 192.0.2.12/32 table 100 preference 1002',
    ]);
    expect(keys(p.keep)).toEqual([
      'address 192.0.2.10/24 dev eth0',
      'route 198.51.100.0/24 via 192.0.2.254 dev eth0',
      'rule from 192.0.2.10/32 table 100 preference 1000',
    ]);
  });

  it('an entry that failed before is added again if still configured, and not removed if not', () => {
    const state = before.map((entry, i) => ({ entry, set: i !== 0 && i !== 1 }));
    const p = planStatic(state, after);
    expect(keys(p.add)).toContain('address 192.0.2.10/24 dev eth0');
    expect(keys(p.remove)).not.toContain('address 192.0.2.11/24 dev eth0');
  });

  it('property: add and keep partition next; remove is installed and unwanted; nothing both removed and kept', () => {
    const pool = [...before, ...after.filter((e) => !before.some((b) => b.key === e.key))];
    const sub = fc.subarray(pool.map((_, i) => i));
    fc.assert(
      fc.property(
        sub,
        sub,
        fc.array(fc.boolean(), { minLength: pool.length, maxLength: pool.length }),
        (cur, nxt, set) => {
          const current = cur.map((i) => ({ entry: pool[i]!, set: set[i]! }));
          const next = nxt.map((i) => pool[i]!);
          const p = planStatic(current, next);
          const k = (es: readonly StaticEntry[]) => new Set(es.map((e) => e.key));
          const installed = new Set(current.filter((s) => s.set).map((s) => s.entry.key));
          expect([...k(p.add), ...k(p.keep)].sort()).toEqual(next.map((e) => e.key).sort());
          for (const e of p.keep) expect(installed.has(e.key)).toBe(true);
          for (const e of p.add) expect(installed.has(e.key)).toBe(false);
          for (const e of p.remove) {
            expect(installed.has(e.key)).toBe(true);
            expect(k(next).has(e.key)).toBe(false);
          }
          const order = { rule: 0, route: 1, address: 2 };
          const ranks = p.remove.map((e) => order[e.kind]);
          expect(ranks).toEqual([...ranks].sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('addressMessage', () => {
  it('IPv6 nodad unless -nodad, flags, brd +, scope, label', () => {
    const [v6, v6dad, v4] = staticEntries(
      conf({
        addrs: [
          'fd00::10/64 dev eth0 noprefixroute home',
          'fd00::11/64 dev eth0 -nodad',
          '192.0.2.10/24 dev eth0 brd + scope link label eth0:st',
        ],
      }),
    ) as Extract<StaticEntry, { kind: 'address' }>[];
    const flags = (e: Extract<StaticEntry, { kind: 'address' }>) =>
      attrMap(decodeAttrs(encodeAttrs(addressMessage(e.spec, 2, true).attrs)))
        .get(8)
        ?.readUInt32LE(0);
    expect(flags(v6!)).toBe(0x2 | 0x200 | 0x10);
    expect(flags(v6dad!)).toBeUndefined();
    const m = addressMessage(v4!.spec, 2, true);
    const a = attrMap(decodeAttrs(encodeAttrs(m.attrs)));
    expect(a.get(4)!.toString('hex')).toBe(hex4('192.0.2.255'));
    expect(a.get(3)!.toString()).toBe('eth0:st\0');
    expect(m.header[3]).toBe(253);
  });
});

describe('StaticConfig over an in-memory kernel', () => {
  const A = conf({
    addrs: ['192.0.2.10/24 dev eth0', '192.0.2.11/24 dev eth0'],
    routes: [
      '198.51.100.0/24 via 192.0.2.254 dev eth0',
      '203.0.113.0/24 via 198.51.100.1 dev eth0 onlink mtu 1400',
    ],
    rules: ['from 192.0.2.10 table 100 preference 1000', 'from 192.0.2.11 table 100 preference 1001'],
  });
  const B = conf({
    addrs: ['192.0.2.10/24 dev eth0', '192.0.2.12/24 dev eth0'],
    routes: [
      '198.51.100.0/24 via 192.0.2.254 dev eth0',
      '203.0.113.0/24 via 198.51.100.1 dev eth0 onlink mtu 1400',
    ],
    rules: ['from 192.0.2.10 table 100 preference 1000', 'from 192.0.2.12 table 100 preference 1002'],
  });

  it('apply, reconcile (kept ones untouched), remove (rules, routes, addresses)', async () => {
    const k = new FakeKernel();
    const s = new StaticConfig({ net: k });
    const r1 = await s.apply(A);
    expect(r1).toMatchObject({ added: 6, failed: 0 });
    expect(k.kinds()).toEqual(['addr', 'addr', 'route', 'route', 'rule', 'rule']);
    // start: a leftover-rule delete per rule before the adds
    expect(k.ops.slice(0, 2).every((o) => o.startsWith('del rule'))).toBe(true);
    k.ops.length = 0;
    const r2 = await s.reconcile(B);
    expect(r2).toMatchObject({ added: 2, removed: 2, kept: 4, failed: 0 });
    expect(k.ops.map((o) => o.split(' ').slice(0, 2).join(' '))).toEqual([
      'del rule',
      'del addr',
      'add addr',
      'add rule',
    ]);
    expect(k.ops.some((o) => o.includes(`${hex4('192.0.2.10')}/24`))).toBe(false);
    k.ops.length = 0;
    const r3 = await s.remove();
    expect(r3).toMatchObject({ removed: 6, failed: 0 });
    expect(k.objects.size).toBe(0);
    expect(k.ops.map((o) => o.split(' ').slice(0, 2).join(' '))).toEqual([
      'del rule',
      'del rule',
      'del route',
      'del route',
      'del addr',
      'del addr',
    ]);
  });

  it('one failure is logged and counted and does not stop the others; the next reload retries it', async () => {
    const k = new FakeKernel();
    k.refuse.set(hex4('203.0.113.0'), 'ENETUNREACH');
    const counters = new Counters();
    const s = new StaticConfig({ net: k, counters });
    const r = await s.apply(A);
    expect(r.added).toBe(5);
    expect(r.failed).toBe(1);
    expect(r.errors[0]!.code).toBe('KA_ERR_DAEMON_STATIC');
    expect(r.errors[0]!.message).toContain('ENETUNREACH');
    expect(counters.get('static.errors')).toBe(1);
    expect(counters.get('static.errors.route')).toBe(1);
    expect(k.kinds()).toEqual(['addr', 'addr', 'route', 'rule', 'rule']);
    k.refuse.clear();
    const again = await s.reconcile(A);
    expect(again).toMatchObject({ added: 1, kept: 5, removed: 0, failed: 0 });
    expect(k.kinds()).toEqual(['addr', 'addr', 'route', 'route', 'rule', 'rule']);
  });

  it('an entry already in the kernel is taken as ours and removed at stop; a missing interface fails that entry only', async () => {
    const k = new FakeKernel();
    await k.request(addressMessage(staticEntries(A)[0]!.spec as never, 2, true));
    const c = conf({ addrs: ['192.0.2.10/24 dev eth0', '192.0.2.20/24 dev eth7'] });
    const s = new StaticConfig({ net: k });
    const r = await s.apply(c);
    expect(r).toMatchObject({ added: 1, failed: 1 });
    expect(r.errors[0]!.message).toContain('eth7');
    expect(s.snapshot().map((x) => x.set)).toEqual([true, false]);
    await s.remove();
    expect(k.objects.size).toBe(0);
  });

  it('static.restored counts only entries really missing: a re-add that finds it in place (EEXIST) is not one', async () => {
    const k = new FakeKernel();
    const counters = new Counters();
    const s = new StaticConfig({ net: k, counters });
    await s.apply(conf({ addrs: ['192.0.2.10/24 dev eth0', '192.0.2.11/24 dev eth0'] }));
    const gone = (address: string): AddrInfo => ({
      deleted: true,
      family: 4,
      ifindex: 2,
      prefixlen: 24,
      flags: 0,
      scope: 0,
      address,
      peer: undefined,
      broadcast: undefined,
      label: undefined,
      cacheinfo: undefined,
    });
    // a stale deletion notice: the address is still there, the add answers EEXIST
    k.emit('addr', gone('192.0.2.10'));
    await s.settled();
    expect(counters.get('static.restored')).toBe(0);
    // really deleted: put back and counted
    k.objects.delete(`addr 2 ${hex4('192.0.2.11')}/24`);
    k.emit('addr', gone('192.0.2.11'));
    await s.settled();
    expect(counters.get('static.restored')).toBe(1);
    expect(k.objects.has(`addr 2 ${hex4('192.0.2.11')}/24`)).toBe(true);
    await s.remove();
  });

  it('restores a deleted static address (not no_track), and adds entries of an interface that comes up', async () => {
    const k = new FakeKernel();
    const c = conf({
      addrs: ['192.0.2.10/24 dev eth0', '192.0.2.11/24 dev eth0 no_track', '192.0.2.20/24 dev eth5'],
    });
    const s = new StaticConfig({ net: k });
    await s.apply(c);
    expect(k.objects.size).toBe(2);
    const gone = (address: string): AddrInfo => ({
      deleted: true,
      family: 4,
      ifindex: 2,
      prefixlen: 24,
      flags: 0,
      scope: 0,
      address,
      peer: undefined,
      broadcast: undefined,
      label: undefined,
      cacheinfo: undefined,
    });
    for (const a of ['192.0.2.10', '192.0.2.11']) {
      k.objects.delete(`addr 2 ${hex4(a)}/24`);
      k.emit('addr', gone(a));
    }
    k.links.set('eth5', 9);
    const up: LinkInfo = {
      deleted: false,
      ifindex: 9,
      name: 'eth5',
      flags: IFF_UP | IFF_RUNNING,
      linkType: 1,
      mtu: 1500,
      mac: undefined,
      kind: undefined,
      parentIndex: undefined,
      master: undefined,
      operstate: undefined,
    };
    k.emit('link', up, undefined);
    await s.settled();
    await s.remove();
    const restored = k.ops.filter((o) => o.startsWith('add'));
    expect(restored).toContain(`add addr 2 ${hex4('192.0.2.10')}/24`);
    expect(restored.filter((o) => o === `add addr 2 ${hex4('192.0.2.11')}/24`)).toHaveLength(1); // no_track: once
    expect(restored).toContain(`add addr 9 ${hex4('192.0.2.20')}/24`);
    expect(k.objects.size).toBe(0);
  });
});
