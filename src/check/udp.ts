/**
 * UDP_CHECK: send `payload`; without require_reply the server is up when no ICMP
 * error (port unreachable) arrives within connect_timeout; with require_reply a reply must arrive, its
 * length must be within [min_reply_length, max_reply_length] and it must start with the pattern
 * (hex, `X` = any nibble).
 */
import { KaError } from '../core/errors.js';
import { connOptsError, fail, memo, targetOf } from './common.js';
import type { CheckResult, UdpCheckSpec } from './types.js';
import { exchangeUdp } from './udpsock.js';

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

/** What a spec gives every attempt: the payload bytes and the reply pattern, or why it is bad. */
interface UdpPlan {
  readonly error: KaError | null;
  readonly payload: Buffer;
  readonly pattern: string;
}

const plans = new WeakMap<UdpCheckSpec, UdpPlan>();
const NONE = Buffer.alloc(0);

function planOf(spec: UdpCheckSpec): UdpPlan {
  const bad = connOptsError(spec);
  if (bad) return { error: bad, payload: NONE, pattern: '' };
  const payloadHex = parseHex(spec.payload ?? '', false);
  if (payloadHex instanceof KaError) return { error: payloadHex, payload: NONE, pattern: '' };
  let pattern = '';
  if (typeof spec.requireReply === 'string') {
    const p = parseHex(spec.requireReply, true);
    if (p instanceof KaError) return { error: p, payload: NONE, pattern: '' };
    pattern = p;
  }
  return { error: null, payload: Buffer.from(payloadHex, 'hex'), pattern };
}

export function run(spec: UdpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const plan = memo(plans, spec, planOf);
  if (plan.error) return Promise.resolve(fail(plan.error));
  const details = { target: targetOf(spec) };
  // Without require_reply, silence until the deadline is success; an ICMP error is not.
  const noReply = spec.requireReply === undefined || spec.requireReply === false;
  return exchangeUdp(spec, signal, {
    what: 'UDP',
    details,
    payload: plan.payload,
    onMessage: (reply) => {
      if (noReply) return { ok: true };
      const min = spec.minReplyLength ?? 0;
      const max = spec.maxReplyLength ?? 255;
      if (reply.length < min || reply.length > max)
        return fail(
          new KaError(
            'KA_ERR_CHECK_UDP_REPLY',
            `reply length ${reply.length} outside ${min}..${max}`,
            details,
          ),
        );
      if (plan.pattern && !matchesPattern(reply, plan.pattern))
        return fail(new KaError('KA_ERR_CHECK_UDP_REPLY', 'reply does not match require_reply', details));
      return { ok: true };
    },
    onError: (e, sent) => {
      if (noReply && sent && e.code === 'KA_ERR_CHECK_TIMEOUT') return { ok: true, detail: 'no ICMP error' };
      if (e.code === 'KA_ERR_CHECK_TIMEOUT' && spec.requireReply)
        return fail(new KaError('KA_ERR_CHECK_TIMEOUT', 'UDP: no reply within connect_timeout', details));
      return fail(e);
    },
  });
}
