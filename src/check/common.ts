/** Shared plumbing of the network checkers: per-attempt deadline, error mapping, TCP connect. */
import net from 'node:net';
import { isKaError, KaError } from '../core/errors.js';
import type { CheckResult, ConnOpts } from './types.js';

/** The attempt's own signal: aborts on the caller's signal or after `seconds`. */
export function attemptSignal(signal: AbortSignal, seconds: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(timerMs(seconds))]);
}

/** Seconds to a node timer delay: at least 1 ms, at most 2^31−1 ms (node fires larger delays at once). */
export function timerMs(seconds: number): number {
  return Math.min(2147483647, Math.max(1, Math.round(seconds * 1000)));
}

/**
 * What a checker derives from its spec and reuses on every attempt (validation result, target text,
 * request bytes). Specs are immutable once scheduled, so a WeakMap keyed by the spec object is enough;
 * it saves an IP-parsing regex or two and some allocations per attempt (bench/check/percheck.mjs).
 */
export function memo<K extends object, V>(cache: WeakMap<K, V>, key: K, make: (k: K) => V): V {
  let v = cache.get(key);
  if (v === undefined && !cache.has(key)) {
    v = make(key);
    cache.set(key, v);
  }
  return v as V;
}

/**
 * One attempt's deadline without AbortSignal.any / AbortSignal.timeout (both allocate signals, weak
 * references and a timer that outlives the attempt; they were the largest JS cost per check). One
 * refreshable timer plus one listener on the caller's signal; `fire` runs at most once, on expiry
 * (timedOut) or on the caller's abort, until `clear()`.
 */
export class Deadline {
  private readonly timer: NodeJS.Timeout;
  private cleared = false;

  constructor(
    private readonly outer: AbortSignal,
    ms: number,
    private readonly fire: (outerAborted: boolean) => void,
  ) {
    this.timer = setTimeout(this.onTimer, ms);
    // an already aborted signal fires no 'abort' event: end at once (after the caller's setup)
    if (outer.aborted) queueMicrotask(this.onAbort);
    else outer.addEventListener('abort', this.onAbort);
  }

  private readonly onTimer = (): void => this.end(false);
  private readonly onAbort = (): void => this.end(true);

  private end(outerAborted: boolean): void {
    if (this.cleared) return;
    this.clear();
    this.fire(outerAborted);
  }

  /** Restart the full delay (progress was made). */
  touch(): void {
    if (!this.cleared) this.timer.refresh();
  }

  clear(): void {
    if (this.cleared) return;
    this.cleared = true;
    clearTimeout(this.timer);
    this.outer.removeEventListener('abort', this.onAbort);
  }
}

/** `abortError` for a Deadline's `fire`: ABORTED when the caller cancelled, else TIMEOUT. */
export function deadlineError(
  outerAborted: boolean,
  what: string,
  details: Record<string, unknown>,
): KaError {
  return outerAborted
    ? new KaError('KA_ERR_CHECK_ABORTED', `${what}: cancelled`, details)
    : new KaError('KA_ERR_CHECK_TIMEOUT', `${what}: timed out`, details);
}

export function target(co: Pick<ConnOpts, 'connectIp' | 'connectPort'>): string {
  return net.isIPv6(co.connectIp)
    ? `[${co.connectIp}]:${co.connectPort}`
    : `${co.connectIp}:${co.connectPort}`;
}

/** Why an attempt signal fired: the caller cancelled, or the deadline passed. */
export function abortError(outer: AbortSignal, what: string, details: Record<string, unknown>): KaError {
  return deadlineError(outer.aborted, what, details);
}

/** Map a socket errno to a check code. */
export function socketError(e: unknown, what: string, details: Record<string, unknown>): KaError {
  if (isKaError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const msg = `${what}: ${(e as Error | undefined)?.message ?? String(e)}`;
  const d = { ...details, errno: code };
  switch (code) {
    case 'ECONNREFUSED':
      return new KaError('KA_ERR_CHECK_REFUSED', msg, d, { cause: e });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return new KaError('KA_ERR_CHECK_UNREACHABLE', msg, d, { cause: e });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return new KaError('KA_ERR_CHECK_RESET', msg, d, { cause: e });
    case 'ETIMEDOUT':
      return new KaError('KA_ERR_CHECK_TIMEOUT', msg, d, { cause: e });
    default:
      if (
        typeof code === 'string' &&
        (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /CERT|SELF_SIGNED/.test(code))
      )
        return new KaError('KA_ERR_CHECK_TLS', msg, d, { cause: e });
      return new KaError('KA_ERR_CHECK_IO', msg, d, { cause: e });
  }
}

export function fail(error: KaError): CheckResult {
  return { ok: false, error };
}

/** Validate the connection keywords; a bad spec is a typed error, never an exception from `net`. */
export function checkConnOpts(co: ConnOpts): KaError | null {
  if (!net.isIP(co.connectIp)) return new KaError('KA_ERR_CHECK_SPEC', `bad connect_ip ${co.connectIp}`);
  if (!Number.isInteger(co.connectPort) || co.connectPort < 1 || co.connectPort > 65535)
    return new KaError('KA_ERR_CHECK_SPEC', `bad connect_port ${co.connectPort}`);
  if (co.bindto !== undefined && !net.isIP(co.bindto))
    return new KaError('KA_ERR_CHECK_SPEC', `bad bindto ${co.bindto}`);
  if (co.bindPort !== undefined && (!Number.isInteger(co.bindPort) || co.bindPort < 0 || co.bindPort > 65535))
    return new KaError('KA_ERR_CHECK_SPEC', `bad bind_port ${co.bindPort}`);
  if (!(co.connectTimeout > 0))
    return new KaError('KA_ERR_CHECK_SPEC', `bad connect_timeout ${co.connectTimeout}`);
  return null;
}

/** Host for node's socket options, with the scope id for a link-local IPv6 target and bind_if. */
export function connectHost(co: ConnOpts): string {
  return co.bindIf && /^fe80:/i.test(co.connectIp) && !co.connectIp.includes('%')
    ? `${co.connectIp}%${co.bindIf}`
    : co.connectIp;
}

/**
 * `noDelay` (TCP_NODELAY) matters only where we write twice before an answer (TLS handshake then
 * request, SMTP); a TCP_CHECK never writes and an HTTP GET is one small write, so they skip the
 * setsockopt(2) call.
 */
export function socketOptions(co: ConnOpts, noDelay = true): net.TcpNetConnectOpts {
  const o: net.TcpNetConnectOpts = { host: connectHost(co), port: co.connectPort, noDelay };
  if (co.bindto !== undefined) o.localAddress = co.bindto;
  if (co.bindPort !== undefined) o.localPort = co.bindPort;
  return o;
}

/**
 * A byte stream that can be awaited: resolves reads as data arrives, and rejects with the socket's
 * error mapped to a check code, or with TIMEOUT/ABORTED when the attempt signal fires.
 */
export class SocketReader {
  private chunks: Buffer[] = [];
  private ended = false;
  private error: KaError | null = null;
  private wake: (() => void) | null = null;

  constructor(
    readonly sock: net.Socket,
    signal: AbortSignal,
    outer: AbortSignal,
    what: string,
    details: Record<string, unknown>,
  ) {
    sock.on('data', (b: Buffer) => {
      this.chunks.push(b);
      this.notify();
    });
    sock.on('end', () => {
      this.ended = true;
      this.notify();
    });
    sock.on('close', () => {
      this.ended = true;
      this.notify();
    });
    sock.on('error', (e) => {
      this.error ??= socketError(e, what, details);
      this.notify();
    });
    const onAbort = (): void => {
      this.error ??= abortError(outer, what, details);
      sock.destroy();
      this.notify();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    sock.once('close', () => signal.removeEventListener('abort', onAbort));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Next chunk, or null at end of stream. Throws the mapped error. */
  async read(): Promise<Buffer | null> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) return c;
      if (this.error) throw this.error;
      if (this.ended) return null;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  /** Read until `done(buffered)` returns true or the stream ends; returns all bytes read. */
  async readUntil(done: (buf: Buffer) => boolean): Promise<{ buf: Buffer; eof: boolean }> {
    let buf = Buffer.alloc(0);
    for (;;) {
      if (done(buf)) return { buf, eof: false };
      const c = await this.read();
      if (c === null) return { buf, eof: true };
      buf = Buffer.concat([buf, c]);
    }
  }
}

const targets = new WeakMap<ConnOpts, string>();
/** `target(co)`, computed once per spec. */
export function targetOf(co: ConnOpts): string {
  return memo(targets, co, target);
}

const connErrors = new WeakMap<ConnOpts, KaError | null>();
/** `checkConnOpts(co)`, computed once per spec. */
export function connOptsError(co: ConnOpts): KaError | null {
  return memo(connErrors, co, checkConnOpts);
}

/**
 * Connect without promises or signals: calls `done(sock)` once connected, or `done(error)` on a
 * socket error (the socket is then destroyed). The caller's Deadline handles expiry and destroys the
 * socket there.
 */
export function connectWith(
  co: ConnOpts,
  what: string,
  done: (r: net.Socket | KaError) => void,
  noDelay = true,
): net.Socket {
  const sock = net.connect(socketOptions(co, noDelay));
  let connected = false;
  const onConnect = (): void => {
    connected = true;
    done(sock);
  };
  // Stays for the socket's life: a later error reaches the caller's own listener, or shows as 'close'.
  sock.on('error', (e) => {
    if (connected) return;
    sock.removeListener('connect', onConnect);
    sock.destroy();
    done(socketError(e, what, { target: targetOf(co) }));
  });
  sock.once('connect', onConnect);
  return sock;
}

/** Open a TCP connection honouring bindto/bind_port; resolves once connected. */
export function tcpConnect(
  co: ConnOpts,
  signal: AbortSignal,
  outer: AbortSignal,
  what: string,
): Promise<net.Socket> {
  const details = { target: target(co) };
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(outer, what, details));
      return;
    }
    const sock = net.connect(socketOptions(co));
    const onAbort = (): void => {
      sock.destroy();
      reject(abortError(outer, what, details));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      sock.removeAllListeners('error');
      sock.on('error', () => {}); // a later error reaches the reader, or shows as 'close'
      resolve(sock);
    });
    sock.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      reject(socketError(e, what, details));
    });
  });
}
