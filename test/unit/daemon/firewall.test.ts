/**
 * The firewall planner and runtime against an in-memory nft (FakeNft below: tables, chains, sets,
 * maps, rules and elements with nft's add/delete rules and one transaction per document), compared
 * with what keepalived 2.2.7 itself produced in the lab (docs/FIREWALL.md).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig, VrrpInstance } from '../../../src/config/model.js';
import { Counters } from '../../../src/core/counters.js';
import { isKaError } from '../../../src/core/errors.js';
import {
  emptyState,
  Firewall,
  type FirewallSettings,
  type FirewallVip,
  firewallSettings,
  firewallWanted,
  instanceVips,
  instanceVmac,
  type NftCmd,
  type NftRunner,
  nftRunner,
  planChange,
  planStop,
} from '../../../src/daemon/firewall.js';

// `nft -j list ruleset` of keepalived 2.2.7 while MASTER (handles and metainfo left out), lab runs
// (a) vrrp_strict, IPv4 VIPs; (d) use_vmac + vrrp_strict; (e2) use_vmac + vrrp_strict, IPV6 VIPs.
const LAB_A: unknown[] = [
  { table: { family: 'ip', name: 'keepalived' } },
  {
    set: {
      family: 'ip',
      name: 'vips',
      table: 'keepalived',
      type: 'ipv4_addr',
      elem: ['192.0.2.100', '192.0.2.101'],
    },
  },
  {
    chain: {
      family: 'ip',
      table: 'keepalived',
      name: 'out',
      type: 'filter',
      hook: 'output',
      prio: -1,
      policy: 'accept',
    },
  },
  {
    chain: {
      family: 'ip',
      table: 'keepalived',
      name: 'in',
      type: 'filter',
      hook: 'input',
      prio: -1,
      policy: 'accept',
    },
  },
  {
    rule: {
      family: 'ip',
      table: 'keepalived',
      chain: 'out',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@vips' } },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip',
      table: 'keepalived',
      chain: 'in',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@vips' } },
        { drop: null },
      ],
    },
  },
];
const LAB_D: unknown[] = [
  { table: { family: 'ip', name: 'keepalived' } },
  {
    map: {
      family: 'ip',
      name: 'vmac_map',
      table: 'keepalived',
      type: 'iface_index',
      map: 'iface_index',
      elem: [['vrrp.51', 'va']],
    },
  },
  {
    set: {
      family: 'ip',
      name: 'vips',
      table: 'keepalived',
      type: 'ipv4_addr',
      elem: ['192.0.2.100', '192.0.2.101'],
    },
  },
  {
    chain: {
      family: 'ip',
      table: 'keepalived',
      name: 'out',
      type: 'filter',
      hook: 'output',
      prio: -1,
      policy: 'accept',
    },
  },
  {
    chain: {
      family: 'ip',
      table: 'keepalived',
      name: 'in',
      type: 'filter',
      hook: 'input',
      prio: -1,
      policy: 'accept',
    },
  },
  {
    rule: {
      family: 'ip',
      table: 'keepalived',
      chain: 'out',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'protocol' } }, right: 'igmp' } },
        { match: { op: '==', left: { meta: { key: 'oifkind' } }, right: 'macvlan' } },
        {
          dup: {
            addr: { payload: { protocol: 'ip', field: 'daddr' } },
            dev: { map: { key: { meta: { key: 'oif' } }, data: '@vmac_map' } },
          },
        },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip',
      table: 'keepalived',
      chain: 'out',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@vips' } },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip',
      table: 'keepalived',
      chain: 'in',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@vips' } },
        { drop: null },
      ],
    },
  },
];
const LAB_E2: unknown[] = [
  { table: { family: 'ip6', name: 'keepalived' } },
  {
    map: {
      family: 'ip6',
      name: 'vmac_map',
      table: 'keepalived',
      type: 'iface_index',
      map: 'iface_index',
      elem: [['vrrp.51', 'va']],
    },
  },
  { set: { family: 'ip6', name: 'vmac_set', table: 'keepalived', type: 'iface_index', elem: ['vrrp.51'] } },
  { set: { family: 'ip6', name: 'vips', table: 'keepalived', type: 'ipv6_addr', elem: ['fd00::100'] } },
  {
    set: {
      family: 'ip6',
      name: 'neighbor-discovery',
      table: 'keepalived',
      type: 'icmpv6_type',
      flags: ['constant'],
      elem: ['nd-neighbor-solicit', 'nd-neighbor-advert'],
    },
  },
  {
    set: {
      family: 'ip6',
      name: 'vips_link_local',
      table: 'keepalived',
      type: ['ipv6_addr', 'iface_index'],
      elem: [{ concat: ['fe80::100', 'vrrp.51'] }],
    },
  },
  {
    chain: {
      family: 'ip6',
      table: 'keepalived',
      name: 'out',
      type: 'filter',
      hook: 'output',
      prio: -1,
      policy: 'accept',
    },
  },
  {
    chain: {
      family: 'ip6',
      table: 'keepalived',
      name: 'in',
      type: 'filter',
      hook: 'input',
      prio: -1,
      policy: 'accept',
    },
  },
  { chain: { family: 'ip6', table: 'keepalived', name: 'in_link_local' } },
  { chain: { family: 'ip6', table: 'keepalived', name: 'out_link_local' } },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'out',
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'icmpv6', field: 'type' } },
            right: 'mld2-listener-report',
          },
        },
        { match: { op: '==', left: { meta: { key: 'oifkind' } }, right: 'macvlan' } },
        {
          dup: {
            addr: { payload: { protocol: 'ip6', field: 'daddr' } },
            dev: { map: { key: { meta: { key: 'oif' } }, data: '@vmac_map' } },
          },
        },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'out',
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'icmpv6', field: 'type' } },
            right: 'nd-router-solicit',
          },
        },
        { match: { op: '==', left: { meta: { key: 'oifkind' } }, right: 'macvlan' } },
        { match: { op: '==', left: { meta: { key: 'oif' } }, right: '@vmac_set' } },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'out',
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'icmpv6', field: 'type' } },
            right: '@neighbor-discovery',
          },
        },
        { accept: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'out',
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'ip6', field: 'saddr' } },
            right: { prefix: { addr: 'fe80::', len: 10 } },
          },
        },
        { goto: { target: 'out_link_local' } },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'out',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip6', field: 'saddr' } }, right: '@vips' } },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'in',
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'icmpv6', field: 'type' } },
            right: '@neighbor-discovery',
          },
        },
        { accept: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'in',
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'ip6', field: 'daddr' } },
            right: { prefix: { addr: 'fe80::', len: 10 } },
          },
        },
        { goto: { target: 'in_link_local' } },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'in',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip6', field: 'daddr' } }, right: '@vips' } },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'in_link_local',
      expr: [
        {
          match: {
            op: '==',
            left: { concat: [{ payload: { protocol: 'ip6', field: 'daddr' } }, { meta: { key: 'iif' } }] },
            right: '@vips_link_local',
          },
        },
        { drop: null },
      ],
    },
  },
  {
    rule: {
      family: 'ip6',
      table: 'keepalived',
      chain: 'out_link_local',
      expr: [
        {
          match: {
            op: '==',
            left: { concat: [{ payload: { protocol: 'ip6', field: 'saddr' } }, { meta: { key: 'oif' } }] },
            right: '@vips_link_local',
          },
        },
        { drop: null },
      ],
    },
  },
];

type Obj = Record<string, unknown>;
interface FakeSet {
  kind: 'set' | 'map';
  def: Obj;
  elem: unknown[];
}
interface FakeTable {
  family: string;
  name: string;
  sets: Map<string, FakeSet>;
  chains: Map<string, { def: Obj; rules: unknown[][] }>;
}

/**
 * An in-memory nft: applies a `nft -j` document as one transaction (all or nothing), with nft's
 * rules for what fails (deleting what is absent, a rule naming a missing set, an element for an
 * unknown interface) and, stricter than `nft add`, a duplicate element (keepalived adds with EXCL).
 * `list()` gives `nft -j list ruleset` order: per table its sets and maps, chains, then rules by chain.
 */
class FakeNft {
  tables = new Map<string, FakeTable>();
  documents: NftCmd[][] = [];
  failNext: string | undefined;
  constructor(readonly interfaces = new Set(['va', 'vrrp.51', 'eth0'])) {}

  readonly run: NftRunner = async (doc) => {
    const cmds = (JSON.parse(doc) as { nftables: NftCmd[] }).nftables;
    this.documents.push(cmds);
    if (this.failNext !== undefined) {
      const message = this.failNext;
      this.failNext = undefined;
      return { ok: false, message, spawn: false };
    }
    const work = structuredClone(this.tables);
    try {
      for (const c of cmds) this.apply(work, c);
    } catch (e) {
      return { ok: false, message: (e as Error).message, spawn: false };
    }
    this.tables = work;
    return { ok: true };
  };

  private table(ts: Map<string, FakeTable>, family: unknown, name: unknown): FakeTable {
    const t = ts.get(`${family} ${name}`);
    if (!t) throw new Error(`No such file or directory: table ${family} ${name}`);
    return t;
  }

  private checkIfaces(type: unknown, key: unknown): void {
    const types = Array.isArray(type) ? type : [type];
    const vals = Array.isArray(key)
      ? key
      : typeof key === 'object' && key && 'concat' in key
        ? (key as { concat: unknown[] }).concat
        : [key];
    types.forEach((t, i) => {
      if (t === 'iface_index' && !this.interfaces.has(String(vals[i])))
        throw new Error('Interface does not exist');
    });
  }

  private apply(ts: Map<string, FakeTable>, c: NftCmd): void {
    const [[verb, body]] = Object.entries(c) as [[string, Obj]];
    const [[kind, o]] = Object.entries(body) as [[string, Obj]];
    if (verb === 'add' && kind === 'table') {
      const k = `${o.family} ${o.name}`;
      if (!ts.has(k))
        ts.set(k, { family: String(o.family), name: String(o.name), sets: new Map(), chains: new Map() });
      return;
    }
    if (verb === 'delete' && kind === 'table') {
      this.table(ts, o.family, o.name);
      ts.delete(`${o.family} ${o.name}`);
      return;
    }
    const t = this.table(ts, o.family, o.table);
    if (verb === 'add' && kind === 'chain') {
      if (!t.chains.has(String(o.name))) t.chains.set(String(o.name), { def: o, rules: [] });
      return;
    }
    if (verb === 'add' && (kind === 'set' || kind === 'map')) {
      if (!t.sets.has(String(o.name))) {
        const { elem, ...def } = o;
        t.sets.set(String(o.name), { kind, def, elem: [...((elem as unknown[]) ?? [])] });
      }
      return;
    }
    if (verb === 'add' && kind === 'rule') {
      const ch = t.chains.get(String(o.chain));
      if (!ch) throw new Error(`No such file or directory: chain ${o.chain}`);
      for (const ref of JSON.stringify(o.expr).match(/"@[^"]+"/g) ?? []) {
        if (!t.sets.has(ref.slice(2, -1))) throw new Error(`Could not process rule: set ${ref} missing`);
      }
      for (const ref of JSON.stringify(o.expr).match(/"target":"[^"]+"/g) ?? []) {
        if (!t.chains.has(ref.slice(10, -1))) throw new Error(`Could not process rule: chain ${ref} missing`);
      }
      ch.rules.push(o.expr as unknown[]);
      return;
    }
    if (kind === 'element') {
      const s = t.sets.get(String(o.name));
      if (!s) throw new Error(`No such file or directory: set ${o.name}`);
      for (const e of o.elem as unknown[]) {
        const key = JSON.stringify(e);
        const at = s.elem.findIndex((x) => JSON.stringify(x) === key);
        if (verb === 'add') {
          if (at >= 0) throw new Error(`File exists: element ${key}`);
          this.checkIfaces(s.def.type, s.kind === 'map' ? (e as unknown[])[0] : e);
          if (s.kind === 'map') this.checkIfaces(s.def.map, (e as unknown[])[1]);
          s.elem.push(e);
        } else {
          if (at < 0) throw new Error(`No such file or directory: element ${key}`);
          s.elem.splice(at, 1);
        }
      }
      return;
    }
    throw new Error(`unsupported command ${verb} ${kind}`);
  }

  list(): unknown[] {
    const out: unknown[] = [];
    for (const t of this.tables.values()) {
      out.push({ table: { family: t.family, name: t.name } });
      for (const [name, s] of t.sets) {
        const { family, table, type, ...rest } = s.def;
        const ordered: Obj = { family, name, table, type, ...rest };
        if (s.elem.length > 0) ordered.elem = s.elem;
        out.push({ [s.kind]: ordered });
      }
      for (const [name, c] of t.chains) {
        const { family, table, type, hook, prio, policy } = c.def;
        const def: Obj = { family, table, name };
        if (hook !== undefined) Object.assign(def, { type, hook, prio, policy });
        out.push({ chain: def });
      }
      for (const [chain, c] of t.chains) {
        for (const expr of c.rules) out.push({ rule: { family: t.family, table: t.name, chain, expr } });
      }
    }
    return out;
  }
}

/** Set elements come back from the kernel in its own order: compare them sorted. */
function canon(list: unknown[]): unknown {
  return JSON.parse(
    JSON.stringify(list, (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) && Array.isArray((v as Obj).elem)
        ? {
            ...v,
            elem: [...((v as Obj).elem as unknown[])].sort((a, b) =>
              JSON.stringify(a) < JSON.stringify(b) ? -1 : 1,
            ),
          }
        : v,
    ),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'kt-fw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let nConf = 0;
function config(text: string): KeepalivedConfig {
  const p = join(dir, `k${nConf++}.conf`);
  writeFileSync(p, text);
  const r = loadConfig(p);
  const fatal = r.diagnostics.filter((d) => d.severity === 'fatal' || d.severity === 'error');
  expect(fatal).toEqual([]);
  return r.config;
}

const instance = (extra: string, vips: string) => `
vrrp_instance VI_1 {
  state BACKUP
  interface va
  virtual_router_id 51
  priority 100
  ${extra}
  virtual_ipaddress {
${vips}
  }
}`;
const V4 = '    192.0.2.100/24\n    192.0.2.101/24';
const V6 = '    fe80::100/64\n    fd00::100/64';

/** Runs a lab scenario through Firewall as the VRRP host would: VMAC at start, VIPs on MASTER. */
async function scenario(text: string): Promise<{ fake: FakeNft; fw: Firewall; vips: FirewallVip[] }> {
  const cfg = config(text);
  const s = firewallSettings(cfg.global.settings);
  const inst = cfg.vrrpInstances[0]!;
  expect(firewallWanted(cfg.vrrpInstances, s)).toBe(true);
  const fake = new FakeNft();
  const fw = new Firewall({ settings: s, run: fake.run });
  expect(await fw.start()).toEqual({ ok: true });
  const ifname = inst.useVmac ? 'vrrp.51' : 'va';
  if (inst.useVmac) expect(await fw.addVmac(instanceVmac(inst, 'vrrp.51', 'va', s)!)).toEqual({ ok: true });
  const vips = instanceVips(inst, ifname, s);
  expect(await fw.addVips(inst.name, vips)).toEqual({ ok: true });
  return { fake, fw, vips };
}

describe('settings from global_defs', () => {
  it('defaults to table keepalived, priority -1, no counters, link-local by index', () => {
    const c = config(`global_defs {\n vrrp_strict\n}\n${instance('', V4)}`);
    expect(firewallSettings(c.global.settings)).toEqual({
      table: 'keepalived',
      priority: -1,
      counters: false,
      ifindex: false,
      disableLocalIgmp: false,
    });
    expect(c.vrrpInstances[0]!.accept).toBe(false);
    expect(firewallWanted(c.vrrpInstances, firewallSettings(c.global.settings))).toBe(true);
  });
  it('reads nftables TABLE, nftables_priority, nftables_counters, nftables_ifindex', () => {
    const c = config(
      `global_defs {\n nftables kt_fw\n nftables_priority -5\n nftables_counters\n nftables_ifindex\n}\n${instance('no_accept', V4)}`,
    );
    expect(firewallSettings(c.global.settings)).toEqual({
      table: 'kt_fw',
      priority: -5,
      counters: true,
      ifindex: true,
      disableLocalIgmp: false,
    });
  });
  it('wants no firewall for accept-mode instances without VMAC (strict owner, plain)', () => {
    const owner = config(
      `global_defs {\n vrrp_strict\n}\n${instance('', V4).replace('priority 100', 'priority 255')}`,
    );
    expect(owner.vrrpInstances[0]!.accept).toBe(true);
    const wanted = (c: ReturnType<typeof config>) =>
      firewallWanted(c.vrrpInstances, firewallSettings(c.global.settings));
    expect(wanted(owner)).toBe(false);
    expect(instanceVips(owner.vrrpInstances[0]!, 'va', firewallSettings(owner.global.settings))).toEqual([]);
    expect(wanted(config(instance('', V4)))).toBe(false);
    expect(wanted(config(instance('use_vmac', V4)))).toBe(true);
  });
  it('puts no drop rule on an address owner, even with an explicit no_accept (as keepalived 2.2.7)', () => {
    const c = config(instance('no_accept', V4).replace('priority 100', 'priority 255'));
    const s = firewallSettings(c.global.settings);
    expect(c.vrrpInstances[0]!.accept).toBe(false);
    expect(instanceVips(c.vrrpInstances[0]!, 'va', s)).toEqual([]);
    expect(firewallWanted(c.vrrpInstances, s)).toBe(false);
    const below = config(instance('no_accept', V4));
    expect(instanceVips(below.vrrpInstances[0]!, 'va', s)).toHaveLength(2);
  });
  it('wants no firewall for an IPv4 VMAC under disable_local_igmp (keepalived adds no table), one for IPv6', () => {
    const igmp = 'global_defs {\n disable_local_igmp\n}\n';
    const v4 = config(`${igmp}${instance('use_vmac', V4)}`);
    expect(firewallSettings(v4.global.settings).disableLocalIgmp).toBe(true);
    expect(firewallWanted(v4.vrrpInstances, firewallSettings(v4.global.settings))).toBe(false);
    const v6 = config(`${igmp}${instance('use_vmac', V6)}`);
    expect(firewallWanted(v6.vrrpInstances, firewallSettings(v6.global.settings))).toBe(true);
  });
});

describe('ruleset equals keepalived 2.2.7 (lab)', () => {
  it('(a) vrrp_strict, IPv4 VIPs while MASTER', async () => {
    const { fake } = await scenario(`global_defs {\n vrrp_strict\n}\n${instance('', V4)}`);
    expect(canon(fake.list())).toEqual(canon(LAB_A));
  });
  it('(c) no_accept without strict gives the same', async () => {
    const { fake } = await scenario(instance('no_accept', V4));
    expect(canon(fake.list())).toEqual(canon(LAB_A));
  });
  it('(d) use_vmac + vrrp_strict: IGMP rule first, then the VIP rules', async () => {
    const { fake } = await scenario(`global_defs {\n vrrp_strict\n}\n${instance('use_vmac', V4)}`);
    expect(canon(fake.list())).toEqual(canon(LAB_D));
  });
  it('(e2) use_vmac + vrrp_strict, IPv6: MLD/RS rules, ND exemption, link-local set by index', async () => {
    const { fake } = await scenario(
      `global_defs {\n vrrp_strict\n}\n${instance('use_vmac\n  version 3', V6)}`,
    );
    expect(canon(fake.list())).toEqual(canon(LAB_E2));
  });
  it('(b2) table name, priority and counters follow the settings', async () => {
    const { fake } = await scenario(
      `global_defs {\n nftables kt_fw\n nftables_priority -5\n nftables_counters\n}\n${instance('no_accept', V4)}`,
    );
    const expected = JSON.parse(
      JSON.stringify(LAB_A)
        .replaceAll('"keepalived"', '"kt_fw"')
        .replaceAll('"prio":-1', '"prio":-5')
        .replaceAll('{"drop":null}', '{"counter":null},{"drop":null}'),
    );
    expect(canon(fake.list())).toEqual(canon(expected));
  });
  it('(g) dont_track_primary: link-local VIPs by name; leaving MASTER empties the sets, keeps the rules', async () => {
    const { fake, fw } = await scenario(instance('no_accept\n  version 3\n  dont_track_primary', V6));
    const t = fake.tables.get('ip6 keepalived')!;
    expect(t.sets.get('vips_link_local_name')!.def.type).toEqual(['ipv6_addr', 'ifname']);
    expect(t.sets.get('vips_link_local_name')!.elem).toEqual([{ concat: ['fe80::100', 'va'] }]);
    expect(t.sets.has('vips_link_local')).toBe(false);
    expect(JSON.stringify(t.chains.get('in_link_local')!.rules)).toContain('"iifname"');
    const rulesBefore = JSON.stringify([...t.chains.values()].map((c) => c.rules));
    expect(await fw.removeVips('VI_1')).toEqual({ ok: true });
    const t2 = fake.tables.get('ip6 keepalived')!;
    expect(t2.sets.get('vips')!.elem).toEqual([]);
    expect(t2.sets.get('vips_link_local_name')!.elem).toEqual([]);
    expect(JSON.stringify([...t2.chains.values()].map((c) => c.rules))).toBe(rulesBefore);
    expect(await fw.stop()).toEqual({ ok: true });
    expect(fake.tables.size).toBe(0);
  });
  it('(r) reload: a replaced VIP and a deleted VMAC instance leave what keepalived left', async () => {
    const cfg = config(
      instance('no_accept', V4) +
        instance('use_vmac\n  no_accept', '    192.0.2.110/24')
          .replace('VI_1', 'VI_2')
          .replace('router_id 51', 'router_id 52'),
    );
    const s = firewallSettings(cfg.global.settings);
    const [i1, i2] = cfg.vrrpInstances as [VrrpInstance, VrrpInstance];
    const fake = new FakeNft(new Set(['va', 'vrrp.52']));
    const fw = new Firewall({ settings: s, run: fake.run });
    expect(await fw.start()).toEqual({ ok: true });
    expect(await fw.addVmac(instanceVmac(i2, 'vrrp.52', 'va', s)!)).toEqual({ ok: true });
    expect(await fw.addVips(i1.name, instanceVips(i1, 'va', s))).toEqual({ ok: true });
    expect(await fw.addVips(i2.name, instanceVips(i2, 'vrrp.52', s))).toEqual({ ok: true });
    const t = () => fake.tables.get('ip keepalived')!;
    expect([...t().sets.get('vips')!.elem].sort()).toEqual(['192.0.2.100', '192.0.2.101', '192.0.2.110']);
    const reloaded = config(instance('no_accept', V4.replace('192.0.2.101', '192.0.2.102')));
    expect(await fw.setVips('VI_1', instanceVips(reloaded.vrrpInstances[0]!, 'va', s))).toEqual({ ok: true });
    expect(await fw.removeVips('VI_2')).toEqual({ ok: true });
    expect(await fw.removeVmac('vrrp.52')).toEqual({ ok: true });
    expect([...t().sets.get('vips')!.elem].sort()).toEqual(['192.0.2.100', '192.0.2.102']);
    expect(t().sets.get('vmac_map')!.elem).toEqual([]);
    expect(t().chains.get('out')!.rules.length).toBe(2);
  });
  it('(i) disable_local_igmp: no VMAC entry for an IPv4 instance, still one for IPv6', () => {
    const c4 = config(`global_defs {\n disable_local_igmp\n}\n${instance('use_vmac', V4)}`);
    const s4 = firewallSettings(c4.global.settings);
    expect(s4.disableLocalIgmp).toBe(true);
    expect(instanceVmac(c4.vrrpInstances[0]!, 'vrrp.51', 'va', s4)).toBeUndefined();
    const c6 = config(`global_defs {\n disable_local_igmp\n}\n${instance('use_vmac\n  version 3', V6)}`);
    expect(instanceVmac(c6.vrrpInstances[0]!, 'vrrp.51', 'va', firewallSettings(c6.global.settings))).toEqual(
      {
        vmac: 'vrrp.51',
        parent: 'va',
        families: ['ip6'],
      },
    );
  });
  it('nftables_ifindex keeps link-local VIPs in the index set even with dont_track_primary', () => {
    const c = config(
      `global_defs {\n nftables_ifindex\n}\n${instance('no_accept\n  version 3\n  dont_track_primary', V6)}`,
    );
    const v = instanceVips(c.vrrpInstances[0]!, 'va', firewallSettings(c.global.settings));
    expect(v).toEqual([
      { address: 'fe80::100', ifname: 'va' },
      { address: 'fd00::100', ifname: 'va' },
    ]);
  });
  it('excluded VIPs of the other family put the VMAC rules in both tables', () => {
    const c = config(
      instance('use_vmac', V4).replace('}\n}', '}\n  virtual_ipaddress_excluded {\n    fd00::200/64\n  }\n}'),
    );
    expect(
      instanceVmac(c.vrrpInstances[0]!, 'vrrp.51', 'va', firewallSettings(c.global.settings))?.families,
    ).toEqual(['ip', 'ip6']);
  });
});

const S: FirewallSettings = {
  table: 'keepalived',
  priority: -1,
  counters: false,
  ifindex: false,
  disableLocalIgmp: false,
};
const v = (address: string, ifname = 'va'): FirewallVip => ({ address, ifname });

describe('planner', () => {
  it('creates each piece once and only adds elements later', () => {
    const p1 = planChange(emptyState(), { vips: new Map([['A', [v('192.0.2.100')]]]), vmacs: new Map() }, S);
    expect(p1.next.pieces).toEqual({ ip: ['base', 'vips'], ip6: [] });
    const p2 = planChange(
      p1.next,
      { vips: new Map([['A', [v('192.0.2.100'), v('192.0.2.101')]]]), vmacs: new Map() },
      S,
    );
    expect(p2.commands).toEqual([
      { add: { element: { family: 'ip', table: 'keepalived', name: 'vips', elem: ['192.0.2.101'] } } },
    ]);
  });
  it('counts holders: a VIP shared by two instances goes when the last lets it go', () => {
    const both = planChange(
      emptyState(),
      {
        vips: new Map([
          ['A', [v('192.0.2.100')]],
          ['B', [v('192.0.2.100')]],
        ]),
        vmacs: new Map(),
      },
      S,
    );
    const oneLeft = planChange(
      both.next,
      { vips: new Map([['B', [v('192.0.2.100')]]]), vmacs: new Map() },
      S,
    );
    expect(oneLeft.commands).toEqual([]);
    const none = planChange(oneLeft.next, { vips: new Map(), vmacs: new Map() }, S);
    expect(none.commands).toEqual([
      { delete: { element: { family: 'ip', table: 'keepalived', name: 'vips', elem: ['192.0.2.100'] } } },
    ]);
    expect(none.next.pieces.ip).toEqual(['base', 'vips']);
  });
  it('normalises addresses (fd00:0::0100 is fd00::100)', () => {
    const p = planChange(emptyState(), { vips: new Map([['A', [v('fd00:0::0100')]]]), vmacs: new Map() }, S);
    expect(JSON.stringify(p.commands.at(-1))).toContain('"fd00::100"');
  });
  it('refuses what is not an address or an interface name with KA_ERR_DAEMON_FIREWALL_INPUT', () => {
    for (const bad of [
      v('192.0.2.300'),
      v('not-an-ip'),
      v('192.0.2.1/24'),
      v('192.0.2.1', 'a b'),
      v('fe80::1', 'x'.repeat(16)),
    ]) {
      let err: unknown;
      try {
        planChange(emptyState(), { vips: new Map([['A', [bad]]]), vmacs: new Map() }, S);
      } catch (e) {
        err = e;
      }
      expect(isKaError(err, 'KA_ERR_DAEMON_FIREWALL_INPUT'), `${bad.address} on ${bad.ifname}`).toBe(true);
    }
  });
  it('stop deletes only the tables that were set up', () => {
    const p = planChange(emptyState(), { vips: new Map([['A', [v('fd00::100')]]]), vmacs: new Map() }, S);
    expect(planStop(p.next, S)).toEqual([{ delete: { table: { family: 'ip6', name: 'keepalived' } } }]);
    expect(planStop(emptyState(), S)).toEqual([]);
  });
  it('any sequence of changes keeps nft consistent: no failed batch, sets equal the union of holders', async () => {
    const addrs = ['192.0.2.100', '192.0.2.101', 'fd00::100', 'fe80::100', 'fe80::101'];
    const op = fc.record({
      inst: fc.constantFrom('A', 'B', 'C'),
      kind: fc.constantFrom('add', 'set', 'remove', 'vmac+', 'vmac-'),
      vips: fc.subarray(addrs),
      byName: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const fake = new FakeNft();
        const fw = new Firewall({ settings: S, run: fake.run });
        const held = new Map<string, Set<string>>();
        let vmac = false;
        for (const o of ops) {
          const vs = o.vips.map((a) => ({
            address: a,
            ifname: 'va',
            ...(o.byName && a.startsWith('fe80') ? { byName: true } : {}),
          }));
          const r =
            o.kind === 'add'
              ? await fw.addVips(o.inst, vs)
              : o.kind === 'set'
                ? await fw.setVips(o.inst, vs)
                : o.kind === 'remove'
                  ? await fw.removeVips(o.inst, o.byName ? vs : undefined)
                  : o.kind === 'vmac+'
                    ? await fw.addVmac({ vmac: 'vrrp.51', parent: 'va', families: ['ip', 'ip6'] })
                    : await fw.removeVmac('vrrp.51');
          expect(r).toEqual({ ok: true });
          const mine = new Set(held.get(o.inst) ?? new Set<string>());
          const keys = vs.map((x) => `${x.address}|${x.byName ?? false}`);
          if (o.kind === 'add') for (const k of keys) mine.add(k);
          if (o.kind === 'set') held.set(o.inst, new Set(keys));
          else if (o.kind === 'remove') {
            if (o.byName) for (const k of keys) mine.delete(k);
            else mine.clear();
          }
          if (o.kind === 'add' || o.kind === 'remove') held.set(o.inst, mine);
          if (o.kind === 'vmac+') vmac = true;
          if (o.kind === 'vmac-') vmac = false;
        }
        const want = new Set([...held.values()].flatMap((s) => [...s]));
        const got = new Set<string>();
        for (const t of fake.tables.values()) {
          for (const [name, s] of t.sets) {
            if (name === 'vips') for (const e of s.elem) got.add(`${e}|false`);
            if (name === 'vips_link_local')
              for (const e of s.elem) got.add(`${(e as { concat: string[] }).concat[0]}|false`);
            if (name === 'vips_link_local_name')
              for (const e of s.elem) got.add(`${(e as { concat: string[] }).concat[0]}|true`);
          }
        }
        expect([...got].sort()).toEqual([...want].sort());
        const map = fake.tables.get('ip keepalived')?.sets.get('vmac_map')?.elem ?? [];
        expect(map.length).toBe(vmac ? 1 : 0);
        await fw.stop();
        expect(fake.tables.size).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});

describe('failures never throw, are typed and counted, and leave the state where nft left it', () => {
  it('a rejected batch: KA_ERR_DAEMON_FIREWALL, counter, state unchanged, next change retries the pieces', async () => {
    const fake = new FakeNft();
    const counters = new Counters();
    const fw = new Firewall({ settings: S, run: fake.run, counters });
    fake.failNext = 'Error: Could not process rule: Operation not supported';
    const r = await fw.addVips('A', [v('192.0.2.100')]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('KA_ERR_DAEMON_FIREWALL');
    expect(!r.ok && r.error.message).toContain('Operation not supported');
    expect(counters.get('firewall.errors.KA_ERR_DAEMON_FIREWALL')).toBe(1);
    expect(fw.state.pieces.ip).toEqual([]);
    expect(await fw.addVips('A', [v('192.0.2.100')])).toEqual({ ok: true });
    expect(fake.documents.at(-1)!.length).toBe(fake.documents[0]!.length);
    expect(fake.tables.get('ip keepalived')!.sets.get('vips')!.elem).toEqual(['192.0.2.100']);
  });
  it('an interface that is gone fails the whole batch (nothing half-applied)', async () => {
    const fake = new FakeNft(new Set(['va']));
    const fw = new Firewall({ settings: S, run: fake.run, counters: new Counters() });
    const r = await fw.addVips('A', [v('fd00::100'), v('fe80::100', 'vrrp.9')]);
    expect(!r.ok && r.error.code).toBe('KA_ERR_DAEMON_FIREWALL');
    expect(fake.tables.size).toBe(0);
    expect(fw.state.vips.size).toBe(0);
  });
  it('bad input: KA_ERR_DAEMON_FIREWALL_INPUT before nft runs', async () => {
    const fake = new FakeNft();
    const counters = new Counters();
    const fw = new Firewall({ settings: S, run: fake.run, counters });
    const r = await fw.addVips('A', [v('192.0.2.999')]);
    expect(!r.ok && r.error.code).toBe('KA_ERR_DAEMON_FIREWALL_INPUT');
    expect(fake.documents).toEqual([]);
    expect(counters.get('firewall.errors.KA_ERR_DAEMON_FIREWALL_INPUT')).toBe(1);
  });
  it('no nft binary: KA_ERR_DAEMON_NFT_EXEC', async () => {
    const fw = new Firewall({
      settings: S,
      run: nftRunner({ nft: join(dir, 'no-such-nft') }),
      counters: new Counters(),
    });
    const r = await fw.start();
    expect(!r.ok && r.error.code).toBe('KA_ERR_DAEMON_NFT_EXEC');
  });
  it('a runner that throws still gives a typed result, and later calls run', async () => {
    const counters = new Counters();
    let calls = 0;
    const fw = new Firewall({
      settings: S,
      counters,
      run: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return { ok: true };
      },
    });
    const r = await fw.addVips('A', [v('192.0.2.100')]);
    expect(!r.ok && r.error.code).toBe('KA_ERR_DAEMON_FIREWALL');
    expect(counters.get('firewall.errors.KA_ERR_DAEMON_FIREWALL')).toBe(1);
    expect(await fw.addVips('A', [v('192.0.2.100')])).toEqual({ ok: true });
    expect(calls).toBe(2);
  });
  it('applies VIP changes asked for in one turn in one nft run, in the order asked', async () => {
    const fake = new FakeNft();
    const fw = new Firewall({ settings: S, run: fake.run });
    const all = await Promise.all([
      fw.addVips('A', [v('192.0.2.100')]),
      fw.removeVips('A'),
      fw.addVips('A', [v('192.0.2.101')]),
      fw.addVips('B', [v('192.0.2.102')]),
    ]);
    expect(all).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    expect(fake.tables.get('ip keepalived')!.sets.get('vips')!.elem).toEqual(['192.0.2.101', '192.0.2.102']);
    expect(fake.documents).toHaveLength(1);
    expect(JSON.stringify(fake.documents[0])).not.toContain('192.0.2.100');
  });
  it('plans each batch from the state the previous one left; changes asked during a run wait for the next', async () => {
    const fake = new FakeNft();
    let release: (() => void) | undefined;
    const fw = new Firewall({
      settings: S,
      run: async (doc) => {
        if (fake.documents.length === 0) await new Promise<void>((r) => (release = r));
        return fake.run(doc);
      },
    });
    const first = fw.addVips('A', [v('192.0.2.100')]);
    await new Promise((r) => setImmediate(r));
    // the first run is in flight: these two form the second batch
    const later = [fw.removeVips('A'), fw.addVips('B', [v('192.0.2.101')])];
    release!();
    expect(await first).toEqual({ ok: true });
    expect(await Promise.all(later)).toEqual([{ ok: true }, { ok: true }]);
    expect(fake.documents).toHaveLength(2);
    // the second batch deletes the element the first added (planned from the state it left)
    expect(JSON.stringify(fake.documents[1])).toContain('"delete"');
    expect(JSON.stringify(fake.documents[1])).toContain('192.0.2.100');
    expect(fake.tables.get('ip keepalived')!.sets.get('vips')!.elem).toEqual(['192.0.2.101']);
  });
  it('a failed batch of several instances is tried one by one: only the faulty one fails', async () => {
    const fake = new FakeNft(new Set(['va']));
    const fw = new Firewall({ settings: S, run: fake.run, counters: new Counters(), retryBaseMs: 60_000 });
    const [a, b] = await Promise.all([
      fw.addVips('A', [v('fe80::100', 'vrrp.9')]),
      fw.addVips('B', [v('192.0.2.101')]),
    ]);
    expect(!a.ok && a.error.code).toBe('KA_ERR_DAEMON_FIREWALL');
    expect(b).toEqual({ ok: true });
    expect(fw.state.vips.has('A')).toBe(false);
    expect(fw.state.vips.get('B')).toHaveLength(1);
    expect(fake.documents).toHaveLength(3); // the batch, then A alone, then B alone
    await fw.stop();
  });
  it('retries what nft refused until it is confirmed, and only while it is wanted', async () => {
    const fake = new FakeNft();
    const counters = new Counters();
    const fw = new Firewall({ settings: S, run: fake.run, counters, retryBaseMs: 5 });
    fake.failNext = 'Operation not permitted';
    expect((await fw.addVips('A', [v('192.0.2.100')])).ok).toBe(false);
    expect(fw.state.vips.has('A')).toBe(false);
    for (let i = 0; i < 100 && !fw.state.vips.has('A'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(fw.state.vips.get('A')).toHaveLength(1);
    expect(counters.get('firewall.retries')).toBe(1);
    // refused again, then no longer wanted before the retry: the retry does nothing
    fake.failNext = 'Operation not permitted';
    expect((await fw.addVips('B', [v('192.0.2.101')])).ok).toBe(false);
    const runs = fake.documents.length;
    expect(await fw.removeVips('B')).toEqual({ ok: true });
    expect(fake.documents).toHaveLength(runs); // B was never installed: nothing to remove
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.documents).toHaveLength(runs);
    await fw.stop();
  });
});
