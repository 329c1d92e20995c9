/**
 * C's strtol(s, NULL, 0), as keepalived reads track files: leading blanks, a sign, 0x/0X hex, a
 * leading 0 octal, else decimal; stops at the first character that does not fit; 0 when nothing
 * does. Hand-written: no library reads numbers with C's base-0 rules and stop-at-garbage.
 */
export function strtol0(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return 0;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2] as string;
  let v: number;
  if (/^0[xX]/.test(body)) v = Number.parseInt(body.slice(2), 16);
  else if (body.length > 1 && body.startsWith('0')) v = Number.parseInt(body.slice(1), 8);
  else v = Number.parseInt(body, 10);
  return sign * v;
}
