/**
 * Parsers of one line of a list block: address specs, routes, rules (surface §2.8), track entries,
 * unicast peers and virtual_server_group entries.
 */
import { KaClass, type SrcPos } from './diagnostics.js';
import type { ConfigErrorCode } from './errors.js';
import type {
  AddressSpec,
  Family,
  RouteSpec,
  RuleSpec,
  TrackRef,
  UnicastPeer,
  VsGroupEntry,
} from './model.js';
import type { AstNode, AstWord } from './parse-types.js';
import { ipProto, rtDsfield, rtGroup, rtMark, rtProtocol, rtRealms, rtScope, rtTable } from './rtnames.js';
import {
  badAddress,
  badNumber,
  type Ctx,
  cUnsigned,
  parseIntStrict,
  parseIp,
  parsePrefix,
  routeTime,
  stopMissing,
  unsignedComplaint,
} from './values.js';

export type LineParser<T> = (words: readonly AstWord[], c: Ctx, block: string) => T | undefined;

/** The words of a line of a list block (its "keyword" is the first word). */
export function lineOf(n: AstNode): AstWord[] {
  return [{ text: n.keyword, pos: n.pos, quoted: false }, ...n.args];
}

function bad(c: Ctx, w: AstWord, block: string, msg: string, expected: string): undefined {
  c.diags.add('KA_ERR_CONF_BAD_VALUE', 'error', KaClass.GeneralError, w.pos, block, msg, expected);
  return undefined;
}

/** An address as keepalived 2.2.7 reads addresses of routes, rules and VIPs: no `%zone` suffix. */
const inetPton = (t: string) => (t.includes('%') ? undefined : parseIp(t));

/** keepalived 2.2.7's message for an address it cannot parse (before the line's own, if any). */
function invalidIp(c: Ctx, w: AstWord, block: string, second?: string): undefined {
  const add = (code: ConfigErrorCode, m: string) =>
    c.diags.add(code, 'error', KaClass.GeneralError, w.pos, block, m, 'an IP address');
  add('KA_ERR_CONF_BAD_ADDRESS', `VRRP parsed invalid IP ${w.text}. skipping IP...`);
  // a word that is neither an option nor an address is an unknown keyword to keepalived
  if (second) add(second.startsWith('unknown') ? 'KA_ERR_CONF_BAD_VALUE' : 'KA_ERR_CONF_BAD_ADDRESS', second);
  return undefined;
}

/**
 * `IP[/LEN]` as keepalived 2.2.7 reads it: an unparsable address is reported (invalidIp, then
 * `second`) and undefined returned; a length out of range is reported (its number reader's message,
 * then "Invalid address prefix len") and replaced by the family's maximum, the address kept; an
 * empty one is 0.
 */
function readPrefix(
  c: Ctx,
  w: AstWord,
  block: string,
  second?: string,
): { address: string; family: Family; prefix: number } | undefined {
  const t = w.text;
  const slash = t.indexOf('/');
  const ip = inetPton(slash < 0 ? t : t.slice(0, slash));
  if (!ip) return invalidIp(c, w, block, second);
  const max = ip.family === 'inet' ? 32 : 128;
  if (slash < 0) return { ...ip, prefix: max };
  const len = t.slice(slash + 1);
  // keepalived 2.2.7 reads an empty length as 0, silently (`192.0.2.1/` is /0)
  if (len === '') return { ...ip, prefix: 0 };
  const first = unsignedComplaint(len, 0, max);
  if (!first) return { ...ip, prefix: Number(len) };
  for (const m of [first, `Invalid address prefix len ${len} for address ${t} - using ${max}`])
    c.diags.add(
      'KA_ERR_CONF_BAD_ADDRESS',
      'error',
      KaClass.GeneralError,
      w.pos,
      block,
      m,
      `a length 0..${max}`,
    );
  return { ...ip, prefix: max };
}

/** Each of keepalived's messages about one bad word, in its order; undefined. */
function badAll(c: Ctx, w: AstWord, block: string, msgs: readonly string[], expected: string): undefined {
  for (const m of msgs) bad(c, w, block, m, expected);
  return undefined;
}

/**
 * keepalived 2.2.7's `inet` / `inet6` word in a route or rule: false after reporting a family the
 * line already has another of. Its caller skips the word after it, as keepalived does.
 */
function familyWord(c: Ctx, w: AstWord, block: string, fam: Family | undefined, what: string): boolean {
  if (!fam || fam === w.text) return true;
  bad(c, w, block, `${w.text} specified for IPv${fam === 'inet' ? 4 : 6} ${what}`, `one family per ${what}`);
  return false;
}

function need(
  c: Ctx,
  words: readonly AstWord[],
  i: number,
  block: string,
  what: string,
): AstWord | undefined {
  const w = words[i + 1];
  if (!w) {
    c.diags.add(
      'KA_ERR_CONF_MISSING_ARG',
      'error',
      KaClass.MissingParameter,
      words[i]!.pos,
      words[i]!.text,
      `'${words[i]!.text}' in ${block} needs a value`,
      what,
    );
  }
  return w;
}

/**
 * The value after words[i], which keepalived reads unconditionally: without it, it exits at once
 * with status 2 (route and rule options; `stopMissing`).
 */
function must(c: Ctx, words: readonly AstWord[], i: number, what: string): AstWord {
  return words[i + 1] ?? stopMissing(c, words, words[0]!, words[i]!.text, what);
}

const SCOPES = ['site', 'link', 'host', 'nowhere', 'global'] as const;

/** `IP[/MASK] [brd IP|+|-] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] …` */
export const addressLine: LineParser<AddressSpec> = (words, c, block) => {
  const first = words[0]!;
  const p = readPrefix(c, first, block);
  if (!p) return undefined;
  const a: {
    -readonly [K in keyof AddressSpec]: AddressSpec[K];
  } = {
    address: p.address,
    prefix: p.prefix,
    family: p.family,
    brd: undefined,
    dev: undefined,
    scope: undefined,
    label: undefined,
    peer: undefined,
    home: false,
    nodad: false,
    mngtmpaddr: false,
    noprefixroute: false,
    autojoin: false,
    noTrack: false,
    preferredLft: p.family === 'inet6' && p.prefix === 128 ? 0 : undefined,
    useVmac: false,
    trackGroup: undefined,
    pos: first.pos,
  };
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    switch (w.text) {
      case 'brd':
      case 'broadcast': {
        const v = need(c, words, i++, block, 'an address, + or -');
        if (!v) return undefined;
        if (v.text !== '+' && v.text !== '-' && !parseIp(v.text)) return badAddress(c, v, block);
        a.brd = v.text;
        break;
      }
      case 'dev': {
        const v = need(c, words, i++, block, 'an interface name');
        if (!v) return undefined;
        a.dev = v.text;
        break;
      }
      case 'scope': {
        const v = need(c, words, i++, block, SCOPES.join('|'));
        if (!v) return undefined;
        if (!(SCOPES as readonly string[]).includes(v.text) && parseIntStrict(v.text) === undefined) {
          return bad(c, v, block, `invalid scope '${v.text}'`, SCOPES.join('|'));
        }
        a.scope = v.text as AddressSpec['scope'];
        break;
      }
      case 'label': {
        const v = need(c, words, i++, block, 'a label');
        if (!v) return undefined;
        if (p.family === 'inet6') {
          c.diags.add(
            'KA_ERR_CONF_BAD_VALUE',
            'error',
            KaClass.GeneralError,
            w.pos,
            block,
            'label is not allowed for an IPv6 address - ignoring',
            'no label on IPv6',
          );
        } else a.label = v.text;
        break;
      }
      case 'peer': {
        const v = need(c, words, i++, block, 'an address');
        if (!v) return undefined;
        // keepalived 2.2.7: a peer with a prefix or of the other family is refused and the
        // address is installed without one ("Invalid peer address", -t exit 5; observed)
        const pp = parseIp(v.text);
        if (!pp || pp.family !== p.family) {
          c.diags.add(
            'KA_ERR_CONF_BAD_ADDRESS',
            'error',
            KaClass.GeneralError,
            v.pos,
            block,
            `Invalid peer address ${v.text}`,
            `an ${p.family === 'inet6' ? 'IPv6' : 'IPv4'} address without a prefix`,
          );
          break;
        }
        a.peer = pp.address;
        break;
      }
      case 'use_vmac': {
        const v = words[i + 1];
        if (v && !isAddrOption(v.text)) {
          a.useVmac = v.text;
          i++;
        } else a.useVmac = true;
        break;
      }
      case 'preferred_lft': {
        const v = need(c, words, i++, block, 'seconds or forever');
        if (!v) return undefined;
        if (v.text === 'forever') a.preferredLft = 'forever';
        else {
          const n = parseIntStrict(v.text);
          if (n === undefined || n < 0)
            return badNumber(c, v, { keyword: 'preferred_lft' } as AstNode, 0, 4294967295);
          a.preferredLft = n;
        }
        break;
      }
      case 'track_group': {
        const v = need(c, words, i++, block, 'a track_group name');
        if (!v) return undefined;
        a.trackGroup = v.text;
        break;
      }
      case 'home':
        a.home = true;
        break;
      case '-nodad':
        a.nodad = true;
        break;
      case 'mngtmpaddr':
        a.mngtmpaddr = true;
        break;
      case 'noprefixroute':
        a.noprefixroute = true;
        break;
      case 'autojoin':
        a.autojoin = true;
        break;
      case 'no_track':
        a.noTrack = true;
        break;
      default:
        return bad(
          c,
          w,
          block,
          `unknown address option '${w.text}' (one address per line)`,
          'brd|dev|scope|label|peer|home|-nodad|mngtmpaddr|noprefixroute|autojoin|no_track|preferred_lft|use_vmac',
        );
    }
  }
  if (a.peer !== undefined && first.text.includes('/')) {
    // keepalived installs a peer address as a host address (`192.0.2.1 peer 192.0.2.2/32`)
    c.diags.add(
      'KA_ERR_CONF_BAD_VALUE',
      'error',
      KaClass.GeneralError,
      first.pos,
      block,
      'Cannot specify address prefix when specifying peer address - ignoring',
      'ADDRESS peer PEER, without a prefix',
    );
    a.prefix = p.family === 'inet6' ? 128 : 32;
  }
  return a;
};

function isAddrOption(t: string): boolean {
  return [
    'brd',
    'broadcast',
    'dev',
    'scope',
    'label',
    'peer',
    'home',
    '-nodad',
    'mngtmpaddr',
    'noprefixroute',
    'autojoin',
    'no_track',
    'preferred_lft',
    'track_group',
  ].includes(t);
}

/** The route types the model names (RouteSpec['type']), by kernel number. */
const NAMED_TYPES: Readonly<Record<number, RouteSpec['type']>> = {
  1: 'unicast',
  6: 'blackhole',
  7: 'unreachable',
  8: 'prohibit',
  9: 'throw',
};
const ROUTE_VALUE_OPTS = [
  'table',
  'scope',
  'protocol',
  'tos',
  'dsfield',
  'realms',
  'rto_min',
  'initcwnd',
  'initrwnd',
  'features',
  'fastopen_no_cookie',
  'vrf',
  'pref',
  'ttl-propagate',
  'congctl',
  'quickack',
  'expires',
  'encap',
  'advmss',
  'rtt',
  'rttvar',
  'reordering',
  'window',
  'cwnd',
  'ssthresh',
  'mtu',
  'hoplimit',
];
/** Value options whose missing value keepalived reports itself rather than stopping. */
const ROUTE_CHECKED = ['pref', 'expires', 'encap'];
/** keepalived 2.2.7's route type names (rttables.c; no 'unspec'), with the kernel's RTN_* numbers. */
const RTN_TYPES: Readonly<Record<string, number>> = {
  unicast: 1,
  local: 2,
  broadcast: 3,
  brd: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10,
  xresolve: 11,
};

const MAX_U32 = 4294967295;
/** A number keepalived reads with strtoul keeps no leading '+' (the runtime reads plain digits). */
const plain = (v: string): string => (/^\+\d+$/.test(v) ? v.slice(1) : v);

/** Route options keepalived reads as unsigned numbers: their range and complaint. */
const ROUTE_NUMBERS: Readonly<Record<string, [number, (v: string) => string]>> = {
  metric: [MAX_U32, (v) => `Invalid metric ${v} specified for route`],
  mtu: [MAX_U32, (v) => `Invalid MTU ${v} specified for route`],
  hoplimit: [255, (v) => `Invalid hoplimit ${v} specified for route`],
  advmss: [MAX_U32, (v) => `Invalid advmss ${v} specified for route`],
  expires: [MAX_U32, (v) => `Invalid expires time ${v} specified for route`],
  pref: [255, (v) => `Invalid pref value ${v} specified for route`],
  quickack: [1, (v) => `Invalid quickack value ${v} specified for route`],
  fastopen_no_cookie: [1, (v) => `Invalid fastopen_no_cookie value ${v} specified for route`],
  window: [MAX_U32, (v) => `Invalid window value ${v} specified for route`],
  cwnd: [MAX_U32, (v) => `Invalid cwnd value ${v} specified for route`],
  ssthresh: [MAX_U32, (v) => `Invalid ssthresh value ${v} specified for route`],
  reordering: [MAX_U32, (v) => `Invalid reordering value ${v} specified for route`],
  initcwnd: [MAX_U32, (v) => `Invalid initcwnd value ${v} specified for route`],
  initrwnd: [MAX_U32, (v) => `Invalid initrwnd value ${v} specified for route`],
};

/**
 * keepalived 2.2.7's complaints about a route option's value, in its order (a number reader's
 * message, then the route's), undefined when it resolves.
 */
function routeName(opt: string, v: string): string[] | undefined {
  const num = ROUTE_NUMBERS[opt];
  if (num) {
    if (opt === 'pref' && ['low', 'medium', 'high'].includes(v)) return undefined;
    const first = unsignedComplaint(v, 0, num[0]);
    return first ? [first, num[1](v)] : undefined;
  }
  const one = (bad: boolean, msg: string) => (bad ? [msg] : undefined);
  switch (opt) {
    case 'table':
      return one(rtTable(v) === undefined, `Routing table ${v} not found for route`);
    case 'scope':
      return one(rtScope(v) === undefined, `Scope ${v} not found or invalid for route`);
    case 'protocol':
      return one(rtProtocol(v) === undefined, `Protocol ${v} not found or invalid for route`);
    case 'tos':
    case 'dsfield':
      return one(rtDsfield(v) === undefined, `TOS value ${v} is invalid`);
    case 'realms':
      return one(rtRealms(v) === undefined, `Invalid realms ${v} for route`);
    case 'rtt':
    case 'rttvar':
    case 'rto_min': {
      const t = routeTime(opt, v);
      // too many decimal places is reported, and the route kept
      if (t.value !== undefined) return t.notes.length > 0 ? t.notes : undefined;
      return [
        ...t.notes,
        opt === 'rto_min'
          ? `Invalid rto_min value ${v} specified for route`
          : `Invalid ${opt} ${v} for route`,
      ];
    }
    case 'features':
      return one(v !== 'ecn', `feature ${v} not supported`);
    default:
      return undefined;
  }
}

/**
 * keepalived's route type word: a type name, or a C unsigned number up to 255 (strtoul base 0, no
 * leading '-'; "" is 0). Returns the RTN_* number, undefined for a word that is not a type.
 */
function rtnType(t: string): number | undefined {
  if (Object.hasOwn(RTN_TYPES, t)) return RTN_TYPES[t];
  if (t === '') return 0;
  const n = /^0x[0-9a-f]+$/i.test(t)
    ? Number.parseInt(t.slice(2), 16)
    : /^0[0-7]*$/.test(t)
      ? Number.parseInt(t, 8)
      : /^\+?[1-9]\d*$/.test(t)
        ? Number(t)
        : Number.NaN;
  return n <= 255 ? n : undefined;
}

/** The route protocol keepalived gives what it tracks. */
const RTPROT_KEEPALIVED = 18;

const ROUTE_FLAGS = ['onlink', 'append', 'inet6', 'inet', 'no_track', 'lock'];
/** The route time metrics (values.ts routeTime). */
const TIMES = ['rtt', 'rttvar', 'rto_min'];
/** The route options keepalived 2.2.7 takes `lock` before; elsewhere `lock` is read as the value. */
const LOCKABLE = ['mtu', 'advmss', 'cwnd', 'ssthresh', 'reordering', 'rtt', 'rttvar', 'rto_min', 'congctl'];

/** `[src IP] [to] PREFIX [via|gw IP] [dev IF] [metric N] … [nexthop via IP dev IF weight N …]` */
export const routeLine: LineParser<RouteSpec> = (words, c, block) => {
  const r: {
    -readonly [K in keyof RouteSpec]: RouteSpec[K];
  } = {
    family: 'inet',
    type: 'unicast',
    rtnType: 1,
    to: '',
    src: undefined,
    via: undefined,
    dev: undefined,
    table: undefined,
    metric: undefined,
    scope: undefined,
    nexthops: [],
    noTrack: false,
    trackGroup: undefined,
    options: {},
    pos: words[0]!.pos,
  };
  const options: Record<string, string> = {};
  const nexthops: { via: string | undefined; dev: string | undefined; weight: number | undefined }[] = [];
  let fam: Family | undefined;
  let inNexthop = false;
  const setFam = (f: Family, w: AstWord, dest = false): boolean => {
    if (fam && fam !== f) {
      // keepalived names the destination, not a gateway or source, in this message
      const what = dest ? ` (${w.text})` : '';
      bad(c, w, block, `Cannot mix IPv4 and IPv6 addresses for route${what}`, 'one address family per route');
      return false;
    }
    fam = f;
    return true;
  };
  /** The destination (a prefix or 'default'); false after reporting a bad one. */
  const routeDest = (w: AstWord): boolean => {
    const t = w.text;
    const pfx =
      t === 'default'
        ? { address: '', family: fam ?? 'inet', prefix: 0 }
        : readPrefix(c, w, block, `unknown route keyword ${t}`);
    if (!pfx) return false;
    if (t !== 'default' && !setFam(pfx.family, w, true)) return false;
    r.to = t === 'default' ? 'default' : `${pfx.address}/${pfx.prefix}`;
    return true;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const t = w.text;
    if (inNexthop && (t === 'via' || t === 'dev' || t === 'weight')) {
      const v = must(c, words, i++, t === 'via' ? 'an address' : t === 'dev' ? 'an interface' : 'a weight');
      const nh = nexthops[nexthops.length - 1]!;
      if (t === 'via') {
        const ip = inetPton(v.text);
        if (!ip) return invalidIp(c, v, block, `invalid nexthop address ${v.text}`);
        if (!setFam(ip.family, v)) return undefined;
        nh.via = ip.address;
      } else if (t === 'dev') nh.dev = v.text;
      else {
        const n = parseIntStrict(v.text);
        if (n === undefined || n < 1 || n > 256)
          return badNumber(c, v, { keyword: 'weight' } as AstNode, 1, 256);
        nh.weight = n;
      }
      continue;
    }
    switch (t) {
      case 'src': {
        const v = must(c, words, i++, 'an address');
        const ip = inetPton(v.text);
        if (!ip) return invalidIp(c, v, block, `invalid route src address ${v.text}`);
        if (!setFam(ip.family, v)) return undefined;
        r.src = ip.address;
        break;
      }
      case 'to':
        // keepalived takes the next word as the destination (never as a route type)
        if (!routeDest(must(c, words, i++, 'a destination prefix'))) return undefined;
        break;
      case 'via':
      case 'gw':
      case 'or': {
        if (t !== 'via') {
          c.diags.add(
            'KA_ERR_CONF_DEPRECATED',
            'warning',
            KaClass.GeneralError,
            w.pos,
            t,
            `route keyword '${t}' is deprecated`,
            t === 'gw' ? "'via'" : "'nexthop'",
          );
        }
        const v = must(c, words, i++, 'an address');
        const ip = inetPton(v.text);
        if (!ip)
          return invalidIp(c, v, block, `invalid ${t === 'or' ? 'nexthop' : 'route via'} address ${v.text}`);
        if (!setFam(ip.family, v)) return undefined;
        if (t === 'or') nexthops.push({ via: ip.address, dev: undefined, weight: undefined });
        else r.via = ip.address;
        break;
      }
      case 'dev':
      case 'oif': {
        const v = must(c, words, i++, 'an interface');
        r.dev = v.text;
        break;
      }
      case 'metric':
      case 'priority':
      case 'preference': {
        const v = must(c, words, i++, 'a number');
        const msgs = routeName('metric', v.text);
        if (msgs) return badAll(c, v, block, msgs, 'a number 0..4294967295');
        r.metric = Number(v.text);
        break;
      }
      case 'nexthop':
        inNexthop = true;
        nexthops.push({ via: undefined, dev: undefined, weight: undefined });
        break;
      case 'track_group': {
        // keepalived 2.2.7 takes track_group in static routes only; elsewhere it is a bad destination
        if (block !== 'static_routes') return invalidIp(c, w, block, `unknown route keyword ${t}`);
        const v = need(c, words, i++, block, 'a name');
        if (!v) return undefined;
        r.trackGroup = v.text;
        break;
      }
      default: {
        // keepalived reads a route type (name or number), then the destination right after it
        const type = ROUTE_FLAGS.includes(t) || ROUTE_VALUE_OPTS.includes(t) ? undefined : rtnType(t);
        if (type !== undefined) {
          const to = must(c, words, i++, 'a destination prefix');
          if (!routeDest(to)) return undefined;
          r.rtnType = type;
          r.type = NAMED_TYPES[type] ?? 'unicast';
        } else if (t === 'inet' || t === 'inet6') {
          if (!familyWord(c, w, block, fam, 'route')) return undefined;
          fam = t;
          i++;
        } else if (ROUTE_FLAGS.includes(t)) {
          if (t === 'no_track') r.noTrack = true;
          else options[t] = 'true';
        } else if (ROUTE_VALUE_OPTS.includes(t)) {
          // keepalived checks these three itself (an error, not a stop)
          const v = ROUTE_CHECKED.includes(t)
            ? need(c, words, i++, block, 'a value')
            : must(c, words, i++, 'a value');
          if (!v) return undefined;
          // keepalived: pref and expires make the route IPv6, checked before their value
          if ((t === 'pref' || t === 'expires') && fam === 'inet')
            return bad(c, w, block, `${t} is only valid for IPv6`, 'an IPv6 route');
          // keepalived looks these names up as it reads the route and drops it on a failure
          const lock = v.text === 'lock' && LOCKABLE.includes(t);
          const msgs = lock ? undefined : routeName(t, v.text);
          if (msgs && t === 'features') {
            // keepalived keeps the route without the feature
            badAll(c, v, block, msgs, 'ecn');
            continue;
          }
          // a time with too many decimal places is reported; the route stays
          const kept = msgs !== undefined && TIMES.includes(t) && routeTime(t, v.text).value !== undefined;
          if (msgs) badAll(c, v, block, msgs, `a ${t} name or number`);
          if (msgs && !kept) return undefined;
          if (t === 'pref' || t === 'expires') fam = 'inet6';
          if (t === 'realms') {
            // keepalived: realms make the route IPv4
            if (fam === 'inet6') return bad(c, w, block, 'realms are only valid for IPv4', 'an IPv4 route');
            fam = 'inet';
          }
          if (lock) {
            const v2 = must(c, words, i++, 'a value');
            const m = routeName(t, v2.text);
            const keptLock =
              m !== undefined && TIMES.includes(t) && routeTime(t, v2.text).value !== undefined;
            if (m) badAll(c, v2, block, m, 'a number');
            if (m && !keptLock) return undefined;
            options[t] = `lock ${plain(v2.text)}`;
          } else options[t] = plain(v.text);
          const tv = lock ? words[i] : v;
          const clamp = TIMES.includes(t) && tv ? routeTime(t, tv.text).clamp : undefined;
          // keepalived logs the reset as it loads; the config test does not count it
          if (clamp && tv)
            c.diags.add(
              'KA_ERR_CONF_BAD_VALUE',
              'warning',
              KaClass.None,
              tv.pos,
              block,
              clamp,
              '200 ms to 120 s',
            );
          if (t === 'table') r.table = plain(v.text);
          if (t === 'scope') r.scope = plain(v.text);
        } else if (!r.to) {
          if (!routeDest(w)) return undefined;
        } else {
          // keepalived tries the word as the destination again
          return invalidIp(c, w, block, `unknown route keyword ${t}`);
        }
      }
    }
  }
  if (!r.to) {
    c.diags.add(
      'KA_ERR_CONF_MISSING_ARG',
      'error',
      KaClass.MissingParameter,
      words[0]!.pos,
      block,
      'Route must have a destination',
      'a destination prefix',
    );
    return undefined;
  }
  const proto = options.protocol;
  if (proto !== undefined && !r.noTrack && rtProtocol(proto) !== RTPROT_KEEPALIVED)
    // keepalived keeps the route with its own protocol (daemon/vroutes.ts ignores the option)
    c.diags.add(
      'KA_ERR_CONF_CONFLICT',
      'error',
      KaClass.GeneralError,
      words[0]!.pos,
      'protocol',
      `Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(${RTPROT_KEEPALIVED}), resetting protocol`,
      "'no_track' or 'protocol 18'",
    );
  r.family = fam ?? 'inet';
  r.nexthops = nexthops;
  r.options = options;
  return r;
};

/**
 * keepalived 2.2.7's name checks of a rule option: 'drop' (reported, the rule is dropped), 'skip'
 * (reported, the rule stays without the option), undefined when the value resolves.
 */
function ruleName(c: Ctx, v: AstWord, block: string, opt: string): 'drop' | 'skip' | undefined {
  const t = v.text;
  switch (opt) {
    case 'tos':
    case 'dsfield':
      if (rtDsfield(t) !== undefined) return undefined;
      bad(c, v, block, `TOS value ${t} is invalid`, 'a dsfield name or number');
      return 'drop';
    case 'realms':
      if (rtRealms(t) !== undefined) return undefined;
      bad(c, v, block, `invalid realms ${t} for rule`, '[FROM/]TO realms');
      return 'drop';
    case 'ipproto':
      if (ipProto(t) !== undefined) return undefined;
      bad(c, v, block, `Invalid ipproto ${t}`, 'an IP protocol of /etc/protocols');
      return 'skip';
    case 'uidrange':
      if (/^\+?\d+-\+?\d+$/.test(t) && t.split('-').every((n) => Number(n) <= MAX_U32)) return undefined;
      bad(c, v, block, 'Invalid uidrange uidrange specified', 'FIRST-LAST uids');
      return 'drop';
    case 'sport':
    case 'dport':
      if (/^\d+-\d+$/.test(t)) return undefined;
      bad(c, v, block, `invalid ${opt} range ${t}`, 'FIRST-LAST ports');
      return 'skip';
    case 'suppress_prefixlength': {
      // keepalived 2.2.7 reads it as a signed int: any value up to INT_MAX reaches the kernel
      const first = unsignedComplaint(t, 0, 2147483647);
      if (!first) return undefined;
      badAll(
        c,
        v,
        block,
        [first, 'Invalid suppress_prefixlength suppress_prefixlength specified'],
        'a number',
      );
      return 'drop';
    }
    case 'goto': {
      const first = unsignedComplaint(t, 0, MAX_U32);
      if (!first) return undefined;
      badAll(c, v, block, [first, 'Invalid target goto specified'], 'a preference number');
      return 'drop';
    }
    case 'suppress_ifgroup':
      if (rtGroup(t) !== undefined) return undefined;
      bad(c, v, block, `suppress_group ${t} is invalid`, 'an interface group name or number');
      return 'drop';
    case 'protocol': {
      // a number only (no rt_protos names); keepalived keeps the rule without the option
      const first = unsignedComplaint(t, 0, 255);
      if (!first) return undefined;
      badAll(c, v, block, [first, `Invalid protocol ${t}`], 'a number 0..255');
      return 'skip';
    }
    default:
      return undefined;
  }
}

/** Rule options keepalived reads as decimal numbers (`protocol 010` is 10): kept as plain decimals. */
const DECIMAL_RULE_OPTS = ['goto', 'protocol', 'suppress_prefixlength'];

/** `[from P] [to P] [table T] [preference N] [iif IF] [oif IF] [fwmark M] …` */
export const ruleLine: LineParser<RuleSpec> = (words, c, block) => {
  const r: {
    -readonly [K in keyof RuleSpec]: RuleSpec[K];
  } = {
    family: 'inet',
    from: undefined,
    to: undefined,
    table: undefined,
    preference: undefined,
    iif: undefined,
    oif: undefined,
    fwmark: undefined,
    action: undefined,
    noTrack: false,
    trackGroup: undefined,
    options: {},
    pos: words[0]!.pos,
  };
  const options: Record<string, string> = {};
  let fam: Family | undefined;
  /** keepalived's rule action (table, l3mdev, goto, nop, blackhole…): one per rule. */
  let act: string | undefined;
  let gotoTarget = 0;
  /** realms / suppress_*: only with a table action. */
  let tableOption = false;
  const setAction = (a: string, w: AstWord, withL3mdev = true): boolean => {
    if (act === undefined) {
      act = a;
      return true;
    }
    const list = `table/nop/goto/blackhole/prohibit/unreachable${withL3mdev ? '/l3mdev' : ''}`;
    bad(c, w, block, `Cannot specify more than one of ${list} for rule`, 'one action per rule');
    return false;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let t = w.text;
    // keepalived: `type ACTION` is ACTION
    if (t === 'type') t = must(c, words, i++, 'a rule action').text;
    switch (t) {
      case 'from':
      case 'to': {
        const v = must(c, words, i++, 'a prefix or all');
        if (v.text !== 'all') {
          const p = readPrefix(c, v, block, `Invalid rule ${t} address ${v.text}`);
          if (!p) return undefined;
          if (fam && fam !== p.family)
            return bad(c, v, block, 'rule specification has mixed IPv4 and IPv6', 'one family per rule');
          fam = p.family;
          r[t] = `${p.address}/${p.prefix}`;
        } else r[t] = 'all';
        break;
      }
      case 'table':
      case 'lookup':
        r.table = must(c, words, i++, 'a table').text;
        if (rtTable(r.table) === undefined)
          return bad(
            c,
            words[i]!,
            block,
            `Routing table ${r.table} not found for rule`,
            'a table name or number',
          );
        if (!setAction('table', w, false)) return undefined;
        // table numbers are C unsigned ints: 4294967296 and -0 are table 0
        if (rtTable(r.table) === 0)
          return bad(c, words[i]!, block, 'Table 0 is not valid', 'a table 1..4294967295');
        break;
      case 'preference':
      case 'priority':
      case 'order': {
        // keepalived 2.2.7 reads it as a C number (`010` is 8, `0x20` 32); 'pref' is unknown to it
        const v = must(c, words, i++, 'a number');
        const p = cUnsigned(v.text);
        if (typeof p === 'string')
          return badAll(c, v, block, [p, `Invalid rule preference ${t} specified`], 'a number');
        r.preference = p;
        break;
      }
      case 'iif':
      case 'dev':
        r.iif = must(c, words, i++, 'an interface').text;
        break;
      case 'oif':
        r.oif = must(c, words, i++, 'an interface').text;
        break;
      case 'fwmark':
        r.fwmark = must(c, words, i++, 'a mark').text;
        if (!rtMark(r.fwmark))
          return bad(c, words[i]!, block, `Invalid rule fwmark ${r.fwmark} specified`, 'MARK[/MASK]');
        break;
      case 'no_track':
        r.noTrack = true;
        break;
      case 'inet':
      case 'inet6':
        if (!familyWord(c, w, block, fam, 'rule')) return undefined;
        fam = t;
        i++;
        break;
      case 'track_group':
        // keepalived 2.2.7 takes track_group in static rules only
        if (block !== 'static_rules')
          return bad(c, w, block, `Unknown rule option ${t}`, 'an ip-rule option');
        r.trackGroup = need(c, words, i++, block, 'a name')?.text;
        if (!r.trackGroup) return undefined;
        break;
      case 'blackhole':
      case 'unreachable':
      case 'prohibit':
      case 'nop':
        if (!setAction(t, w)) return undefined;
        r.action = t;
        break;
      case 'l3mdev':
        if (!setAction(t, w)) return undefined;
        options[t] = 'true';
        break;
      case 'not':
        options[t] = 'true';
        break;
      case 'tos':
      case 'dsfield':
      case 'realms':
      case 'goto':
      case 'uidrange':
      case 'protocol':
      case 'ipproto':
      case 'sport':
      case 'dport':
      case 'suppress_prefixlength':
      case 'suppress_ifgroup': {
        // keepalived 2.2.7 has no 'ip_proto' and no 'tunnel_id' (both are unknown rule options)
        const v = must(c, words, i++, 'a value');
        const named = ruleName(c, v, block, t);
        if (named === 'drop') return undefined;
        if (named === 'skip') break;
        // keepalived reads ports as unsigned shorts: a larger number wraps
        options[t] =
          t === 'sport' || t === 'dport'
            ? v.text
                .split('-')
                .map((n) => Number(n) % 65536)
                .join('-')
            : DECIMAL_RULE_OPTS.includes(t)
              ? String(Number(plain(v.text)))
              : v.text;
        if (t === 'realms' || t.startsWith('suppress_')) tableOption = true;
        if (t === 'goto') {
          if (!setAction(t, w)) return undefined;
          r.action = 'goto';
          gotoTarget = Number(plain(v.text));
        }
        break;
      }
      default:
        // another route type is no rule action
        return rtnType(t) === undefined
          ? bad(c, w, block, `Unknown rule option ${t}`, 'an ip-rule option')
          : bad(c, w, block, `Invalid rule action ${t}`, 'blackhole|unreachable|prohibit|nop|goto N');
    }
  }
  // keepalived 2.2.7's checks once the rule is read; each drops it
  const first = words[0]!;
  if (act === 'goto' && r.preference === undefined)
    return bad(
      c,
      first,
      block,
      `Invalid rule - goto target ${gotoTarget} specified without preference`,
      "'preference N'",
    );
  if (act === 'goto' && r.preference !== undefined && r.preference >= gotoTarget)
    return bad(
      c,
      first,
      block,
      `Invalid rule - preference ${r.preference} >= goto target ${gotoTarget}`,
      'a preference below the goto target',
    );
  if (act === undefined)
    return bad(
      c,
      first,
      block,
      'No action specified for rule - ignoring',
      'table|goto|nop|blackhole|unreachable|prohibit|l3mdev',
    );
  if (act !== 'table' && act !== 'l3mdev' && tableOption)
    return bad(
      c,
      first,
      block,
      'suppressor/realm specified for non table action - skipping',
      'a table action',
    );
  r.family = fam ?? 'inet';
  r.options = options;
  return r;
};

/** `NAME [weight W] [reverse|noreverse|no_reverse]` of a track_* block. */
export function trackLine(maxWeight: number): LineParser<TrackRef> {
  return (words, c, block) => {
    const name = words[0]!;
    let weight: number | undefined;
    let reverse = false;
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      if (w.text === 'weight') {
        const v = need(c, words, i++, block, `an integer in [-${maxWeight}, ${maxWeight}]`);
        if (!v) return undefined;
        const n = parseIntStrict(v.text);
        if (n === undefined || n < -maxWeight || n > maxWeight) {
          return badNumber(c, v, { keyword: `${block} weight` } as AstNode, -maxWeight, maxWeight, 'weight');
        }
        weight = n;
      } else if (w.text === 'reverse') reverse = true;
      else if (w.text === 'noreverse' || w.text === 'no_reverse') reverse = false;
      else
        return bad(
          c,
          w,
          block,
          `unknown option '${w.text}' for ${name.text}`,
          'weight N, reverse or noreverse',
        );
    }
    return { name: name.text, weight, reverse, pos: name.pos };
  };
}

/** `IP [min_ttl N] [max_ttl N]` */
export const peerLine: LineParser<UnicastPeer & { family: Family; pos: SrcPos }> = (words, c, block) => {
  const ip = parseIp(words[0]!.text);
  if (!ip) return badAddress(c, words[0]!, block);
  let minTtl: number | undefined;
  let maxTtl: number | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w.text === 'min_ttl' || w.text === 'max_ttl') {
      const v = need(c, words, i++, block, 'a TTL 0..255');
      if (!v) return undefined;
      const n = parseIntStrict(v.text);
      if (n === undefined || n < 0 || n > 255) return badNumber(c, v, { keyword: w.text } as AstNode, 0, 255);
      if (w.text === 'min_ttl') minTtl = n;
      else maxTtl = n;
    } else return bad(c, w, block, `unknown unicast_peer option '${w.text}'`, 'min_ttl N or max_ttl N');
  }
  return { address: ip.address, family: ip.family, minTtl, maxTtl, pos: words[0]!.pos };
};

/** `IP [PORT]`, `IP-RANGE [PORT]`, `fwmark N [inet|inet6]` */
export const vsgLine: LineParser<VsGroupEntry> = (words, c, block) => {
  const w = words[0]!;
  if (w.text === 'fwmark') {
    const v = need(c, words, 0, block, 'a mark');
    if (!v) return undefined;
    const n = parseIntStrict(v.text);
    if (n === undefined || n < 1 || n > 4294967295)
      return badNumber(c, v, { keyword: 'fwmark' } as AstNode, 1, 4294967295);
    const f = words[2]?.text;
    return {
      kind: 'fwmark',
      fwmark: n,
      family: f === 'inet6' ? 'inet6' : f === 'inet' ? 'inet' : undefined,
      pos: w.pos,
    };
  }
  const t = w.text;
  const dash = t.lastIndexOf('-');
  let ok = false;
  if (parsePrefix(t)) ok = true;
  else if (dash > 0) {
    const a = parseIp(t.slice(0, dash));
    const tail = t.slice(dash + 1);
    if (a)
      ok =
        !!parseIp(tail) ||
        (a.family === 'inet'
          ? /^\d{1,3}$/.test(tail) && Number(tail) <= 255
          : /^[0-9a-fA-F]{1,4}$/.test(tail));
  }
  if (!ok) return badAddress(c, w, block, 'address, range or prefix');
  let port: number | undefined;
  if (words[1]) {
    port = parseIntStrict(words[1].text);
    if (port === undefined || port < 0 || port > 65535)
      return badNumber(c, words[1], { keyword: 'port' } as AstNode, 0, 65535, 'port');
  }
  return { kind: 'addr', range: t, port, pos: w.pos };
};

/** A plain word per line (notification_email, sync group members…). */
export const nameLine: LineParser<{ name: string; pos: SrcPos; extra: string[] }> = (words) => ({
  name: words[0]!.text,
  pos: words[0]!.pos,
  extra: words.slice(1).map((w) => w.text),
});
