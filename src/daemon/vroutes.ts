/**
 * virtual_routes / virtual_rules: the configuration's `ip route` / `ip rule` models turned into
 * rtnetlink requests (codecs in src/wire/rtnetlink.ts), installed when an instance becomes MASTER
 * and removed when it leaves it, as keepalived does. Route and rule table names: numbers and the
 * kernel's `main`, `local`, `default`; other names from /etc/iproute2/rt_tables.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { KaError } from '../core/errors.js';
import './vrrp-errors.js';
import type { RouteSpec as CfgRoute, RuleSpec as CfgRule } from '../config/model.js';
import {
  FR_ACT_BLACKHOLE,
  FR_ACT_GOTO,
  FR_ACT_TO_TBL,
  type RouteSpec,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTN_BLACKHOLE,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  type RuleSpec,
} from '../wire/rtnetlink.js';

const RTN_PROHIBIT = 8;
const RTN_THROW = 9;
const FR_ACT_UNREACHABLE = 7;
const FR_ACT_PROHIBIT = 8;

const TYPES: Record<CfgRoute['type'], number> = {
  unicast: RTN_UNICAST,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
  throw: RTN_THROW,
};
const SCOPES: Record<string, number> = {
  global: RT_SCOPE_UNIVERSE,
  universe: RT_SCOPE_UNIVERSE,
  site: 200,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: 255,
};

let rtTables: Map<string, number> | undefined;
/** Table id of a name or number (undefined: unknown name). */
export function tableId(name: string | undefined): number | undefined {
  if (name === undefined) return RT_TABLE_MAIN;
  if (/^\d+$/.test(name)) return Number(name);
  const fixed: Record<string, number> = { main: RT_TABLE_MAIN, local: RT_TABLE_LOCAL, default: 253 };
  if (fixed[name] !== undefined) return fixed[name];
  if (!rtTables) {
    rtTables = new Map();
    try {
      for (const line of readFileSync('/etc/iproute2/rt_tables', 'utf8').split('\n')) {
        const m = /^\s*(\d+)\s+(\S+)/.exec(line);
        if (m) rtTables.set(m[2]!, Number(m[1]));
      }
    } catch {
      // no rt_tables file: numbers and the fixed names only
    }
  }
  return rtTables.get(name);
}

/** `ADDR[/LEN]` or `default` -> address and prefix length. */
function prefix(s: string, family: 4 | 6): { addr: string; len: number } {
  if (s === 'default') return { addr: family === 4 ? '0.0.0.0' : '::', len: 0 };
  const [a, l] = s.split('/');
  const addr = ipaddr.parse(a!).toString();
  return { addr, len: l === undefined ? (family === 4 ? 32 : 128) : Number(l) };
}

export type Resolve = (dev: string) => number | undefined;

/** Wire route of a configured one; throws (with the reason) when it cannot be expressed. */
export function routeRequest(r: CfgRoute, ifindexOf: Resolve): RouteSpec {
  const family = r.family === 'inet6' ? 6 : 4;
  if (r.nexthops.length > 0)
    throw new KaError('KA_ERR_VRRP_ROUTE', `multipath route ${r.to} is not supported`);
  const { addr, len } = prefix(r.to, family);
  const table = tableId(r.table);
  if (table === undefined) throw new KaError('KA_ERR_VRRP_ROUTE', `unknown routing table ${r.table}`);
  const oif = r.dev === undefined ? undefined : ifindexOf(r.dev);
  if (r.dev !== undefined && oif === undefined)
    throw new KaError('KA_ERR_VRRP_ROUTE', `interface ${r.dev} does not exist`);
  const type = TYPES[r.type];
  const scope =
    r.scope !== undefined
      ? (SCOPES[r.scope] ?? Number(r.scope))
      : type === RTN_UNICAST && r.via === undefined && oif !== undefined
        ? RT_SCOPE_LINK
        : RT_SCOPE_UNIVERSE;
  return {
    family,
    dst: addr,
    dstLen: len,
    table,
    type,
    scope,
    ...(r.via !== undefined ? { gateway: r.via } : {}),
    ...(oif !== undefined ? { oif } : {}),
    ...(r.src !== undefined ? { prefsrc: r.src } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
  };
}

/** Wire rule of a configured one; throws (with the reason) when it cannot be expressed. */
export function ruleRequest(r: CfgRule): RuleSpec {
  const family = r.family === 'inet6' ? 6 : 4;
  const action =
    r.action === undefined || r.action === 'table' || r.action === 'lookup'
      ? FR_ACT_TO_TBL
      : (
          {
            blackhole: FR_ACT_BLACKHOLE,
            unreachable: FR_ACT_UNREACHABLE,
            prohibit: FR_ACT_PROHIBIT,
            goto: FR_ACT_GOTO,
          } as Record<string, number>
        )[r.action];
  if (action === undefined)
    throw new KaError('KA_ERR_VRRP_ROUTE', `rule action ${r.action} is not supported`);
  const table = action === FR_ACT_TO_TBL ? tableId(r.table) : 0;
  if (table === undefined) throw new KaError('KA_ERR_VRRP_ROUTE', `unknown routing table ${r.table}`);
  const src = r.from !== undefined && r.from !== 'all' ? prefix(r.from, family) : undefined;
  const dst = r.to !== undefined && r.to !== 'all' ? prefix(r.to, family) : undefined;
  let fwmark: number | undefined;
  let fwmask: number | undefined;
  if (r.fwmark !== undefined) {
    const [m, k] = r.fwmark.split('/');
    fwmark = Number(m);
    if (k !== undefined) fwmask = Number(k);
  }
  return {
    family,
    table,
    action,
    ...(src ? { src: src.addr, srcLen: src.len } : {}),
    ...(dst ? { dst: dst.addr, dstLen: dst.len } : {}),
    ...(r.preference !== undefined ? { priority: r.preference } : {}),
    ...(fwmark !== undefined ? { fwmark } : {}),
    ...(fwmask !== undefined ? { fwmask } : {}),
    ...(r.iif !== undefined ? { iifname: r.iif } : {}),
    ...(r.oif !== undefined ? { oifname: r.oif } : {}),
  };
}
