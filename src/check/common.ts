/** Shared plumbing of the network checkers: per-attempt deadline, error mapping, TCP connect. */
import { closeSync } from 'node:fs';
import net from 'node:net';
import { isKaError, KaError } from '../core/errors.js';
import { SysError } from '../sys/errors.js';
import { markedSocketFd } from '../sys/marked-socket.js';
import type { CheckResult, ConnOpts } from './types.js';

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

/** The error for a Deadline's `fire`: ABORTED when the caller cancelled, else TIMEOUT. */
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
  if (co.fwmark !== undefined && !(Number.isInteger(co.fwmark) && co.fwmark >= 0 && co.fwmark <= 0xffffffff))
    return new KaError('KA_ERR_CHECK_SPEC', `bad fwmark ${co.fwmark}`);
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
 * socket error (the socket is then destroyed). With `fwmark` the socket carries SO_MARK (markedSocket,
 * whose failure is thrown). The caller's Deadline handles expiry and destroys the
 * socket there.
 */
export function connectWith(
  co: ConnOpts,
  what: string,
  done: (r: net.Socket | KaError) => void,
  noDelay = true,
): net.Socket {
  const sock =
    co.fwmark === undefined
      ? net.connect(socketOptions(co, noDelay))
      : connectAdopted(markedSocket(co, co.fwmark, noDelay), socketOptions(co, noDelay));
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

/** `sock.connect(opts)` for an adopted descriptor: a synchronous throw destroys it (closing the fd). */
export function connectAdopted(sock: net.Socket, opts: net.TcpNetConnectOpts): net.Socket {
  try {
    return sock.connect(opts);
  } catch (e) {
    sock.destroy();
    throw e;
  }
}

/**
 * A socket carrying SO_MARK (`fwmark`), not yet connected, as a descriptor for node to adopt
 * (src/sys/marked-socket.ts; UDP sockets are bound there, as node cannot bind an adopted descriptor).
 * Failures are thrown as a check error mapped from the errno (EPERM: KA_ERR_CHECK_IO, errno in
 * details), as keepalived fails the check when setsockopt(SO_MARK) fails.
 */
export function markedFd(
  co: ConnOpts,
  mark: number,
  type: 'SOCK_STREAM' | 'SOCK_DGRAM',
  bind = false,
): number {
  try {
    const v6 = net.isIPv6(co.connectIp);
    return markedSocketFd(
      v6 ? 6 : 4,
      type === 'SOCK_STREAM' ? 'stream' : 'dgram',
      mark,
      bind && (co.bindto !== undefined || co.bindPort !== undefined)
        ? { addr: co.bindto, port: co.bindPort }
        : undefined,
    );
  } catch (e) {
    const errno = e instanceof SysError ? e.errno : (e as NodeJS.ErrnoException | undefined)?.code;
    throw socketError(
      Object.assign(new Error((e as Error).message), { code: errno, cause: e }),
      `fwmark ${mark}`,
      { target: targetOf(co) },
    );
  }
}

/** A TCP socket carrying SO_MARK (markedFd), for net.Socket's connect. */
export function markedSocket(co: ConnOpts, mark: number, noDelay: boolean): net.Socket {
  const fd = markedFd(co, mark, 'SOCK_STREAM');
  try {
    // noDelay is a constructor option since node 17.3 (missing from @types/node 20)
    return new net.Socket({ fd, noDelay } as net.SocketConstructorOpts);
  } catch (e) {
    closeSync(fd);
    throw socketError(e, `fwmark ${mark}`, { target: targetOf(co) });
  }
}
