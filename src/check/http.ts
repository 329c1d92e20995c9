/**
 * HTTP_GET and SSL_GET. The request is written by hand on a net/tls socket rather than with node:http
 * because the digest must be keepalived's: MD5 over the raw bytes after the header, cut at
 * Content-Length, with no chunked decoding (node:http would decode chunks and give another digest), and
 * the request must be keepalived's exact bytes (`User-Agent: KeepAliveClient`, Host with port).
 * Timeouts follow keepalived: connect_timeout bounds the connect and each wait for data.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { isKaError, KaError } from '../core/errors.js';
import {
  abortError,
  checkConnOpts,
  fail,
  SocketReader,
  socketError,
  target,
  tcpConnect,
  timerMs,
} from './common.js';
import type { CheckResult, HttpCheckSpec, HttpProtocol, UrlSpec } from './types.js';

/** Inactivity deadline: aborts after `ms` without progress; `touch()` on each progress. */
class IdleDeadline {
  private readonly ctl = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal;
  constructor(outer: AbortSignal, ms: number) {
    this.timer = setTimeout(() => this.ctl.abort(), ms);
    this.signal = AbortSignal.any([outer, this.ctl.signal]);
  }
  touch(): void {
    this.timer.refresh();
  }
  done(): void {
    clearTimeout(this.timer);
  }
}

export function requestBytes(
  path: string,
  host: string,
  port: number,
  proto: HttpProtocol = '1.0',
  virtualhost?: string,
): Buffer {
  const minor = proto === '1.1' ? 1 : 0;
  const close = proto === '1.0' ? '' : 'Connection: close\r\n';
  const hostHdr = virtualhost ?? (net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);
  return Buffer.from(
    `GET ${path} HTTP/1.${minor}\r\nUser-Agent: KeepAliveClient\r\n${close}Host: ${hostHdr}\r\n\r\n`,
    'latin1',
  );
}

export interface HttpResponse {
  status: number;
  header: Buffer;
  contentLength: number | null;
  /** Body bytes received (after the header; all of them, even past Content-Length). */
  received: number;
  /** MD5 hex of the body, cut at Content-Length. */
  digest: string;
  /** Body bytes, kept only when asked (regex, genhash -v), cut at Content-Length. */
  body?: Buffer;
  elapsedUs: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One GET: connect (TLS for SSL_GET), send, read to EOF or Content-Length. Throws KaError. */
export async function fetchUrl(
  spec: HttpCheckSpec,
  url: UrlSpec,
  signal: AbortSignal,
  opts: { keepBody?: boolean } = {},
): Promise<HttpResponse> {
  const t0 = process.hrtime.bigint();
  const details = { target: target(spec), url: url.path };
  const idle = new IdleDeadline(signal, timerMs(spec.connectTimeout));
  const vhost = url.virtualhost ?? spec.virtualhost;
  let sock: net.Socket | undefined;
  try {
    sock = await tcpConnect(spec, idle.signal, signal, `${spec.kind} connect`);
    idle.touch();
    if (spec.kind === 'SSL_GET') sock = await tlsWrap(sock, spec, vhost, idle.signal, signal, details);
    idle.touch();
    const reader = new SocketReader(sock, idle.signal, signal, spec.kind, details);
    sock.write(requestBytes(url.path, spec.connectIp, spec.connectPort, spec.httpProtocol, vhost));
    let buf = Buffer.alloc(0);
    let headerEnd = -1;
    for (;;) {
      const c = await reader.read();
      idle.touch();
      if (c === null) break;
      buf = Buffer.concat([buf, c]);
      headerEnd = buf.indexOf(HEADER_END);
      if (headerEnd >= 0) break;
      if (buf.length > 65536)
        throw new KaError('KA_ERR_CHECK_BAD_RESPONSE', 'HTTP header over 64 KiB', details);
    }
    if (headerEnd < 0) {
      throw buf.length === 0
        ? new KaError('KA_ERR_CHECK_NO_DATA', 'Read, no data received', details)
        : new KaError('KA_ERR_CHECK_TRUNCATED', 'connection closed inside the HTTP header', details);
    }
    const header = buf.subarray(0, headerEnd + 4);
    const text = header.toString('latin1');
    const m = /^HTTP\/\d+\.\d+\s+(\d{3})/.exec(text);
    if (!m) throw new KaError('KA_ERR_CHECK_BAD_RESPONSE', 'no HTTP status line', details);
    const status = Number(m[1]);
    const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(text);
    const contentLength = cl ? Number(cl[1]) : null;
    const md5 = createHash('md5');
    const kept: Buffer[] = [];
    let received = 0;
    const take = (b: Buffer): void => {
      const room =
        contentLength === null ? b.length : Math.max(0, Math.min(b.length, contentLength - received));
      if (room > 0) {
        const part = b.subarray(0, room);
        md5.update(part);
        if (opts.keepBody) kept.push(part);
      }
      received += b.length;
    };
    take(buf.subarray(headerEnd + 4));
    while (contentLength === null || received < contentLength) {
      const c = await reader.read();
      idle.touch();
      if (c === null) break;
      take(c);
    }
    const res: HttpResponse = {
      status,
      header,
      contentLength,
      received,
      digest: md5.digest('hex'),
      elapsedUs: Number((process.hrtime.bigint() - t0) / 1000n),
    };
    if (opts.keepBody) res.body = Buffer.concat(kept);
    return res;
  } catch (e) {
    if (isKaError(e)) throw e;
    throw socketError(e, spec.kind, details);
  } finally {
    idle.done();
    sock?.destroy();
  }
}

function tlsWrap(
  raw: net.Socket,
  spec: HttpCheckSpec,
  vhost: string | undefined,
  signal: AbortSignal,
  outer: AbortSignal,
  details: Record<string, unknown>,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const o: tls.ConnectionOptions = {
      socket: raw,
      rejectUnauthorized: spec.tls?.verify ?? false,
    };
    if (spec.enableSni && vhost && !net.isIP(vhost)) o.servername = vhost;
    if (spec.tls?.ca) o.ca = spec.tls.ca;
    if (spec.tls?.cert) o.cert = spec.tls.cert;
    if (spec.tls?.key) o.key = spec.tls.key;
    if (spec.tls?.password) o.passphrase = spec.tls.password;
    if (!o.servername) o.checkServerIdentity = () => undefined;
    const s = tls.connect(o);
    const onAbort = (): void => {
      s.destroy();
      reject(abortError(outer, 'SSL handshake', details));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      s.removeAllListeners('error');
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      s.destroy();
      const k = socketError(e, 'SSL handshake', details);
      reject(
        k.code === 'KA_ERR_CHECK_IO'
          ? new KaError('KA_ERR_CHECK_TLS', k.message, k.details, { cause: e })
          : k,
      );
    });
  });
}

export function statusAccepted(url: UrlSpec, status: number): boolean {
  const set = url.statusCodes;
  if (!set || set.length === 0) return status >= 200 && status <= 299;
  return set.some((c) => (typeof c === 'number' ? c === status : status >= c[0] && status <= c[1]));
}

const REGEX_FLAGS: Record<string, string> = { caseless: 'i', multiline: 'm', dotall: 's' };

export function regexAccepted(url: UrlSpec, body: Buffer): boolean {
  if (url.regex === undefined) return true;
  const flags = [...new Set((url.regexOptions ?? []).map((o) => REGEX_FLAGS[o] ?? ''))].join('');
  const re = new RegExp(url.regex, `${flags}g`);
  const text = body.toString('latin1');
  re.lastIndex = url.regexMinOffset ?? 0;
  const m = re.exec(text);
  const matched = m !== null && (url.regexMaxOffset === undefined || m.index <= url.regexMaxOffset);
  return matched !== (url.regexNoMatch ?? false);
}

/** Validate what `new RegExp` / the digest comparison would otherwise throw on. */
export function checkHttpSpec(spec: HttpCheckSpec): KaError | null {
  const bad = checkConnOpts(spec);
  if (bad) return bad;
  if (spec.urls.length === 0)
    return new KaError('KA_ERR_CHECK_SPEC', 'HTTP/SSL_GET checker has no urls specified');
  for (const u of spec.urls) {
    if (u.digest !== undefined && !/^[0-9a-fA-F]{32}$/.test(u.digest))
      return new KaError('KA_ERR_CHECK_SPEC', `digest '${u.digest}' is not 32 hex digits`);
    for (const c of u.statusCodes ?? []) {
      const [lo, hi] = typeof c === 'number' ? [c, c] : c;
      if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 100 && hi <= 999 && lo <= hi))
        return new KaError('KA_ERR_CHECK_SPEC', `Invalid HTTP_GET status code '${String(c)}'`);
    }
    if (u.regex !== undefined) {
      try {
        new RegExp(u.regex);
      } catch (e) {
        return new KaError('KA_ERR_CHECK_SPEC', `bad regex ${u.regex}: ${(e as Error).message}`);
      }
    }
  }
  return null;
}

export async function run(spec: HttpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = checkHttpSpec(spec);
  if (bad) return fail(bad);
  for (const url of spec.urls) {
    const details = { target: target(spec), url: url.path };
    let res: HttpResponse;
    try {
      res = await fetchUrl(spec, url, signal, { keepBody: url.regex !== undefined });
    } catch (e) {
      return fail(isKaError(e) ? e : socketError(e, spec.kind, details));
    }
    if (!statusAccepted(url, res.status))
      return fail(
        new KaError('KA_ERR_CHECK_STATUS', `HTTP status code error (${res.status})`, {
          ...details,
          status: res.status,
        }),
      );
    if (res.contentLength !== null && res.received < res.contentLength)
      return fail(
        new KaError(
          'KA_ERR_CHECK_TRUNCATED',
          `content_length (${res.contentLength}) does not match received bytes (${res.received})`,
          details,
        ),
      );
    if (url.digest !== undefined && url.digest.toLowerCase() !== res.digest)
      return fail(
        new KaError('KA_ERR_CHECK_DIGEST', 'MD5 digest error', {
          ...details,
          expected: url.digest,
          got: res.digest,
        }),
      );
    if (!regexAccepted(url, res.body ?? Buffer.alloc(0)))
      return fail(new KaError('KA_ERR_CHECK_REGEX', 'Regex match failed', details));
  }
  return { ok: true };
}
