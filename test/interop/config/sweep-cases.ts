import { DiagnosticSink } from '../../../src/config/diagnostics.js';
import {
  AUTHENTICATION,
  BFD_INSTANCE,
  CHECKERS,
  GARP_GROUP,
  GLOBAL_DEFS,
  type Kw,
  REAL_SERVER,
  SYNC_GROUP,
  type Table,
  TRACK_FILE,
  TRACK_PROCESS,
  URL,
  VIRTUAL_SERVER,
  VRRP_INSTANCE,
  VRRP_SCRIPT,
} from '../../../src/config/keywords.js';

// Differential sweep of the keyword tables: every keyword gets boundary arguments inside a minimal
// valid context; test/interop/config/sweep.test.ts runs keepalived -t and our config test on each.

export interface SweepCase {
  /** Stable id: `<context> <keyword> <variant>`; the allowlist refers to it. */
  readonly id: string;
  readonly conf: string;
}

/** A context puts one statement (already indented) into an otherwise valid configuration. */
type Context = (stmt: string) => string;

const SEC = 'global_defs {\n  enable_script_security\n  script_user nobody\n}\n';
const VIP = '  virtual_ipaddress {\n    192.0.2.1\n  }\n';
const vi = (stmt: string, name = 'VI_1', vrid = 51) =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n  priority 100\n${VIP}${stmt}}\n`;
const rs = (stmt: string) => `  real_server 192.0.2.20 80 {\n    weight 1\n${stmt}  }\n`;
const vs = (stmt: string) =>
  `virtual_server 192.0.2.10 80 {\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n${stmt}}\n`;
const checker = (name: string, inner: string) => (stmt: string) =>
  `${SEC}${vs(rs(`    ${name} {\n${inner}${stmt.replace(/^/gm, '    ')}    }\n`))}`;

const CHECKER_BASE: Readonly<Record<string, string>> = {
  HTTP_GET: '      url {\n        path /\n        status_code 200\n      }\n',
  SSL_GET: '      url {\n        path /\n        status_code 200\n      }\n',
  SMTP_CHECK: '',
  DNS_CHECK: '',
  TCP_CHECK: '',
  UDP_CHECK: '',
  PING_CHECK: '',
  MISC_CHECK: '      misc_path /bin/true\n',
  FILE_CHECK: '      track_file tf\n',
  BFD_CHECK: '      name b1\n',
};
const CHECKER_PRE: Readonly<Record<string, string>> = {
  FILE_CHECK: 'track_file tf {\n  file /nonexistent-kt\n}\n',
  BFD_CHECK: 'bfd_instance b1 {\n  neighbor_ip 192.0.2.2\n}\n',
};

interface Target {
  readonly name: string;
  readonly table: Table;
  readonly ctx: Context;
}

/** Every table and the minimal valid context it is swept in (each yields exit 0 on its own). */
export function targets(): Target[] {
  const out: Target[] = [
    { name: 'global_defs', table: GLOBAL_DEFS, ctx: (s) => `global_defs {\n${s}}\n` },
    { name: 'vrrp_instance', table: VRRP_INSTANCE, ctx: (s) => vi(s) },
    {
      name: 'vrrp_script',
      table: VRRP_SCRIPT,
      ctx: (s) => `${SEC}vrrp_script chk {\n  script /bin/true\n${s}}\n`,
    },
    { name: 'track_file', table: TRACK_FILE, ctx: (s) => `track_file tf {\n  file /nonexistent-kt\n${s}}\n` },
    {
      name: 'vrrp_track_process',
      table: TRACK_PROCESS,
      ctx: (s) => `vrrp_track_process tp {\n  process sshd\n${s}}\n`,
    },
    {
      name: 'vrrp_sync_group',
      table: SYNC_GROUP,
      ctx: (s) => `vrrp_sync_group G {\n  group {\n    VI_1\n  }\n${s}}\n${vi('')}`,
    },
    {
      name: 'authentication',
      table: AUTHENTICATION,
      ctx: (s) =>
        vi(`  authentication {\n    auth_type PASS\n    auth_pass x\n${s.replace(/^/gm, '  ')}  }\n`),
    },
    { name: 'virtual_server', table: VIRTUAL_SERVER, ctx: (s) => `${SEC}${vs(`${rs('')}${s}`)}` },
    { name: 'real_server', table: REAL_SERVER, ctx: (s) => `${SEC}${vs(rs(s.replace(/^/gm, '  ')))}` },
    {
      name: 'url',
      table: URL,
      ctx: (s) =>
        checker('HTTP_GET', `      url {\n        path /\n${s.replace(/^/gm, '      ')}      }\n`)(''),
    },
    {
      name: 'bfd_instance',
      table: BFD_INSTANCE,
      ctx: (s) => `bfd_instance b1 {\n  neighbor_ip 192.0.2.2\n${s}}\n`,
    },
    {
      name: 'garp_group',
      table: GARP_GROUP,
      ctx: (s) => `garp_group {\n  garp_interval 1\n  interface eth0\n${s}}\n`,
    },
  ];
  for (const [name, table] of Object.entries(CHECKERS)) {
    const base = CHECKER_BASE[name] ?? '';
    const pre = CHECKER_PRE[name] ?? '';
    out.push({ name, table, ctx: (s) => `${pre}${checker(name, base)(s)}` });
  }
  return out;
}

/** Arguments tried on every statement keyword. */
const COMMON = ['-1', '0', '1', '256', 'abc', '""'];
/** Candidate bounds: the probe below finds where our parser starts and stops accepting. */
const BOUNDS = [
  -2147483649, -2147483648, -21, -20, -2, -1, 0, 1, 2, 3, 99, 100, 101, 254, 255, 256, 1000, 1001, 3600, 3601,
  65535, 65536, 86400, 86401, 2147483647, 2147483648, 4294967295, 4294967296,
];

const pos = { file: 'probe', line: 1, col: 1 };
/** Does our value parser accept `text` without a diagnostic? */
function accepts(kw: string, spec: Kw, text: string): boolean {
  const node = {
    keyword: kw,
    pos,
    args: [{ text, pos, quoted: false }],
    children: undefined,
    open: undefined,
    close: undefined,
  };
  const diags = new DiagnosticSink();
  const v = spec.v?.(node, { diags });
  return v !== undefined && diags.list.length === 0;
}

/** Numeric keywords: the values around each edge of what we accept, plus a decimal. */
function numericValues(kw: string, spec: Kw): string[] {
  if (accepts(kw, spec, 'abc') || !BOUNDS.some((b) => accepts(kw, spec, String(b)))) return [];
  const out = new Set<string>(['0.5', '1.5']);
  for (const [i, b] of BOUNDS.entries()) {
    const prev = BOUNDS[i - 1];
    if (prev !== undefined && accepts(kw, spec, String(prev)) !== accepts(kw, spec, String(b))) {
      for (const v of [prev - 1, prev, b, b + 1]) out.add(String(v));
    }
  }
  out.add(String(BOUNDS[BOUNDS.length - 1]));
  return [...out];
}

function statements(kw: string, spec: Kw): { variant: string; stmt: string }[] {
  if (spec.block) {
    return [
      { variant: 'empty block', stmt: `  ${kw} {\n  }\n` },
      { variant: 'no brace', stmt: `  ${kw}\n` },
    ];
  }
  if (spec.lines) {
    return [
      { variant: 'empty block', stmt: `  ${kw} {\n  }\n` },
      { variant: 'junk line', stmt: `  ${kw} {\n    abc\n  }\n` },
      { variant: 'number line', stmt: `  ${kw} {\n    1\n  }\n` },
      { variant: 'no brace', stmt: `  ${kw}\n` },
    ];
  }
  const values = new Set([...COMMON, ...numericValues(kw, spec)]);
  const out = [...values].map((v) => ({ variant: `=${v}`, stmt: `  ${kw} ${v}\n` }));
  out.push({ variant: 'missing', stmt: `  ${kw}\n` });
  out.push({ variant: 'two args', stmt: `  ${kw} 1 2\n` });
  out.push({ variant: 'repeated', stmt: `  ${kw} 1\n  ${kw} 1\n` });
  return out;
}

const ROUTE_WORDS = [
  'local 192.0.2.0/24 dev eth0',
  'unicast 192.0.2.0/24 dev eth0',
  'brd 192.0.2.255 dev eth0',
  'anycast 192.0.2.0/24 dev eth0',
  'multicast 224.1.1.0/24 dev eth0',
  'nat 192.0.2.0/24 dev eth0',
  'xresolve 192.0.2.0/24 dev eth0',
  'unspec 192.0.2.0/24 dev eth0',
  '5 192.0.2.0/24 dev eth0',
  '0x10 192.0.2.0/24 dev eth0',
  '255 192.0.2.0/24 dev eth0',
  '256 192.0.2.0/24 dev eth0',
  '-1 192.0.2.0/24 dev eth0',
  'blackhole 192.0.2.0/24',
  'throw 192.0.2.0/24 no_track',
  'prohibit 2001:db8::/32 dev eth0',
  'to local 192.0.2.0/24 dev eth0',
  'local to 192.0.2.0/24 dev eth0',
  'src 192.0.2.1 unreachable 198.51.100.0/24 dev eth0',
  '192.0.2.0/24 via 198.51.100.1',
  '192.0.2.0/24 dev nosuch0',
  '192.0.2.0/24 dev eth0 track_group G',
];
const RULE_WORDS = [
  'from 192.0.2.0/24 table 100',
  'from 192.0.2.0/24 table 100 preference 10',
  'from 192.0.2.0/24 preference 10',
  'from 192.0.2.0/24 table 100 preference 10 dev nosuch0',
  'from 192.0.2.0/24 table 100 preference 10 oif nosuch0',
  'from 192.0.2.0/24 table 100 preference 10 iif ""',
  'from 192.0.2.0/24 table 100 preference 10 dev eth0',
  'to 192.0.2.0/24 goto 10 preference 20',
  'to 192.0.2.0/24 goto 10 preference 5',
  'to 192.0.2.0/24 goto 10',
  'from 192.0.2.0/24 table 100 preference 10 protocol 5',
  'from 192.0.2.0/24 table 100 preference 10 protocol 18',
  'from 192.0.2.0/24 table 100 preference 10 protocol 5 no_track',
  'from 192.0.2.0/24 table 100 blackhole preference 10',
  'from 192.0.2.0/24 blackhole realms 3 preference 10',
  'from 192.0.2.0/24 table 100 realms 3 preference 10',
  'from 192.0.2.0/24 nop suppress_prefixlength 0 preference 10',
  'from 192.0.2.0/24 l3mdev preference 10',
  'from 192.0.2.0/24 l3mdev table 100 preference 10',
  'from 192.0.2.0/24 type blackhole preference 10',
  'from 192.0.2.0/24 type goto 20 preference 10',
  'from 192.0.2.0/24 type foo preference 10',
  'from 192.0.2.0/24 local preference 10',
  'from 192.0.2.0/24 5 preference 10',
  'from 192.0.2.0/24 nop',
  'from 192.0.2.0/24 table 100 preference 10 dev eth0 track_group G',
  'from 192.0.2.0/24 table 100 preference 10 track_group G',
];
const TRACK_GROUP = 'track_group G {\n  group {\n    VI_1\n  }\n}\n';
const UMASKS = [
  'IWGRP | IWOTH',
  'IWGRP |IWOTH',
  'IXOTH',
  'IWGRP IWOTH',
  'IWGRP|',
  '|IWGRP',
  'IWGRPIWOTH',
  '0x1ff',
  '511',
  '0777',
  '08',
  '0x',
  '0 1',
];
const VS_NO_PROTO = `virtual_server 192.0.2.10 80 {\n  lvs_sched rr\n  lvs_method NAT\n${rs('')}}\n`;

/** id → configuration; each line chosen where keepalived 2.2.7 -t was found to differ from a naive reading. */
const EXTRA: Readonly<Record<string, string>> = {
  ...Object.fromEntries(ROUTE_WORDS.map((r) => [`static_routes ${r}`, `static_routes {\n  ${r}\n}\n`])),
  ...Object.fromEntries(
    ROUTE_WORDS.map((r) => [`virtual_routes ${r}`, vi(`  virtual_routes {\n    ${r}\n  }\n`)]),
  ),
  ...Object.fromEntries(
    RULE_WORDS.map((r) => [`static_rules ${r}`, `${TRACK_GROUP}static_rules {\n  ${r}\n}\n`]),
  ),
  ...Object.fromEntries(
    RULE_WORDS.map((r) => [`virtual_rules ${r}`, vi(`  virtual_rules {\n    ${r}\n  }\n`)]),
  ),
  'static_rules track_group defined after': `static_rules {\n  from 192.0.2.0/24 table 100 preference 10 dev eth0 track_group G\n}\n${TRACK_GROUP}`,
  'static_routes track_group defined before': `${TRACK_GROUP}static_routes {\n  192.0.2.0/24 dev eth0 track_group G\n}\n`,
  'static_routes track_group without dev': `${TRACK_GROUP}static_routes {\n  192.0.2.0/24 via 198.51.100.1 track_group G\n}\n`,
  ...Object.fromEntries(UMASKS.map((u) => [`umask ${u}`, `global_defs {\n  umask ${u}\n}\n`])),
  'virtual_server without protocol': VS_NO_PROTO,
  'virtual_server without protocol or real servers':
    'virtual_server 192.0.2.10 80 {\n  lvs_sched rr\n  lvs_method NAT\n}\n',
  'virtual_server group of addresses without protocol': `virtual_server_group G1 {\n  192.0.2.10 80\n}\n${VS_NO_PROTO.replace('192.0.2.10 80', 'group G1')}`,
  'virtual_server group of fwmarks without protocol': `virtual_server_group G1 {\n  fwmark 3\n}\n${VS_NO_PROTO.replace('192.0.2.10 80', 'group G1')}`,
  'virtual_server fwmark without protocol, ops': VS_NO_PROTO.replace('192.0.2.10 80', 'fwmark 4').replace(
    'NAT\n',
    'NAT\n  ops\n',
  ),
  'virtual_server without protocol, ops': VS_NO_PROTO.replace('NAT\n', 'NAT\n  ops\n'),
  'script_user with an unknown group': 'global_defs {\n  script_user nobody nosuchgroup\n}\n',
  'script_user with a group': 'global_defs {\n  script_user nobody nogroup\n}\n',
  'script_user unknown, vrrp_script without user': `global_defs {\n  script_user nosuchuser\n}\nvrrp_script chk {\n  script /bin/true\n}\n${vi('  track_script {\n    chk\n  }\n')}`,
  'notify script with an unknown user': `${SEC}${vi('  notify_master /bin/true nosuchuser\n')}`,
  'startup_script with an unknown group': 'global_defs {\n  startup_script /bin/true nobody nosuchgroup\n}\n',
  'startup_script empty with a user': 'global_defs {\n  startup_script "" root\n}\n',
  ...Object.fromEntries(
    ['localhost', 'localhost 2525', 'nosuchhost.invalid', '2001:db8::1'].map((h) => [
      `smtp_server ${h}`,
      `global_defs {\n  smtp_server ${h}\n}\n`,
    ]),
  ),
  'authentication PASS without auth_pass': vi('  authentication {\n    auth_type PASS\n  }\n'),
};

export function sweepCases(): SweepCase[] {
  const out: SweepCase[] = [];
  for (const t of targets()) {
    out.push({ id: `${t.name} (base)`, conf: t.ctx('') });
    for (const [kw, spec] of Object.entries(t.table)) {
      for (const { variant, stmt } of statements(kw, spec)) {
        out.push({ id: `${t.name} ${kw} ${variant}`, conf: t.ctx(stmt) });
      }
    }
  }
  // wrong block: each statement keyword of a block table once in global_defs, each global in an instance
  const ts = targets();
  const global = ts.find((t) => t.name === 'global_defs');
  const instance = ts.find((t) => t.name === 'vrrp_instance');
  for (const t of ts) {
    const host = t === global ? instance : global;
    if (!host) continue;
    for (const [kw, spec] of Object.entries(t.table)) {
      if (spec.v && !Object.hasOwn(host.table, kw))
        out.push({ id: `${t.name} ${kw} in ${host.name}`, conf: host.ctx(`  ${kw} 1\n`) });
    }
  }
  // hand-picked lines whose exit keepalived decides beyond a keyword's arguments
  for (const [id, conf] of Object.entries(EXTRA)) out.push({ id: `extra ${id}`, conf });
  // static lists at top level
  for (const kw of ['static_ipaddress', 'static_routes', 'static_rules']) {
    for (const { variant, stmt } of statements(kw, { lines: (() => undefined) as unknown as Kw['lines'] })) {
      out.push({ id: `top ${kw} ${variant}`, conf: stmt.replace(/^ {2}/gm, '') });
    }
  }
  return out;
}
