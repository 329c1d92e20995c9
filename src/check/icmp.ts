/**
 * PING_CHECK over a raw ICMP / ICMPv6 socket from the addon (src/sys/raw-socket.ts), when the daemon
 * may open one (root or CAP_NET_RAW). Every raw ICMP socket receives a copy of every ICMP packet, so
 * the attempts in flight share one socket per (family, bind interface, bind address, fwmark: SO_MARK
 * on the socket, so differently marked attempts never share one), demultiplexed by
 * echo id (unique among the attempts on that socket) and sequence; the socket closes when its last
 * attempt ends. A reply counts when it comes from the target with our id and sequence;
 * destination-unreachable errors quoting our echo fail the attempt at once. runRaw returns null when
 * no raw socket can be opened (the caller falls back to ping(8)); a refusal that holds for the whole
 * family (no privilege, no addon, family unsupported) is remembered, so later attempts of that family
 * go straight to the fallback. A mark the kernel refuses (SO_MARK needs CAP_NET_ADMIN) fails the
 * attempt (KA_ERR_CHECK_IO, errno in details), as keepalived fails a check whose mark cannot be set.
 */
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { Counters } from '../core/counters.js';
import { isKaError, KaError } from '../core/errors.js';
import { SysError, SysErrors } from '../sys/errors.js';
import { RawSocket, type RawSocketOptions } from '../sys/raw-socket.js';
import { internetChecksum } from '../wire/checksum.js';
import { Deadline, deadlineError, fail, target, timerMs } from './common.js';
import type { CheckResult, PingCheckSpec } from './types.js';

const PAYLOAD = Buffer.from('keepalived-ts PING_CHECK');

/** Echo request (ICMP type 8 / ICMPv6 type 128; the kernel sums ICMPv6). */
export function encodeEcho(v6: boolean, id: number, seq: number): Buffer {
  const b = Buffer.alloc(8 + PAYLOAD.length);
  b[0] = v6 ? 128 : 8;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  PAYLOAD.copy(b, 8);
  if (!v6) b.writeUInt16BE(internetChecksum(b), 2);
  return b;
}

/** An echo a received datagram answers (reply) or quotes (destination unreachable). */
export interface IcmpEcho {
  readonly kind: 'reply' | 'unreachable';
  readonly id: number;
  readonly seq: number;
}

/** The echo a received datagram answers or quotes; null when it is neither. */
export function echoOf(v6: boolean, data: Buffer): IcmpEcho | null {
  let icmp = data;
  if (!v6) {
    if (data.length < 20) return null;
    icmp = data.subarray((data[0]! & 0x0f) * 4);
  }
  if (icmp.length < 8) return null;
  const type = icmp[0];
  if (type === (v6 ? 129 : 0)) return { kind: 'reply', id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6) };
  if (type === (v6 ? 1 : 3)) {
    let inner = icmp.subarray(8);
    if (!v6) {
      if (inner.length < 20) return null;
      inner = inner.subarray((inner[0]! & 0x0f) * 4);
    } else inner = inner.subarray(40);
    if (inner.length >= 8 && inner[0] === (v6 ? 128 : 8))
      return { kind: 'unreachable', id: inner.readUInt16BE(4), seq: inner.readUInt16BE(6) };
  }
  return null;
}

/** The echo an attempt sent: its id, sequence and target address. */
export interface SentEcho {
  readonly id: number;
  readonly seq: number;
  readonly target: string;
}

const unscoped = (a: string): string => a.split('%')[0]!;

/**
 * What a received echo (from echoOf) coming from `from` means for the echo `sent`: a reply must carry
 * its id and sequence and come from its target; an error quoting it may come from any router or host
 * on the way.
 */
export function classifyIcmp(
  echo: IcmpEcho | null,
  from: string,
  sent: SentEcho,
): 'reply' | 'unreachable' | 'ignore' {
  if (!echo || echo.id !== sent.id || echo.seq !== sent.seq) return 'ignore';
  if (echo.kind === 'unreachable') return 'unreachable';
  return unscoped(from) === unscoped(sent.target) ? 'reply' : 'ignore';
}

/** What the pinger needs of a raw ICMP socket. */
export interface IcmpSocket {
  send(data: Buffer, dst: string): unknown;
  close(): void;
}

/**
 * Opens a raw ICMP socket that hands every received datagram (IPv4: from the IP header) and its source
 * to `onMessage`; throws a SysError (or KA_ERR_SYS_ADDON) when it cannot.
 */
export type IcmpOpener = (o: RawSocketOptions, onMessage: (data: Buffer, src: string) => void) => IcmpSocket;

const openRawSocket: IcmpOpener = (o, onMessage) => {
  const sock = RawSocket.open(o);
  sock.on('message', (m) => onMessage(m.data, m.src));
  sock.on('error', () => {});
  return sock;
};

/** errnos of socket(2) that hold for every later raw socket of the family. */
const FAMILY_REFUSALS = new Set(['EPERM', 'EACCES', 'EAFNOSUPPORT', 'EPROTONOSUPPORT']);

/** Whether an open failure came from setting SO_MARK (the socket itself could be opened). */
function markFailed(e: unknown): SysError | undefined {
  return e instanceof SysError && e.details.option === 'SO_MARK' ? e : undefined;
}

/** Whether an open failure will repeat for every raw socket of the family (so it is remembered). */
function refusesFamily(e: unknown): boolean {
  if (e instanceof SysError) return !markFailed(e) && FAMILY_REFUSALS.has(e.errno);
  return isKaError(e, SysErrors.KA_ERR_SYS_ADDON);
}

interface Waiter {
  readonly sent: SentEcho;
  readonly done: (kind: 'reply' | 'unreachable', from: string) => void;
}

/** One raw socket and the attempts waiting on it, by echo id. */
interface Shared {
  readonly sock: IcmpSocket;
  readonly waiters: Map<number, Waiter>;
}

export interface IcmpPingerOptions {
  /** Default: the addon's RawSocket. */
  open?: IcmpOpener;
  /** Default: a new set. */
  counters?: Counters;
}

/**
 * The raw-socket pings of one thread (the checker worker's). Counters: `check.ping.raw_refused` once
 * per family whose raw socket is refused, `check.ping.fallback` per attempt left to ping(8) for want
 * of a raw socket.
 */
export class IcmpPinger {
  readonly counters: Counters;
  private readonly open: IcmpOpener;
  private readonly shared = new Map<string, Shared>();
  /** Families whose raw socket was refused for good. */
  private readonly refused = new Set<4 | 6>();

  constructor(o: IcmpPingerOptions = {}) {
    this.open = o.open ?? openRawSocket;
    this.counters = o.counters ?? new Counters();
  }

  /** Raw ICMP sockets open now (they are shared, and closed once idle). */
  openSockets(): number {
    return this.shared.size;
  }

  /** Whether attempts of this family go straight to ping(8). */
  refusedFamily(family: 4 | 6): boolean {
    return this.refused.has(family);
  }

  /** The shared socket for `key`; null to fall back to ping(8); a KaError when the mark cannot be set. */
  private openShared(key: string, family: 4 | 6, spec: PingCheckSpec): Shared | KaError | null {
    const have = this.shared.get(key);
    if (have) return have;
    if (this.refused.has(family)) return null;
    const v6 = family === 6;
    const waiters = new Map<number, Waiter>();
    let sock: IcmpSocket;
    try {
      sock = this.open(
        {
          family,
          protocol: v6 ? 58 : 1,
          tos: 0,
          ttl: 64,
          ...(spec.bindIf !== undefined ? { ifname: spec.bindIf } : {}),
          ...(spec.bindto !== undefined ? { bindAddress: spec.bindto } : {}),
          ...(spec.fwmark !== undefined ? { mark: spec.fwmark } : {}),
        },
        (data, from) => {
          const echo = echoOf(v6, data);
          const w = echo && waiters.get(echo.id);
          if (!w) return;
          const kind = classifyIcmp(echo, from, w.sent);
          if (kind !== 'ignore') w.done(kind, from);
        },
      );
    } catch (e) {
      const markError = markFailed(e);
      if (markError)
        return new KaError(
          'KA_ERR_CHECK_IO',
          `PING: fwmark ${spec.fwmark}: ${markError.message}`,
          {
            target: target({ connectIp: spec.connectIp, connectPort: 0 }),
            errno: markError.errno,
          },
          { cause: e },
        );
      if (refusesFamily(e)) {
        this.refused.add(family);
        this.counters.inc('check.ping.raw_refused');
      }
      return null;
    }
    const sh: Shared = { sock, waiters };
    this.shared.set(key, sh);
    return sh;
  }

  private release(key: string, sh: Shared, id: number): void {
    sh.waiters.delete(id);
    if (sh.waiters.size === 0 && this.shared.get(key) === sh) {
      this.shared.delete(key);
      sh.sock.close();
    }
  }

  /** One echo; null when no raw socket can be had (the caller falls back to ping(8)). */
  async run(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult | null> {
    const family = net.isIPv6(spec.connectIp) ? 6 : 4;
    const key = `${family} ${spec.bindIf ?? ''} ${spec.bindto ?? ''} ${spec.fwmark ?? ''}`;
    const sh = this.openShared(key, family, spec);
    if (!sh) {
      this.counters.inc('check.ping.fallback');
      return null;
    }
    if (sh instanceof KaError) return fail(sh);
    const details = { target: target({ connectIp: spec.connectIp, connectPort: 0 }) };
    // A random id not used by another attempt on this socket (65,536 ids; bounded tries).
    let id = randomInt(0, 0x10000);
    for (let i = 0; sh.waiters.has(id) && i < 0x10000; i++) id = (id + 1) & 0xffff;
    if (sh.waiters.has(id))
      return fail(new KaError('KA_ERR_CHECK_IO', 'PING: no free ICMP echo id', details));
    const seq = 1;
    if (signal.aborted) {
      this.release(key, sh, id);
      return fail(deadlineError(true, 'PING', details));
    }
    return new Promise<CheckResult>((resolve) => {
      let done = false;
      const finish = (r: CheckResult): void => {
        if (done) return;
        done = true;
        deadline.clear();
        this.release(key, sh, id);
        resolve(r);
      };
      // No reply within connect_timeout is PING (keepalived's wording); the caller's abort is ABORTED.
      const deadline = new Deadline(signal, timerMs(spec.connectTimeout), (outerAborted) =>
        finish(
          fail(
            outerAborted
              ? deadlineError(true, 'PING', details)
              : new KaError('KA_ERR_CHECK_PING', 'PING: no echo reply', details),
          ),
        ),
      );
      sh.waiters.set(id, {
        sent: { id, seq, target: spec.connectIp },
        done: (kind, from) =>
          finish(
            kind === 'reply'
              ? { ok: true }
              : fail(
                  new KaError(
                    'KA_ERR_CHECK_UNREACHABLE',
                    `PING: destination unreachable (from ${from})`,
                    details,
                  ),
                ),
          ),
      });
      try {
        sh.sock.send(encodeEcho(family === 6, id, seq), spec.connectIp);
      } catch (e) {
        finish(
          fail(
            new KaError('KA_ERR_CHECK_UNREACHABLE', `PING: send failed: ${(e as Error).message}`, details, {
              cause: e,
            }),
          ),
        );
      }
    });
  }
}

/** This thread's pinger (ping.ts uses it). */
export const icmpPinger = new IcmpPinger();

export function runRaw(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult | null> {
  return icmpPinger.run(spec, signal);
}

/** Raw ICMP sockets open now in this thread. */
export function openIcmpSockets(): number {
  return icmpPinger.openSockets();
}
