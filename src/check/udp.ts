/**
 * UDP_CHECK over dgram-as-promised: send `payload`; without require_reply the server is up when no ICMP
 * error (port unreachable) arrives within connect_timeout; with require_reply a reply must arrive, its
 * length must be within [min_reply_length, max_reply_length] and it must start with the pattern
 * (hex, `X` = any nibble).
 */
import { isKaError, KaError } from '../core/errors.js';
import { attemptSignal, checkConnOpts, fail, socketError, target } from './common.js';
import type { CheckResult, UdpCheckSpec } from './types.js';
import { openUdp, type UdpConn } from './udpsock.js';

export function parseHex(hex: string, allowWild: boolean): KaError | string {
  const h = hex.replace(/\s+/g, '');
  const ok = allowWild ? /^[0-9a-fA-FxX]*$/ : /^[0-9a-fA-F]*$/;
  if (!ok.test(h) || h.length % 2 !== 0) return new KaError('KA_ERR_CHECK_SPEC', `bad hex string ${hex}`);
  return h.toLowerCase();
}

/** Does `reply` start with the nibble pattern (lowercase hex with `x` wildcards)? */
export function matchesPattern(reply: Buffer, pattern: string): boolean {
  if (reply.length * 2 < pattern.length) return false;
  const hex = reply.toString('hex');
  for (let i = 0; i < pattern.length; i++) if (pattern[i] !== 'x' && pattern[i] !== hex[i]) return false;
  return true;
}

export async function run(spec: UdpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = checkConnOpts(spec);
  if (bad) return fail(bad);
  const payloadHex = parseHex(spec.payload ?? '', false);
  if (payloadHex instanceof KaError) return fail(payloadHex);
  let pattern = '';
  if (typeof spec.requireReply === 'string') {
    const p = parseHex(spec.requireReply, true);
    if (p instanceof KaError) return fail(p);
    pattern = p;
  }
  const details = { target: target(spec) };
  const s = attemptSignal(signal, spec.connectTimeout);
  let conn: UdpConn | undefined;
  try {
    conn = await openUdp(spec, s, signal, 'UDP', details);
    await conn.send(Buffer.from(payloadHex, 'hex'));
    if (spec.requireReply === undefined || spec.requireReply === false) {
      try {
        await conn.recv();
      } catch (e) {
        // Silence until the deadline is success; an ICMP error is not.
        if (isKaError(e, 'KA_ERR_CHECK_TIMEOUT')) return { ok: true, detail: 'no ICMP error' };
        throw e;
      }
      return { ok: true };
    }
    const reply = await conn.recv();
    const min = spec.minReplyLength ?? 0;
    const max = spec.maxReplyLength ?? 255;
    if (reply.length < min || reply.length > max)
      return fail(
        new KaError('KA_ERR_CHECK_UDP_REPLY', `reply length ${reply.length} outside ${min}..${max}`, details),
      );
    if (pattern && !matchesPattern(reply, pattern))
      return fail(new KaError('KA_ERR_CHECK_UDP_REPLY', 'reply does not match require_reply', details));
    return { ok: true };
  } catch (e) {
    const k = isKaError(e) ? e : socketError(e, 'UDP', details);
    if (k.code === 'KA_ERR_CHECK_TIMEOUT' && spec.requireReply)
      return fail(new KaError('KA_ERR_CHECK_TIMEOUT', 'UDP: no reply within connect_timeout', details));
    return fail(k);
  } finally {
    conn?.close();
  }
}
