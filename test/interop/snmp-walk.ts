/**
 * `snmpwalk -On` output in one canonical form, to compare what keepalived and keepalived-ts serve:
 * `OID TYPE VALUE`, with TYPE integer, gauge or octets and octet strings in hex (snmpwalk prints
 * a string either quoted or as Hex-STRING depending on its bytes; both read back to the same bytes).
 */
import type { Varbind } from '../../src/snmp/keepalived-mib.js';

export interface WalkEntry {
  readonly oid: string;
  readonly type:
    | 'integer'
    | 'gauge'
    | 'octets'
    | 'ipaddress'
    | 'counter'
    | 'counter64'
    | 'timeticks'
    | 'other';
  /** Number, dotted IPv4 address, or the bytes in lower-case hex, or the raw text for other types. */
  readonly value: string;
}

export const entryLine = (e: WalkEntry): string => `${e.oid} ${e.type} ${e.value}`;

export const walkLine = (v: Varbind): string =>
  entryLine({
    oid: v.oid.join('.'),
    type: v.type,
    value: Buffer.isBuffer(v.value)
      ? v.type === 'ipaddress'
        ? [...v.value].join('.')
        : v.value.toString('hex')
      : String(v.value),
  });

/** Reads a quoted snmpwalk string (escapes \" and \\) back to its bytes. */
const unquote = (s: string): Buffer => Buffer.from(s.slice(1, -1).replace(/\\(["\\])/g, '$1'), 'utf8');

export function parseWalkEntries(text: string): WalkEntry[] {
  // a long Hex-STRING or a string with new lines continues on the following lines
  const records: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('.')) records.push(line);
    else if (records.length > 0 && line.trim() !== '') records[records.length - 1] += ` ${line.trim()}`;
  }
  return records.flatMap((r): WalkEntry[] => {
    const m = /^\.(\S+) = (?:([A-Za-z0-9-]+): )?(.*)$/.exec(r);
    if (!m) return [];
    const [, oid = '', type, raw = ''] = m;
    const val = raw.trim();
    if (type === undefined && val === '""') return [{ oid, type: 'octets', value: '' }];
    if (type === 'INTEGER') return [{ oid, type: 'integer', value: String(Number.parseInt(val, 10)) }];
    if (type === 'Gauge32') return [{ oid, type: 'gauge', value: val }];
    if (type === 'Counter32') return [{ oid, type: 'counter', value: val }];
    if (type === 'Counter64') return [{ oid, type: 'counter64', value: val }];
    if (type === 'IpAddress') return [{ oid, type: 'ipaddress', value: val }];
    // Timeticks: (12345) 0:02:03.45
    if (type === 'Timeticks') return [{ oid, type: 'timeticks', value: /^\((\d+)\)/.exec(val)?.[1] ?? val }];
    if (type === 'STRING') return [{ oid, type: 'octets', value: unquote(val).toString('hex') }];
    if (type === 'Hex-STRING') return [{ oid, type: 'octets', value: val.replace(/\s+/g, '').toLowerCase() }];
    return [{ oid, type: 'other', value: `${type ?? ''} ${val}` }];
  });
}

export const parseWalk = (text: string): string[] => parseWalkEntries(text).map(entryLine);
