/**
 * DNS_CHECK over UDP: send one query (RD set, random id, QDCOUNT 1) for `name`/`type`
 * and wait for a response with the same id and QR set; RCODE 0 = up, other RCODE = down. Datagrams with
 * another id, without QR or shorter than a header are ignored, as keepalived does.
 * The 12-byte header and QNAME are encoded here by hand: the query is fixed and tiny, and no DNS codec is
 * a dependency of the project.
 */
import { randomInt } from 'node:crypto';
import { KaError } from '../core/errors.js';
import { connOptsError, fail, memo, targetOf } from './common.js';
import type { CheckResult, DnsCheckSpec, DnsType } from './types.js';
import { exchangeUdp } from './udpsock.js';

export const DNS_TYPES: Record<DnsType, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
};

export function encodeQuery(id: number, name: string, type: DnsType): Buffer {
  const labels = name === '.' || name === '' ? [] : name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // RD
  h.writeUInt16BE(1, 4);
  parts.push(h);
  for (const l of labels) {
    const b = Buffer.from(l, 'latin1');
    if (b.length === 0 || b.length > 63) throw new KaError('KA_ERR_CHECK_SPEC', `bad DNS name ${name}`);
    parts.push(Buffer.from([b.length]), b);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(DNS_TYPES[type], 1);
  tail.writeUInt16BE(1, 3); // IN
  parts.push(tail);
  return Buffer.concat(parts);
}

/** Classify a datagram: 'ignore' (not ours), 'ok', or the RCODE. */
export function classifyReply(msg: Buffer, id: number): 'ignore' | 'ok' | number {
  if (msg.length < 12) return 'ignore';
  if (msg.readUInt16BE(0) !== id) return 'ignore';
  const flags = msg.readUInt16BE(2);
  if (!(flags & 0x8000)) return 'ignore';
  const rcode = flags & 0x0f;
  return rcode === 0 ? 'ok' : rcode;
}

/** What a spec gives every attempt: its query with id 0 and its type, or why it is bad. */
interface DnsPlan {
  readonly error: KaError | null;
  readonly query: Buffer;
  readonly type: DnsType;
}

const plans = new WeakMap<DnsCheckSpec, DnsPlan>();
const NONE = Buffer.alloc(0);

function planOf(spec: DnsCheckSpec): DnsPlan {
  const type = spec.type ?? 'SOA';
  const bad = connOptsError(spec);
  if (bad) return { error: bad, query: NONE, type };
  if (!(type in DNS_TYPES))
    return { error: new KaError('KA_ERR_CHECK_SPEC', `Unknown DNS check type ${type}`), query: NONE, type };
  try {
    return { error: null, query: encodeQuery(0, spec.name ?? '.', type), type };
  } catch (e) {
    return { error: e as KaError, query: NONE, type };
  }
}

export function run(spec: DnsCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const plan = memo(plans, spec, planOf);
  if (plan.error) return Promise.resolve(fail(plan.error));
  const details = { target: targetOf(spec), name: spec.name ?? '.', type: plan.type };
  const id = randomInt(0, 0x10000);
  const query = Buffer.from(plan.query);
  query.writeUInt16BE(id, 0);
  return exchangeUdp(spec, signal, {
    what: 'DNS',
    details,
    payload: query,
    onMessage: (msg) => {
      const c = classifyReply(msg, id);
      if (c === 'ignore') return null;
      if (c === 'ok') return { ok: true };
      return fail(
        new KaError('KA_ERR_CHECK_DNS_RCODE', `error occurred. (rcode = ${c})`, { ...details, rcode: c }),
      );
    },
    onError: (e) => fail(e),
  });
}
