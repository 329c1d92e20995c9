/**
 * keepalived's text dumps, formatted as keepalived 2.2.7 writes them (layouts captured from Debian's
 * keepalived 2.2.7, see docs/DUMPS.md): `keepalived.stats` on SIGUSR2, the VRRP part of
 * `keepalived.data` on SIGUSR1, their file names (`data_use_instance`) and directory ($TMPDIR if
 * absolute, else /tmp). Tools parse these files (e.g. the Prometheus exporter
 * mehdy/keepalived-exporter), so line shapes and indentation follow keepalived exactly.
 *
 * The formatters are pure: the daemon passes its snapshots and configuration in. Values keepalived
 * prints that the daemon does not expose yet are optional inputs (see VrrpDumpInstance); a line whose
 * value is unknown is printed with keepalived's "unset" value (epoch 0 for times, 0 for counts).
 */
import { basename, dirname, isAbsolute, join } from 'node:path';
import type {
  AddressSpec,
  Checker,
  Command,
  KeepalivedConfig,
  RealServer,
  RouteSpec,
  RuleSpec,
  Tracking,
  TrackRef,
  VirtualServer,
  VrrpInstance as VrrpInstanceCfg,
} from '../config/model.js';
import type { Counters } from '../core/counters.js';
import type { Logger } from '../core/log.js';
import type { TrackerRef } from '../vrrp/track/instance.js';
import type { TrackerKind } from '../vrrp/track/priority.js';
import { resolveInstanceTrackers } from '../vrrp/track/resolve.js';
import { PRIO_OWNER } from '../vrrp/types.js';
import { keepalivedStats, type LvsSnapshot, type VrrpInstanceSnapshot } from './metrics.js';
import { writeFileAtomic } from './rt-dumps.js';

// ---- files ----

/** Where keepalived writes its dumps: $TMPDIR when it is an absolute path, else /tmp (not os.tmpdir()). */
export function dumpDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const t = env.TMPDIR;
  return t !== undefined && t !== '' && isAbsolute(t) ? t : '/tmp';
}

export interface DumpFileNames {
  /** VRRP data (SIGUSR1). */
  readonly data: string;
  /** Checker (LVS) data (SIGUSR1). */
  readonly checkData: string;
  /** VRRP stats (SIGUSR2): never carries the instance or namespace. */
  readonly stats: string;
}

/**
 * File names as keepalived 2.2.7 makes them. With `data_use_instance` the .data files carry the
 * network namespace and the `instance` name: `keepalived.NS_INST.data`, `keepalived.NS.data`,
 * `keepalived.INST.data` (observed with 2.2.7; without either, the plain name).
 */
export function dumpFileNames(opts: {
  readonly dataUseInstance: boolean;
  readonly namespace?: string | undefined;
  readonly instance?: string | undefined;
}): DumpFileNames {
  const parts = [opts.namespace, opts.instance].filter((p): p is string => p !== undefined && p !== '');
  const tag = opts.dataUseInstance && parts.length > 0 ? `.${parts.join('_')}` : '';
  return {
    data: `keepalived${tag}.data`,
    checkData: `keepalived_check${tag}.data`,
    stats: 'keepalived.stats',
  };
}

/** `data_use_instance` of a configuration (a global_defs boolean, stored with the long tail). */
export function dataUseInstance(config: KeepalivedConfig): boolean {
  const v = config.global.settings.data_use_instance;
  return v === true || v === 'true' || v === 'on' || v === 'yes' || v === 1;
}

/** The dump file names of a configuration; `namespace` is `-s` or `net_namespace`. */
export function dumpFileNamesOf(config: KeepalivedConfig, namespace?: string): DumpFileNames {
  return dumpFileNames({
    dataUseInstance: dataUseInstance(config),
    namespace: namespace ?? config.global.netNamespace,
    instance: config.global.instance,
  });
}

/** Full paths of the dump files of a configuration, in dumpDir(env). */
export function dumpPaths(
  config: KeepalivedConfig,
  namespace?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DumpFileNames {
  const dir = dumpDir(env);
  const n = dumpFileNamesOf(config, namespace);
  return { data: join(dir, n.data), checkData: join(dir, n.checkData), stats: join(dir, n.stats) };
}

/**
 * Write one dump with mode 0600 (also when the file already existed with another mode), replacing
 * its content. A failure is logged and counted (`daemon.dump_errors`); it never throws: a dump is
 * asked for by a signal and must not stop the daemon. Returns whether the file was written.
 */
export function writeDumpFile(
  path: string,
  text: string,
  deps: { readonly log: Logger; readonly counters?: Counters },
): boolean {
  try {
    // a new file renamed over the old one: a symlink planted at the path (a shared /tmp) is
    // replaced, never written through (keepalived's fopen_safe, CVE-2018-19044)
    writeFileAtomic(dirname(path), basename(path), text);
    return true;
  } catch (e) {
    deps.counters?.inc('daemon.dump_errors');
    deps.log.warn(`cannot write ${path}: ${(e as Error).message}`);
    return false;
  }
}

// ---- keepalived.stats ----

/** One instance as the stats dump needs it: its name and its counters (VrrpInstance.counters.snapshot()). */
export interface StatsInstance {
  readonly name: string;
  readonly stats: Readonly<Record<string, number>>;
}

/**
 * `keepalived.stats` (SIGUSR2), per instance in configuration order. Our per-check receive counters
 * are folded into keepalived's stats by keepalivedStats (metrics.ts), the same mapping /metrics uses.
 */
export function formatStats(instances: readonly StatsInstance[]): string {
  const out: string[] = [];
  for (const inst of instances) {
    const s = keepalivedStats(inst.stats);
    const n = (k: string) => s[k] ?? 0;
    out.push(
      `VRRP Instance: ${inst.name}`,
      '  Advertisements:',
      `    Received: ${n('advert_rcvd')}`,
      `    Sent: ${n('advert_sent')}`,
      `  Became master: ${n('become_master')}`,
      `  Released master: ${n('release_master')}`,
      '  Packet Errors:',
      `    Length: ${n('packet_len_err')}`,
      `    TTL: ${n('ip_ttl_err')}`,
      `    Invalid Type: ${n('invalid_type_rcvd')}`,
      `    Advertisement Interval: ${n('advert_interval_err')}`,
      `    Address List: ${n('addr_list_err')}`,
      '  Authentication Errors:',
      `    Invalid Type: ${n('invalid_authtype')}`,
      `    Type Mismatch: ${n('authtype_mismatch')}`,
      `    Failure: ${n('auth_failure')}`,
      '  Priority Zero:',
      `    Received: ${n('pri_zero_rcvd')}`,
      `    Sent: ${n('pri_zero_sent')}`,
    );
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

// ---- keepalived.data (VRRP) ----

/**
 * One instance's runtime state: VrrpHost.snapshot() plus what keepalived prints that the snapshot
 * does not carry yet (each optional; docs/DUMPS.md lists them as wanted from vrrp-host).
 */
export interface VrrpDumpInstance extends VrrpInstanceSnapshot {
  /** State the instance is heading for (keepalived's wantstate); default: `state`. */
  readonly wantstate?: number;
  /** Priority in the last advert of the master seen while BACKUP. */
  readonly master_priority?: number | null;
  /** Wall-clock time of the last state change, epoch seconds (keepalived's JSON last_transition). */
  readonly last_transition?: number;
  /** Wall-clock time the next read times out (down timer as BACKUP, advert timer as MASTER), epoch s. */
  readonly read_timeout?: number;
  /** Master_Adver_Interval in µs (v3 learns it from the master); default: the configured interval. */
  readonly master_adver_int_us?: number;
  /** use_vmac: the VMAC's name as made (vrrp.52, vrrp1.52, vrrp6.52…); default: the configured or `<prefix>.<vrid>`. */
  readonly vmac_ifname?: string;
  /** Source address of the adverts. */
  readonly src_ip?: string;
  /** ifindex of the interface adverts leave by (printed for IPv6 multicast). */
  readonly ifindex?: number;
  /** The objects the instance tracks, as its tracking runs them; default: effectiveTracking(). */
  readonly tracked?: readonly TrackerRef[];
  /** Interfaces of the instance that are down (its own, tracked ones), for the fault count; default none. */
  readonly down_interfaces?: readonly string[];
}

/** What `liveDumpFields` reads of a running instance's machine (src/vrrp/machine.ts). */
export interface LiveMachineView {
  readonly state: number;
  /** Deadlines in monotonic µs: `down` (Master_Down) as BACKUP, `advert` as MASTER. */
  readonly timers: Readonly<Partial<Record<string, number>>>;
  /** BACKUP whose down timer expired while its sync group has not agreed on MASTER. */
  readonly wantMaster: boolean;
}

/**
 * keepalived 2.2.7's `Wantstate`, `Read timeout` and interface faults of a running instance, as
 * observed in its keepalived.data: wantstate is the state, MASTER for a BACKUP waiting for its sync
 * group; the read timeout is the wall-clock time of the next deadline (none in FAULT); an
 * interface is down unless IFF_UP and IFF_RUNNING (`linkIsUp`, netstate.ts). The snapshot of
 * vrrp-host spreads this into each VrrpDumpInstance.
 */
export function liveDumpFields(o: {
  machine: LiveMachineView;
  monoNowUs: number;
  wallNowS: number;
  /** The instance's own interface and the interfaces it tracks. */
  interfaces: readonly string[];
  isUp: (name: string) => boolean;
}): Pick<VrrpDumpInstance, 'wantstate' | 'read_timeout' | 'down_interfaces'> {
  const m = o.machine;
  const due = [m.timers.down, m.timers.advert].filter((t): t is number => t !== undefined);
  const next = due.length > 0 && m.state !== 3 ? Math.min(...due) : undefined;
  return {
    wantstate: m.state === 1 && m.wantMaster ? 2 : m.state,
    ...(next !== undefined ? { read_timeout: o.wallNowS + (next - o.monoNowUs) / 1e6 } : {}),
    down_interfaces: [...new Set(o.interfaces)].filter((n) => !o.isUp(n)),
  };
}

/** A tracked object's state (vrrp_script, track_file, track_process), for the status lines. */
export interface TrackerDumpState {
  readonly kind: 'script' | 'file' | 'process';
  readonly name: string;
  /** undefined: no result yet (a script that has not returned). */
  readonly up: boolean | undefined;
  /** vrrp_script: consecutive-result counter as keepalived keeps it; track_file: the value read. */
  readonly value?: number;
  /** vrrp_script: a run is in progress. */
  readonly running?: boolean;
}

export interface VrrpDataInput {
  readonly config: KeepalivedConfig;
  /** VrrpHost.snapshot(), in configuration order. */
  readonly instances: readonly VrrpDumpInstance[];
  /** Tracker states; without them scripts print Status = INIT and files Status = 0. */
  readonly trackers?: readonly TrackerDumpState[];
  /** Network namespace we run in (`-s` or net_namespace). */
  readonly namespace?: string;
  /** `uid:gid` scripts run as when they name no user (default 0:0, the daemon as root). */
  readonly scriptUidGid?: string;
  /**
   * argv of a script as it will run (keepalived prints the resolved path, e.g. /bin/true as
   * /usr/bin/true); default: the configured words.
   */
  readonly commandArgv?: (c: Command) => readonly string[];
}

const STATE = ['INIT', 'BACKUP', 'MASTER', 'FAULT'] as const;
const stateText = (s: number): string => STATE[s] ?? (s === 97 ? 'DELETED' : s === 98 ? 'STOP' : String(s));
const onOff = (b: boolean) => (b ? 'enabled' : 'disabled');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w: number, c = '0') => String(n).padStart(w, c);

/**
 * `SEC.USEC (Www Mmm dd HH:MM:SS.USEC YYYY)` in local time (the process's TZ), as keepalived prints a timeval. Written
 * by hand: Intl has no ctime layout and the microseconds must come from the input, not a Date.
 */
export function formatTimeval(epochS: number): string {
  const sec = Math.floor(epochS);
  const usec = Math.min(999_999, Math.round((epochS - sec) * 1e6));
  const d = new Date(sec * 1000);
  const when =
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad(d.getDate(), 2, ' ')} ` +
    `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(usec, 6)} ${d.getFullYear()}`;
  return `${sec}.${pad(usec, 6)} (${when})`;
}

/** A command as keepalived prints it: each word in single quotes. */
const commandText = (c: Command, input: VrrpDataInput): string =>
  (input.commandArgv?.(c) ?? c.argv).map((w) => `'${w}'`).join(' ');

/** A VIP line: `ADDR[/LEN] dev IF scope S [label L] [preferred_lft forever] [set]`. */
function vipText(v: AddressSpec, dev: string, set: boolean, nftSet = false): string {
  const host = v.family === 'inet6' ? 128 : 32;
  const parts = [v.prefix === host ? v.address : `${v.address}/${v.prefix}`];
  if (v.peer) parts.push(`peer ${v.peer}`);
  if (v.brd) parts.push(`brd ${v.brd}`);
  parts.push(`dev ${v.dev ?? dev}`, `scope ${v.scope ?? 'global'}`);
  if (v.label) parts.push(`label ${v.label}`);
  if (v.family === 'inet6') {
    // keepalived makes a /128 VIP deprecated (preferred_lft 0) unless configured otherwise
    const lft = v.preferredLft ?? 'forever';
    parts.push(lft === 0 ? 'deprecated' : `preferred_lft ${lft}`);
  }
  if (set) parts.push('set');
  if (nftSet) parts.push('nftable_set');
  return parts.join(' ');
}

/**
 * A virtual route as keepalived 2.2.7 prints it: `prepend TO [via inet[6] GW] [dev IF] ... proto 18`
 * (18: keepalived's route protocol), `no_track` when it has no interface to follow.
 */
function routeText(r: RouteSpec): string {
  const parts = ['prepend', r.type === 'unicast' ? r.to : `${r.type} ${r.to}`];
  if (r.src) parts.push(`src ${r.src}`);
  if (r.via) parts.push(`via ${r.via.includes(':') ? 'inet6' : 'inet'} ${r.via}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.table) parts.push(`table ${r.table}`);
  parts.push('proto 18');
  if (!r.dev) parts.push('no_track');
  return parts.join(' ');
}

const RT_TABLES: Readonly<Record<string, number>> = { default: 253, main: 254, local: 255 };
const RULE_TYPES = new Set(['blackhole', 'unreachable', 'prohibit']);
/** keepalived numbers rules configured without a preference from 16384 down, per family. */
const RULE_START_PRIORITY = 16384;

/** An address of a rule as keepalived prints it: no length for a host, `all` as the zero prefix. */
function ruleAddr(a: string, family: 'inet' | 'inet6'): string {
  if (a === 'all') return family === 'inet6' ? '::/0' : '0.0.0.0/0';
  return a.replace(family === 'inet6' ? /\/128$/ : /\/32$/, '');
}

const hex = (v: string | undefined): string => {
  const n = v === undefined ? 0 : Number(v);
  return `0x${(Number.isInteger(n) ? n : 0).toString(16)}`;
};

/**
 * The priority keepalived gives each rule: the configured preference, else the next one down from
 * 16384 for the rule's family, in configuration order (static rules, then each instance's; one file
 * read top to bottom gives the same order).
 */
export function rulePriorities(config: KeepalivedConfig): Map<RuleSpec, number> {
  const all = [...config.staticRules, ...config.vrrpInstances.flatMap((i) => i.virtualRules)];
  const sameFile = all.every((r) => r.pos.file === all[0]?.pos.file);
  if (sameFile) all.sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  const next = { inet: RULE_START_PRIORITY, inet6: RULE_START_PRIORITY };
  return new Map(all.map((r) => [r, r.preference ?? next[r.family]--]));
}

/** A virtual or static rule as keepalived 2.2.7 prints it (the .data dump and the JSON `vrules`). */
export function ruleText(r: RuleSpec, priority: number | undefined): string {
  const o = r.options;
  const parts: string[] = [];
  if (!r.from && !r.to && r.family === 'inet6') parts.push('inet6');
  if (o.not !== undefined) parts.push('not');
  parts.push(`from ${r.from ? ruleAddr(r.from, r.family) : 'all'}`);
  if (r.to) parts.push(`to ${ruleAddr(r.to, r.family)}`);
  const prio = r.preference ?? priority;
  if (prio !== undefined) parts.push(`priority ${prio}`);
  parts.push(`tos ${hex(o.tos ?? o.dsfield)}`);
  if (r.fwmark !== undefined) {
    const [mark, mask] = r.fwmark.split('/');
    parts.push(
      `fwmark ${hex(mark)}${mask !== undefined && Number(mask) !== 0xffffffff ? `/${hex(mask)}` : ''}`,
    );
  }
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.oif) parts.push(`oif ${r.oif}`);
  if (o.suppress_prefixlength !== undefined) parts.push(`suppress_prefixlen ${o.suppress_prefixlength}`);
  if (o.suppress_ifgroup !== undefined) parts.push(`suppress_ifgroup ${o.suppress_ifgroup}`);
  if (o.tunnel_id !== undefined) parts.push(`tunnel-id ${o.tunnel_id}`);
  if (o.uidrange !== undefined) parts.push(`uidrange ${o.uidrange}`);
  if (o.l3mdev !== undefined) parts.push('l3mdev');
  // keepalived sets protocol 18 (its own) on every rule it tracks
  const proto = r.noTrack ? o.protocol : '18';
  if (proto !== undefined) parts.push(`protocol ${proto}`);
  const ipProto = o.ipproto ?? o.ip_proto;
  if (ipProto !== undefined) parts.push(`ipproto ${ipProto}`);
  const range = (v: string) => (v.includes('-') ? v : `${v}-${v}`);
  if (o.sport !== undefined) parts.push(`sport ${range(o.sport)}`);
  if (o.dport !== undefined) parts.push(`dport ${range(o.dport)}`);
  if (o.realms !== undefined) parts.push(`realms ${o.realms.includes('/') ? o.realms : `0/${o.realms}`}`);
  if (r.action === 'goto') parts.push(`goto ${o.goto}`);
  else if (r.action === 'nop') parts.push('nop');
  else if (r.action && RULE_TYPES.has(r.action)) parts.push(`type ${r.action}`);
  else if (r.table !== undefined || o.l3mdev !== undefined)
    parts.push(`lookup ${r.table === undefined ? 0 : (RT_TABLES[r.table] ?? r.table)}`);
  if (r.noTrack) parts.push('no_track');
  if (r.trackGroup) parts.push(`track_group ${r.trackGroup}`);
  return parts.join(' ');
}

/**
 * Master_Down_Interval in µs: 3 × Master_Adver_Interval + Skew_Time, the skew from the effective
 * priority: (256 - p) / 256 s for v2 (RFC 3768 §6.1), (256 - p) × Master_Adver_Interval / 256 for v3
 * (RFC 5798 §6.1); whole µs, truncated as keepalived does.
 */
export function masterDownTimerUs(adverIntUs: number, priority: number, version: 2 | 3): number {
  const skew = ((256 - priority) * (version === 2 ? 1_000_000 : adverIntUs)) / 256;
  return Math.floor(3 * adverIntUs + skew);
}

/**
 * State carried from one instance block to the next. keepalived 2.2.7 formats the addresses of
 * `Master router`, `Multicast address` and the unicast peers into one static buffer, and prints the
 * master of a BACKUP that has seen none from that buffer unchanged: the IPv6 multicast group for the
 * first instance (the last address of Global definitions), else the previous instance's multicast
 * group or last unicast peer (observed with Debian's 2.2.7).
 */
interface DataContext {
  lastAddr: string;
  readonly rulePrio: ReadonlyMap<RuleSpec, number>;
}

function instanceBlock(
  cfg: VrrpInstanceCfg,
  s: VrrpDumpInstance,
  tracked: readonly TrackerRef[],
  input: VrrpDataInput,
  trackers: ReadonlyMap<string, TrackerDumpState>,
  ctx: DataContext,
): string[] {
  const g = input.config.global;
  const uidGid = input.scriptUidGid ?? '0:0';
  const unicast = cfg.unicastPeers.length > 0;
  const want = s.wantstate ?? s.state;
  const masterAdverUs = s.master_adver_int_us ?? Math.round(cfg.advertIntCs * 10_000);
  const out = [` VRRP Instance = ${s.iname}`, `   VRRP Version = ${cfg.version}`];
  if (cfg.family === 'inet6') out.push('   Using Native IPv6');
  if (cfg.syncGroup) out.push(`   Sync group = ${cfg.syncGroup}`);
  out.push(`   State = ${stateText(s.state)}`);
  if (s.state === 1) {
    // keepalived formats addresses into one static buffer and prints an unset master as whatever
    // address that buffer last held (the one printed before it: see DataContext)
    const master = s.master_addr ?? ctx.lastAddr;
    ctx.lastAddr = master;
    out.push(`   Master router = ${master}`, `   Master priority = ${s.master_priority ?? 0}`);
    if (cfg.version === 3) out.push(`   Master advert int = ${(masterAdverUs / 1e6).toFixed(2)} sec`);
  }
  if (unicast) out.push('   Flags:', '     Using unicast');
  else if (cfg.useVmac) out.push('   Flags:');
  else out.push('   Flags: none');
  out.push(`   Wantstate = ${stateText(want)}`, '   Number of config faults = 0');
  // A tracked object with weight 0 puts the instance in FAULT while down; scripts without a result are "init".
  const down = new Set(s.down_interfaces ?? []);
  const faults =
    tracked.filter((r) =>
      r.kind === 'interface'
        ? r.weight === 0 && down.has(r.name)
        : r.weight === 0 && trackers.get(`${r.kind}/${r.name}`)?.up === false,
    ).length + (!cfg.dontTrackPrimary && down.has(s.ifp_ifname) ? 1 : 0);
  const inits = tracked.filter(
    (r) => r.kind === 'script' && trackers.get(`script/${r.name}`)?.up === undefined,
  ).length;
  out.push(
    `   Number of interface and track script faults = ${faults}`,
    `   Number of track scripts init = ${input.trackers ? inits : 0}`,
    `   Last transition = ${formatTimeval(s.last_transition ?? 0)}`,
    // keepalived runs no read timer in FAULT
    `   Read timeout = ${s.state === 3 ? 'DISABLED' : formatTimeval(s.read_timeout ?? 0)}`,
  );
  out.push(
    `   Master down timer = ${masterDownTimerUs(masterAdverUs, s.effective_priority, cfg.version)} usecs`,
  );
  const vmacName = cfg.useVmac
    ? (s.vmac_ifname ?? cfg.useVmac.ifname ?? `${g.vmacPrefix}.${cfg.vrid}`)
    : undefined;
  if (vmacName)
    out.push(
      `   Use VMAC, i/f name ${vmacName}, is_up = true, xmit_base = ${cfg.vmacXmitBase ? 'true' : 'false'}`,
    );
  out.push(`   Interface = ${vmacName ? `${vmacName}, vmac on ${s.ifp_ifname}` : s.ifp_ifname}`);
  if (cfg.strict) out.push('   Enforcing strict VRRP compliance');
  const src = cfg.mcastSrcIp ?? s.src_ip;
  if (src !== undefined) out.push(`   Using src_ip = ${src}${cfg.mcastSrcIp ? ' (from configuration)' : ''}`);
  if (!unicast) {
    const group = cfg.mcastDstIp ?? (cfg.family === 'inet6' ? g.vrrpMcastGroup6 : g.vrrpMcastGroup4);
    ctx.lastAddr = group;
    out.push(
      cfg.family === 'inet6'
        ? `   Multicast address ${group}, ifindex ${s.ifindex ?? 0}`
        : `   Multicast address ${group}`,
    );
  }
  const garp = cfg.garp;
  out.push(
    `   Gratuitous ARP delay = ${garp.masterDelay}`,
    `   Gratuitous ARP repeat = ${garp.masterRepeat}`,
    `   Gratuitous ARP refresh = ${garp.masterRefresh}`,
    `   Gratuitous ARP refresh repeat = ${garp.masterRefreshRepeat}`,
    `   Gratuitous ARP lower priority delay = ${lowerPrioGarp(cfg).delay}`,
    `   Gratuitous ARP lower priority repeat = ${lowerPrioGarp(cfg).repeat}`,
    `   Down timer adverts = ${cfg.downTimerAdverts}`,
    `   Send advert after receive lower priority advert = ${cfg.lowerPrioNoAdvert ? 'false' : 'true'}`,
    `   Send advert after receive higher priority advert = ${cfg.higherPrioSendAdvert ? 'true' : 'false'}`,
    `   Virtual Router ID = ${cfg.vrid}`,
    `   Priority = ${s.base_priority}`,
    `   Effective priority = ${s.effective_priority}`,
    `   Total priority = ${s.effective_priority}`,
    cfg.version === 2
      ? `   Advert interval = ${cfg.advertInt} sec`
      : `   Advert interval = ${Math.round(cfg.advertIntCs * 10)} milli-sec`,
    // a v3 BACKUP also prints the interval it learnt from the master
    ...(cfg.version === 3 && s.state === 1
      ? [`   Master advert interval = ${Math.round(masterAdverUs / 1000)} milli-sec`]
      : []),
    `   Accept = ${onOff(cfg.accept)}`,
    // keepalived clears nopreempt on an instance configured `state MASTER`
    `   Preempt = ${onOff(!(cfg.nopreempt && cfg.state !== 'MASTER'))}`,
  );
  if (cfg.preemptDelay > 0) out.push(`   Preempt delay = ${cfg.preemptDelay} secs`);
  out.push(`   Promote_secondaries = ${onOff(promoteSecondaries(cfg))}`);
  if (cfg.version === 2) {
    const a = cfg.authentication;
    if (!a) out.push('   Authentication type = none');
    else if (a.type === 'AH') out.push('   Authentication type = IPSEC_AH');
    else out.push('   Authentication type = SIMPLE_PASSWORD', `   Password = ${a.pass.slice(0, 8)}`);
  }
  const vipDev = vmacName ? `${vmacName}@${s.ifp_ifname}` : s.ifp_ifname;
  const vips = cfg.virtualIpaddress.filter((v) => v.family === cfg.family);
  if (vips.length > 0)
    out.push(
      `   Virtual IP (${vips.length}):`,
      ...vips.map((v) => `     ${vipText(v, vipDev, s.vipset, nftSet(cfg, s))}`),
    );
  if (cfg.virtualIpaddressExcluded.length > 0)
    out.push(
      '   Virtual IP Excluded :',
      ...cfg.virtualIpaddressExcluded.map((v) => `     ${vipText(v, vipDev, s.vipset, nftSet(cfg, s))}`),
    );
  if (unicast) {
    out.push(
      `   Unicast TTL = ${cfg.unicastTtl}`,
      `   Check unicast src : ${cfg.checkUnicastSrc ? 'yes' : 'no'}`,
      '   Unicast Peer :',
      ...cfg.unicastPeers.map((p) => `     ${p.address} min_ttl ${p.minTtl ?? 0} max_ttl ${p.maxTtl ?? 255}`),
      `   Unicast checksum compatibility = ${cfg.oldUnicastChecksum === true ? 'yes' : cfg.oldUnicastChecksum === 'never' ? 'never' : 'no'}`,
    );
    ctx.lastAddr = cfg.unicastPeers[cfg.unicastPeers.length - 1]?.address ?? ctx.lastAddr;
  }
  if (cfg.virtualRoutes.length > 0)
    out.push('   Virtual Routes :', ...cfg.virtualRoutes.map((r) => `     ${routeText(r)}`));
  if (cfg.virtualRules.length > 0)
    out.push(
      '   Virtual Rules :',
      ...cfg.virtualRules.map((r) => `     ${ruleText(r, ctx.rulePrio.get(r))}`),
    );
  const list = (kind: TrackerKind, title: string, sep: string) => {
    const refs = tracked.filter((r) => r.kind === kind);
    if (refs.length > 0)
      out.push(`   ${title} :`, ...refs.map((r) => `     ${r.name}${sep} weight ${r.weight}`));
  };
  list('interface', 'Tracked interfaces', '');
  list('script', 'Tracked scripts', '');
  list('file', 'Tracked files', ',');
  list('process', 'Tracked processes', ',');
  const smtp = cfg.smtpAlert ?? g.smtpAlertVrrp ?? g.smtpAlert ?? false;
  out.push(
    `   Using smtp notification = ${smtp ? 'yes' : 'no'}`,
    `   Notify deleted = ${cfg.notify.deleted === false ? 'Fault' : 'Deleted'}`,
  );
  const n = cfg.notify;
  const script = (label: string, c: Command | undefined) => {
    if (c) out.push(`   ${label} state transition script = ${commandText(c, input)}, uid:gid ${uidGid}`);
  };
  script('Backup', n.backup);
  script('Master', n.master);
  script('Fault', n.fault);
  script('Stop', n.stop);
  if (typeof n.deleted === 'object') script('Deleted', n.deleted);
  script('Generic', n.generic);
  script('Master rx lower pri', n.masterRxLowerPri);
  out.push(`   Notify priority changes = ${cfg.notifyPriorityChanges ? 'true' : 'false'}`);
  return out;
}

/** keepalived 2.2.7 sends no lower priority GARPs in strict mode: it prints their delay and repeat as 0. */
const lowerPrioGarp = (cfg: VrrpInstanceCfg) =>
  cfg.strict ? { delay: 0, repeat: 0 } : { delay: cfg.garp.lowerPrioDelay, repeat: cfg.garp.lowerPrioRepeat };

/**
 * Without accept mode (strict mode's default) keepalived puts a MASTER's addresses into its
 * nftables set, and prints `nftable_set` after `set` (observed with 2.2.7 and vrrp_strict).
 */
const nftSet = (cfg: VrrpInstanceCfg, s: VrrpDumpInstance): boolean => s.vipset && !cfg.accept;

/** keepalived 2.2.7 reports promote_secondaries off on a VMAC instance, whatever the configuration says. */
const promoteSecondaries = (cfg: VrrpInstanceCfg): boolean => cfg.promoteSecondaries && !cfg.useVmac;

/**
 * The objects an instance tracks, with their weights, after keepalived's rules: its own interface is
 * not tracked, and sync group members and address owners lose weighted trackers (resolve.ts).
 */
export function effectiveTracking(
  config: KeepalivedConfig,
  cfg: VrrpInstanceCfg,
  ifname: string,
): TrackerRef[] {
  const refsOf = (t: Tracking): TrackerRef[] => {
    const out: TrackerRef[] = [];
    const add = (
      kind: TrackerKind,
      refs: readonly TrackRef[],
      dflt: (name: string) => TrackDefault | undefined,
    ) => {
      for (const r of refs) {
        const d = dflt(r.name);
        if (d)
          out.push({
            kind,
            name: r.name,
            weight: r.weight ?? d.weight,
            reverse: r.weight !== undefined ? r.reverse : d.weightReverse,
          });
      }
    };
    add(
      'interface',
      t.interfaces.filter((r) => r.name !== ifname),
      () => ({ weight: 0, weightReverse: false }),
    );
    add('script', t.scripts, (n) => config.vrrpScripts.find((x) => x.name === n));
    add('file', t.files, (n) => config.trackFiles.find((x) => x.name === n));
    add('process', t.processes, (n) => config.trackProcesses.find((x) => x.name === n));
    return out;
  };
  const sg = cfg.syncGroup ? config.syncGroups.find((g) => g.name === cfg.syncGroup) : undefined;
  const group = sg
    ? {
        name: sg.name,
        trackers: refsOf(sg.tracking),
        trackingWeight: sg.syncGroupTrackingWeight,
        hasOwnerMember: config.vrrpInstances.some(
          (i) => i.syncGroup === sg.name && i.priority === PRIO_OWNER,
        ),
      }
    : undefined;
  return resolveInstanceTrackers(cfg.name, cfg.priority, refsOf(cfg.tracking), group).trackers;
}

interface TrackDefault {
  readonly weight: number;
  readonly weightReverse: boolean;
}

/** Sync group state as keepalived reports it: FAULT if a member is, MASTER if all are, else BACKUP. */
function groupState(states: readonly number[]): string {
  if (states.includes(3)) return 'FAULT';
  if (states.length > 0 && states.every((s) => s === 2)) return 'MASTER';
  return 'BACKUP';
}

/**
 * The `Global definitions` lines we model, each one of keepalived's with its value. The checker
 * process prints no `Default interface` line, and its two lower priority GARP values are never
 * resolved there (keepalived prints 4294967295 for them unless set): left out of its dump.
 */
function globalDefinitions(
  config: KeepalivedConfig,
  namespace: string | undefined,
  proc: 'vrrp' | 'checker',
): string[] {
  const g = config.global;
  const lines = [
    '------< Global definitions >------',
    ` Network namespace = ${namespace ?? g.netNamespace ?? '(default)'}`,
    ` Router ID = ${g.routerId}`,
    ` Default interface = ${g.defaultInterface}`,
    ` VRRP notify priority changes = ${g.vrrpNotifyPriorityChanges ? 'true' : 'false'}`,
    ` VRRP IPv4 mcast group = ${g.vrrpMcastGroup4}`,
    ` VRRP IPv6 mcast group = ${g.vrrpMcastGroup6}`,
    ` Gratuitous ARP delay = ${g.garp.masterDelay}`,
    ` Gratuitous ARP repeat = ${g.garp.masterRepeat}`,
    ` Gratuitous ARP refresh timer = ${g.garp.masterRefresh}`,
    ` Gratuitous ARP refresh repeat = ${g.garp.masterRefreshRepeat}`,
    ` Gratuitous ARP lower priority delay = ${g.garp.lowerPrioDelay}`,
    ` Gratuitous ARP lower priority repeat = ${g.garp.lowerPrioRepeat}`,
    ` Num adverts before down = ${g.vrrpDownTimerAdverts}`,
    ` Send advert after receive lower priority advert = ${g.vrrpLowerPrioNoAdvert ? 'false' : 'true'}`,
    ` Send advert after receive higher priority advert = ${g.vrrpHigherPrioSendAdvert ? 'true' : 'false'}`,
    ` VRRP default protocol version = ${g.vrrpVersion}`,
    ` VRRP check unicast_src = ${g.vrrpCheckUnicastSrc ? 'true' : 'false'}`,
    ` VRRP skip check advert addresses = ${g.vrrpSkipCheckAdvAddr ? 'true' : 'false'}`,
    ` VRRP strict mode = ${g.vrrpStrict ? 'true' : 'false'}`,
    ` Script security ${g.enableScriptSecurity ? 'enabled' : 'disabled'}`,
  ];
  if (proc === 'vrrp') return lines;
  return lines.filter(
    (l) => !/^ (Default interface|Gratuitous ARP lower priority (delay|repeat)) = /.test(l),
  );
}

/**
 * The VRRP part of `keepalived.data` (SIGUSR1): a `Global definitions` section (the lines we model),
 * then `VRRP Topology` (one block per instance), `VRRP Sync groups`, `VRRP Scripts`, `VRRP Track
 * files`, in keepalived's order and layout. Instances missing from the configuration are skipped.
 */
export function formatVrrpData(input: VrrpDataInput): string {
  const { config } = input;
  const g = config.global;
  const trackers = new Map((input.trackers ?? []).map((t) => [`${t.kind}/${t.name}`, t]));
  const byName = new Map(config.vrrpInstances.map((c) => [c.name, c]));
  const out = [...globalDefinitions(config, input.namespace, 'vrrp'), '------< VRRP Topology >------'];
  // the last address of Global definitions keepalived prints is the IPv6 multicast group
  const ctx: DataContext = { lastAddr: g.vrrpMcastGroup6, rulePrio: rulePriorities(config) };
  const stateOf = new Map<string, number>();
  const trackedBy = new Map<string, readonly TrackerRef[]>();
  for (const s of input.instances) {
    const cfg = byName.get(s.iname);
    if (!cfg) continue;
    const tracked = s.tracked ?? effectiveTracking(config, cfg, s.ifp_ifname);
    stateOf.set(s.iname, s.state);
    trackedBy.set(s.iname, tracked);
    out.push(...instanceBlock(cfg, s, tracked, input, trackers, ctx));
  }
  if (config.syncGroups.length > 0) {
    out.push('------< VRRP Sync groups >------');
    for (const sg of config.syncGroups) {
      const states = sg.members.map((m) => stateOf.get(m) ?? 0);
      out.push(
        ` VRRP Sync Group = ${sg.name}, ${groupState(states)}`,
        `   Num member fault ${states.filter((s) => s === 3).length}, num member init ${states.filter((s) => s === 0).length}`,
        '   VRRP member instances :',
        ...sg.members.map((m) => `     ${m}`),
        `   Using smtp notification = ${(sg.smtpAlert ?? false) ? 'yes' : 'no'}`,
      );
    }
  }
  // keepalived lists only the scripts, files and processes some instance tracks.
  const tracking = (kind: TrackerKind, name: string) =>
    [...trackedBy].flatMap(([inst, refs]) =>
      refs.filter((r) => r.kind === kind && r.name === name).map((r) => ({ inst, weight: r.weight })),
    );
  const scripts = config.vrrpScripts.filter((s) => tracking('script', s.name).length > 0);
  if (scripts.length > 0) {
    out.push('------< VRRP Scripts >------');
    for (const sc of scripts) {
      const st = trackers.get(`script/${sc.name}`);
      const users = tracking('script', sc.name);
      // keepalived prints 0 for an unset timeout (it then waits one interval); the configuration
      // model stores the interval in that case, so an explicit `timeout` equal to it prints 0 too.
      // keepalived's result counter runs 0 .. rise+fall-1 and settles at an end once steady.
      const result = st?.value ?? (st?.up ? sc.rise + sc.fall - 1 : 0);
      out.push(
        ` VRRP Script = ${sc.name}`,
        `   Command = ${commandText(sc.script, input)}`,
        `   Interval = ${Math.floor(sc.interval)} sec`,
        `   Timeout = ${sc.timeout === sc.interval ? 0 : Math.floor(sc.timeout)} sec`,
        `   Weight = ${sc.weight}`,
        `   Rise = ${sc.rise}`,
        `   Fall = ${sc.fall}`,
        `   Result = ${result}`,
        '   Insecure = no',
        `   Init state = ${sc.initFail ? 'failed' : 'unknown'}`,
        `   Status = ${st?.up === undefined ? 'INIT' : st.up ? 'GOOD' : 'BAD'}`,
        `   Script uid:gid = ${input.scriptUidGid ?? '0:0'}`,
        '   VRRP instances :',
        '   Tracking instances :',
        ...users.map((u) => `     ${u.inst}, weight ${u.weight}`),
        `   State = ${st?.running ? 'running' : 'idle'}`,
      );
    }
  }
  const files = config.trackFiles.filter((f) => tracking('file', f.name).length > 0);
  if (files.length > 0) {
    out.push('------< VRRP Track files >------');
    for (const f of files) {
      out.push(
        ` Track file = ${f.name}`,
        `   File = ${f.file}`,
        `   Status = ${trackers.get(`file/${f.name}`)?.value ?? 0}`,
        `   Weight = ${f.weight}`,
        '   Tracking instances :',
        ...tracking('file', f.name).map((u) => `     ${u.inst}, weight ${u.weight}`),
      );
    }
  }
  const procs = config.trackProcesses.filter((p) => tracking('process', p.name).length > 0);
  if (procs.length > 0) {
    out.push('------< VRRP Track processes >------');
    for (const p of procs) {
      const st = trackers.get(`process/${p.name}`);
      out.push(
        ` VRRP Track process = ${p.name}`,
        `   Process = ${p.process}`,
        `   Min processes = ${p.quorum}`,
        ...(p.quorumMax !== undefined ? [`   Max processes = ${p.quorumMax}`] : []),
        `   Current processes = ${st?.value ?? 0}`,
        `   Have quorum = ${st?.up ? 'true' : 'false'}`,
        `   Weight = ${p.weight}`,
        `   Terminate delay = ${p.terminateDelay.toFixed(6)}s`,
        `   Fork delay = ${p.forkDelay.toFixed(6)}s`,
        '   Fork delay timer not running',
        '   Terminate delay timer not running',
        `   Full command = ${p.fullCommand ? 'true' : 'false'}`,
        '   Tracking instances :',
        ...tracking('process', p.name).map((u) => `     ${u.inst}, weight ${u.weight}`),
      );
    }
  }
  return `${out.join('\n')}\n`;
}

// ---- keepalived.json (SIGJSON) ----

/** A number written as keepalived's printf format writes it (`%g`, `%f`). */
class JsonNumberText {
  constructor(readonly text: string) {}
}

type JsonValue =
  | string
  | boolean
  | number
  | JsonNumberText
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * C's `%g` (6 significant digits, trailing zeros dropped, exponent form below 1e-4 or from 1e6),
 * which keepalived's JSON writer uses for its float fields. By hand: JavaScript has no %g.
 */
export function printfG(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return x === 0 ? '0' : String(x);
  const [mant = '', e = '0'] = x.toExponential(5).split('e');
  const exp = Number(e);
  const strip = (t: string) => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
  if (exp < -4 || exp >= 6)
    return `${strip(mant)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return strip(x.toFixed(5 - exp));
}

/**
 * A JSON string as keepalived's writer escapes it: `/` as `\/`, the C escapes \t \n \r \f \b, and
 * `"`. Two deliberate differences keep the file valid JSON: a backslash is written `\\` (keepalived
 * writes `\n` for it) and other control characters as `\u00XX` (keepalived writes them raw).
 */
function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\' || ch === '/') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\b') out += '\\b';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Compact JSON in keepalived's layout: no blanks, keys in insertion order. */
function jsonText(v: JsonValue): string {
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(Math.trunc(v));
  if (v instanceof JsonNumberText) return v.text;
  if (Array.isArray(v)) return `[${(v as readonly JsonValue[]).map(jsonText).join(',')}]`;
  const o = v as { readonly [key: string]: JsonValue };
  return `{${Object.keys(o)
    .map((k) => `${jsonString(k)}:${jsonText(o[k] as JsonValue)}`)
    .join(',')}}`;
}

/** keepalived's `stats` keys, in its order. */
const JSON_STATS = [
  'advert_rcvd',
  'advert_sent',
  'become_master',
  'release_master',
  'packet_len_err',
  'advert_interval_err',
  'ip_ttl_err',
  'invalid_type_rcvd',
  'addr_list_err',
  'invalid_authtype',
  'authtype_mismatch',
  'auth_failure',
  'pri_zero_rcvd',
  'pri_zero_sent',
] as const;

function jsonData(
  cfg: VrrpInstanceCfg,
  s: VrrpDumpInstance,
  tracked: readonly TrackerRef[],
  input: VrrpDataInput,
  rulePrio: ReadonlyMap<RuleSpec, number>,
): Record<string, JsonValue> {
  const g = input.config.global;
  const vmacName = cfg.useVmac
    ? (s.vmac_ifname ?? cfg.useVmac.ifname ?? `${g.vmacPrefix}.${cfg.vrid}`)
    : undefined;
  const adverS = cfg.advertIntCs / 100;
  const n = cfg.notify;
  const d: Record<string, JsonValue> = {
    iname: s.iname,
    dont_track_primary: cfg.dontTrackPrimary ? 1 : 0,
    skip_check_adv_addr: cfg.skipCheckAdvAddr ? 1 : 0,
    strict_mode: cfg.strict ? 1 : 0,
    vmac_ifname: vmacName ?? '',
    // keepalived's ifp of a VMAC instance is the VMAC interface
    ifp_ifname: vmacName ?? s.ifp_ifname,
    master_priority: s.master_priority ?? 0,
    last_transition: new JsonNumberText((s.last_transition ?? 0).toFixed(6)),
    garp_delay: new JsonNumberText(printfG(cfg.garp.masterDelay)),
    garp_refresh: cfg.garp.masterRefresh,
    garp_rep: cfg.garp.masterRepeat,
    garp_refresh_rep: cfg.garp.masterRefreshRepeat,
    garp_lower_prio_delay: lowerPrioGarp(cfg).delay,
    garp_lower_prio_rep: lowerPrioGarp(cfg).repeat,
    lower_prio_no_advert: cfg.lowerPrioNoAdvert ? 1 : 0,
    higher_prio_send_advert: cfg.higherPrioSendAdvert ? 1 : 0,
    vrid: cfg.vrid,
    base_priority: s.base_priority,
    effective_priority: s.effective_priority,
    vipset: s.vipset,
    promote_secondaries: promoteSecondaries(cfg),
    adver_int: new JsonNumberText(printfG(adverS)),
    master_adver_int: new JsonNumberText(
      printfG(s.master_adver_int_us !== undefined ? s.master_adver_int_us / 1e6 : adverS),
    ),
    accept: cfg.accept ? 1 : 0,
    // keepalived clears nopreempt on an instance configured `state MASTER`
    nopreempt: cfg.nopreempt && cfg.state !== 'MASTER',
    preempt_delay: cfg.preemptDelay,
    state: s.state,
    wantstate: s.wantstate ?? s.state,
    version: cfg.version,
    smtp_alert: cfg.smtpAlert ?? g.smtpAlertVrrp ?? g.smtpAlert ?? false,
    notify_deleted: n.deleted !== false,
  };
  const script = (key: string, c: Command | boolean | undefined) => {
    if (typeof c === 'object') d[key] = commandText(c, input);
  };
  script('script_backup', n.backup);
  script('script_master', n.master);
  script('script_fault', n.fault);
  script('script_stop', n.stop);
  script('script_deleted', n.deleted);
  script('script', n.generic);
  script('script_master_rx_lower_pri', n.masterRxLowerPri);
  const list = (key: string, items: readonly string[]) => {
    if (items.length > 0) d[key] = items;
  };
  const vipDev = vmacName ? `${vmacName}@${s.ifp_ifname}` : s.ifp_ifname;
  list(
    'vips',
    cfg.virtualIpaddress
      .filter((v) => v.family === cfg.family)
      .map((v) => vipText(v, vipDev, s.vipset, nftSet(cfg, s))),
  );
  list(
    'evips',
    cfg.virtualIpaddressExcluded.map((v) => vipText(v, vipDev, s.vipset, nftSet(cfg, s))),
  );
  list('vroutes', cfg.virtualRoutes.map(routeText));
  list(
    'vrules',
    cfg.virtualRules.map((r) => ruleText(r, rulePrio.get(r))),
  );
  list(
    'track_ifp',
    tracked.filter((r) => r.kind === 'interface').map((r) => r.name),
  );
  list(
    'track_script',
    tracked
      .filter((r) => r.kind === 'script')
      .flatMap((r) => {
        const sc = input.config.vrrpScripts.find((x) => x.name === r.name);
        return sc ? [commandText(sc.script, input)] : [];
      }),
  );
  const a = cfg.authentication;
  d.auth_type = !a ? 0 : a.type === 'PASS' ? 1 : 2;
  // keepalived keeps the first 8 bytes of auth_pass, for AH too
  if (a) d.auth_data = a.pass.slice(0, 8);
  return d;
}

/**
 * `keepalived.json` (SIGJSON, keepalived's `-J`): one `{ "data": {...}, "stats": {...} }` per VRRP
 * instance in configuration order, with keepalived 2.2.7's keys, key order, types and encodings
 * (compact, `/` escaped, last_transition as `%f`, the intervals as `%g`, state codes 0 INIT,
 * 1 BACKUP, 2 MASTER, 3 FAULT). Keys keepalived writes only when set (scripts, address and tracking
 * lists, auth_data) are left out the same way. Empty string when there is no instance: keepalived
 * then writes no file.
 */
export function formatVrrpJson(input: VrrpDataInput): string {
  const { config } = input;
  const byName = new Map(config.vrrpInstances.map((c) => [c.name, c]));
  const rulePrio = rulePriorities(config);
  const items: JsonValue[] = [];
  for (const s of input.instances) {
    const cfg = byName.get(s.iname);
    if (!cfg) continue;
    const tracked = s.tracked ?? effectiveTracking(config, cfg, s.ifp_ifname);
    const st = keepalivedStats(s.stats);
    const stats: Record<string, JsonValue> = {};
    for (const k of JSON_STATS) stats[k] = st[k] ?? 0;
    items.push({ data: jsonData(cfg, s, tracked, input, rulePrio), stats });
  }
  return items.length > 0 ? `${jsonText(items)}\n` : '';
}

// ---- keepalived_check.data (checker SIGUSR1) ----

export interface CheckDataInput {
  readonly config: KeepalivedConfig;
  /** LvsHost.snapshot(): quorum and real-server health; without it, every runtime value is "unset". */
  readonly lvs?: CheckLvsSnapshot | undefined;
  /** Network namespace we run in (`-s` or net_namespace). */
  readonly namespace?: string;
  /** `uid:gid` scripts run as when they name no user (default 0:0, the daemon as root). */
  readonly scriptUidGid?: string;
  /** argv of a script as it will run (keepalived prints the resolved path); default: the words. */
  readonly commandArgv?: (c: Command) => readonly string[];
}

/**
 * LvsHost.snapshot() as the checker dump reads it: the /metrics shape plus, when LvsHost gives them,
 * the IPVS services each virtual server has in the table with their destinations.
 */
export interface CheckLvsSnapshot {
  readonly virtualServers: readonly (LvsSnapshot['virtualServers'][number] & {
    readonly services?: readonly {
      readonly dests: readonly { readonly addr: string; readonly port: number | null }[];
    }[];
  })[];
}

type LvsVs = CheckLvsSnapshot['virtualServers'][number];
type LvsRs = LvsVs['realServers'][number];

const usecs = (s: number) => `${Math.round(s * 1e6)} us`;
const onOffCaps = (b: boolean) => (b ? 'ON' : 'OFF');

/**
 * keepalived's checker "Last ran" time: `SEC.USEC (Www Mmm dd HH:MM:SS YYYY.USEC)`, local time (the
 * microseconds after the year, unlike the VRRP dump's timevals).
 */
export function formatCheckerTime(epochS: number): string {
  const t = formatTimeval(epochS);
  const m = /^(\S+) \((.*) (\d\d:\d\d:\d\d)\.(\d{6}) (\d+)\)$/.exec(t);
  return m ? `${m[1]} (${m[2]} ${m[3]} ${m[5]}.${m[4]})` : t;
}

/** `tcp`, `udp`, `sctp`; `none` for a fwmark service (it has no protocol of its own). */
const vsProto = (vs: VirtualServer) => (vs.target.kind === 'fwmark' ? 'none' : vs.protocol.toLowerCase());

/** The service as the checker dump names it: `[VIP]:tcp:80`, `FWM 5`, `[GROUP]:0`. */
function vsId(vs: VirtualServer): string {
  const t = vs.target;
  if (t.kind === 'fwmark') return `FWM ${t.fwmark}`;
  if (t.kind === 'group') return `[${t.name}]:0`;
  return `[${t.addr}]:${vsProto(vs)}:${t.port ?? 0}`;
}

function forwarding(k: {
  readonly method: string;
  readonly tunnel?: VirtualServer['lvsMethod']['tunnel'];
}): string {
  if (k.method !== 'TUN') return k.method;
  const tun = k.tunnel;
  const type = (tun?.type ?? 'ipip').toUpperCase();
  return `TUN, type = ${type}${tun?.port !== undefined ? `, port = ${tun.port}` : ''}${tun?.csum ? `, ${tun.csum}` : ''}`;
}

function vsFamily(vs: VirtualServer): string {
  return vs.target.kind === 'addr' ? vs.target.family : (vs.ipFamily ?? 'inet');
}

function findLvs(lvs: CheckLvsSnapshot | undefined, vs: VirtualServer): LvsVs | undefined {
  const cands = (lvs?.virtualServers ?? []).filter(
    (v) => v.name === vs.name && v.protocol === vs.protocol.toLowerCase(),
  );
  return cands.find((v) => v.family === vsFamily(vs)) ?? cands[0];
}

const findRs = (v: LvsVs | undefined, rs: RealServer): LvsRs | undefined =>
  v?.realServers.find((r) => r.addr === rs.address && (r.port ?? 0) === (rs.port ?? 0));

/** Retry delay a checker kind defaults to (keepalived prints it as "Default delay before retry"). */
const DEFAULT_RETRY_DELAY_S: Readonly<Partial<Record<Checker['kind'], number>>> = {
  HTTP_GET: 3,
  SSL_GET: 3,
  TCP_CHECK: 1,
  MISC_CHECK: 1,
  SMTP_CHECK: 1,
  DNS_CHECK: 0,
};

function checkerBlock(
  vs: VirtualServer,
  rs: RealServer,
  c: Checker,
  live: LvsRs | undefined,
  input: CheckDataInput,
): string[] {
  const uidGid = input.scriptUidGid ?? '0:0';
  const out = [
    ` ${vsId(vs)} -> [${rs.address}]:${vsProto(vs)}:${rs.port ?? 0}`,
    '   Enabled = yes',
    // per-checker state is not in LvsHost.snapshot(): the real server's health stands for each checker
    `   Up = ${live?.up ? 'yes' : 'no'}`,
    `   Has run = ${live ? 'yes' : 'no'}`,
    '   Current weight = 0', // keepalived's checker weight (MISC_CHECK dynamic): not in the snapshot
    `   Alpha = ${c.alpha ? 'yes' : 'no'}`,
    `   Delay loop = ${usecs(c.delayLoop)}`,
    `   Warmup = ${usecs(c.warmup ?? c.delayLoop)}`,
    `   Retries = ${c.retry}`,
  ];
  if (c.retry > 0)
    out.push(
      `   Delay before retry = ${usecs(c.delayBeforeRetry)}`,
      '   Retries iterations = 0', // the checker's retry count: not in the snapshot
    );
  out.push(
    `   Default delay before retry = ${usecs(DEFAULT_RETRY_DELAY_S[c.kind] ?? 1)}`,
    `   Log all failures = ${c.logAllFailures ? 'yes' : 'no'}`,
  );
  if ('connectIp' in c) {
    out.push('   Connection', `     Dest = [${c.connectIp}]:${c.connectPort}`);
    if (c.bindto) out.push(`     Bind to = [${c.bindto}]:${c.bindPort ?? 0}`);
    if (c.bindIf) out.push(`     Bind i/f = ${c.bindIf}`);
    if (c.fwmark !== undefined) out.push(`     Mark = ${c.fwmark}`);
    out.push(`     Timeout = ${c.connectTimeout.toFixed(6)}`);
  }
  switch (c.kind) {
    case 'HTTP_GET':
    case 'SSL_GET': {
      out.push(`   Keepalive method = ${c.kind}, http protocol ${c.httpProtocol ?? '1.0'}`);
      if (c.virtualhost) out.push(`   Virtualhost = ${c.virtualhost}`);
      out.push(
        `   Enable SNI ${c.enableSni ? 'set' : 'unset'}`,
        `   Fast recovery ${c.fastRecovery ? 'set' : 'unset'}`,
      );
      for (const u of c.urls) {
        out.push(`   Checked url = ${u.path}`);
        if (u.digest) out.push(`     digest = ${u.digest}`);
        if (u.virtualhost) out.push(`     Virtual host = ${u.virtualhost}`);
        const codes = u.statusCodes.length > 0 ? u.statusCodes : [[200, 299] as const];
        out.push(
          '     HTTP Status Code(s)',
          ...codes.map((k) => `       ${typeof k === 'number' ? k : `${k[0]}-${k[1]}`}`),
        );
      }
      // "Failed URL = …": which URL failed last is not in the snapshot
      break;
    }
    case 'TCP_CHECK':
    case 'PING_CHECK':
    case 'UDP_CHECK':
      out.push(`   Keepalive method = ${c.kind}`);
      break;
    case 'SMTP_CHECK':
      out.push('   Keepalive method = SMTP_CHECK', `   helo = ${c.heloName}`);
      break;
    case 'DNS_CHECK':
      out.push('   Keepalive method = DNS_CHECK', `   Type = ${c.type}`, `   Name = ${c.name}`);
      break;
    case 'MISC_CHECK':
      out.push(
        '   Keepalive method = MISC_CHECK',
        `   script = ${(input.commandArgv?.(c.miscPath) ?? c.miscPath.argv).map((w) => `'${w}'`).join(' ')}`,
        `   timeout = ${Math.floor(c.miscTimeout)}`,
        `   dynamic = ${c.miscDynamic ? 'YES' : 'NO'}`,
        `   uid:gid = ${uidGid}`,
        // when the script last ran and its exit status are not in the snapshot
        `   Last ran = ${formatCheckerTime(0)}`,
        '   Last status = 0',
      );
      break;
    case 'FILE_CHECK':
      out.push('   Keepalive method = FILE_CHECK', `   Tracked file = ${c.trackFile}`);
      break;
    case 'BFD_CHECK':
      out.push('   Keepalive method = BFD_CHECK', `   BFD = ${c.name}`);
      break;
  }
  return out;
}

function realServerBlock(
  vs: VirtualServer,
  rs: RealServer,
  live: LvsRs | undefined,
  inTable: boolean | undefined,
  input: CheckDataInput,
): string[] {
  const cmd = (c: Command) =>
    `${(input.commandArgv?.(c) ?? c.argv).map((w) => `'${w}'`).join(' ')}, uid:gid ${input.scriptUidGid ?? '0:0'}`;
  const weight = live?.weight ?? rs.weight;
  const out = [
    '   ------< Real server >------',
    `   RIP = ${rs.address}, RPORT = ${rs.port ?? 0}, WEIGHT = ${rs.weight} EFF WEIGHT = ${weight}`,
    `   forwarding method = ${forwarding(rs.lvsMethod)}`,
    `   Alpha is ${onOffCaps(rs.alpha)}`,
    `   connection timeout = ${vs.connectTimeout.toFixed(6)}`,
    `   connection limit range = ${rs.lthreshold} -> ${rs.uthreshold}`,
    `   Delay loop = ${vs.delayLoop.toFixed(6)}`,
    `   Inhibit on failure is ${onOffCaps(rs.inhibitOnFailure)}`,
  ];
  if (rs.notifyUp) out.push(`     RS up notify script = ${cmd(rs.notifyUp)}`);
  if (rs.notifyDown) out.push(`     RS down notify script = ${cmd(rs.notifyDown)}`);
  out.push(
    // keepalived leaves a real server's smtp_alert unset (-1) unless configured: printed "yes"
    `   Using smtp notification = ${rs.smtpAlert === false ? 'no' : 'yes'}`,
    `   initial weight = ${rs.weight}`,
    `   effective weight = ${weight}`,
    '   previous effective_weight = 0', // not in the snapshot
    `   alive = ${live?.up ? 1 : 0}`,
    // which checkers failed is not in the snapshot: a down real server counts one
    `   num failed checkers = ${live && !live.up ? 1 : 0}`,
    // in the IPVS table (from the snapshot's services; else: up, or down with inhibit_on_failure)
    `   RS set = ${(inTable ?? (live !== undefined && (live.up || rs.inhibitOnFailure))) ? 1 : 0}`,
    '   reloaded = 0',
  );
  return out;
}

function virtualServerBlock(vs: VirtualServer, live: LvsVs | undefined, input: CheckDataInput): string[] {
  const g = input.config.global;
  const t = vs.target;
  const cmd = (c: Command) =>
    `${(input.commandArgv?.(c) ?? c.argv).map((w) => `'${w}'`).join(' ')}, uid:gid ${input.scriptUidGid ?? '0:0'}`;
  const head =
    t.kind === 'addr'
      ? ` VS VIP = ${t.addr}, VPORT = ${t.port ?? 0}`
      : t.kind === 'fwmark'
        ? ` VS FWMARK = ${t.fwmark}`
        : ` VS GROUP = [${t.name}]:0`;
  const flag = (f: string) => onOff(vs.schedFlags.includes(f));
  const flags =
    vs.lvsSched === 'sh' || vs.lvsSched === 'mh'
      ? [
          `   ${vs.lvsSched}-port = ${flag(`${vs.lvsSched}-port`)}`,
          `   ${vs.lvsSched}-fallback = ${flag(`${vs.lvsSched}-fallback`)}`,
        ]
      : ['flag-1', 'flag-2', 'flag-3'].map((f) => `   ${f} = ${flag(f)}`);
  const out = [
    ' ------< Virtual server >------',
    head,
    `   Address family = ${vsFamily(vs)}`,
    `   connection timeout = ${vs.connectTimeout.toFixed(6)}`,
    `   delay_loop = ${vs.delayLoop.toFixed(6)}`,
    `   lvs_sched = ${vs.lvsSched}`,
    `   Hashed = ${flag('hashed')}`,
    ...flags,
    `   One packet scheduling = ${onOff(vs.ops)}`,
  ];
  if (vs.persistenceTimeout !== undefined) out.push(`   persistence timeout = ${vs.persistenceTimeout}`);
  if (vs.persistenceGranularity !== undefined)
    out.push(`   persistence granularity = ${vs.persistenceGranularity}`);
  out.push(
    `   protocol = ${t.kind === 'fwmark' ? 'none' : vs.protocol}`,
    `   alpha is ${onOffCaps(vs.alpha)}`,
    `   omega is ${onOffCaps(vs.omega)}`,
    `   Inhibit on failure is ${onOffCaps(vs.inhibitOnFailure)}`,
    `   quorum = ${vs.quorum}, hysteresis = ${vs.hysteresis}`,
  );
  if (vs.quorumUp) out.push(`   Quorum up notify script = ${cmd(vs.quorumUp)}`);
  if (vs.quorumDown) out.push(`   Quorum down notify script = ${cmd(vs.quorumDown)}`);
  const smtp = vs.smtpAlert ?? g.smtpAlertChecker ?? g.smtpAlert ?? false;
  out.push(
    `   Using smtp notification = ${smtp ? 'yes' : 'no'}`,
    `   default forwarding method = ${forwarding(vs.lvsMethod)}`,
  );
  const sorry = vs.sorryServer;
  if (sorry)
    out.push(
      `   sorry server = [${sorry.address}]:${vsProto(vs)}:${sorry.port ?? 0}`,
      `     forwarding method = ${forwarding(sorry.lvsMethod ?? vs.lvsMethod)}`,
      `     Inhibit on failure is ${onOffCaps(sorry.inhibit)}`,
    );
  out.push(
    // the service is in the IPVS table
    `   alive = ${(live?.services ? live.services.length > 0 : live !== undefined) ? 1 : 0}`,
    `   quorum_state_up = ${live?.quorumUp ? 1 : 0}`,
    '   reloaded = 0',
  );
  const dests = live?.services?.flatMap((sv) => sv.dests);
  for (const rs of vs.realServers) {
    const inTable = dests?.some((d) => d.addr === rs.address && (d.port ?? 0) === (rs.port ?? 0));
    out.push(...realServerBlock(vs, rs, findRs(live, rs), inTable, input));
  }
  return out;
}

/** A group range as keepalived prints it: `203.0.113.21-23` as `203.0.113.21-203.0.113.23`. */
function groupRange(range: string): string {
  const m = /^(.*?)([.:])([0-9a-fA-F]+)-([0-9a-fA-F]+)$/.exec(range);
  if (!m) return range;
  return `${m[1]}${m[2]}${m[3]}-${m[1]}${m[2]}${m[4]}`;
}

/**
 * `keepalived_check.data` (SIGUSR1 to the checker process) in keepalived 2.2.7's layout: `Global
 * definitions` (the lines we model), `SSL definitions` (when an SSL_GET checker or an ssl block
 * needs a context), `LVS Topology` (virtual server groups, virtual servers with their real
 * servers), `Health checkers` (one block per checker). Layout captured from Debian's keepalived
 * 2.2.7 with IPVS in the kernel VM (docs/DUMPS.md). Runtime values come from LvsHost.snapshot();
 * those it does not carry are printed with keepalived's unset value (commented where they are).
 */
export function formatCheckData(input: CheckDataInput): string {
  const { config } = input;
  const out = globalDefinitions(config, input.namespace, 'checker');
  const needsSsl =
    config.ssl !== undefined ||
    config.virtualServers.some((vs) =>
      vs.realServers.some((rs) => rs.checkers.some((c) => c.kind === 'SSL_GET')),
    );
  if (needsSsl) {
    out.push('------< SSL definitions >------');
    const ssl = config.ssl;
    if (ssl && (ssl.password || ssl.ca || ssl.certificate || ssl.key)) {
      if (ssl.password) out.push(` Password : ${ssl.password}`);
      if (ssl.ca) out.push(` CA-file : ${ssl.ca}`);
      if (ssl.certificate) out.push(` Certificate file : ${ssl.certificate}`);
      if (ssl.key) out.push(` Key file : ${ssl.key}`);
    } else out.push(' Using autogen SSL context');
  }
  // the kernel's IPVS version: every kernel since 2.6.x reports 1.2.1
  out.push('------< LVS Topology >------', ' System is compiled with LVS v1.2.1');
  const live = new Map(config.virtualServers.map((vs) => [vs, findLvs(input.lvs, vs)]));
  if (config.virtualServerGroups.length > 0) {
    out.push(' ------< Virtual server group >------');
    for (const grp of config.virtualServerGroups) {
      const users = config.virtualServers.filter(
        (vs) => vs.target.kind === 'group' && vs.target.name === grp.name,
      );
      // keepalived counts, per entry, the services of the group that are up
      const up = (pred: (vs: VirtualServer) => boolean) =>
        users.filter((vs) => pred(vs) && live.get(vs)?.quorumUp === true).length;
      const addrs = grp.entries.filter((e) => e.kind === 'addr');
      const v6 = addrs.some((e) => e.kind === 'addr' && e.range.includes(':'));
      const v4 = addrs.some((e) => e.kind === 'addr' && !e.range.includes(':'));
      out.push(
        ` Virtual Server Group = ${grp.name}, IPv4 = ${v4 ? 'yes' : 'no'}, IPv6 = ${v6 ? 'yes' : 'no'}`,
      );
      for (const e of grp.entries) {
        if (e.kind === 'addr') {
          const range = groupRange(e.range);
          out.push(
            range === e.range
              ? `   VIP = ${e.range}, VPORT = ${e.port ?? 0}`
              : `   VIP Range = ${range}, VPORT = ${e.port ?? 0}`,
            `     Alive: ${up((vs) => vs.protocol === 'TCP')} tcp, ${up((vs) => vs.protocol === 'UDP')} udp, ${up((vs) => vs.protocol === 'SCTP')} sctp`,
          );
        } else
          out.push(
            `   FWMARK = ${e.fwmark}`,
            `     Alive: ${up((vs) => vsFamily(vs) === 'inet')} IPv4, ${up((vs) => vsFamily(vs) === 'inet6')} IPv6`,
          );
        out.push('     reloaded = False');
      }
    }
  }
  for (const vs of config.virtualServers) out.push(...virtualServerBlock(vs, live.get(vs), input));
  const checkers = config.virtualServers.flatMap((vs) =>
    vs.realServers.flatMap((rs) => rs.checkers.map((c) => ({ vs, rs, c }))),
  );
  if (checkers.length > 0) {
    out.push('------< Health checkers >------');
    for (const { vs, rs, c } of checkers)
      out.push(...checkerBlock(vs, rs, c, findRs(live.get(vs), rs), input));
  }
  return `${out.join('\n')}\n`;
}
