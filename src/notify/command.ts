/**
 * Script command strings as keepalived reads them (keepalived-surface.md §1.1 "Script strings").
 *
 * keepalived splits a script line twice with the same quoted/escaped splitter: the raw text after
 * the keyword gives `CMD [user [group]]`, then the CMD word is split again into argv. Both passes
 * honour '...' and "..." (quotes removed, adjacent parts joined) and backslash escapes everywhere:
 * \a \b \E \f \n \r \t \v, \nnn (octal, up to 3 digits), \xHH... (hex), \cC (control), \<other>
 * (the character itself). Hand-written: no npm shell-word splitter implements these escapes, and
 * keepalived's rules differ from POSIX sh (escapes act inside single quotes too).
 */
import { KaError } from '../core/errors.js';

const WHITE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

const isOctal = (c: string | undefined): c is string => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined): c is string => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/**
 * One pass of keepalived's quoted/escaped word splitter. Escaped byte values (\x, octal) are kept
 * to 8 bits, as keepalived stores them in a `char`; they become one UTF-16 code unit each.
 * Throws KA_ERR_NOTIFY_BAD_COMMAND on an unmatched quote or a trailing backslash.
 */
export function splitWords(src: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    while (i < n && WHITE.has(src[i] as string)) i++;
    if (i >= n) break;
    let word = '';
    let quote: '"' | "'" | null = null;
    while (i < n) {
      const c = src[i] as string;
      if (c === '\\') {
        i++;
        if (i >= n)
          throw new KaError('KA_ERR_NOTIFY_BAD_COMMAND', `missing escape char at end: '${src}'`, { src });
        const e = src[i] as string;
        if (e === 'x' && isHex(src[i + 1])) {
          let v = 0;
          i++;
          while (isHex(src[i])) {
            v = ((v << 4) | Number.parseInt(src[i] as string, 16)) & 0xff;
            i++;
          }
          word += String.fromCharCode(v);
        } else if (e === 'c' && i + 1 < n) {
          word += String.fromCharCode((src.charCodeAt(i + 1) & 0x1f) >>> 0);
          i += 2;
        } else if (isOctal(e)) {
          let v = 0;
          for (let k = 0; k < 3 && isOctal(src[i]); k++, i++) v = ((v << 3) + Number(src[i])) & 0xff;
          word += String.fromCharCode(v);
        } else {
          word += SIMPLE_ESCAPES[e] ?? e;
          i++;
        }
        continue;
      }
      if (quote !== null) {
        if (c === quote) quote = null;
        else word += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      }
      if (WHITE.has(c)) break;
      word += c;
      i++;
    }
    if (quote !== null) {
      throw new KaError('KA_ERR_NOTIFY_BAD_COMMAND', `String '${src}': missing terminating ${quote}`, {
        src,
      });
    }
    words.push(word);
  }
  return words;
}

/** A parsed script reference: argv plus the optional `user [group]` words that followed it. */
export interface ScriptSpec {
  argv: readonly string[];
  user?: string;
  group?: string;
}

/**
 * Split a command word (the CMD token after the keyword, quotes already removed by the first
 * pass) into argv, as keepalived's second pass does.
 */
export function splitCommand(cmd: string): string[] {
  const argv = splitWords(cmd);
  if (argv.length === 0) throw new KaError('KA_ERR_NOTIFY_BAD_COMMAND', 'empty script command', { cmd });
  return argv;
}

/**
 * Parse the raw text that follows a script keyword (`notify_master`, `script`, `notify_fifo_script`…):
 * `CMD [user [group]]`, each pass as keepalived does it.
 */
export function parseScriptLine(rest: string): ScriptSpec {
  const words = splitWords(rest);
  const cmd = words[0];
  if (cmd === undefined)
    throw new KaError('KA_ERR_NOTIFY_BAD_COMMAND', 'script keyword without a command', { rest });
  const spec: ScriptSpec = { argv: splitCommand(cmd) };
  const user = words[1];
  const group = words[2];
  return {
    ...spec,
    ...(user !== undefined ? { user } : {}),
    ...(group !== undefined ? { group } : {}),
  };
}

/** Render argv as keepalived's cmd_str does ('...' around each word, ' escaped as '\''). */
export function commandString(argv: readonly string[]): string {
  return argv
    .map((a, i) =>
      i === 0 && (a.startsWith('<') || a.startsWith('>')) ? a : `'${a.replaceAll("'", "'\\''")}'`,
    )
    .join(' ');
}
