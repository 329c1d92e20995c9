/**
 * DNS_CHECK over UDP (dgram-as-promised): send one query (RD set, random id, QDCOUNT 1) for `name`/`type`
 * and wait for a response with the same id and QR set; RCODE 0 = up, other RCODE = down. Datagrams with
 * another id, without QR or shorter than a header are ignored, as keepalived does.
 * The 12-byte header and QNAME are encoded here by hand: the query is fixed and tiny, and no DNS codec is
 * a dependency of the project.
 */
import { randomInt } from 'node:crypto';
import { isKaError, KaError } from '../core/errors.js';
import { attemptSignal, checkConnOpts, fail, socketError, target } from './common.js';
import type { CheckResult, DnsCheckSpec, DnsType } from './types.js';
import { openUdp, type UdpConn } from './udpsock.js';

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

export async function run(spec: DnsCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = checkConnOpts(spec);
  if (bad) return fail(bad);
  const type = spec.type ?? 'SOA';
  if (!(type in DNS_TYPES)) return fail(new KaError('KA_ERR_CHECK_SPEC', `Unknown DNS check type ${type}`));
  const details = { target: target(spec), name: spec.name ?? '.', type };
  const id = randomInt(0, 0x10000);
  let query: Buffer;
  try {
    query = encodeQuery(id, spec.name ?? '.', type);
  } catch (e) {
    return fail(e as KaError);
  }
  const s = attemptSignal(signal, spec.connectTimeout);
  let conn: UdpConn | undefined;
  try {
    conn = await openUdp(spec, s, signal, 'DNS', details);
    await conn.send(query);
    for (;;) {
      const c = classifyReply(await conn.recv(), id);
      if (c === 'ignore') continue;
      if (c === 'ok') return { ok: true };
      return fail(
        new KaError('KA_ERR_CHECK_DNS_RCODE', `error occurred. (rcode = ${c})`, { ...details, rcode: c }),
      );
    }
  } catch (e) {
    return fail(isKaError(e) ? e : socketError(e, 'DNS', details));
  } finally {
    conn?.close();
  }
}
