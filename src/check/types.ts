/**
 * Checker specifications: one type per keepalived 2.2 checker, with every keyword of its block
 * (keepalived-surface.md §2.12–2.13). Times are seconds, as written in keepalived.conf. These types are
 * self-contained; `fromConfig.ts` maps the config model onto them (inheritance checker ← RS ← VS resolved
 * there, so a spec here is complete).
 */
import type { KaError } from '../core/errors.js';

/** Timing keywords shared by every checker (they drive schedule.ts, not the probe itself). */
export interface CheckTiming {
  /** `delay_loop`: seconds between checks while stable (VS default 60). */
  delayLoop: number;
  /** `retry` (`nb_get_retry` for HTTP/SSL): extra attempts before a server is declared down. */
  retry: number;
  /** `delay_before_retry`: seconds between a failed attempt and its retry. */
  delayBeforeRetry: number;
  /** `warmup`: the first check runs after a random delay in [0, warmup] (default delay_loop). */
  warmup?: number;
  /** `alpha`: the checker starts DOWN and needs one success to go UP. */
  alpha: boolean;
  /** `log_all_failures`: log every failed attempt, not only transitions. */
  logAllFailures?: boolean;
  /** HTTP/SSL `fast_recovery`: while DOWN, check every delay_before_retry instead of delay_loop. */
  fastRecovery?: boolean;
}

/** Connection keywords (all checkers but MISC_CHECK / FILE_CHECK). */
export interface ConnOpts {
  /** `connect_ip` (default: the real server's address). */
  connectIp: string;
  /** `connect_port` (default: the real server's port). */
  connectPort: number;
  /** `bindto`: local source address. */
  bindto?: string;
  /** `bind_if`: interface for link-local targets (used as the IPv6 scope id). */
  bindIf?: string;
  /** `bind_port`: local source port. */
  bindPort?: number;
  /** `fwmark`: SO_MARK on the socket (set through the addon, see markedFd in common.ts). */
  fwmark?: number;
  /** `connect_timeout` in seconds (VS default 5). */
  connectTimeout: number;
}

export type HttpProtocol = '1.0' | '1.0C' | '1.1';

export interface UrlSpec {
  path: string;
  /** `digest`: MD5 of the body, 32 lowercase hex digits. */
  digest?: string;
  /** `status_code` entries: a code or an inclusive range. Empty/absent = 200-299. */
  statusCodes?: ReadonlyArray<number | readonly [number, number]>;
  /** Per-url `virtualhost`. */
  virtualhost?: string;
  /** `regex` (JavaScript RegExp syntax; keepalived uses PCRE2). */
  regex?: string;
  regexNoMatch?: boolean;
  /** `regex_options` (PCRE2 names; caseless/multiline/dotall map to i/m/s, others are ignored). */
  regexOptions?: readonly string[];
  regexMinOffset?: number;
  regexMaxOffset?: number;
}

export interface TlsOpts {
  /** Verify the server certificate against `ca` (keepalived does not verify by default). */
  verify?: boolean;
  /** PEM strings (from the top-level `SSL { ca; certificate; key; password }` block). */
  ca?: string;
  cert?: string;
  key?: string;
  password?: string;
}

export interface HttpCheckSpec extends ConnOpts, CheckTiming {
  kind: 'HTTP_GET' | 'SSL_GET';
  urls: readonly UrlSpec[];
  /** `virtualhost` of the checker (falls back to RS then VS virtualhost, resolved by the adapter). */
  virtualhost?: string;
  httpProtocol?: HttpProtocol;
  /** `enable_sni` (SSL_GET): send the virtualhost as SNI. */
  enableSni?: boolean;
  tls?: TlsOpts;
}

export interface TcpCheckSpec extends ConnOpts, CheckTiming {
  kind: 'TCP_CHECK';
}

export interface SmtpCheckSpec extends ConnOpts, CheckTiming {
  kind: 'SMTP_CHECK';
  /** `helo_name` (keepalived default `smtpchecker.keepalived.org`). */
  heloName?: string;
}

export type DnsType = 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA';

export interface DnsCheckSpec extends ConnOpts, CheckTiming {
  kind: 'DNS_CHECK';
  /** `type` (default SOA). */
  type?: DnsType;
  /** `name` (default `.`). */
  name?: string;
}

export interface UdpCheckSpec extends ConnOpts, CheckTiming {
  kind: 'UDP_CHECK';
  /** `payload` as hex (default: empty datagram). */
  payload?: string;
  /** `require_reply`: true for any reply, or a hex pattern where `X`/`x` matches any nibble. */
  requireReply?: boolean | string;
  minReplyLength?: number;
  maxReplyLength?: number;
}

export interface PingCheckSpec extends ConnOpts, CheckTiming {
  kind: 'PING_CHECK';
}

export interface MiscCheckSpec extends CheckTiming {
  kind: 'MISC_CHECK';
  /** `misc_path`: the command words (already split and unquoted by the config parser). */
  miscPath: readonly string[];
  /** `misc_timeout` seconds (default delay_loop). */
  miscTimeout?: number;
  /** `misc_dynamic`: exit 2..255 means up with weight exit−2. */
  miscDynamic?: boolean;
  /** `user U [G]`: numeric ids or names (resolved from the passwd/group files). */
  user?: string;
  group?: string;
}

export interface FileCheckSpec extends CheckTiming {
  kind: 'FILE_CHECK';
  /** The `track_file` path (the adapter resolves the track_file NAME). */
  file: string;
  /** `weight N [reverse]` (default 0: a non-zero value means down). */
  weight?: number;
  reverse?: boolean;
  /** `dynamic`: the weight change scales with the server's configured weight. */
  dynamic?: boolean;
}

/**
 * BFD_CHECK: up while the named `bfd_instance`'s session is Up. It runs no attempts: the BFD side
 * feeds its session changes to the scheduler (Scheduler.setBfdState). Timing keywords are unused.
 */
export interface BfdCheckSpec extends CheckTiming {
  kind: 'BFD_CHECK';
  /** The `bfd_instance` name. */
  name: string;
}

export type CheckSpec =
  | HttpCheckSpec
  | TcpCheckSpec
  | SmtpCheckSpec
  | DnsCheckSpec
  | UdpCheckSpec
  | PingCheckSpec
  | MiscCheckSpec
  | FileCheckSpec
  | BfdCheckSpec;

export type CheckKind = CheckSpec['kind'];

/**
 * Outcome of one attempt. `weight` is set by MISC_CHECK misc_dynamic and FILE_CHECK. `reason`: the
 * failure as keepalived words it in a checker mail (SMTP_CHECK: `Error connecting to server …`).
 */
export type CheckResult =
  | { ok: true; weight?: number; weightDelta?: number; detail?: string }
  | { ok: false; error: KaError; reason?: string };

/** One checker of a real server changed state (keepalived's update_svr_checker_state). */
export interface CheckerTransition {
  /** Index of the checker in its real server's list. */
  index: number;
  kind: CheckKind;
  /** The checker's new state. */
  up: boolean;
  /** Failure wording for the mail (SMTP_CHECK), from the attempt that took it down. */
  reason?: string;
  /** BFD_CHECK: the bfd_instance name. */
  bfd?: string;
  /**
   * The checker's state did not flip: a MISC_CHECK's first result, which keepalived reports (and
   * mails) whatever the state it started in.
   */
  unchanged?: true;
}

/**
 * What schedule.ts emits towards the IPVS side: when a real server changes, and on every checker
 * transition (`checker`), which keepalived mails even when the real server stays as it was.
 */
export interface RealServerEvent {
  realServer: string;
  /** The real server's state after the change (all its checkers up). */
  up: boolean;
  /** The checker whose transition this event reports. */
  checker?: CheckerTransition;
  /** Set when a dynamic checker (misc_dynamic, FILE_CHECK) changes the weight. */
  weight?: number;
  /**
   * Not a change: an alpha checker (down from the start) failed its first attempt with no retry
   * left; keepalived notifies the server DOWN then (update_svr_checker_state). `up` is false.
   */
  alphaFailure?: true;
}

/** Keepalived defaults for timing keywords not given in the config (§2.13). */
export function defaultTiming(kind: CheckKind, delayLoop = 60): CheckTiming {
  return {
    delayLoop,
    retry: kind === 'DNS_CHECK' ? 3 : kind === 'MISC_CHECK' ? 0 : 1,
    delayBeforeRetry: kind === 'HTTP_GET' || kind === 'SSL_GET' ? 3 : kind === 'DNS_CHECK' ? delayLoop : 1,
    alpha: false,
  };
}
