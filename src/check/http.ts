/**
 * HTTP_GET and SSL_GET. The request is written by hand on a net/tls socket rather than with node:http
 * because the digest must be keepalived's: MD5 over the raw bytes after the header, cut at
 * Content-Length, with no chunked decoding (node:http would decode chunks and give another digest), and
 * the request must be keepalived's exact bytes (`User-Agent: KeepAliveClient`, Host with port).
 * Timeouts follow keepalived: connect_timeout bounds the connect and each wait for data.
 */
import { createHash, type Hash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { isKaError, KaError } from '../core/errors.js';
import {
  checkConnOpts,
  connectWith,
  Deadline,
  deadlineError,
  fail,
  memo,
  socketError,
  targetOf,
  timerMs,
} from './common.js';
import type { CheckResult, HttpCheckSpec, HttpProtocol, UrlSpec } from './types.js';

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

/**
 * One GET: connect (TLS for SSL_GET), send, read to EOF or Content-Length. Rejects with a KaError.
 * Written as callbacks on the socket's events rather than awaits over a stream reader: it runs
 * thousands of times a second, and each await, signal and Buffer.concat showed in the profile.
 */
export function fetchUrl(
  spec: HttpCheckSpec,
  url: UrlSpec,
  signal: AbortSignal,
  opts: { keepBody?: boolean } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    new HttpFetch(spec, url, signal, opts.keepBody ?? false, resolve, reject).start();
  });
}

/** Where a fetch stands; a deadline or error is reported with the phase's wording. */
const Phase = { Connect: 0, Tls: 1, Read: 2, Done: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** One fetch's state. Timeouts follow keepalived: connect_timeout bounds the connect and each wait for data. */
class HttpFetch {
  private readonly t0 = process.hrtime.bigint();
  private phase: Phase = Phase.Connect;
  private deadline: Deadline | undefined;
  private raw: net.Socket | undefined;
  /** The socket the request goes over (the TLS socket for SSL_GET). */
  private sock: net.Socket | undefined;
  /** Bytes before the end of the header (null once the header is parsed). */
  private head: Buffer | null = Buffer.alloc(0);
  private header: Buffer | undefined;
  private status = 0;
  private contentLength: number | null = null;
  private md5: Hash | undefined;
  private kept: Buffer[] | undefined;
  private received = 0;
  private request: Buffer | undefined;

  constructor(
    private readonly spec: HttpCheckSpec,
    private readonly url: UrlSpec,
    private readonly signal: AbortSignal,
    private readonly keepBody: boolean,
    private readonly resolve: (r: HttpResponse) => void,
    private readonly reject: (e: KaError) => void,
  ) {}

  start(): void {
    if (this.signal.aborted) {
      this.fail(deadlineError(true, `${this.spec.kind} connect`, { target: targetOf(this.spec) }));
      return;
    }
    this.deadline = new Deadline(this.signal, timerMs(this.spec.connectTimeout), this.onDeadline);
    try {
      // one write of the request fits one segment: Nagle cannot delay it (see socketOptions)
      this.request = requestOf(this.spec, this.url);
      const noDelay = this.spec.kind === 'SSL_GET' || this.request.length > 1024;
      this.raw = connectWith(this.spec, `${this.spec.kind} connect`, this.onConnect, noDelay);
    } catch (e) {
      this.fail(socketError(e, `${this.spec.kind} connect`, { target: targetOf(this.spec) }));
    }
  }

  private details(): Record<string, unknown> {
    return { target: targetOf(this.spec), url: this.url.path };
  }

  private readonly onDeadline = (outerAborted: boolean): void => {
    if (this.phase === Phase.Connect)
      this.fail(deadlineError(outerAborted, `${this.spec.kind} connect`, { target: targetOf(this.spec) }));
    else if (this.phase === Phase.Tls)
      this.fail(deadlineError(outerAborted, 'SSL handshake', this.details()));
    else this.fail(deadlineError(outerAborted, this.spec.kind, this.details()));
  };

  private readonly onConnect = (r: net.Socket | KaError): void => {
    if (isKaError(r)) {
      this.fail(r);
      return;
    }
    this.deadline?.touch();
    if (this.spec.kind === 'SSL_GET') this.startTls(r);
    else this.startRequest(r);
  };

  private startTls(raw: net.Socket): void {
    this.phase = Phase.Tls;
    const spec = this.spec;
    const vhost = this.url.virtualhost ?? spec.virtualhost;
    const o: tls.ConnectionOptions = { socket: raw, rejectUnauthorized: spec.tls?.verify ?? false };
    if (spec.enableSni && vhost && !net.isIP(vhost)) o.servername = vhost;
    if (spec.tls?.ca) o.ca = spec.tls.ca;
    if (spec.tls?.cert) o.cert = spec.tls.cert;
    if (spec.tls?.key) o.key = spec.tls.key;
    if (spec.tls?.password) o.passphrase = spec.tls.password;
    if (!o.servername) o.checkServerIdentity = () => undefined;
    let s: tls.TLSSocket;
    try {
      s = tls.connect(o);
    } catch (e) {
      this.fail(this.tlsError(e));
      return;
    }
    this.sock = s;
    s.on('error', this.onError);
    s.once('secureConnect', () => {
      this.deadline?.touch();
      this.startRequest(s);
    });
  }

  private tlsError(e: unknown): KaError {
    const k = socketError(e, 'SSL handshake', this.details());
    return k.code === 'KA_ERR_CHECK_IO'
      ? new KaError('KA_ERR_CHECK_TLS', k.message, k.details, { cause: e })
      : k;
  }

  private readonly onError = (e: Error): void => {
    if (this.phase === Phase.Tls) this.fail(this.tlsError(e));
    else if (this.phase === Phase.Read) this.fail(socketError(e, this.spec.kind, this.details()));
  };

  private startRequest(s: net.Socket): void {
    this.phase = Phase.Read;
    this.sock = s;
    if (s === this.raw) s.on('error', this.onError);
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onEnd);
    s.write(this.request ?? requestOf(this.spec, this.url));
  }

  private readonly onData = (b: Buffer): void => {
    if (this.phase !== Phase.Read) return;
    this.deadline?.touch();
    if (this.head !== null) {
      const buf = this.head.length === 0 ? b : Buffer.concat([this.head, b]);
      const headerEnd = buf.indexOf(HEADER_END);
      if (headerEnd < 0) {
        if (buf.length > 65536)
          this.fail(new KaError('KA_ERR_CHECK_BAD_RESPONSE', 'HTTP header over 64 KiB', this.details()));
        else this.head = buf;
        return;
      }
      this.head = null;
      const header = buf.subarray(0, headerEnd + 4);
      const text = header.toString('latin1');
      const m = STATUS_LINE.exec(text);
      if (!m) {
        this.fail(new KaError('KA_ERR_CHECK_BAD_RESPONSE', 'no HTTP status line', this.details()));
        return;
      }
      this.header = header;
      this.status = Number(m[1]);
      const cl = CONTENT_LENGTH.exec(text);
      this.contentLength = cl ? Number(cl[1]) : null;
      this.md5 = createHash('md5');
      if (this.keepBody) this.kept = [];
      this.take(buf.subarray(headerEnd + 4));
    } else this.take(b);
    if (this.contentLength !== null && this.received >= this.contentLength) this.succeed();
  };

  private readonly onEnd = (): void => {
    if (this.phase !== Phase.Read) return;
    if (this.head === null) this.succeed();
    else
      this.fail(
        this.head.length === 0
          ? new KaError('KA_ERR_CHECK_NO_DATA', 'Read, no data received', this.details())
          : new KaError('KA_ERR_CHECK_TRUNCATED', 'connection closed inside the HTTP header', this.details()),
      );
  };

  /** Body bytes: hashed (and kept when asked) up to Content-Length, all of them counted. */
  private take(b: Buffer): void {
    const cl = this.contentLength;
    const room = cl === null ? b.length : Math.max(0, Math.min(b.length, cl - this.received));
    if (room > 0) {
      const part = room === b.length ? b : b.subarray(0, room);
      this.md5?.update(part);
      this.kept?.push(part);
    }
    this.received += b.length;
  }

  private succeed(): void {
    const res: HttpResponse = {
      status: this.status,
      header: this.header ?? Buffer.alloc(0),
      contentLength: this.contentLength,
      received: this.received,
      digest: (this.md5 ?? createHash('md5')).digest('hex'),
      elapsedUs: Number((process.hrtime.bigint() - this.t0) / 1000n),
    };
    if (this.kept) res.body = Buffer.concat(this.kept);
    this.close();
    this.resolve(res);
  }

  private fail(e: KaError): void {
    if (this.phase === Phase.Done) return;
    this.close();
    this.reject(e);
  }

  private close(): void {
    this.phase = Phase.Done;
    this.deadline?.clear();
    this.sock?.destroy();
    this.raw?.destroy();
  }
}

const STATUS_LINE = /^HTTP\/\d+\.\d+\s+(\d{3})/;
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

const requests = new WeakMap<HttpCheckSpec, Map<UrlSpec, Buffer>>();
/** The request bytes of one url of a spec, built once. */
function requestOf(spec: HttpCheckSpec, url: UrlSpec): Buffer {
  let m = requests.get(spec);
  if (!m) {
    m = new Map();
    requests.set(spec, m);
  }
  let b = m.get(url);
  if (!b) {
    b = requestBytes(
      url.path,
      spec.connectIp,
      spec.connectPort,
      spec.httpProtocol,
      url.virtualhost ?? spec.virtualhost,
    );
    m.set(url, b);
  }
  return b;
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

const specErrors = new WeakMap<HttpCheckSpec, KaError | null>();

export async function run(spec: HttpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = memo(specErrors, spec, checkHttpSpec);
  if (bad) return fail(bad);
  for (const url of spec.urls) {
    let res: HttpResponse;
    try {
      res = await fetchUrl(spec, url, signal, { keepBody: url.regex !== undefined });
    } catch (e) {
      return fail(isKaError(e) ? e : socketError(e, spec.kind, { target: targetOf(spec), url: url.path }));
    }
    const details = { target: targetOf(spec), url: url.path };
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
