/**
 * PING_CHECK over a raw ICMP / ICMPv6 socket from the addon (src/sys/raw-socket.ts), when the daemon
 * may open one (root or CAP_NET_RAW). Echo request id is random per attempt; a reply counts when it
 * comes from the target with our id and sequence. Destination-unreachable errors quoting our echo
 * fail the attempt at once. Returns null when no raw socket can be opened (the caller falls back to
 * ping(8)).
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

/** What a received datagram means for our echo: reply, unreachable, or not ours. */
export function classifyIcmp(
  v6: boolean,
  data: Buffer,
  id: number,
  seq: number,
): 'reply' | 'unreachable' | 'ignore' {
  let icmp = data;
  if (!v6) {
    if (data.length < 20) return 'ignore';
    icmp = data.subarray((data[0]! & 0x0f) * 4);
  }
  if (icmp.length < 8) return 'ignore';
  const type = icmp[0];
  if (type === (v6 ? 129 : 0))
    return icmp.readUInt16BE(4) === id && icmp.readUInt16BE(6) === seq ? 'reply' : 'ignore';
  if (type === (v6 ? 1 : 3)) {
    // The error quotes the offending packet: IPv4 header + our echo, or the IPv6 header (40) + echo.
    let inner = icmp.subarray(8);
    if (!v6) {
      if (inner.length < 20) return 'ignore';
      inner = inner.subarray((inner[0]! & 0x0f) * 4);
    } else inner = inner.subarray(40);
    if (inner.length >= 8 && inner[0] === (v6 ? 128 : 8) && inner.readUInt16BE(4) === id)
      return 'unreachable';
  }
  return 'ignore';
}

export async function runRaw(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult | null> {
  const v6 = net.isIPv6(spec.connectIp);
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
  const details = { target: target({ connectIp: spec.connectIp, connectPort: 0 }) };
  const id = randomInt(0, 0x10000);
  const seq = 1;
  const s = attemptSignal(signal, spec.connectTimeout);
  try {
    return await new Promise<CheckResult>((resolve) => {
      const onAbort = (): void => {
        const e = abortError(signal, 'PING', details);
        resolve(
          fail(
            e.code === 'KA_ERR_CHECK_TIMEOUT'
              ? new KaError('KA_ERR_CHECK_PING', 'PING: no echo reply', details)
              : e,
          ),
        );
      };
      if (s.aborted) {
        onAbort();
        return;
      }
      s.addEventListener('abort', onAbort, { once: true });
      sock.on('message', (m) => {
        if (m.src !== spec.connectIp && !(v6 && m.src.split('%')[0] === spec.connectIp)) {
          // Errors come from routers/hosts on the way, not from the target.
          if (classifyIcmp(v6, m.data, id, seq) !== 'unreachable') return;
        }
        const c = classifyIcmp(v6, m.data, id, seq);
        if (c === 'ignore') return;
        s.removeEventListener('abort', onAbort);
        resolve(
          c === 'reply'
            ? { ok: true }
            : fail(
                new KaError(
                  'KA_ERR_CHECK_UNREACHABLE',
                  `PING: destination unreachable (from ${m.src})`,
                  details,
                ),
              ),
        );
      });
      sock.on('error', () => {});
      try {
        sock.send(encodeEcho(v6, id, seq), spec.connectIp);
      } catch (e) {
        s.removeEventListener('abort', onAbort);
        resolve(
          fail(
            new KaError('KA_ERR_CHECK_UNREACHABLE', `PING: send failed: ${(e as Error).message}`, details, {
              cause: e,
            }),
          ),
        );
      }
    });
  } finally {
    sock.close();
  }
}
