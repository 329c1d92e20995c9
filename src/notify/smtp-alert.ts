/**
 * keepalived's SMTP alerts (keepalived-surface.md §1 "Email"; behaviour read from keepalived's
 * smtp.c, vrrp_notify.c, ipwrapper.c and the checkers): one mail per VRRP instance / sync group
 * transition, real-server up/down and virtual-server quorum change, to every `notification_email`
 * address through `smtp_server`, sent after the scripts and the FIFO line.
 *
 * Message, as keepalived writes it: headers `Date` (local time, `%a, %d %b %Y %H:%M:%S %z`),
 * `From` (notification_email_from), `Subject` (`[router_id] …`), `X-Mailer: Keepalived`, `To`
 * (every recipient, comma separated), a blank line, the one-line body. Envelope: `MAIL FROM:<from>`
 * and one `RCPT TO:<addr>` per recipient. Plain SMTP, no TLS, no authentication (keepalived has
 * neither); `smtp_connect_timeout` bounds the connection and each reply.
 *
 * Sending never blocks the caller: alerts wait in a bounded queue (the oldest is dropped and
 * counted when it is full, e.g. while the relay is down), a few are in flight at once, and a
 * failure is logged with a typed KaError and counted, never thrown.
 */
import { hostname } from 'node:os';
import type {
  GlobalDefs,
  KeepalivedConfig,
  RealServer,
  SyncGroup,
  VirtualServer,
  VrrpInstance,
} from '../config/model.js';
import type { Counters } from '../core/counters.js';
import { isKaError, KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { NotifyErrors } from './errors.js';

// ---- transport ----

export interface MailEnvelope {
  readonly from: string;
  readonly to: readonly string[];
}

/** One alert ready to send: the SMTP envelope and the message text (CRLF lines, headers + body). */
export interface OutgoingMail {
  readonly envelope: MailEnvelope;
  readonly raw: string;
}

/** Where and how alerts are delivered (from the global keywords). */
export interface SmtpRelay {
  readonly host: string;
  readonly port: number;
  /** `smtp_helo_name` (default: the host name). */
  readonly heloName: string;
  /** `smtp_connect_timeout` in milliseconds: connection, greeting and each reply. */
  readonly timeoutMs: number;
}

/** A delivered message: the recipients the relay refused while accepting the others. */
export interface SendResult {
  readonly rejected: readonly string[];
}

/**
 * Delivers one message. Rejects with a KaError (KA_ERR_NOTIFY_SMTP_TIMEOUT or
 * KA_ERR_NOTIFY_SMTP_FAILED); any other rejection is treated as KA_ERR_NOTIFY_SMTP_FAILED.
 */
export interface MailTransport {
  send(mail: OutgoingMail): Promise<SendResult>;
  close(): void;
}

export type TransportFactory = (relay: SmtpRelay) => MailTransport;

/**
 * nodemailer's SMTP transport, set up like keepalived's client: no STARTTLS (ignoreTLS), no
 * authentication, no pooling (one connection per alert), the message sent as given (`raw`, so no
 * MIME headers are added). nodemailer greets with EHLO and falls back to HELO when the relay
 * refuses it; keepalived sends HELO only.
 */
type Mailer = typeof import('nodemailer').default;
let mailer: Promise<Mailer> | undefined;
/** nodemailer takes about 60 ms to load: it is imported for the first alert sent, not at start-up. */
function loadMailer(): Promise<Mailer> {
  mailer ??= import('nodemailer').then((m) => m.default);
  return mailer;
}

export function nodemailerTransport(relay: SmtpRelay): MailTransport {
  let t: ReturnType<Mailer['createTransport']> | undefined;
  return {
    async send(mail) {
      try {
        t ??= (await loadMailer()).createTransport({
          host: relay.host,
          port: relay.port,
          secure: false,
          ignoreTLS: true,
          name: relay.heloName,
          connectionTimeout: relay.timeoutMs,
          greetingTimeout: relay.timeoutMs,
          socketTimeout: relay.timeoutMs,
          dnsTimeout: relay.timeoutMs,
          disableFileAccess: true,
          disableUrlAccess: true,
          logger: false,
        });
        const info = await t.sendMail({
          envelope: { from: mail.envelope.from, to: [...mail.envelope.to] },
          raw: mail.raw,
        });
        return { rejected: (info.rejected ?? []).map(String) };
      } catch (e) {
        throw smtpError(e, relay);
      }
    },
    close: () => t?.close(),
  };
}

function smtpError(e: unknown, relay: SmtpRelay): KaError {
  if (isKaError(e)) return e;
  const err = e as { code?: unknown; message?: unknown; responseCode?: unknown; command?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const server = `[${relay.host}]:${relay.port}`;
  const details = {
    server,
    ...(code ? { smtpCode: code } : {}),
    ...(typeof err.responseCode === 'number' ? { responseCode: err.responseCode } : {}),
    ...(typeof err.command === 'string' ? { command: err.command } : {}),
  };
  const msg = typeof err.message === 'string' ? err.message : String(e);
  if (code === 'ETIMEDOUT')
    return new KaError(
      NotifyErrors.KA_ERR_NOTIFY_SMTP_TIMEOUT,
      `Timeout with SMTP server ${server}: ${msg}`,
      details,
      {
        cause: e,
      },
    );
  return new KaError(
    NotifyErrors.KA_ERR_NOTIFY_SMTP_FAILED,
    `SMTP alert to ${server} failed: ${msg}`,
    details,
    {
      cause: e,
    },
  );
}

// ---- texts ----

export type AlertState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/** What happened, in the terms keepalived's mail uses. */
export type AlertEvent =
  | { readonly kind: 'instance'; readonly name: string; readonly state: AlertState }
  | { readonly kind: 'group'; readonly name: string; readonly state: AlertState }
  /** `rs`/`vs`: keepalived's text, `[198.51.100.11]:tcp:80`, `FWM 5`. `body` from checkerBody / shutdownBody. */
  | {
      readonly kind: 'real-server';
      readonly rs: string;
      readonly vs: string;
      readonly up: boolean;
      readonly body: string;
    }
  /** `body` from quorumBody / shutdownBody. */
  | { readonly kind: 'virtual-server'; readonly vs: string; readonly up: boolean; readonly body: string };

const INSTANCE_TEXT: Record<AlertState, readonly [string, string]> = {
  MASTER: ['Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <='],
  BACKUP: ['Entering BACKUP state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
  FAULT: ['Entering FAULT state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
  STOP: ['Stopping', '=> VRRP Instance stopping <='],
};

const GROUP_TEXT: Record<AlertState, readonly [string, string]> = {
  MASTER: ['Entering MASTER state', '=> All VRRP group instances are now in MASTER state <='],
  BACKUP: ['Entering BACKUP state', '=> All VRRP group instances are now in BACKUP state <='],
  FAULT: ['Entering FAULT state', '=> All VRRP group instances are now in FAULT state <='],
  STOP: ['Stopping', '=> All VRRP group instances are now stopping <='],
};

/** keepalived's header / body buffers (MAX_HEADERS_LENGTH 256, MAX_BODY_LENGTH 512, NUL included). */
const SUBJECT_MAX = 255;
const BODY_MAX = 511;

/** Subject and body of an alert, `[router_id]` first as keepalived writes it. */
export function alertText(ev: AlertEvent, routerId: string): { subject: string; body: string } {
  let subject: string;
  let body: string;
  switch (ev.kind) {
    case 'instance': {
      const [s, b] = INSTANCE_TEXT[ev.state];
      subject = `[${routerId}] VRRP Instance ${ev.name} - ${s}`;
      body = b;
      break;
    }
    case 'group': {
      const [s, b] = GROUP_TEXT[ev.state];
      subject = `[${routerId}] VRRP Group ${ev.name} - ${s}`;
      body = b;
      break;
    }
    case 'real-server':
      subject = `[${routerId}] Realserver ${ev.rs} of virtual server ${ev.vs} - ${ev.up ? 'UP' : 'DOWN'}`;
      body = ev.body;
      break;
    case 'virtual-server':
      subject = `[${routerId}] Virtualserver ${ev.vs} - ${ev.up ? 'UP' : 'DOWN'}`;
      body = ev.body;
      break;
  }
  return { subject: oneLine(subject).slice(0, SUBJECT_MAX), body: body.slice(0, BODY_MAX) };
}

/** Checker kinds as the model names them. */
export type AlertCheckerKind = RealServer['checkers'][number]['kind'];

/** A checker result keepalived mails (RealServerEvent.checker, in the notify module's terms). */
export interface CheckerMail {
  readonly kind: AlertCheckerKind;
  /** The checker's state after the result. */
  readonly up: boolean;
  /** SMTP_CHECK: what failed (`Error connecting to server [198.51.100.2]:25`); MISC_CHECK: `timed out`. */
  readonly reason?: string;
  /** BFD_CHECK: the bfd_instance name. */
  readonly bfd?: string;
}

/**
 * The body of a checker's real-server mail, in that checker's words (keepalived 2.2.7's checkers):
 * TCP/UDP/ICMP/DNS name themselves; HTTP_GET and SSL_GET fail with "HTTP request failed"; SMTP_CHECK
 * with its reason; MISC_CHECK says succeeded / failed / timed out; BFD_CHECK names its instance. FILE_CHECK
 * mails nothing (keepalived's track file updates send no alert): undefined.
 */
export function checkerBody(c: CheckerMail): string | undefined {
  const verb = c.up ? 'succeed' : 'failed';
  switch (c.kind) {
    case 'TCP_CHECK':
      return `=> TCP CHECK ${verb} on service <=`;
    case 'UDP_CHECK':
      return `=> UDP CHECK ${verb} on service <=`;
    case 'PING_CHECK':
      return `=> ICMP CHECK ${verb} on service <=`;
    case 'DNS_CHECK':
      return `=> DNS_CHECK: ${verb} on service <=`;
    case 'MISC_CHECK':
      return `=> MISC CHECK ${c.up ? 'succeeded' : c.reason === 'timed out' ? 'timed out' : 'failed'} on service <=`;
    case 'BFD_CHECK':
      return `=> BFD CHECK ${c.bfd ?? ''} ${c.up ? 'succeeded' : 'failed'} on service <=`;
    case 'HTTP_GET':
    case 'SSL_GET':
      return c.up ? '=> CHECK succeed on service <=' : '=> CHECK failed on service : HTTP request failed <=';
    case 'SMTP_CHECK':
      if (c.up || c.reason === undefined) return `=> CHECK ${verb} on service <=`;
      return `=> CHECK failed on service : ${c.reason} <=`;
    case 'FILE_CHECK':
      return undefined;
  }
}

/**
 * Whether a checker result is mailed (keepalived's checkers after update_svr_checker_state): the
 * real server's `smtp_alert`, and either its alive state changed or `no_checker_emails` is off.
 */
export function mailsCheckerResult(o: {
  readonly smtpAlert: boolean;
  readonly rsChanged: boolean;
  readonly noCheckerEmails: boolean;
}): boolean {
  return o.smtpAlert && (o.rsChanged || !o.noCheckerEmails);
}

/**
 * Body of a quorum mail: `=> Gained quorum 3+1=4 <= 5 <=` (keepalived prints `+` both ways).
 * `threshold` is what the live weight was compared with (QuorumEvent.threshold): quorum+hysteresis
 * from down, quorum-hysteresis from up. `starting`: a decision of keepalived's init_service_vs (a
 * first programming, or a reload's first pass), worded "Starting with quorum up/down".
 */
export function quorumBody(
  up: boolean,
  quorum: number,
  hysteresis: number,
  threshold: number,
  weightSum: number,
  starting = false,
): string {
  const what = starting ? `Starting with quorum ${up ? 'up' : 'down'}` : up ? 'Gained quorum' : 'Lost quorum';
  return `=> ${what} ${quorum}+${hysteresis}=${threshold} <= ${weightSum} <=`;
}

/** A virtual server as its quorum and removal mails need it. */
export interface AlertVirtualServer {
  /** keepalived's text: `[203.0.113.10]:tcp:80`, `FWM 5`, `[GROUP]:0`. */
  readonly text: string;
  /** Its smtp_alert as virtualServerAlerts resolves it. */
  readonly mail: boolean;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly sorryServer: boolean;
}

/** Body of the mails sent while stopping (omega) or when a reload removes a live real server. */
export function shutdownBody(stopping: boolean): string {
  return stopping ? '=> Shutting down <=' : '=> Removing <=';
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const pad = (n: number) => String(n).padStart(2, '0');

/** `strftime("%a, %d %b %Y %H:%M:%S %z")` in local time, as keepalived's Date header. */
export function rfc822Date(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return (
    `${DAYS[d.getDay()]}, ${pad(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`
  );
}

/** Header values never carry a line break (a name cannot inject a header). */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/** The message text keepalived sends after DATA (without the final dot). */
export function composeMail(m: {
  date: Date;
  from: string;
  to: readonly string[];
  subject: string;
  body: string;
}): string {
  return (
    `Date: ${rfc822Date(m.date)}\r\n` +
    `From: ${oneLine(m.from)}\r\n` +
    `Subject: ${oneLine(m.subject)}\r\n` +
    'X-Mailer: Keepalived\r\n' +
    `To: ${oneLine(m.to.join(', '))}\r\n` +
    '\r\n' +
    `${m.body.replace(/\r?\n/g, '\r\n')}\r\n`
  );
}

// ---- which objects mail (keepalived's precedence) ----

type AlertGlobals = Pick<GlobalDefs, 'smtpAlert' | 'smtpAlertVrrp' | 'smtpAlertChecker'>;

/** Instance: own `smtp_alert`, else `smtp_alert_vrrp`, else `smtp_alert`, else off. */
export function instanceAlerts(inst: Pick<VrrpInstance, 'smtpAlert'>, g: AlertGlobals): boolean {
  return inst.smtpAlert ?? g.smtpAlertVrrp ?? g.smtpAlert ?? false;
}

/** Sync group: own `smtp_alert`, else `smtp_alert_vrrp`, else `smtp_alert`, else off. */
export function groupAlerts(group: Pick<SyncGroup, 'smtpAlert'>, g: AlertGlobals): boolean {
  return group.smtpAlert ?? g.smtpAlertVrrp ?? g.smtpAlert ?? false;
}

/** Virtual server (quorum mails): own, else `smtp_alert_checker`, else `smtp_alert`, else off. */
export function virtualServerAlerts(vs: Pick<VirtualServer, 'smtpAlert'>, g: AlertGlobals): boolean {
  return vs.smtpAlert ?? g.smtpAlertChecker ?? g.smtpAlert ?? false;
}

/**
 * Real server: own, else `smtp_alert_checker`, else `smtp_alert`, else ON (keepalived keeps this
 * default for backward compatibility). The config model already falls back to the virtual
 * server's value, which keepalived does not do (see docs/SMTP.md).
 */
export function realServerAlerts(rs: Pick<RealServer, 'smtpAlert'>, g: AlertGlobals): boolean {
  return rs.smtpAlert ?? g.smtpAlertChecker ?? g.smtpAlert ?? true;
}

// ---- sender ----

export interface SmtpAlerterOptions {
  log?: Logger;
  counters?: Counters;
  /** Default: nodemailerTransport. */
  transport?: TransportFactory;
  /** Alerts waiting for a free slot; beyond it the oldest is dropped. Default 64. */
  maxQueued?: number;
  /** Alerts being delivered at once. Default 4. */
  maxInFlight?: number;
  /** Wall clock for the Date header. */
  now?: () => Date;
}

interface Settings {
  relay: SmtpRelay | undefined;
  from: string;
  to: readonly string[];
  routerId: string;
  noEmailFaults: boolean;
  instances: ReadonlyMap<string, boolean>;
  groups: ReadonlyMap<string, boolean>;
}

export interface SmtpAlertStats {
  queued: number;
  inFlight: number;
  sent: number;
  failed: number;
  timedOut: number;
  dropped: number;
  /** Recipients refused by the relay in mails it accepted for the others. */
  rejectedRecipients: number;
}

const relayKey = (r: SmtpRelay | undefined) => (r ? `${r.host}|${r.port}|${r.heloName}|${r.timeoutMs}` : '');

/**
 * The alert sender of one process. `configure` takes the configuration (again on reload); the
 * VRRP methods decide from it whether an object mails, the LVS callers decide themselves
 * (realServerAlerts / virtualServerAlerts) and call `send`.
 */
export class SmtpAlerter {
  private readonly log: Logger;
  private readonly counters: Counters | undefined;
  private readonly factory: TransportFactory;
  private readonly maxQueued: number;
  private readonly maxInFlight: number;
  private readonly now: () => Date;
  private settings: Settings = {
    relay: undefined,
    from: '',
    to: [],
    routerId: hostname(),
    noEmailFaults: false,
    instances: new Map(),
    groups: new Map(),
  };
  private transport: MailTransport | undefined;
  private transportKey = '';
  private readonly queue: Array<{ mail: OutgoingMail; subject: string; transport: MailTransport }> = [];
  private inFlight = 0;
  private readonly idleWaiters: Array<() => void> = [];
  /** keepalived's last_email_state: no second mail for the state already mailed. */
  private readonly lastInstance = new Map<string, AlertState>();
  private readonly lastGroup = new Map<string, AlertState>();
  private readonly st = { sent: 0, failed: 0, timedOut: 0, dropped: 0, rejectedRecipients: 0 };
  private closed = false;

  constructor(opts: SmtpAlerterOptions = {}) {
    this.log = opts.log ?? silentLogger;
    this.counters = opts.counters;
    this.factory = opts.transport ?? nodemailerTransport;
    this.maxQueued = Math.max(1, opts.maxQueued ?? 64);
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
    this.now = opts.now ?? (() => new Date());
  }

  /** Takes the global keywords and each instance's / group's smtp_alert (start and reload). */
  configure(config: Pick<KeepalivedConfig, 'global' | 'vrrpInstances' | 'syncGroups'>): void {
    const g = config.global;
    const relay: SmtpRelay | undefined = g.smtpServer
      ? {
          host: g.smtpServer.host,
          port: g.smtpServer.port,
          heloName: g.smtpHeloName,
          timeoutMs: Math.max(1, g.smtpConnectTimeout) * 1000,
        }
      : undefined;
    this.settings = {
      relay,
      from: g.notificationEmailFrom,
      to: [...g.notificationEmail],
      routerId: g.routerId,
      noEmailFaults: g.noEmailFaults,
      instances: new Map(config.vrrpInstances.map((i) => [i.name, instanceAlerts(i, g)])),
      groups: new Map(config.syncGroups.map((s) => [s.name, groupAlerts(s, g)])),
    };
    for (const n of [...this.lastInstance.keys()])
      if (!this.settings.instances.has(n)) this.lastInstance.delete(n);
    for (const n of [...this.lastGroup.keys()]) if (!this.settings.groups.has(n)) this.lastGroup.delete(n);
    const key = relayKey(relay);
    if (key !== this.transportKey) {
      // Alerts already queued keep the transport they were queued with; it closes once idle.
      const old = this.transport;
      this.transport = undefined;
      this.transportKey = key;
      if (old) this.closeWhenUnused(old);
    }
  }

  /** Whether alerts can go anywhere: keepalived sends only with recipients and a relay. */
  get enabled(): boolean {
    return !this.closed && this.settings.relay !== undefined && this.settings.to.length > 0;
  }

  /** A VRRP instance entered `state` (DELETED sends nothing, as in keepalived). */
  instance(name: string, state: AlertState | 'DELETED'): boolean {
    const ev = this.instanceEvent(name, state);
    return ev !== undefined && this.send(ev);
  }

  /** A sync group entered `state`. */
  group(name: string, state: AlertState): boolean {
    const ev = this.groupEvent(name, state);
    return ev !== undefined && this.send(ev);
  }

  /**
   * The alert for an instance transition, decided now (smtp_alert, no_email_faults, the state last
   * mailed, which it records), to `send` later: a reload between the two does not change the answer.
   */
  instanceEvent(name: string, state: AlertState | 'DELETED'): AlertEvent | undefined {
    if (state === 'DELETED' || !this.settings.instances.get(name)) return undefined;
    return this.vrrp(this.lastInstance, { kind: 'instance', name, state });
  }

  /** The alert for a sync group transition, decided now (see instanceEvent). */
  groupEvent(name: string, state: AlertState): AlertEvent | undefined {
    if (!this.settings.groups.get(name)) return undefined;
    return this.vrrp(this.lastGroup, { kind: 'group', name, state });
  }

  /** Forget what an instance or group last mailed (reload replaced it). */
  forget(name: string): void {
    this.lastInstance.delete(name);
    this.lastGroup.delete(name);
  }

  private vrrp(
    last: Map<string, AlertState>,
    ev: AlertEvent & { kind: 'instance' | 'group' },
  ): AlertEvent | undefined {
    if (!this.enabled) return undefined;
    if (ev.state === 'FAULT' && this.settings.noEmailFaults) return undefined;
    if (last.get(ev.name) === ev.state) return undefined;
    last.set(ev.name, ev.state);
    return ev;
  }

  /**
   * Queue one alert. False when nothing can be sent (no relay or recipients, closed) or the text
   * cannot be built; never throws.
   */
  send(ev: AlertEvent): boolean {
    if (!this.enabled) return false;
    const s = this.settings;
    let mail: OutgoingMail;
    let subject: string;
    let transport: MailTransport;
    try {
      const t = alertText(ev, s.routerId);
      subject = t.subject;
      mail = {
        envelope: { from: s.from, to: s.to },
        raw: composeMail({ date: this.now(), from: s.from, to: s.to, subject: t.subject, body: t.body }),
      };
      this.transport ??= this.factory(s.relay as SmtpRelay);
      transport = this.transport;
    } catch (e) {
      this.fail(e, 'SMTP alert not built');
      return false;
    }
    if (this.queue.length >= this.maxQueued) {
      const old = this.queue.shift();
      this.st.dropped++;
      this.counters?.inc(NotifyErrors.KA_ERR_NOTIFY_SMTP_DROPPED);
      const err = new KaError(
        NotifyErrors.KA_ERR_NOTIFY_SMTP_DROPPED,
        `SMTP alert dropped, ${this.maxQueued} waiting: ${old?.subject ?? ''}`,
        { subject: old?.subject, queued: this.maxQueued },
      );
      this.log.warn({ code: err.code, subject: old?.subject }, err.message);
    }
    this.queue.push({ mail, subject, transport });
    this.counters?.inc('smtp_alerts_queued');
    this.pump();
    return true;
  }

  stats(): SmtpAlertStats {
    return { queued: this.queue.length, inFlight: this.inFlight, ...this.st };
  }

  /** Resolves true once nothing is queued or in flight, false after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const idle = () => {
        clearTimeout(t);
        resolve(true);
      };
      // a waiter that timed out leaves the list (closeWhenUnused drains on every relay change)
      const t = setTimeout(() => {
        const i = this.idleWaiters.indexOf(idle);
        if (i >= 0) this.idleWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      t.unref?.();
      this.idleWaiters.push(idle);
    });
  }

  /**
   * Stop: waits up to `timeoutMs` for queued alerts (keepalived's STOP mails go out at shutdown),
   * then drops the rest (counted) and closes the transport.
   */
  async close(timeoutMs = 0): Promise<void> {
    if (this.closed) return;
    if (timeoutMs > 0) await this.drain(timeoutMs);
    this.closed = true;
    const left = this.queue.splice(0);
    if (left.length > 0) {
      this.st.dropped += left.length;
      this.counters?.inc(NotifyErrors.KA_ERR_NOTIFY_SMTP_DROPPED, left.length);
      this.log.warn(
        { code: NotifyErrors.KA_ERR_NOTIFY_SMTP_DROPPED, count: left.length },
        'SMTP alerts dropped at stop',
      );
    }
    const seen = new Set(left.map((x) => x.transport));
    if (this.transport) seen.add(this.transport);
    this.transport = undefined;
    for (const t of seen) this.safeClose(t);
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.inFlight++;
      let p: Promise<SendResult>;
      try {
        p = job.transport.send(job.mail);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (r) => {
          this.st.sent++;
          this.counters?.inc('smtp_alerts_sent');
          this.log.info({ subject: job.subject }, 'SMTP alert successfully sent.');
          const rejected = r?.rejected ?? [];
          if (rejected.length > 0) {
            // keepalived would have dropped the whole mail at the first refused RCPT TO
            this.st.rejectedRecipients += rejected.length;
            this.counters?.inc('smtp_alert_recipients_rejected', rejected.length);
            this.log.warn({ subject: job.subject, rejected }, `SMTP relay refused ${rejected.join(', ')}`);
          }
        },
        (e: unknown) => this.fail(e, `SMTP alert not sent: ${job.subject}`),
      ).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private fail(e: unknown, context: string): void {
    const err = isKaError(e)
      ? e
      : new KaError(
          NotifyErrors.KA_ERR_NOTIFY_SMTP_FAILED,
          (e as Error)?.message ?? String(e),
          {},
          { cause: e },
        );
    const code =
      err.code === NotifyErrors.KA_ERR_NOTIFY_SMTP_TIMEOUT
        ? err.code
        : NotifyErrors.KA_ERR_NOTIFY_SMTP_FAILED;
    if (code === NotifyErrors.KA_ERR_NOTIFY_SMTP_TIMEOUT) this.st.timedOut++;
    else this.st.failed++;
    this.counters?.inc(code);
    this.log.error({ code, ...err.details }, `${context}: ${err.message}`);
  }

  private closeWhenUnused(t: MailTransport): void {
    if (!this.queue.some((j) => j.transport === t) && this.inFlight === 0) {
      this.safeClose(t);
      return;
    }
    void this.drain(60_000).then(() => this.safeClose(t));
  }

  private safeClose(t: MailTransport): void {
    try {
      t.close();
    } catch {
      // closing an SMTP transport that never connected may throw in some versions; nothing to do
    }
  }
}
