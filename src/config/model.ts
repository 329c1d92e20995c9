/**
 * The resolved, immutable (readonly) configuration model (the output of `loadConfig`). These shapes are the contract
 * with the VRRP engine, the IPVS reconciler and the health checkers: every default is already applied,
 * every time is in seconds (float, µs resolution) unless the field name says otherwise, every address
 * is canonical text (ipaddr.js), and every object carries `pos`, the place it was declared.
 */
import type { SrcPos } from './diagnostics.js';

export type Family = 'inet' | 'inet6';

/** A command as keepalived runs it (notify*, script, misc_path, quorum_up…): argv already split. */
export interface Command {
  /** The configured text, as written (quotes removed). */
  readonly text: string;
  /** argv after keepalived's script-string splitting (`'…'` groups, escapes inside quotes). */
  readonly argv: readonly string[];
  /** `CMD user [group]` / `user USER [GROUP]`; undefined means script_user (or its default). */
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly pos: SrcPos;
}

/** VIP / static address (surface §2.8). */
export interface AddressSpec {
  readonly address: string;
  readonly prefix: number;
  readonly family: Family;
  readonly brd: string | undefined;
  readonly dev: string | undefined;
  readonly scope: 'site' | 'link' | 'host' | 'nowhere' | 'global' | undefined;
  readonly label: string | undefined;
  readonly peer: string | undefined;
  readonly home: boolean;
  readonly nodad: boolean;
  readonly mngtmpaddr: boolean;
  readonly noprefixroute: boolean;
  readonly autojoin: boolean;
  readonly noTrack: boolean;
  /** seconds, or 'forever'; IPv6 /128 VIPs default to 0 (deprecated address), as keepalived does. */
  readonly preferredLft: number | 'forever' | undefined;
  readonly useVmac: string | boolean;
  readonly trackGroup: string | undefined;
  readonly pos: SrcPos;
}

/** `ip route`-style route (surface §2.8). Options not modelled as fields stay in `options`. */
export interface RouteSpec {
  readonly family: Family;
  /**
   * The type by name when it is one of these five; any other type keepalived accepts (local,
   * broadcast, anycast, multicast, nat, xresolve, or a number 0..255) reads 'unicast' here and is
   * given by `rtnType`.
   */
  readonly type: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw';
  /** The kernel route type keepalived sends (RTN_*, 1 = unicast when no type word is given). */
  readonly rtnType: number;
  readonly to: string;
  readonly src: string | undefined;
  readonly via: string | undefined;
  readonly dev: string | undefined;
  readonly table: string | undefined;
  readonly metric: number | undefined;
  readonly scope: string | undefined;
  readonly nexthops: readonly {
    readonly via: string | undefined;
    readonly dev: string | undefined;
    readonly weight: number | undefined;
  }[];
  readonly noTrack: boolean;
  readonly trackGroup: string | undefined;
  readonly options: Readonly<Record<string, string>>;
  readonly pos: SrcPos;
}

/** `ip rule`-style rule (surface §2.8). */
export interface RuleSpec {
  readonly family: Family;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly table: string | undefined;
  readonly preference: number | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly fwmark: string | undefined;
  readonly action: string | undefined;
  readonly noTrack: boolean;
  readonly trackGroup: string | undefined;
  readonly options: Readonly<Record<string, string>>;
  readonly pos: SrcPos;
}

export interface GlobalDefs {
  readonly routerId: string;
  readonly notificationEmail: readonly string[];
  readonly notificationEmailFrom: string;
  readonly smtpServer: { readonly host: string; readonly port: number } | undefined;
  readonly smtpHeloName: string;
  readonly smtpConnectTimeout: number;
  readonly smtpAlert: boolean | undefined;
  readonly smtpAlertVrrp: boolean | undefined;
  readonly smtpAlertChecker: boolean | undefined;
  readonly noEmailFaults: boolean;
  readonly checkerLogAllFailures: boolean;
  readonly noCheckerEmails: boolean;
  readonly rsInitNotifies: boolean;
  readonly vrrpVersion: 2 | 3;
  readonly vrrpMcastGroup4: string;
  readonly vrrpMcastGroup6: string;
  readonly defaultInterface: string;
  readonly garp: GarpTiming;
  readonly vrrpGarpInterval: number;
  readonly vrrpGnaInterval: number;
  readonly vrrpMinGarp: boolean;
  readonly vrrpGarpExtraIf: { readonly interval: number; readonly all: boolean } | undefined;
  readonly vrrpDownTimerAdverts: number;
  readonly vrrpLowerPrioNoAdvert: boolean | undefined;
  readonly vrrpHigherPrioSendAdvert: boolean;
  readonly vrrpCheckUnicastSrc: boolean;
  readonly vrrpSkipCheckAdvAddr: boolean;
  readonly vrrpStrict: boolean;
  readonly vrrpNotifyPriorityChanges: boolean;
  readonly vrrpStartupDelay: number;
  readonly logUnknownVrids: boolean;
  readonly vmacPrefix: string;
  readonly vmacAddrPrefix: string;
  readonly dynamicInterfaces: boolean | 'allow_if_changes';
  readonly scriptUser: { readonly user: string; readonly group: string | undefined } | undefined;
  readonly enableScriptSecurity: boolean;
  readonly notifyFifo: FifoSpec | undefined;
  readonly vrrpNotifyFifo: FifoSpec | undefined;
  readonly lvsNotifyFifo: FifoSpec | undefined;
  readonly lvsSyncDaemon: LvsSyncDaemon | undefined;
  readonly lvsTimeouts:
    | { readonly tcp?: number; readonly tcpfin?: number; readonly udp?: number }
    | undefined;
  readonly lvsFlush: boolean;
  readonly lvsFlushOnStop: boolean | 'VS';
  readonly startupScript: Command | undefined;
  readonly startupScriptTimeout: number;
  readonly shutdownScript: Command | undefined;
  readonly shutdownScriptTimeout: number;
  readonly netNamespace: string | undefined;
  readonly instance: string | undefined;
  readonly usePidDir: boolean;
  readonly childWaitTime: number;
  /** `umask`: the file-creation mask keepalived sets while reading the file (undefined: not given or invalid). */
  readonly umask?: number;
  /**
   * The long tail of global_defs (scheduling, netlink buffer sizes, nftables/iptables, SNMP, DBus,
   * process names, reload files…): validated by the keyword table, stored by keyword.
   */
  readonly settings: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

export interface GarpTiming {
  /** seconds; 0 = no second burst */
  readonly masterDelay: number;
  readonly masterRepeat: number;
  readonly lowerPrioDelay: number;
  readonly lowerPrioRepeat: number;
  readonly masterRefresh: number;
  readonly masterRefreshRepeat: number;
}

export interface FifoSpec {
  readonly path: string;
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly script: Command | undefined;
}

export interface LvsSyncDaemon {
  readonly interface: string;
  readonly instance: string | undefined;
  readonly syncId: number | undefined;
  readonly maxlen: number | undefined;
  readonly port: number | undefined;
  readonly ttl: number | undefined;
  readonly group: string | undefined;
}

export interface VrrpScript {
  readonly name: string;
  readonly script: Command;
  readonly interval: number;
  readonly timeout: number;
  readonly weight: number;
  readonly weightReverse: boolean;
  readonly rise: number;
  readonly fall: number;
  readonly initFail: boolean;
  readonly pos: SrcPos;
}

export interface TrackFile {
  readonly name: string;
  readonly file: string;
  readonly weight: number;
  readonly weightReverse: boolean;
  readonly initFile: { readonly value: number; readonly overwrite: boolean } | undefined;
  readonly pos: SrcPos;
}

export interface TrackProcess {
  readonly name: string;
  readonly process: string;
  readonly args: readonly string[] | undefined;
  readonly paramMatch: 'exact' | 'initial' | 'partial';
  readonly weight: number;
  readonly weightReverse: boolean;
  readonly quorum: number;
  readonly quorumMax: number | undefined;
  readonly forkDelay: number;
  readonly terminateDelay: number;
  readonly fullCommand: boolean;
  readonly pos: SrcPos;
}

export interface BfdInstance {
  readonly name: string;
  readonly neighborIp: string;
  readonly sourceIp: string | undefined;
  /** milliseconds */
  readonly minRx: number;
  readonly minTx: number;
  readonly idleTx: number;
  readonly multiplier: number;
  readonly passive: boolean;
  readonly ttl: number;
  readonly maxHops: number;
  readonly weight: number;
  readonly weightReverse: boolean;
  readonly deliverTo: 'both' | 'vrrp' | 'checker';
  readonly pos: SrcPos;
}

/** An entry of track_interface/track_script/track_file/track_process/track_bfd. */
export interface TrackRef {
  readonly name: string;
  /** undefined: the tracked object's own weight applies (0 = FAULT on failure). */
  readonly weight: number | undefined;
  readonly reverse: boolean;
  readonly pos: SrcPos;
}

export interface Tracking {
  readonly interfaces: readonly TrackRef[];
  readonly scripts: readonly TrackRef[];
  readonly files: readonly TrackRef[];
  readonly processes: readonly TrackRef[];
  readonly bfds: readonly TrackRef[];
}

export interface NotifyScripts {
  readonly master: Command | undefined;
  readonly backup: Command | undefined;
  readonly fault: Command | undefined;
  readonly stop: Command | undefined;
  /** instance only; true = bare `notify_deleted` */
  readonly deleted: Command | boolean;
  /** generic `notify` (appends INSTANCE/GROUP NAME STATE PRIORITY) */
  readonly generic: Command | undefined;
  readonly masterRxLowerPri: Command | undefined;
}

export interface SyncGroup {
  readonly name: string;
  readonly members: readonly string[];
  readonly tracking: Tracking;
  readonly notify: NotifyScripts;
  readonly smtpAlert: boolean | undefined;
  readonly notifyPriorityChanges: boolean | undefined;
  readonly syncGroupTrackingWeight: boolean;
  readonly pos: SrcPos;
}

export interface UnicastPeer {
  readonly address: string;
  readonly minTtl: number | undefined;
  readonly maxTtl: number | undefined;
}

export interface VrrpInstance {
  readonly name: string;
  /** Initial state. */
  readonly state: 'MASTER' | 'BACKUP';
  readonly interface: string | undefined;
  readonly vrf: string | undefined;
  readonly vrid: number;
  /** Base priority 1..255 (255 = address owner). */
  readonly priority: number;
  readonly version: 2 | 3;
  readonly family: Family;
  /** Advert interval in seconds after keepalived's rounding (v2 whole seconds, v3 centiseconds). */
  readonly advertInt: number;
  /** The same in centiseconds (the v3 wire unit; v2 adverts carry advertInt seconds). */
  readonly advertIntCs: number;
  readonly nopreempt: boolean;
  readonly preemptDelay: number;
  readonly accept: boolean;
  readonly strict: boolean;
  readonly mcastSrcIp: string | undefined;
  readonly mcastDstIp: string | undefined;
  readonly unicastPeers: readonly UnicastPeer[];
  readonly unicastTtl: number;
  readonly unicastFaultNoPeer: boolean;
  readonly checkUnicastSrc: boolean;
  readonly oldUnicastChecksum: 'auto' | 'never' | true;
  readonly authentication: { readonly type: 'PASS' | 'AH'; readonly pass: string } | undefined;
  readonly virtualIpaddress: readonly AddressSpec[];
  readonly virtualIpaddressExcluded: readonly AddressSpec[];
  readonly virtualRoutes: readonly RouteSpec[];
  readonly virtualRules: readonly RuleSpec[];
  readonly tracking: Tracking;
  readonly dontTrackPrimary: boolean;
  readonly trackSrcIp: boolean;
  readonly notify: NotifyScripts;
  readonly notifyPriorityChanges: boolean;
  readonly smtpAlert: boolean | undefined;
  readonly garp: GarpTiming;
  readonly garpExtraIf: { readonly interval: number; readonly all: boolean } | undefined;
  readonly downTimerAdverts: number;
  readonly lowerPrioNoAdvert: boolean;
  readonly higherPrioSendAdvert: boolean;
  readonly skipCheckAdvAddr: boolean;
  readonly useVmac: { readonly ifname: string | undefined; readonly mac: string | undefined } | undefined;
  readonly useVmacAddr: boolean;
  readonly vmacXmitBase: boolean;
  readonly useIpvlan:
    | {
        readonly ifname: string | undefined;
        readonly address: string | undefined;
        readonly mode: string | undefined;
      }
    | undefined;
  readonly promoteSecondaries: boolean;
  readonly kernelRxBufSize: number | undefined;
  /** Name of the sync group the instance belongs to, if any. */
  readonly syncGroup: string | undefined;
  readonly pos: SrcPos;
}

export type LbMethod = 'NAT' | 'DR' | 'TUN';

export interface LbKind {
  readonly method: LbMethod;
  readonly tunnel:
    | {
        readonly type: 'ipip' | 'gue' | 'gre';
        readonly port: number | undefined;
        readonly csum: 'nocsum' | 'csum' | 'remcsum' | undefined;
      }
    | undefined;
}

export type VsGroupEntry =
  | { readonly kind: 'addr'; readonly range: string; readonly port: number | undefined; readonly pos: SrcPos }
  | {
      readonly kind: 'fwmark';
      readonly fwmark: number;
      readonly family: Family | undefined;
      readonly pos: SrcPos;
    };

export interface VirtualServerGroup {
  readonly name: string;
  readonly entries: readonly VsGroupEntry[];
  readonly pos: SrcPos;
}

export type VsTarget =
  | {
      readonly kind: 'addr';
      readonly addr: string;
      readonly port: number | undefined;
      readonly family: Family;
    }
  | { readonly kind: 'fwmark'; readonly fwmark: number }
  | { readonly kind: 'group'; readonly name: string };

/** Timing shared by every checker (after inheritance checker ← real_server ← virtual_server). */
export interface CheckTimingModel {
  readonly delayLoop: number;
  readonly retry: number;
  readonly delayBeforeRetry: number;
  readonly warmup: number | undefined;
  readonly alpha: boolean;
  readonly logAllFailures: boolean;
}

export interface ConnOptsModel {
  readonly connectIp: string;
  readonly connectPort: number;
  readonly bindto: string | undefined;
  readonly bindIf: string | undefined;
  readonly bindPort: number | undefined;
  readonly fwmark: number | undefined;
  readonly connectTimeout: number;
}

export interface UrlModel {
  readonly path: string;
  readonly digest: string | undefined;
  readonly statusCodes: readonly (number | readonly [number, number])[];
  readonly virtualhost: string | undefined;
  readonly regex: string | undefined;
  readonly regexNoMatch: boolean;
  readonly regexOptions: readonly string[];
  readonly regexMinOffset: number | undefined;
  readonly regexMaxOffset: number | undefined;
  readonly pos: SrcPos;
}

interface CheckerBase extends CheckTimingModel {
  readonly pos: SrcPos;
}

export type Checker =
  | (CheckerBase &
      ConnOptsModel & {
        readonly kind: 'HTTP_GET' | 'SSL_GET';
        readonly urls: readonly UrlModel[];
        readonly virtualhost: string | undefined;
        readonly httpProtocol: '1.0' | '1.0C' | '1.1' | undefined;
        readonly enableSni: boolean;
        readonly fastRecovery: boolean;
      })
  | (CheckerBase & ConnOptsModel & { readonly kind: 'TCP_CHECK' })
  | (CheckerBase & ConnOptsModel & { readonly kind: 'SMTP_CHECK'; readonly heloName: string })
  | (CheckerBase &
      ConnOptsModel & {
        readonly kind: 'DNS_CHECK';
        readonly type: 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA';
        readonly name: string;
      })
  | (CheckerBase &
      ConnOptsModel & {
        readonly kind: 'UDP_CHECK';
        readonly payload: string | undefined;
        readonly requireReply: boolean | string;
        readonly minReplyLength: number;
        readonly maxReplyLength: number;
      })
  | (CheckerBase & ConnOptsModel & { readonly kind: 'PING_CHECK' })
  | (CheckerBase & {
      readonly kind: 'MISC_CHECK';
      readonly miscPath: Command;
      readonly miscTimeout: number;
      readonly miscDynamic: boolean;
    })
  | (CheckerBase & {
      readonly kind: 'FILE_CHECK';
      readonly trackFile: string;
      readonly weight: number;
      readonly reverse: boolean;
    })
  | (CheckerBase & { readonly kind: 'BFD_CHECK'; readonly name: string });

export type CheckerKind = Checker['kind'];

export interface RealServer {
  readonly address: string;
  readonly family: Family;
  /** Defaults to the virtual server's port (undefined for fwmark services without one). */
  readonly port: number | undefined;
  readonly weight: number;
  readonly lvsMethod: LbKind;
  readonly uthreshold: number;
  readonly lthreshold: number;
  readonly inhibitOnFailure: boolean;
  readonly notifyUp: Command | undefined;
  readonly notifyDown: Command | undefined;
  readonly alpha: boolean;
  readonly smtpAlert: boolean | undefined;
  readonly virtualhost: string | undefined;
  readonly snmpName: string | undefined;
  readonly checkers: readonly Checker[];
  readonly pos: SrcPos;
}

export interface VirtualServer {
  /** keepalived's display name: "IP PORT", "fwmark N" or "group NAME". */
  readonly name: string;
  readonly target: VsTarget;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly lvsSched: string;
  readonly schedFlags: readonly string[];
  readonly lvsMethod: LbKind;
  readonly ops: boolean;
  readonly persistenceTimeout: number | undefined;
  readonly persistenceGranularity: string | undefined;
  readonly persistenceEngine: string | undefined;
  readonly ipFamily: Family | undefined;
  readonly haSuspend: boolean;
  readonly virtualhost: string | undefined;
  readonly alpha: boolean;
  readonly omega: boolean;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly quorumUp: Command | undefined;
  readonly quorumDown: Command | undefined;
  readonly sorryServer:
    | {
        readonly address: string;
        readonly port: number | undefined;
        readonly lvsMethod: LbKind | undefined;
        readonly inhibit: boolean;
      }
    | undefined;
  readonly connectTimeout: number;
  readonly delayLoop: number;
  readonly retry: number | undefined;
  readonly delayBeforeRetry: number | undefined;
  readonly warmup: number | undefined;
  readonly inhibitOnFailure: boolean;
  readonly smtpAlert: boolean | undefined;
  readonly snmpName: string | undefined;
  readonly weight: number;
  readonly realServers: readonly RealServer[];
  readonly pos: SrcPos;
}

export interface KeepalivedConfig {
  readonly configId: string;
  /** Every file read, main file first. */
  readonly files: readonly string[];
  readonly global: GlobalDefs;
  readonly staticIpaddress: readonly AddressSpec[];
  readonly staticRoutes: readonly RouteSpec[];
  readonly staticRules: readonly RuleSpec[];
  readonly linkbeatInterfaces: readonly { readonly name: string; readonly mode: string | undefined }[];
  readonly interfaceUpDownDelays: readonly {
    readonly name: string;
    readonly down: number;
    readonly up: number;
  }[];
  readonly trackGroups: readonly { readonly name: string; readonly members: readonly string[] }[];
  readonly garpGroups: readonly {
    readonly garpInterval: number | undefined;
    readonly gnaInterval: number | undefined;
    readonly interfaces: readonly string[];
  }[];
  readonly vrrpScripts: readonly VrrpScript[];
  readonly trackFiles: readonly TrackFile[];
  readonly trackProcesses: readonly TrackProcess[];
  readonly bfdInstances: readonly BfdInstance[];
  readonly syncGroups: readonly SyncGroup[];
  readonly vrrpInstances: readonly VrrpInstance[];
  readonly ssl:
    | {
        readonly password: string | undefined;
        readonly ca: string | undefined;
        readonly certificate: string | undefined;
        readonly key: string | undefined;
      }
    | undefined;
  readonly virtualServerGroups: readonly VirtualServerGroup[];
  readonly virtualServers: readonly VirtualServer[];
}
