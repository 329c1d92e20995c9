/**
 * Argument parsers used by the keyword tables (src/config/keywords.ts). Each takes the statement node
 * and the diagnostic context, and returns the parsed value or `undefined` after reporting why.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { splitWords } from '../notify/command.js';
import { type DiagnosticSink, KaClass, type SrcPos } from './diagnostics.js';
import type { Command, Family } from './model.js';
import { type AstNode, type AstWord, argText } from './parse-types.js';

// ipaddr.js is CommonJS: require() loads it several times faster than an ESM import, which first
// scans the source for its exports (start-up of `keepalived-ts -t`).
const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof import('ipaddr.js');

export interface Ctx {
  readonly diags: DiagnosticSink;
}

export type ValueParser<T> = (n: AstNode, c: Ctx) => T | undefined;

/**
 * Thrown after a `KaClass.Stop` diagnostic: keepalived exits at once (status 2) when a handler reads
 * a word the line does not have, so nothing after that line is read or reported. ConfigBuilder.build
 * catches it. `line` is where the line starts (keyword position).
 */
export class ConfigStop extends Error {
  constructor(readonly line: SrcPos) {
    super('configuration loading stopped at a missing parameter');
  }
}

/** Where a missing word would go: just after the last word of the line. */
function afterLast(words: readonly AstWord[], first: AstWord): SrcPos {
  const w = words[words.length - 1] ?? first;
  const p = w.pos;
  return { file: p.file, line: p.line, col: p.col + w.text.length + (w.quoted ? 2 : 0) };
}

/**
 * keepalived 2.2.7 reads the word after `after` unconditionally (strvec_slot): without it, it logs
 * "is missing a parameter after keyword" and exits at once with status 2. We record that (class
 * Stop, severity fatal: the daemon refuses the file) and stop loading.
 */
export function stopMissing(
  c: Ctx,
  words: readonly AstWord[],
  start: AstWord,
  after: string,
  expected: string,
): never {
  c.diags.add(
    'KA_ERR_CONF_MISSING_WORD',
    'fatal',
    KaClass.Stop,
    afterLast(words, start),
    after,
    `missing a parameter after '${after}': keepalived stops reading the configuration here (exit 2)`,
    expected,
  );
  throw new ConfigStop(start.pos);
}

/** A statement without its first argument, which keepalived reads unconditionally (exit 2). */
export function missingArg(n: AstNode, c: Ctx, expected: string): never {
  return stopMissing(c, n.args, { text: n.keyword, pos: n.pos, quoted: false }, n.keyword, expected);
}

/** Strict decimal integer (keepalived's read_int_strvec: no trailing junk). */
export function parseIntStrict(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : undefined;
}

export function parseDecimal(s: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) return undefined;
  return Number(s);
}

export function badNumber(
  c: Ctx,
  w: AstWord | undefined,
  n: AstNode,
  min: number,
  max: number,
  what = 'number',
): undefined {
  c.diags.add(
    'KA_ERR_CONF_BAD_NUMBER',
    'error',
    KaClass.InvalidNumber,
    w?.pos ?? n.pos,
    n.keyword,
    `${what} '${w?.text ?? ''}' invalid or outside range [${min}, ${max}]`,
    `${what} in [${min}, ${max}]`,
  );
  return undefined;
}

export function intArg(min: number, max: number, idx = 0): ValueParser<number> {
  return (n, c) => {
    // the text alone on the common path: word objects (positions) only for a diagnostic
    const t = argText(n, idx);
    if (t === undefined) return missingArg(n, c, `an integer in [${min}, ${max}]`);
    // keepalived reads an empty word ("") as 0 without an error
    const v = t === '' ? 0 : parseIntStrict(t);
    if (v === undefined || v < min || v > max) return badNumber(c, n.args[idx], n, min, max, 'integer');
    return v;
  };
}

/** Seconds with decimals, µs resolution. */
export function timerArg(min: number, max: number): ValueParser<number> {
  return (n, c) => {
    const t = argText(n, 0);
    if (t === undefined) return missingArg(n, c, `seconds in [${min}, ${max}]`);
    const v = t === '' ? 0 : parseDecimal(t);
    if (v === undefined || v < min || v > max) return badNumber(c, n.args[0], n, min, max, 'time');
    return Math.round(v * 1e6) / 1e6;
  };
}

const TRUE = new Set(['on', 'true', 'yes']);
const FALSE = new Set(['off', 'false', 'no']);

/** A boolean word (case-insensitive), or undefined for anything else. */
function boolWord(t: string): boolean | undefined {
  const l = t.toLowerCase();
  return TRUE.has(l) ? true : FALSE.has(l) ? false : undefined;
}

/**
 * `<BOOL>`: bare = true, or on/off/true/false/yes/no. Other words: `strict` keywords are an error
 * ("Invalid value 'X' for K specified"), the others keepalived ignores without recording anything.
 */
function boolParser(strict: boolean): ValueParser<boolean> {
  return (n, c) => {
    const w = n.args[0];
    if (!w) return true;
    const b = boolWord(w.text);
    if (b !== undefined) return b;
    c.diags.add(
      'KA_ERR_CONF_BAD_VALUE',
      strict ? 'error' : 'warning',
      strict ? KaClass.GeneralError : KaClass.None,
      w.pos,
      n.keyword,
      strict
        ? `invalid value '${w.text}' for ${n.keyword} specified`
        : `invalid boolean '${w.text}' - ignoring`,
      'on|off|true|false|yes|no',
    );
    return undefined;
  };
}

export const boolArg: ValueParser<boolean> = boolParser(false);
export const strictBoolArg: ValueParser<boolean> = boolParser(true);

/** A bare keyword; arguments are ignored as keepalived does. */
export const flagArg: ValueParser<boolean> = () => true;

export const strArg: ValueParser<string> = (n, c) => argText(n, 0) ?? missingArg(n, c, 'a value');

/** All arguments as words (keywords kept for the runtime as written). */
export const wordsArg: ValueParser<string[]> = (n) => n.args.map((a) => a.text);

export function oneOf<T extends string>(values: readonly T[], caseInsensitive = false): ValueParser<T> {
  return (n, c) => {
    const w = n.args[0];
    if (!w) return missingArg(n, c, values.join('|'));
    const t = caseInsensitive ? w.text.toUpperCase() : w.text;
    const hit = values.find((v) => (caseInsensitive ? v.toUpperCase() === t : v === t));
    if (hit === undefined) {
      c.diags.add(
        'KA_ERR_CONF_BAD_VALUE',
        'error',
        KaClass.GeneralError,
        w.pos,
        n.keyword,
        `invalid value '${w.text}'`,
        values.join('|'),
      );
      return undefined;
    }
    return hit;
  };
}

export interface ParsedIp {
  address: string;
  family: Family;
}

/** An address as inet_pton accepts it (dotted quad for IPv4), canonicalised by ipaddr.js. */
export function parseIp(text: string): ParsedIp | undefined {
  const r = parseIpShared(text);
  return r ? { address: r.address, family: r.family } : undefined;
}

/** parseIp's result shared with other callers: for a caller that only reads it (no copy made). */
export function parseIpShared(text: string): Readonly<ParsedIp> | undefined {
  let r = ipCache.get(text);
  if (r === undefined) {
    r = parseIpUncached(text) ?? null;
    if (ipCache.size >= IP_CACHE_MAX) ipCache.clear();
    ipCache.set(text, r);
  }
  return r ?? undefined;
}

/** Large files repeat the same addresses (real servers under every virtual server). */
const ipCache = new Map<string, ParsedIp | null>();
const IP_CACHE_MAX = 4096;

function parseIpUncached(text: string): ParsedIp | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text))
    return { address: ipaddr.IPv4.parse(text).toString(), family: 'inet' };
  if (text.includes(':') && ipaddr.IPv6.isValid(text))
    return { address: ipaddr.IPv6.parse(text).toString(), family: 'inet6' };
  return undefined;
}

export function badAddress(c: Ctx, w: AstWord, kw: string, what = 'IP address'): undefined {
  c.diags.add(
    'KA_ERR_CONF_BAD_ADDRESS',
    'error',
    KaClass.GeneralError,
    w.pos,
    kw,
    `invalid ${what} '${w.text}'`,
    what === 'IP address' ? 'an IPv4 or IPv6 address' : what,
  );
  return undefined;
}

export function ipArg(idx = 0): ValueParser<ParsedIp> {
  return (n, c) => {
    const w = n.args[idx];
    if (!w) return missingArg(n, c, 'an IP address');
    return parseIp(w.text) ?? badAddress(c, w, n.keyword);
  };
}

/** `IP[/LEN]` → canonical address and prefix length (default /32 or /128). */
export function parsePrefix(text: string): { address: string; family: Family; prefix: number } | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.family === 'inet' ? 32 : 128;
  if (slash < 0) return { ...ip, prefix: max };
  const p = parseIntStrict(text.slice(slash + 1));
  if (p === undefined || p < 0 || p > max) return undefined;
  return { ...ip, prefix: p };
}

/** `CMD [user [group]]`: the command is the first word (quote it when it has arguments). */
export const commandArg: ValueParser<Command> = (n, c) => {
  const w = n.args[0];
  if (!w) return missingArg(n, c, 'a command');
  return makeCommand(w.text, n.args[1]?.text, n.args[2]?.text, w.pos);
};

export function makeCommand(
  text: string,
  user: string | undefined,
  group: string | undefined,
  pos: SrcPos,
): Command {
  // argv by keepalived's script splitting (src/notify/command.ts); malformed text stays one word
  let argv: string[];
  try {
    argv = splitWords(text);
  } catch {
    argv = [text];
  }
  return { text, argv, user, group, pos };
}

/** keepalived 2.2.7 rejects the keyword (an error, value ignored) when it has more than one argument. */
export function oneArg<T>(p: ValueParser<T>): ValueParser<T> {
  return (n, c) => {
    const extra = n.args[1];
    if (!extra) return p(n, c);
    c.diags.add(
      'KA_ERR_CONF_BAD_VALUE',
      'error',
      KaClass.GeneralError,
      extra.pos,
      n.keyword,
      `too many parameters for ${n.keyword} - ignoring`,
      'one argument',
    );
    return undefined;
  };
}

/** keepalived 2.2.7 ignores the keyword without an argument and records nothing. */
export function optionalArg<T>(p: ValueParser<T>): ValueParser<T> {
  return (n, c) => (n.args.length === 0 ? undefined : p(n, c));
}

/** keepalived 2.2.7 records an error ("No K specified") for the keyword without an argument. */
export function neededArg<T>(p: ValueParser<T>): ValueParser<T> {
  return (n, c) => {
    if (n.args.length > 0) return p(n, c);
    c.diags.add(
      'KA_ERR_CONF_MISSING_ARG',
      'error',
      KaClass.GeneralError,
      n.pos,
      n.keyword,
      `No ${n.keyword} specified`,
      'an argument',
    );
    return undefined;
  };
}

/**
 * `*_cpu_affinity CPU…`: keepalived 2.2.7 checks each number against this machine's CPUs ("Invalid
 * cpu_id"), so the config test depends on the machine as keepalived's does.
 */
export const cpuListArg: ValueParser<string[]> = (n, c) => {
  const max = availableParallelism() - 1;
  if (n.args.length === 0) return neededArg(wordsArg)(n, c) as undefined;
  for (const w of n.args) {
    // keepalived reads "" as cpu 0
    const v = w.text === '' ? 0 : parseIntStrict(w.text);
    if (v !== undefined && v >= 0 && v <= max) continue;
    badNumber(c, w, n, 0, max, 'cpu id');
    return undefined;
  }
  return n.args.map((a) => a.text || '0');
};

/** Arguments checked by a predicate on the words; keepalived 2.2.7 reports a failing one as an error. */
export function checkedWords(
  ok: (words: readonly string[]) => boolean,
  expected: string,
): ValueParser<string[]> {
  return (n, c) => {
    const words = n.args.map((a) => a.text);
    if (ok(words)) return words;
    c.diags.add(
      'KA_ERR_CONF_BAD_VALUE',
      'error',
      KaClass.GeneralError,
      n.args[0]?.pos ?? n.pos,
      n.keyword,
      `invalid ${n.keyword} '${words.join(' ')}'`,
      expected,
    );
    return undefined;
  };
}

const UMASK_BITS: Readonly<Record<string, number>> = {
  IRUSR: 0o400,
  IWUSR: 0o200,
  IXUSR: 0o100,
  IRGRP: 0o040,
  IWGRP: 0o020,
  IXGRP: 0o010,
  IROTH: 0o004,
  IWOTH: 0o002,
  IXOTH: 0o001,
};

/**
 * `umask` as keepalived 2.2.7 reads it: a word starting with a digit is one C number (strtol base 0:
 * 0 octal, 0x hex, else decimal) up to 0777 and nothing after it; otherwise the words together are
 * bit names (IRUSR…IXOTH) joined by '|', with or without spaces around it. Returns the mask or
 * keepalived's complaint.
 */
export function parseUmask(words: readonly string[]): number | string {
  const first = words[0] ?? '';
  if (/^\d/.test(first)) {
    if (words.length !== 1) return 'Extra parameter(s) to umask option';
    const m = /^(?:0x([0-9a-f]+)|0([0-7]*)|([1-9]\d*))$/i.exec(first);
    let v = -1;
    if (m?.[1] !== undefined) v = Number.parseInt(m[1], 16);
    else if (m?.[2] !== undefined) v = m[2] ? Number.parseInt(m[2], 8) : 0;
    else if (m?.[3] !== undefined) v = Number(m[3]);
    return v >= 0 && v <= 0o777 ? v : `invalid umask value ${first}`;
  }
  let mask = 0;
  let needOr = false;
  for (const w of words) {
    for (let i = 0; i < w.length; ) {
      if (needOr) {
        if (w[i] !== '|') return `Invalid umask syntax ${w}`;
        needOr = false;
        i++;
        continue;
      }
      const bit = UMASK_BITS[w.slice(i, i + 5)];
      if (bit === undefined) return `Unknown umask bit ${w.slice(i)}`;
      mask |= bit;
      i += 5;
      needOr = true;
    }
  }
  return needOr ? mask : 'umask missing bit value';
}

/** `umask MASK`: the mask as a number, or keepalived's error (the umask is then left as it was). */
export const umaskArg: ValueParser<number> = (n, c) => {
  const v = parseUmask(n.args.map((a) => a.text));
  if (typeof v === 'number') return v;
  c.diags.add(
    'KA_ERR_CONF_BAD_VALUE',
    'error',
    KaClass.GeneralError,
    n.args[0]?.pos ?? n.pos,
    n.keyword,
    v,
    'an octal mode up to 0777 or bit names joined by | (IWGRP|IWOTH)',
  );
  return undefined;
};

const UINT_MAX = 4294967295n;
const ULONG_MAX = 18446744073709551615n;

/**
 * keepalived 2.2.7's complaint about an unsigned decimal word read against [min, max] (the first
 * of its two messages for a bad route or rule number), undefined when the word is in range.
 */
export function unsignedComplaint(t: string, min: number, max: number): string | undefined {
  if (t.startsWith('-')) return `negative number '${t}'`;
  if (!/^\+?\d+$/.test(t)) return `invalid number '${t}'`;
  const n = BigInt(t);
  if (n > UINT_MAX) return `number '${t}' outside unsigned integer range`;
  if (n < BigInt(min) || n > BigInt(max)) return `number '${t}' outside range [${min}, ${max}]`;
  return undefined;
}

/**
 * A C unsigned number (strtoul base 0: `010` is 8, `0x20` 32, a leading '+') up to 4294967295, or
 * keepalived 2.2.7's complaint about the word.
 */
export function cUnsigned(t: string): number | string {
  if (t.startsWith('-')) return `negative number '${t}'`;
  const x = /^\+?(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(t);
  if (!x) return `invalid number '${t}'`;
  const d = x[1]!;
  const n = /^0x/i.test(d) ? BigInt(d) : d.startsWith('0') ? BigInt(`0o${d.slice(1) || '0'}`) : BigInt(d);
  if (n > UINT_MAX) return `number '${t}' outside unsigned integer range`;
  return Number(n);
}

/**
 * keepalived 2.2.7's reading of a decimal with at most `shift` decimal places into an integer of
 * 10^-shift units, checked against [0, max]. `notes` are the messages it prints on the way. As
 * keepalived (observed against 2.2.7): whatever follows the first '.' beyond `shift` characters is
 * reported as too many decimal places and dropped, the value rounded up when the first dropped
 * character sorts at or after '5'; the rest (sign, digits, kept places padded with '0') must then be
 * a whole decimal number, an empty one being 0 (`.` is 0, `+.` is not a number).
 */
export function readDecimalShift(
  num: string,
  shift: number,
  max: number,
): { value: number | undefined; notes: string[] } {
  if (num.startsWith('-')) return { value: undefined, notes: [`negative number '${num}'`] };
  const notes: string[] = [];
  const dot = num.indexOf('.');
  let digits = num;
  let up = false;
  if (dot >= 0) {
    const after = num.slice(dot + 1);
    if (after.length > shift) {
      notes.push(`number '${num}' has too many decimal places`);
      up = after[shift]! >= '5';
    }
    digits = num.slice(0, dot) + after.slice(0, shift).padEnd(shift, '0');
  } else digits = num + '0'.repeat(shift);
  if (!/^\+?\d*$/.test(digits) || digits === '+')
    return { value: undefined, notes: [...notes, `invalid number '${num}'`] };
  const v = BigInt(digits.replace('+', '') || '0') + (up ? 1n : 0n);
  if (v > ULONG_MAX)
    return { value: undefined, notes: [...notes, `number '${num}' outside unsigned decimal range`] };
  if (v > BigInt(max)) {
    const fmt = (x: number) => (shift === 0 ? `${x}.` : (x / 10 ** shift).toFixed(shift));
    return { value: undefined, notes: [...notes, `number '${num}' outside range [${fmt(0)}, ${fmt(max)}]`] };
  }
  return { value: Number(v), notes };
}

/** Kernel units per millisecond of the route time metrics (RTAX_RTT is ms << 3, RTTVAR ms << 2). */
const RTT_MULT: Readonly<Record<string, number>> = { rtt: 8, rttvar: 4, rto_min: 1 };
const RTT_MIN_MS = 200;
const RTT_MAX_MS = 120000;

/**
 * A route time metric (`rtt`, `rttvar`, `rto_min`) as keepalived 2.2.7 reads it: `N` is in kernel
 * units, `Nms`/`Nmsec(s)` milliseconds, `Ns`/`Nsec(s)` seconds with up to 3 decimals; exponents
 * are refused. `value` (kernel units) is undefined when the route is dropped; `notes` are the
 * number reader's messages; `clamp` is the message of a value it resets into [200 ms, 120 s].
 */
export function routeTime(
  opt: string,
  t: string,
): { value: number | undefined; notes: string[]; clamp: string | undefined } {
  const mult = RTT_MULT[opt] ?? 1;
  const fail = { value: undefined, notes: [], clamp: undefined };
  let num = t;
  let shift = 0;
  let raw = true;
  const p = t.search(/s/i);
  if (p >= 0) {
    if (!['s', 'sec', 'secs'].includes(t.slice(p).toLowerCase())) return fail;
    raw = false;
    let end = p;
    if (p > 0 && t[p - 1]!.toLowerCase() === 'm') end = p - 1;
    else shift = 3;
    if (end === 0) return fail;
    num = t.slice(0, end);
  }
  if (/e/i.test(num)) return fail;
  const r = readDecimalShift(num, shift, RTT_MAX_MS * mult);
  if (r.value === undefined) return { ...fail, notes: r.notes };
  let value = raw ? r.value : r.value * mult;
  let clamp: string | undefined;
  // keepalived 2.2.7 names every time metric 'rtt' in these two messages
  if (value > RTT_MAX_MS * mult) {
    clamp = `rtt value ${t} exceeds maximum ${RTT_MAX_MS / 1000}s, resetting`;
    value = RTT_MAX_MS * mult;
  } else if (value < RTT_MIN_MS * mult) {
    clamp = `rtt value ${t} below minimum ${RTT_MIN_MS}ms, resetting`;
    value = RTT_MIN_MS * mult;
  }
  return { value, notes: r.notes, clamp };
}
