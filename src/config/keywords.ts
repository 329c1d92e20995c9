/**
 * keepalived's keywords as data (STYLE.md habit 9): one table per block. An entry says how to read a
 * keyword (a value parser, a nested keyword block, or a list block read line by line), whether it may
 * repeat, and whether it is a deprecated alias. src/config/check.ts interprets the tables; the block
 * finishers there apply defaults and cross-checks.
 */
import { KaClass } from './diagnostics.js';
import {
  addressLine,
  type LineParser,
  nameLine,
  peerLine,
  routeLine,
  ruleLine,
  trackLine,
  vsgLine,
} from './specs.js';
import {
  badNumber,
  boolArg,
  checkedWords,
  commandArg,
  cpuListArg,
  flagArg,
  intArg,
  ipArg,
  missingArg,
  neededArg,
  oneArg,
  oneOf,
  optionalArg,
  strArg,
  strictBoolArg,
  timerArg,
  umaskArg,
  type ValueParser,
  wordsArg,
} from './values.js';

export interface Kw {
  /** Draft field (defaults to the keyword itself). */
  readonly key?: string;
  /** Statement: how to read the arguments. */
  readonly v?: ValueParser<unknown>;
  /** Nested keyword block. */
  readonly block?: Table;
  /** List block: one entry per line. */
  readonly lines?: LineParser<unknown>;
  /** May appear several times; all occurrences are kept in order. */
  readonly multi?: boolean;
  /** A repeat is an error and the first value stays (keepalived: "… already specified - ignoring"). */
  readonly once?: boolean;
  /** An empty list block is an error (keepalived: "Warning - empty … block"). */
  readonly nonEmpty?: boolean;
  /**
   * keepalived reads the first argument unconditionally: without one it exits at once with status 2
   * (checked before the value or block is read). Typed value parsers stop on their own (missingArg);
   * this marks word lists and block headers.
   */
  readonly req?: boolean;
  /** Deprecated alias: replacement, and keepalived's class for it ('silent' logs nothing). */
  readonly dep?: { readonly use: string | undefined; readonly cls: KaClass | 'silent' };
}

export type Table = Readonly<Record<string, Kw>>;

const INT = (min: number, max: number): Kw => ({ v: intArg(min, max) });
const TIMER = (min: number, max: number): Kw => ({ v: timerArg(min, max) });
const BOOL: Kw = { v: boolArg };
/** A boolean keepalived rejects with an error when the word is not on/off/true/false/yes/no. */
const BOOLE: Kw = { v: strictBoolArg };
const FLAG: Kw = { v: flagArg };
const STR: Kw = { v: strArg };
const WORDS: Kw = { v: wordsArg };
const CMD: Kw = { v: commandArg };
const ONCE = (k: Kw): Kw => ({ ...k, once: true });
const ONE = (k: Kw): Kw => ({ ...k, v: oneArg(k.v!) });
const OPT = (k: Kw): Kw => ({ ...k, v: optionalArg(k.v!) });
/** keepalived checks for the argument itself: without it an error, not a stop (exit 5, not 2). */
const NEEDED = (k: Kw): Kw => ({ ...k, v: neededArg(k.v!) });
/** keepalived reads the first argument unconditionally (exit 2 without it). */
const REQ = (k: Kw): Kw => ({ ...k, req: true });
const MAX32 = 2147483647;

const INCLUDE_CHECK_TYPES = new Set(['read', 'match', 'wildcard_match', 'brace_match']);
/** `include_check` words: only the first may lack a +/- sign; each names a known check type. */
function includeCheckOk(words: readonly string[]): boolean {
  return words.every((w, i) => {
    const signed = w[0] === '+' || w[0] === '-';
    return (signed || i === 0) && INCLUDE_CHECK_TYPES.has(signed ? w.slice(1) : w);
  });
}
const U32 = 4294967295;
/** Largest whole seconds keepalived's µs timers hold (UINT_MAX µs). */
const TMAX = 4294;
const silent = (use: string, extra: Partial<Kw> = {}): Kw => ({
  ...extra,
  key: use,
  dep: { use, cls: 'silent' },
});

// ---- global_defs (surface §2.1) ----

/** Keywords allowed both at top level and inside global_defs. */
export const SHARED_GLOBALS: Table = {
  net_namespace: NEEDED(STR),
  net_namespace_ipvs: WORDS,
  namespace_with_ipsets: FLAG,
  instance: NEEDED(STR),
  use_pid_dir: FLAG,
  linkbeat_use_polling: FLAG,
  child_wait_time: INT(0, 3600),
};

const SCHED: Table = Object.fromEntries(
  ['vrrp', 'checker', 'bfd'].flatMap((p) => [
    [`${p}_priority`, NEEDED(INT(-20, 19))],
    [`${p}_rt_priority`, NEEDED(INT(1, 99))],
    [`${p}_no_swap`, FLAG],
    [`${p}_cpu_affinity`, { v: cpuListArg }],
    [`${p}_rlimit_rttime`, INT(1, U32)],
    [`${p}_rlimit_rtime`, silent(`${p}_rlimit_rttime`, { v: intArg(1, U32) })],
  ]),
);

const NETLINK_BUFS: Table = Object.fromEntries(
  [
    'vrrp_netlink_cmd_rcv_bufs',
    'vrrp_netlink_monitor_rcv_bufs',
    'lvs_netlink_cmd_rcv_bufs',
    'lvs_netlink_monitor_rcv_bufs',
    'process_monitor_rcv_bufs',
  ].flatMap((k) => [
    [k, NEEDED(INT(0, U32))],
    [`${k}_force`, BOOLE],
  ]),
);

// keepalived 2.2.7 reports the SHARED_GLOBALS inside global_defs as unknown keywords (swept).
export const GLOBAL_DEFS: Table = {
  ...SCHED,
  ...NETLINK_BUFS,
  tmp_config_directory: NEEDED(ONCE(STR)),
  config_save_dir: STR,
  process_names: FLAG,
  process_name: STR,
  vrrp_process_name: STR,
  checker_process_name: STR,
  lvs_process_name: silent('checker_process_name', { v: strArg }),
  bfd_process_name: STR,
  startup_script: NEEDED(ONCE(CMD)),
  startup_script_timeout: NEEDED(INT(1, 1000)),
  shutdown_script: NEEDED(ONCE(CMD)),
  shutdown_script_timeout: NEEDED(INT(1, 1000)),
  router_id: NEEDED(STR),
  umask: REQ({ v: umaskArg }),
  random_seed: INT(0, 4294967295),
  data_use_instance: BOOLE,
  reload_check_config: WORDS,
  reload_file: WORDS,
  reload_time_file: NEEDED(ONE(STR)),
  reload_repeat: FLAG,
  include_check: {
    v: checkedWords(includeCheckOk, '[+|-]read|match|wildcard_match|brace_match, one without a sign first'),
  },
  notification_email: { lines: nameLine, nonEmpty: true },
  notification_email_from: NEEDED(STR),
  smtp_server: REQ(WORDS),
  smtp_helo_name: OPT(STR),
  smtp_connect_timeout: INT(1, TMAX),
  smtp_alert: BOOLE,
  smtp_alert_vrrp: BOOLE,
  smtp_alert_checker: BOOLE,
  no_email_faults: FLAG,
  checker_log_all_failures: BOOLE,
  no_checker_emails: BOOLE,
  rs_init_notifies: BOOLE,
  vrrp_version: INT(2, 3),
  vrrp_mcast_group4: { v: ipArg() },
  vrrp_mcast_group6: { v: ipArg() },
  default_interface: NEEDED(STR),
  vrrp_garp_master_delay: INT(0, TMAX),
  vrrp_garp_master_repeat: INT(1, U32),
  vrrp_garp_lower_prio_delay: INT(0, TMAX),
  vrrp_garp_lower_prio_repeat: INT(0, MAX32),
  vrrp_garp_master_refresh: INT(0, U32),
  vrrp_garp_master_refresh_repeat: INT(1, U32),
  vrrp_garp_interval: TIMER(0.000001, 4294.967295),
  vrrp_gna_interval: TIMER(0.000001, 4294.967295),
  vrrp_min_garp: BOOLE,
  vrrp_garp_extra_if: WORDS,
  vrrp_vmac_garp_intvl: {
    key: 'vrrp_garp_extra_if',
    v: wordsArg,
    dep: { use: 'vrrp_garp_extra_if', cls: KaClass.Deprecated },
  },
  vrrp_down_timer_adverts: INT(1, 100),
  vrrp_lower_prio_no_advert: BOOLE,
  vrrp_higher_prio_send_advert: BOOLE,
  vrrp_check_unicast_src: FLAG,
  vrrp_skip_check_adv_addr: BOOL,
  vrrp_strict: FLAG,
  vrrp_notify_priority_changes: BOOLE,
  vrrp_startup_delay: TIMER(0.001, 4294.967295),
  log_unknown_vrids: FLAG,
  vmac_prefix: ONCE(STR),
  vmac_addr_prefix: ONCE(STR),
  dynamic_interfaces: {
    v: checkedWords((w) => w[0] === undefined || w[0] === 'allow_if_changes', 'allow_if_changes'),
  },
  disable_local_igmp: FLAG,
  vrrp_rx_bufs_policy: {
    v: checkedWords(
      (w) =>
        (w.length === 1 && /^(mtu|advert|)$/i.test(w[0] ?? 'x')) ||
        (/^\d+$/.test(w[0] ?? '') && Number(w[0]) <= U32),
      'MTU|ADVERT|SIZE (bytes)',
    ),
  },
  vrrp_rx_bufs_multiplier: NEEDED(ONE(INT(1, U32))),
  nftables: ONCE(WORDS),
  nftables_priority: INT(-2147483648, MAX32),
  nftables_counters: FLAG,
  nftables_ifindex: FLAG,
  nftables_ipvs: ONCE(WORDS),
  nftables_ipvs_priority: INT(-2147483648, MAX32),
  nftables_ipvs_start_fwmark: INT(1, 4294967295),
  // Debian's 2.2.7 has no iptables: "iptables not supported, using nftables instead"; vrrp_ipsets and
  // v3_checksum_as_v2 are unknown keywords there (swept)
  vrrp_iptables: { v: wordsArg, dep: { use: 'nftables', cls: KaClass.GeneralError } },
  // Bare `max_auto_priority` is the highest SCHED_RR priority (keepalived: sched_get_priority_max).
  max_auto_priority: { v: (n, c) => (n.args.length === 0 ? 99 : intArg(-1, 99)(n, c)) },
  min_auto_priority_delay: NEEDED(INT(1, 10_000_000)),
  lvs_sync_daemon: ONCE(WORDS),
  lvs_timeouts: NEEDED(WORDS),
  lvs_flush: FLAG,
  lvs_flush_on_stop: { v: checkedWords((w) => w[0] === undefined || w[0] === 'VS', 'VS') },
  lvs_flush_onstop: silent('lvs_flush_on_stop', {
    v: checkedWords((w) => w[0] === undefined || w[0] === 'VS', 'VS'),
  }),
  script_user: WORDS,
  enable_script_security: FLAG,
  notify_fifo: ONCE(WORDS),
  notify_fifo_script: NEEDED(ONCE(WORDS)),
  vrrp_notify_fifo: ONCE(WORDS),
  vrrp_notify_fifo_script: NEEDED(ONCE(WORDS)),
  lvs_notify_fifo: ONCE(WORDS),
  lvs_notify_fifo_script: NEEDED(ONCE(WORDS)),
  fifo_write_vrrp_states_on_reload: FLAG,
  snmp_socket: NEEDED(ONE(ONCE(STR))),
  enable_snmp_vrrp: FLAG,
  enable_snmp_keepalived: silent('enable_snmp_vrrp', { v: flagArg }),
  enable_snmp_checker: FLAG,
  enable_snmp_rfc: FLAG,
  enable_snmp_rfcv2: FLAG,
  enable_snmp_rfcv3: FLAG,
  enable_traps: FLAG,
  enable_dbus: FLAG,
  dbus_service_name: NEEDED(STR),
};

// ---- VRRP side ----

export const VRRP_SCRIPT: Table = {
  script: OPT(CMD),
  interval: INT(0, TMAX),
  timeout: INT(1, TMAX),
  weight: REQ({ v: wordsArg }),
  rise: INT(1, MAX32),
  fall: INT(1, MAX32),
  user: REQ(WORDS),
  init_fail: FLAG,
};

export const TRACK_FILE: Table = {
  file: NEEDED(ONCE(STR)),
  weight: WORDS,
  init_file: WORDS,
};

export const TRACK_PROCESS: Table = {
  process: REQ(ONCE(WORDS)),
  param_match: OPT({ v: oneOf(['initial', 'partial']) }),
  weight: ONCE(WORDS),
  quorum: INT(1, 65535),
  quorum_max: INT(0, 65535),
  fork_delay: TIMER(0.000001, 3600),
  terminate_delay: TIMER(0.000001, 3600),
  delay: TIMER(0.000001, 3600),
  full_command: FLAG,
};

/**
 * BFD intervals: milliseconds with up to 3 decimals (µs resolution), as keepalived 2.2.7 reads them
 * (read_decimal_unsigned_strvec: no sign, no exponent). Stored in ms rounded to the µs.
 */
const BFD_MS = (min: number, max: number): Kw => ({
  v: (n, c) => {
    const w = n.args[0];
    if (!w) return missingArg(n, c, `milliseconds in [${min}, ${max}]`);
    const v = /^(\d+\.?\d{0,3}|\.\d{1,3})$/.test(w.text) ? Number(w.text) : undefined;
    if (v === undefined || v < min || v > max)
      return badNumber(c, w, n, min, max, 'interval (ms, 3 decimals at most)');
    return Math.round(v * 1000) / 1000;
  },
});

/** keepalived keeps max_hops in a uint8_t: -1 is stored as 255, which turns the TTL check off. */
const maxHopsArg: ValueParser<number> = (n, c) => {
  const h = intArg(-1, 255)(n, c);
  return h === -1 ? 255 : h;
};

export const BFD_INSTANCE: Table = {
  // keepalived 2.2.7 does not read a missing neighbour (it crashes later on such an instance)
  neighbor_ip: NEEDED({ v: ipArg() }),
  neighbour_ip: NEEDED({ key: 'neighbor_ip', v: ipArg() }),
  source_ip: { v: ipArg() },
  min_rx: BFD_MS(1, 4294967),
  min_tx: BFD_MS(1, 4294967),
  idle_tx: BFD_MS(1000, 4294967),
  multiplier: INT(1, 255),
  passive: FLAG,
  ttl: INT(1, 255),
  hoplimit: { key: 'ttl', v: intArg(1, 255) },
  max_hops: { v: maxHopsArg },
  weight: REQ(WORDS),
  vrrp: FLAG,
  checker: FLAG,
};

const TRACKING: Table = {
  track_interface: { lines: trackLine(253), multi: true },
  track_script: { lines: trackLine(253), multi: true },
  track_file: { lines: trackLine(254), multi: true },
  track_process: { lines: trackLine(254), multi: true },
  track_bfd: { lines: trackLine(253), multi: true },
};

const NOTIFY: Table = {
  notify_master: CMD,
  notify_backup: CMD,
  notify_fault: CMD,
  notify_stop: CMD,
  notify: CMD,
};

export const SYNC_GROUP: Table = {
  group: { lines: nameLine, multi: true },
  ...TRACKING,
  ...NOTIFY,
  smtp_alert: BOOL,
  notify_priority_changes: BOOL,
  sync_group_tracking_weight: FLAG,
  global_tracking: { v: flagArg, dep: { use: 'group-level track_*', cls: KaClass.GeneralError } },
};

export const AUTHENTICATION: Table = {
  auth_type: { v: oneOf(['PASS', 'AH']) },
  auth_pass: STR,
};

export const VRRP_INSTANCE: Table = {
  ...TRACKING,
  ...Object.fromEntries(Object.entries(NOTIFY).map(([k, v]) => [k, ONCE(v)])),
  state: STR,
  interface: STR,
  vrf: STR,
  virtual_router_id: REQ({ v: wordsArg }),
  priority: REQ({ v: wordsArg }),
  advert_int: REQ({ v: wordsArg }),
  version: INT(2, 3),
  native_ipv6: { v: flagArg, dep: { use: undefined, cls: KaClass.Deprecated } },
  mcast_src_ip: { v: ipArg() },
  unicast_src_ip: { key: 'mcast_src_ip', v: ipArg() }, // same handler in keepalived, not an alias
  mcast_dst_ip: { v: ipArg() },
  track_src_ip: FLAG,
  unicast_peer: { lines: peerLine, multi: true },
  unicast_ttl: INT(0, 255),
  unicast_fault_no_peer: FLAG,
  check_unicast_src: FLAG,
  old_unicast_checksum: WORDS,
  authentication: { block: AUTHENTICATION },
  debug: INT(0, 4),
  use_vmac: { v: wordsArg, multi: true },
  use_vmac_addr: FLAG,
  vmac_xmit_base: FLAG,
  use_ipvlan: WORDS,
  promote_secondaries: FLAG,
  dont_track_primary: FLAG,
  virtual_ipaddress: { lines: addressLine, multi: true },
  virtual_ipaddress_excluded: { lines: addressLine, multi: true },
  virtual_routes: { lines: routeLine, multi: true },
  virtual_rules: { lines: ruleLine, multi: true },
  accept: FLAG,
  no_accept: FLAG,
  nopreempt: FLAG,
  preempt: FLAG,
  preempt_delay: TIMER(0, 1000),
  down_timer_adverts: INT(1, 100),
  garp_master_delay: INT(0, TMAX),
  garp_master_repeat: INT(1, U32),
  garp_lower_prio_delay: INT(0, TMAX),
  garp_lower_prio_repeat: INT(0, MAX32),
  garp_master_refresh: INT(0, U32),
  garp_master_refresh_repeat: INT(1, U32),
  garp_extra_if: WORDS,
  vmac_garp_intvl: {
    key: 'garp_extra_if',
    v: wordsArg,
    dep: { use: 'garp_extra_if', cls: KaClass.Deprecated },
  },
  lower_prio_no_advert: BOOLE,
  higher_prio_send_advert: BOOLE,
  skip_check_adv_addr: BOOLE,
  strict_mode: BOOLE,
  kernel_rx_buf_size: NEEDED(ONE(INT(0, U32))),
  notify_deleted: ONCE(WORDS),
  notify_master_rx_lower_pri: ONCE(CMD),
  notify_priority_changes: BOOLE,
  smtp_alert: BOOLE,
  lvs_sync_daemon_interface: { v: strArg, dep: { use: 'global lvs_sync_daemon', cls: KaClass.GeneralError } },
};

// ---- LVS side ----

/** keepalived 2.2.7 reads these without an upper bound that a config would reach (swept). */
const TNOMAX = Number.MAX_SAFE_INTEGER;

const CHECK_TIMING: Table = {
  connect_timeout: TIMER(0.000001, 4294.967295),
  retry: INT(0, U32),
  delay_before_retry: TIMER(0, TNOMAX),
  warmup: TIMER(0, TNOMAX),
  delay_loop: TIMER(0.000001, TNOMAX),
  alpha: BOOLE,
  log_all_failures: BOOLE,
};

const CONN_OPTS: Table = {
  connect_ip: { v: ipArg() },
  connect_port: INT(1, 65535),
  bindto: { v: ipArg() },
  bind_if: STR,
  bind_port: INT(1, 65535),
  fwmark: INT(0, 4294967295),
};

export const URL: Table = {
  path: STR,
  digest: STR,
  status_code: WORDS,
  virtualhost: NEEDED(STR),
  // keepalived 2.2.7 records no error for any argument of these (swept)
  regex: WORDS,
  regex_no_match: FLAG,
  regex_options: WORDS,
  regex_stack: WORDS,
  regex_min_offset: WORDS,
  regex_max_offset: WORDS,
};

const HTTP: Table = {
  ...CHECK_TIMING,
  ...CONN_OPTS,
  url: { block: URL, multi: true },
  http_protocol: NEEDED({ v: oneOf(['1.0', '1.0C', '1.1'], true) }),
  virtualhost: NEEDED(STR),
  fast_recovery: BOOLE,
  enable_sni: BOOLE,
  nb_get_retry: { key: 'retry', v: intArg(0, MAX32), dep: { use: 'retry', cls: KaClass.GeneralError } },
};

export const CHECKERS: Readonly<Record<string, Table>> = {
  HTTP_GET: HTTP,
  SSL_GET: HTTP,
  TCP_CHECK: { ...CHECK_TIMING, ...CONN_OPTS },
  SMTP_CHECK: {
    ...CHECK_TIMING,
    ...CONN_OPTS,
    helo_name: NEEDED(STR),
    host: { block: { ...CONN_OPTS, connect_timeout: TIMER(0.000001, 4294.967295) }, multi: true },
  },
  DNS_CHECK: {
    ...CHECK_TIMING,
    ...CONN_OPTS,
    type: { v: oneOf(['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'], true) },
    name: ONCE(STR),
  },
  UDP_CHECK: {
    ...CHECK_TIMING,
    ...CONN_OPTS,
    payload: NEEDED(STR),
    require_reply: WORDS,
    min_reply_length: INT(0, 65535),
    max_reply_length: INT(0, 65535),
  },
  PING_CHECK: { ...CHECK_TIMING, ...CONN_OPTS },
  MISC_CHECK: {
    ...CHECK_TIMING,
    misc_path: NEEDED(STR),
    misc_timeout: INT(1, MAX32),
    misc_dynamic: FLAG,
    user: WORDS,
  },
  FILE_CHECK: { track_file: STR, weight: WORDS },
  BFD_CHECK: { alpha: BOOLE, name: NEEDED(STR) },
};

const checkerBlocks: Table = Object.fromEntries(
  Object.entries(CHECKERS).map(([k, t]) => [k, { key: 'checkers', block: t, multi: true }]),
);

const LVS_METHOD: Kw = REQ({ v: wordsArg });

export const REAL_SERVER: Table = {
  ...checkerBlocks,
  weight: INT(0, MAX32),
  lvs_method: LVS_METHOD,
  lb_kind: silent('lvs_method', { v: wordsArg }),
  uthreshold: INT(0, U32),
  lthreshold: INT(0, U32),
  inhibit_on_failure: BOOLE,
  notify_up: ONCE(CMD),
  notify_down: ONCE(CMD),
  alpha: BOOLE,
  retry: INT(1, U32),
  delay_before_retry: TIMER(0, TNOMAX),
  warmup: TIMER(0, TNOMAX),
  connect_timeout: TIMER(0.000001, 4294.967295),
  delay_loop: TIMER(0.000001, TNOMAX),
  smtp_alert: BOOLE,
  virtualhost: NEEDED(STR),
  snmp_name: NEEDED(ONE(STR)),
};

export const VIRTUAL_SERVER: Table = {
  real_server: { block: REAL_SERVER, multi: true, req: true },
  lvs_sched: STR,
  lb_algo: silent('lvs_sched', { v: strArg }),
  'flag-1': FLAG,
  'flag-2': FLAG,
  'flag-3': FLAG,
  'sh-port': FLAG,
  'sh-fallback': FLAG,
  'mh-port': FLAG,
  'mh-fallback': FLAG,
  ops: FLAG,
  hashed: FLAG,
  lvs_method: LVS_METHOD,
  lb_kind: silent('lvs_method', { v: wordsArg, req: true }),
  protocol: { v: oneOf(['TCP', 'UDP', 'SCTP'], true) },
  persistence_timeout: WORDS,
  persistence_granularity: STR,
  persistence_engine: STR,
  ip_family: { v: oneOf(['inet', 'inet6']) },
  ha_suspend: FLAG,
  virtualhost: NEEDED(STR),
  alpha: FLAG,
  omega: FLAG,
  quorum: INT(1, MAX32),
  hysteresis: INT(0, MAX32),
  quorum_up: ONCE(CMD),
  quorum_down: ONCE(CMD),
  sorry_server: REQ(WORDS),
  sorry_server_inhibit: FLAG,
  sorry_server_lvs_method: WORDS,
  connect_timeout: TIMER(0.000001, 4294.967295),
  delay_loop: TIMER(0.000001, TNOMAX),
  retry: INT(1, U32),
  delay_before_retry: TIMER(0, TNOMAX),
  warmup: TIMER(0, TNOMAX),
  inhibit_on_failure: FLAG,
  smtp_alert: BOOLE,
  snmp_name: NEEDED(ONE(STR)),
  weight: INT(1, MAX32),
};

export const SSL: Table = {
  password: NEEDED(STR),
  ca: NEEDED(STR),
  certificate: NEEDED(STR),
  key: NEEDED(STR),
};

export const GARP_GROUP: Table = {
  garp_interval: TIMER(0, 2147.483647),
  gna_interval: TIMER(0, 2147.483647),
  interface: STR,
  interfaces: { lines: nameLine, multi: true, nonEmpty: true },
};

/** Top-level blocks and keywords; named blocks carry their table. */
export const TOP_LEVEL: Table = {
  ...SHARED_GLOBALS,
  global_defs: { block: GLOBAL_DEFS, multi: true },
  linkbeat_interfaces: { lines: nameLine, multi: true },
  interface_up_down_delays: { lines: nameLine, multi: true },
  track_group: { block: { group: { lines: nameLine, multi: true } }, multi: true },
  static_ipaddress: { lines: addressLine, multi: true },
  static_routes: { lines: routeLine, multi: true },
  static_rules: { lines: ruleLine, multi: true },
  garp_group: { block: GARP_GROUP, multi: true },
  vrrp_script: { block: VRRP_SCRIPT, multi: true, req: true },
  track_file: { block: TRACK_FILE, multi: true, req: true },
  vrrp_track_file: silent('track_file', { block: TRACK_FILE, multi: true, req: true }),
  vrrp_track_process: { block: TRACK_PROCESS, multi: true, req: true },
  bfd_instance: { block: BFD_INSTANCE, multi: true },
  vrrp_sync_group: { block: SYNC_GROUP, multi: true },
  vrrp_instance: { block: VRRP_INSTANCE, multi: true },
  SSL: { block: SSL },
  virtual_server_group: { lines: vsgLine, multi: true, req: true },
  virtual_server: { block: VIRTUAL_SERVER, multi: true, req: true },
};
