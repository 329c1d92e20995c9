/**
 * Adapter from the frozen config model (src/config/model.ts) to the checker specs and real servers
 * the Scheduler runs. Inheritance (checker ← real_server ← virtual_server) is already resolved by the
 * config stage; this adds the virtualhost fallback, resolves track_file names and loads the SSL block's
 * PEM files.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Checker, Command, KeepalivedConfig, RealServer, VirtualServer } from '../config/model.js';
import { KaError } from '../core/errors.js';
import type { RealServerSpec } from './schedule.js';
import type { CheckSpec, CheckTiming, TlsOpts } from './types.js';

export interface CheckedRealServer {
  /** keepalived's VS name ("IP PORT", "fwmark N", "group NAME"). */
  virtualServer: string;
  /** The real server's `IP:PORT` (`[IPv6]:PORT`), or the bare address without a port. */
  realServer: string;
  spec: RealServerSpec;
  /** For the side that applies the events: weight 0 instead of removal, and the RS scripts
   * (run with the configured words only, nothing appended — keepalived-surface §4.2). */
  inhibitOnFailure: boolean;
  notifyUp: Command | undefined;
  notifyDown: Command | undefined;
}

export interface AdapterResult {
  servers: CheckedRealServer[];
  /** Checkers left out, with the reason (unknown track_file, unreadable SSL files). */
  skipped: KaError[];
}

export function rsKey(rs: Pick<RealServer, 'address' | 'port'>): string {
  if (rs.port === undefined) return rs.address;
  return net.isIPv6(rs.address) ? `[${rs.address}]:${rs.port}` : `${rs.address}:${rs.port}`;
}

function timing(c: Checker): CheckTiming {
  const t: CheckTiming = {
    delayLoop: c.delayLoop,
    retry: c.retry,
    delayBeforeRetry: c.delayBeforeRetry,
    alpha: c.alpha,
    logAllFailures: c.logAllFailures,
  };
  if (c.warmup !== undefined) t.warmup = c.warmup;
  return t;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function tlsFrom(cfg: KeepalivedConfig, read: (p: string) => string): TlsOpts | KaError {
  const ssl = cfg.ssl;
  if (!ssl) return {};
  try {
    return defined({
      verify: ssl.ca !== undefined,
      ca: ssl.ca === undefined ? undefined : read(ssl.ca),
      cert: ssl.certificate === undefined ? undefined : read(ssl.certificate),
      key: ssl.key === undefined ? undefined : read(ssl.key),
      password: ssl.password,
    });
  } catch (e) {
    return new KaError('KA_ERR_CHECK_SPEC', `SSL block: ${(e as Error).message}`, {}, { cause: e });
  }
}

export function checkSpecFromModel(
  c: Checker,
  ctx: { cfg: KeepalivedConfig; vs: VirtualServer; rs: RealServer; tls: TlsOpts | KaError },
): CheckSpec | KaError {
  const t = timing(c);
  switch (c.kind) {
    case 'HTTP_GET':
    case 'SSL_GET': {
      if (c.kind === 'SSL_GET' && ctx.tls instanceof KaError) return ctx.tls;
      const vhost = c.virtualhost ?? ctx.rs.virtualhost ?? ctx.vs.virtualhost;
      return defined({
        kind: c.kind,
        ...conn(c),
        ...t,
        fastRecovery: c.fastRecovery,
        urls: c.urls.map((u) =>
          defined({
            path: u.path,
            digest: u.digest,
            statusCodes: u.statusCodes,
            virtualhost: u.virtualhost,
            regex: u.regex,
            regexNoMatch: u.regexNoMatch,
            regexOptions: u.regexOptions,
            regexMinOffset: u.regexMinOffset,
            regexMaxOffset: u.regexMaxOffset,
          }),
        ),
        virtualhost: vhost,
        httpProtocol: c.httpProtocol,
        enableSni: c.enableSni,
        tls: c.kind === 'SSL_GET' && !(ctx.tls instanceof KaError) ? ctx.tls : undefined,
      });
    }
    case 'TCP_CHECK':
    case 'PING_CHECK':
      return { kind: c.kind, ...conn(c), ...t };
    case 'SMTP_CHECK':
      return { kind: c.kind, ...conn(c), ...t, heloName: c.heloName };
    case 'DNS_CHECK':
      return { kind: c.kind, ...conn(c), ...t, type: c.type, name: c.name };
    case 'UDP_CHECK':
      return defined({
        kind: c.kind,
        ...conn(c),
        ...t,
        payload: c.payload,
        requireReply: c.requireReply,
        minReplyLength: c.minReplyLength,
        maxReplyLength: c.maxReplyLength,
      });
    case 'MISC_CHECK':
      return defined({
        kind: c.kind,
        ...t,
        miscPath: c.miscPath.argv,
        miscTimeout: c.miscTimeout,
        miscDynamic: c.miscDynamic,
        user: c.miscPath.user,
        group: c.miscPath.group,
      });
    case 'FILE_CHECK': {
      const tf = ctx.cfg.trackFiles.find((f) => f.name === c.trackFile);
      if (!tf)
        return new KaError('KA_ERR_CHECK_SPEC', `FILE_CHECK: unknown track_file ${c.trackFile}`, {
          pos: c.pos,
        });
      return { kind: c.kind, ...t, file: tf.file, weight: c.weight, reverse: c.reverse };
    }
    case 'BFD_CHECK':
      // The config stage already removed a BFD_CHECK naming no bfd_instance (keepalived: "BFD %s not configured").
      return { kind: c.kind, ...t, name: c.name };
  }
}

function conn(c: Extract<Checker, { connectIp: string }>) {
  return defined({
    connectIp: c.connectIp,
    connectPort: c.connectPort,
    bindto: c.bindto,
    bindIf: c.bindIf,
    bindPort: c.bindPort,
    fwmark: c.fwmark,
    connectTimeout: c.connectTimeout,
  });
}

/** Every real server of every virtual server, with its checkers as specs. */
export function checkersFromConfig(
  cfg: KeepalivedConfig,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): AdapterResult {
  const tls = tlsFrom(cfg, read);
  const servers: CheckedRealServer[] = [];
  const skipped: KaError[] = [];
  for (const vs of cfg.virtualServers) {
    for (const rs of vs.realServers) {
      const checkers: CheckSpec[] = [];
      for (const c of rs.checkers) {
        const s = checkSpecFromModel(c, { cfg, vs, rs, tls });
        if (s instanceof KaError) skipped.push(s);
        else checkers.push(s);
      }
      const key = rsKey(rs);
      servers.push({
        virtualServer: vs.name,
        realServer: key,
        spec: {
          id: `${vs.name}|${key}`,
          label: `[${rs.address}]:${vs.protocol.toLowerCase()}:${rs.port ?? 0}`,
          weight: rs.weight,
          checkers,
        },
        inhibitOnFailure: rs.inhibitOnFailure,
        notifyUp: rs.notifyUp,
        notifyDown: rs.notifyDown,
      });
    }
  }
  return { servers, skipped };
}
