/**
 * PING_CHECK over a raw ICMP / ICMPv6 socket from the addon (src/sys/raw-socket.ts), when the daemon
 * may open one (root or CAP_NET_RAW). Every raw ICMP socket receives a copy of every ICMP packet, so
 * the attempts in flight share one socket per (family, bind interface, bind address), demultiplexed by
 * echo id (unique among the attempts on that socket) and sequence; the socket closes when its last
 * attempt ends. A reply counts when it comes from the target with our id and sequence;
 * destination-unreachable errors quoting our echo fail the attempt at once. runRaw returns null when
 * no raw socket can be opened (the caller falls back to ping(8)).
 */
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { KaError } from '../core/errors.js';
import { RawSocket } from '../sys/raw-socket.js';
import { internetChecksum } from '../wire/checksum.js';
import { abortError, attemptSignal, fail, target } from './common.js';
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

/** What a received datagram means for the echo (id, seq): reply, unreachable, or not ours. */
export function classifyIcmp(
  v6: boolean,
  data: Buffer,
  id: number,
  seq: number,
): 'reply' | 'unreachable' | 'ignore' {
  const e = echoOf(v6, data);
  if (!e || e.id !== id) return 'ignore';
  if (e.kind === 'reply') return e.seq === seq ? 'reply' : 'ignore';
  return 'unreachable';
}

/** The echo a received datagram answers or quotes: reply or unreachable, with its id and seq. */
export function echoOf(
  v6: boolean,
  data: Buffer,
): { kind: 'reply' | 'unreachable'; id: number; seq: number } | null {
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

interface Waiter {
  readonly target: string;
  readonly seq: number;
  readonly done: (kind: 'reply' | 'unreachable', from: string) => void;
}

/** One raw socket and the attempts waiting on it, by echo id. */
interface Shared {
  readonly sock: RawSocket;
  readonly v6: boolean;
  readonly waiters: Map<number, Waiter>;
}

const shared = new Map<string, Shared>();

function openShared(key: string, v6: boolean, spec: PingCheckSpec): Shared | null {
  const have = shared.get(key);
  if (have) return have;
  let sock: RawSocket;
  try {
    sock = RawSocket.open({
      family: v6 ? 6 : 4,
      protocol: v6 ? 58 : 1,
      tos: 0,
      ttl: 64,
      ...(spec.bindIf !== undefined ? { ifname: spec.bindIf } : {}),
      ...(spec.bindto !== undefined ? { bindAddress: spec.bindto } : {}),
    });
  } catch {
    return null;
  }
  const sh: Shared = { sock, v6, waiters: new Map() };
  sock.on('message', (m) => {
    const e = echoOf(v6, m.data);
    if (!e) return;
    const w = sh.waiters.get(e.id);
    if (!w || w.seq !== e.seq) return;
    const from = v6 ? m.src.split('%')[0]! : m.src;
    // A reply must come from the target; errors come from routers/hosts on the way.
    if (e.kind === 'reply' && from !== w.target) return;
    w.done(e.kind, m.src);
  });
  sock.on('error', () => {});
  shared.set(key, sh);
  return sh;
}

function release(key: string, sh: Shared, id: number): void {
  sh.waiters.delete(id);
  if (sh.waiters.size === 0 && shared.get(key) === sh) {
    shared.delete(key);
    sh.sock.close();
  }
}

/** Raw ICMP sockets open now (tests: they are shared, and closed once idle). */
export function openIcmpSockets(): number {
  return shared.size;
}

export async function runRaw(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult | null> {
  const v6 = net.isIPv6(spec.connectIp);
  const key = `${v6 ? 6 : 4} ${spec.bindIf ?? ''} ${spec.bindto ?? ''}`;
  const sh = openShared(key, v6, spec);
  if (!sh) return null;
  const details = { target: target({ connectIp: spec.connectIp, connectPort: 0 }) };
  // A random id not used by another attempt on this socket (65,536 ids; bounded tries).
  let id = randomInt(0, 0x10000);
  for (let i = 0; sh.waiters.has(id) && i < 0x10000; i++) id = (id + 1) & 0xffff;
  if (sh.waiters.has(id)) return fail(new KaError('KA_ERR_CHECK_IO', 'PING: no free ICMP echo id', details));
  const seq = 1;
  const s = attemptSignal(signal, spec.connectTimeout);
  return await new Promise<CheckResult>((resolve) => {
    const finish = (r: CheckResult): void => {
      s.removeEventListener('abort', onAbort);
      release(key, sh, id);
      resolve(r);
    };
    const onAbort = (): void => {
      const e = abortError(signal, 'PING', details);
      finish(
        fail(
          e.code === 'KA_ERR_CHECK_TIMEOUT'
            ? new KaError('KA_ERR_CHECK_PING', 'PING: no echo reply', details)
            : e,
        ),
      );
    };
    sh.waiters.set(id, {
      target: spec.connectIp,
      seq,
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
    if (s.aborted) {
      onAbort();
      return;
    }
    s.addEventListener('abort', onAbort, { once: true });
    try {
      sh.sock.send(encodeEcho(v6, id, seq), spec.connectIp);
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
