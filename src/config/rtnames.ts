/**
 * The iproute2 names keepalived 2.2.7 resolves while it reads routes and rules (tables, scopes,
 * protocols, realms, dsfield), and the IP protocols of `ipproto`. Names come from the system's
 * files with iproute2's defaults; only a file's own entries are names (never `constructor`).
 */
import { readFileSync } from 'node:fs';

/** iproute2's built-in names, used when the file does not exist. */
const DEFAULTS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  rt_tables: { default: 253, main: 254, local: 255 },
  rt_scopes: { global: 0, site: 200, link: 253, host: 254, nowhere: 255 },
  rt_protos: { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, keepalived: 18 },
  rt_realms: { unknown: 0 },
  rt_dsfield: {},
  group: { default: 0 },
};

const files = new Map<string, Map<string, number>>();

/** `ID NAME` lines of /etc/iproute2/FILE (read once), or iproute2's defaults without it. */
function table(file: string): Map<string, number> {
  let m = files.get(file);
  if (m) return m;
  m = new Map();
  try {
    for (const line of readFileSync(`/etc/iproute2/${file}`, 'utf8').split('\n')) {
      const x = /^\s*(0x[0-9a-fA-F]+|\d+)\s+([^\s#]+)/.exec(line);
      if (x) m.set(x[2]!, Number(x[1]));
    }
  } catch {
    for (const [k, v] of Object.entries(DEFAULTS[file] ?? {})) m.set(k, v);
  }
  files.set(file, m);
  return m;
}

/**
 * C strtoul base 0 over the whole word, as an unsigned long (a leading '-' wraps, an overflow is
 * ULONG_MAX, as in C); undefined when not a number.
 */
function cULong(s: string): bigint | undefined {
  const x = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(s);
  if (!x) return undefined;
  const d = x[2]!;
  const n = /^0x/i.test(d) ? BigInt(d) : d.startsWith('0') ? BigInt(`0o${d.slice(1) || '0'}`) : BigInt(d);
  if (n > ULONG_MAX) return ULONG_MAX;
  return x[1] === '-' && n !== 0n ? ULONG_MAX + 1n - n : n;
}
const ULONG_MAX = 2n ** 64n - 1n;
const LONG_MAX = 2n ** 63n - 1n;

/** C strtoul base 0 (`010` is 8, `0x10` 16, `+5` 5, `-1` wraps); undefined when not a number. */
export function cNumber(s: string): number | undefined {
  const n = cULong(s);
  return n === undefined ? undefined : Number(n);
}

/** cNumber of an unsigned 32-bit value: no '-', at most 4294967295 (keepalived refuses the rest). */
export function cU32(s: string): number | undefined {
  if (s.trimStart().startsWith('-')) return undefined;
  const n = cNumber(s);
  return n !== undefined && n <= 0xffffffff ? n : undefined;
}

function byte(s: string): number | undefined {
  const n = cNumber(s);
  return n !== undefined && n <= 255 ? n : undefined;
}

/**
 * A routing table: a number (keepalived keeps the low 32 bits of C's strtoul: `-1` is 4294967295,
 * `010` is 8, 4294967296 is 0), or a name of rt_tables.
 */
export function rtTable(s: string): number | undefined {
  const n = cULong(s);
  return n !== undefined ? Number(n & 0xffffffffn) : table('rt_tables').get(s);
}

/** A route scope: a number up to 255 or a name of rt_scopes. */
export function rtScope(s: string): number | undefined {
  return byte(s) ?? table('rt_scopes').get(s);
}

/** A route protocol: a number up to 255 or a name of rt_protos. */
export function rtProtocol(s: string): number | undefined {
  return byte(s) ?? table('rt_protos').get(s);
}

/** A tos/dsfield value: a number up to 255 or a name of rt_dsfield. */
export function rtDsfield(s: string): number | undefined {
  return byte(s) ?? table('rt_dsfield').get(s);
}

/** `[FROM/]TO` realms, each a number up to 255 or a name of rt_realms. */
export function rtRealms(s: string): number | undefined {
  const parts = s.split('/');
  if (parts.length > 2) return undefined;
  let v = 0;
  for (const p of parts) {
    const r = byte(p) ?? table('rt_realms').get(p);
    if (r === undefined) return undefined;
    v = (v << 16) | r;
  }
  return v >>> 0;
}

/** An interface group (suppress_ifgroup): a number or a name of /etc/iproute2/group. */
export function rtGroup(s: string): number | undefined {
  return groupNumber(s) ?? table('group').get(s);
}

/**
 * keepalived 2.2.7's group number: a signed C long (base 0) kept to its low 32 bits; a negative one
 * other than -0, and one whose low 32 bits are all set (-1 is its "invalid"), are refused.
 */
function groupNumber(s: string): number | undefined {
  const x = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(s);
  if (!x) return undefined;
  const d = x[2]!;
  let n = /^0x/i.test(d) ? BigInt(d) : d.startsWith('0') ? BigInt(`0o${d.slice(1) || '0'}`) : BigInt(d);
  if (x[1] === '-' && n !== 0n) return undefined;
  if (n > LONG_MAX) n = LONG_MAX;
  const v = Number(n & 0xffffffffn);
  return v === 0xffffffff ? undefined : v;
}

/** A rule's `fwmark MARK[/MASK]`, each an unsigned 32-bit number. */
export function rtMark(s: string): boolean {
  const parts = s.split('/');
  return parts.length <= 2 && parts.every((p) => cU32(p) !== undefined);
}

let protocols: Map<string, number> | undefined;

/** An `ipproto` value: a protocol name, alias or number listed in /etc/protocols. */
export function ipProto(s: string): number | undefined {
  if (!protocols) {
    protocols = new Map();
    try {
      for (const line of readFileSync('/etc/protocols', 'utf8').split('\n')) {
        const w = line.replace(/#.*/, '').trim().split(/\s+/);
        if (w.length < 2 || !/^\d+$/.test(w[1]!)) continue;
        const n = Number(w[1]);
        protocols.set(w[1]!, n);
        for (const name of [w[0]!, ...w.slice(2)]) protocols.set(name, n);
      }
    } catch {
      // no /etc/protocols: no protocol resolves
    }
  }
  return protocols.get(s);
}
