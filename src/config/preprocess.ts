/**
 * keepalived's configuration preprocessor (surface §1.1–1.3), stage 1 of the config pipeline.
 *
 * Turns the main file into logical lines: comments removed, `include*` expanded (globs relative to the
 * including file), `$NAME=` definitions recorded and substituted, `@ID`/`@^ID` lines selected by the
 * config id, `~SEQ`/`~LST` lines repeated, and every `{`/`}` outside quotes split onto its own line,
 * as keepalived does. Each output line keeps a column map back into its original file.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { GlobOptions } from 'tinyglobby';
import { type DiagnosticSink, KaClass, type SrcPos } from './diagnostics.js';

/**
 * One logical line. `segs` maps output columns to source columns as flat triples
 * `[outIndex, srcCol, fixed]`: from `outIndex` on, the source column is `srcCol + (i - outIndex)`,
 * or just `srcCol` when `fixed` is 1 (substituted text points at its `$` reference).
 */
export interface PpLine {
  text: string;
  file: string;
  line: number;
  segs: number[];
}

export interface PreprocessOptions {
  /** For `@ID` lines and `${_INSTANCE}`; keepalived's default is the host name up to the first dot. */
  configId: string;
  /** `-e/--all-config`: every include is checked and a missing file stops the daemon. */
  allConfig?: boolean;
  /** Seed of `${_RANDOM}` (keepalived's `random_seed`); default from the clock. */
  randomSeed?: number;
}

export interface PreprocessResult {
  lines: PpLine[];
  /** Every file read, main file first. */
  files: string[];
}

/**
 * Where logical lines go, in order, as they are made. The parser takes them one by one (see
 * src/config/parse.ts LineParser), so no line object outlives the parse of its top-level item.
 */
export interface LineSink {
  /**
   * One logical line: src[start, end). The common line is a range of the file's own text (no copy
   * is made of it); `segs` maps columns counted from `start`.
   */
  line(src: string, start: number, end: number, file: string, line: number, segs: number[]): void;
}

/** A sink that keeps every line (tests, and the bench's stage timings). */
export class LineCollector implements LineSink {
  readonly lines: PpLine[] = [];
  line(src: string, start: number, end: number, file: string, line: number, segs: number[]): void {
    const text = start === 0 && end === src.length ? src : src.slice(start, end);
    this.lines.push({ text, file, line, segs });
  }
}

/** Source position of column `idx` (0-based) of an output line. */
export function mapPos(l: PpLine, idx: number): SrcPos {
  const s = l.segs;
  if (s.length === 3) return { file: l.file, line: l.line, col: s[2] ? s[1]! : s[1]! + (idx - s[0]!) };
  let k = 0;
  for (let i = 3; i < s.length; i += 3) {
    if (s[i]! <= idx) k = i;
    else break;
  }
  const col = s[k + 2] ? s[k + 1]! : s[k + 1]! + (idx - s[k]!);
  return { file: l.file, line: l.line, col };
}

// tinyglobby (and picomatch under it) is loaded on the first glob include, synchronously, so files
// without globs (and `-t` start-up) do not pay for it.
type Tinyglobby = typeof import('tinyglobby');
let glob: Tinyglobby['globSync'] | undefined;
function globSync(pattern: string, opts: Omit<GlobOptions, 'patterns'>): string[] {
  glob ??= (createRequire(import.meta.url)('tinyglobby') as Tinyglobby).globSync;
  return glob(pattern, opts);
}

// ---- line buffers with column maps ----

/**
 * Shared maps of the common one-segment lines (`segs` arrays are never mutated). Made up front: an
 * array filled as columns appear changed shape during a load, and the optimised line readers that
 * depended on it were thrown away and compiled again.
 */
const PLAIN_SEGS: readonly number[][] = Array.from({ length: 256 }, (_, col) => [0, col, 0]);
function plainSegs(col: number): number[] {
  return col < 256 ? PLAIN_SEGS[col]! : [0, col, 0];
}

interface Buf {
  text: string;
  segs: number[];
}

function slice(b: Buf, start: number, end = b.text.length): Buf {
  if (start === 0 && end === b.text.length) return b;
  const s = b.segs;
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 3) {
    const o = s[i]!;
    const next = i + 3 < s.length ? s[i + 3]! : Number.POSITIVE_INFINITY;
    if (next <= start || o >= end) continue;
    const from = Math.max(o, start);
    const fixed = s[i + 2]!;
    out.push(from - start, fixed ? s[i + 1]! : s[i + 1]! + (from - o), fixed);
  }
  if (out.length === 0) out.push(0, s[1] ?? 1, 1);
  return {
    text: b.text.slice(start, end),
    segs: out.length === 3 && out[0] === 0 && out[2] === 0 ? plainSegs(out[1]!) : out,
  };
}

const OPEN = '{';
const CLOSE = '}';

/** The one-character line of the brace at index i (a shared column map when the line has one). */
function brace(b: Buf, i: number): Buf {
  const s = b.segs;
  const text = b.text.charCodeAt(i) === 123 ? OPEN : CLOSE;
  if (s.length === 3 && s[2] === 0) return { text, segs: plainSegs(s[1]! + (i - s[0]!)) };
  return slice(b, i, i + 1);
}

function concat(a: Buf, b: Buf): Buf {
  if (a.text.length === 0) return b;
  if (b.text.length === 0) return a;
  const segs = a.segs.slice();
  const n = a.text.length;
  for (let i = 0; i < b.segs.length; i += 3) segs.push(b.segs[i]! + n, b.segs[i + 1]!, b.segs[i + 2]!);
  return { text: a.text + b.text, segs };
}

function trim(b: Buf): Buf {
  const t = b.text;
  let s = 0;
  let e = t.length;
  while (s < e && isBlank(t.charCodeAt(s))) s++;
  while (e > s && isBlank(t.charCodeAt(e - 1))) e--;
  return slice(b, s, e);
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12 || c === 13;
}

// ---- the preprocessor ----

/** plainLine's character classes: a line with a SPECIAL character takes the general path. */
const SPECIAL = 1;
const BRACE = 2;
const PLAIN_CLASS = new Uint8Array(128);
for (const c of '"#!$\\') PLAIN_CLASS[c.charCodeAt(0)] = SPECIAL;
PLAIN_CLASS[123] = BRACE;
PLAIN_CLASS[125] = BRACE;

const INCLUDE_RE = /^(include[rmwba]?)(?:[ \t]+(.*))?$/;
const DEF_RE = /^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const COND_RE = /^@(\^?)([^ \t]+)[ \t]*/;
const SEQ_RE = /^~(SEQx?|LST)\(/;
const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const MAX_INCLUDE_DEPTH = 32;
const MAX_LINE = 1024;
/** Bytes keepalived reads as one line at most (a 1024-byte buffer with its terminating NUL). */
const RAW_PIECE = 1023;
/** Total text one line may expand into through multi-line parameters. */
const MAX_EXPANDED = 1 << 20;
const MAX_EXPANSION = 64;

interface Param {
  lines: string[];
}

interface IncludeChecks {
  readable: boolean;
  match: boolean;
  wildcardMatch: boolean;
  braceMatch: boolean;
}

const NO_CHECKS: IncludeChecks = { readable: false, match: false, wildcardMatch: false, braceMatch: false };
const ALL_CHECKS: IncludeChecks = { readable: true, match: true, wildcardMatch: true, braceMatch: true };

export class Preprocessor {
  private readonly files: string[] = [];
  private readonly params = new Map<string, Param>();
  private readonly stack: string[] = [];
  private defaultChecks: IncludeChecks;
  private rand: number;

  constructor(
    private readonly opts: PreprocessOptions,
    private readonly diags: DiagnosticSink,
    private readonly out: LineSink,
  ) {
    this.defaultChecks = opts.allConfig ? ALL_CHECKS : NO_CHECKS;
    this.rand = (opts.randomSeed ?? Date.now()) >>> 0 || 1;
  }

  /** Sends the logical lines of `path` to the sink; returns every file read, main file first. */
  run(path: string): string[] {
    const abs = resolve(path);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      // keepalived -t only reports "Config files missing" (exit 0) unless -e is given.
      this.diags.add(
        'KA_ERR_CONF_FILE_NOT_FOUND',
        this.opts.allConfig ? 'fatal' : 'warning',
        this.opts.allConfig ? KaClass.FileNotFound : KaClass.None,
        undefined,
        path,
        `cannot read configuration file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        'a readable file',
      );
      return this.files;
    }
    this.readFile(abs, text, 0);
    return this.files;
  }

  private readFile(abs: string, text: string, depth: number): void {
    let real = abs;
    try {
      real = realpathSync(abs);
    } catch {
      // keep the given path
    }
    this.files.push(abs);
    this.stack.push(real);
    const saved = this.defaultChecks;
    let pending: { name: string; lines: string[] } | undefined;
    // Lines are found in the file's text rather than split off first: the common line is read in
    // place (plainLine) and only its words' text is ever copied.
    let lineNo = 0;
    for (let ls = 0; ls <= text.length; ) {
      let le = text.indexOf('\n', ls);
      if (le < 0) le = text.length;
      const next = le + 1;
      lineNo++;
      // keepalived reads a line in pieces of at most RAW_PIECE bytes, each piece a line of its own:
      // a longer physical line is read the same way here, with a warning (a line under 342
      // characters cannot reach RAW_PIECE bytes)
      const first = le - ls > RAW_PIECE / 3 ? this.pieceEnd(text, ls, le, abs, lineNo) : le;
      for (
        let ps = ls, pe = first, once = true;
        once || ps < le;
        once = false, ps = pe, pe = pieceEnd(text, pe, le)
      ) {
        const col0 = ps - ls + 1;
        if (!pending && this.plainLine(text, ls, ps, pe, abs, lineNo)) continue;
        let b = readLine(text.slice(ps, pe), col0);
        if (pending) {
          const cont = b.text.endsWith('\\');
          const t = cont ? b.text.slice(0, -1).trim() : b.text;
          if (t) pending.lines.push(t);
          if (!cont) {
            this.params.set(pending.name, { lines: pending.lines });
            pending = undefined;
          }
          continue;
        }
        if (b.text.length === 0) continue;
        const c0 = b.text.charCodeAt(0);
        if (c0 !== 105 /* i */ && c0 !== 36 /* $ */) {
          // the common line: no include, definition or include_check
          b = this.conditional(b);
          if (b.text.length !== 0) this.expand(b, abs, lineNo, 0);
          continue;
        }
        const inc = INCLUDE_RE.exec(b.text);
        if (inc) {
          this.include(inc[1]!, inc[2] ?? '', abs, { file: abs, line: lineNo, col: b.segs[1]! }, depth);
          continue;
        }
        const def = DEF_RE.exec(b.text);
        if (def) {
          const name = def[1]!;
          let value = def[2]!.trim();
          if (value.endsWith('\\')) {
            value = value.slice(0, -1).trim();
            pending = { name, lines: value ? [value] : [] };
          } else {
            this.params.set(name, { lines: [value] });
          }
          continue;
        }
        if (b.text.startsWith('include_check')) this.includeCheck(b.text);
        b = this.conditional(b);
        if (b.text.length === 0) continue;
        this.expand(b, abs, lineNo, 0);
      }
      ls = next;
    }
    if (pending) this.params.set(pending.name, { lines: pending.lines });
    this.defaultChecks = saved;
    this.stack.pop();
  }

  /** The end of a long line's first piece; warns when the line is read in several pieces. */
  private pieceEnd(text: string, ls: number, le: number, file: string, line: number): number {
    const end = pieceEnd(text, ls, le);
    if (end < le) {
      this.diags.add(
        'KA_ERR_CONF_LINE_TOO_LONG',
        'warning',
        KaClass.None,
        { file, line, col: end - ls + 1 },
        text.slice(ls, Math.min(ls + 20, le)).trim(),
        `line is ${Buffer.byteLength(text.slice(ls, le))} bytes long: as keepalived does, the text from here on is read as a new line`,
        `at most ${RAW_PIECE} bytes per line`,
      );
    }
    return end;
  }

  /**
   * The common line, handled without building column maps piece by piece: no comment, quote,
   * parameter, escape, conditional, sequence, include or definition. Its braces are split onto their
   * own lines as emit() does. Returns false (nothing recorded) for any other line. Reads
   * text[from, le) of the physical line starting at `ls` (from > ls: a later piece of a long line).
   */
  private plainLine(text: string, ls: number, from: number, le: number, file: string, line: number): boolean {
    let s = from;
    while (s < le && isBlank(text.charCodeAt(s))) s++;
    if (s === le) return true; // blank
    const c0 = text.charCodeAt(s);
    // i: include*, $: definition, @: conditional, ~: sequence
    if (c0 === 105 || c0 === 36 || c0 === 64 || c0 === 126) return false;
    let firstBrace = -1;
    for (let i = s; i < le; i++) {
      const c = text.charCodeAt(i);
      const k = c < 128 ? PLAIN_CLASS[c]! : 0;
      if (k === 0) continue;
      if (k === SPECIAL) return false;
      if (firstBrace < 0) firstBrace = i;
    }
    let e = le;
    while (e > s && isBlank(text.charCodeAt(e - 1))) e--;
    if (firstBrace < 0) {
      this.pushRange(text, s, e, plainSegs(s - ls + 1), file, line);
      return true;
    }
    let part = s;
    for (let i = firstBrace; i < e; i++) {
      const c = text.charCodeAt(i);
      if (c !== 123 && c !== 125) continue;
      this.plainPart(text, ls, part, i, file, line);
      this.out.line(c === 123 ? OPEN : CLOSE, 0, 1, file, line, plainSegs(i - ls + 1));
      part = i + 1;
    }
    this.plainPart(text, ls, part, e, file, line);
    return true;
  }

  /** Records text[start, end) trimmed, its columns those of the source line starting at `ls`. */
  private plainPart(text: string, ls: number, start: number, end: number, file: string, line: number): void {
    while (start < end && isBlank(text.charCodeAt(start))) start++;
    while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
    if (start < end) this.pushRange(text, start, end, plainSegs(start - ls + 1), file, line);
  }

  /** `@ID rest` / `@^ID rest`: keep rest only when the id matches (resp. does not match). */
  private conditional(b: Buf): Buf {
    if (b.text.charCodeAt(0) !== 64 /* @ */) return b;
    const m = COND_RE.exec(b.text);
    if (!m) return b;
    const hit = m[2] === this.opts.configId;
    const keep = m[1] ? !hit : hit;
    return keep ? slice(b, m[0].length) : { text: '', segs: [0, 1, 0] };
  }

  private includeCheck(text: string): void {
    const words = text.split(/[ \t]+/);
    if (words[0] !== 'include_check') return;
    if (words.length === 1) {
      this.defaultChecks = ALL_CHECKS;
      return;
    }
    const c = { ...this.defaultChecks };
    for (const w of words.slice(1)) {
      const on = !w.startsWith('-');
      const k = w.replace(/^[+-]/, '');
      if (k === 'readable') c.readable = on;
      else if (k === 'match') c.match = on;
      else if (k === 'wildcard_match') c.wildcardMatch = on;
      else if (k === 'brace_match') c.braceMatch = on;
    }
    this.defaultChecks = c;
  }

  private include(kind: string, arg: string, from: string, pos: SrcPos, depth: number): void {
    const pattern = unquote(arg.trim());
    if (!pattern) {
      this.diags.add(
        'KA_ERR_CONF_MISSING_ARG',
        'error',
        KaClass.MissingParameter,
        pos,
        kind,
        'no file pattern',
        'a path or glob',
      );
      return;
    }
    let checks = this.defaultChecks;
    if (kind === 'includer') checks = { ...checks, readable: true };
    else if (kind === 'includem') checks = { ...checks, readable: true, match: true };
    else if (kind === 'includew') checks = { ...checks, readable: true, match: true, wildcardMatch: true };
    else if (kind === 'includeb') checks = { ...checks, readable: true, braceMatch: true };
    else if (kind === 'includea') checks = ALL_CHECKS;
    const base = dirname(from);
    const full = isAbsolute(pattern) ? pattern : resolve(base, pattern);
    const wildcard = /[*?[]/.test(pattern);
    const brace = /\{[^}]*,[^}]*\}/.test(pattern);
    let files: string[];
    if (wildcard || brace) {
      // tinyglobby (picomatch) does csh braces and the glob(3) wildcards; results sorted like glob(3).
      files = globSync(full.slice(1), {
        cwd: '/',
        absolute: true,
        expandDirectories: false,
        onlyFiles: true,
      }).sort();
    } else {
      files = [full];
    }
    if (files.length === 0 || (!wildcard && !brace && !isFile(full))) {
      // keepalived: no match is an error only with the match checks (includem/w/b/a, -e);
      // a pattern with a wildcard needs wildcard_match, one with braces brace_match
      const checked = (checks.match && (!wildcard || checks.wildcardMatch)) || (brace && checks.braceMatch);
      this.diags.add(
        'KA_ERR_CONF_INCLUDE_MISSING',
        checked ? 'error' : 'warning',
        checked ? KaClass.NoConfig : KaClass.None,
        pos,
        kind,
        `Config files missing: no file matches '${pattern}'`,
        'an existing file (plain include ignores missing files)',
      );
      return;
    }
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      this.diags.add(
        'KA_ERR_CONF_INCLUDE_DEPTH',
        'error',
        KaClass.GeneralError,
        pos,
        kind,
        `includes nest deeper than ${MAX_INCLUDE_DEPTH}`,
      );
      return;
    }
    for (const f of files) {
      let real = f;
      try {
        real = realpathSync(f);
      } catch {
        // not readable: reported below
      }
      if (this.stack.includes(real)) {
        // keepalived recurses until it runs out of file descriptors, then skips the file and
        // records no error (exit 0): we stop at once and warn
        this.diags.add(
          'KA_ERR_CONF_INCLUDE_LOOP',
          'warning',
          KaClass.None,
          pos,
          kind,
          `'${f}' is already being read (include loop)`,
          'an include graph without cycles',
        );
        continue;
      }
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        this.diags.add(
          'KA_ERR_CONF_INCLUDE_MISSING',
          checks.readable ? 'error' : 'warning',
          checks.readable ? KaClass.NoConfig : KaClass.None,
          pos,
          kind,
          `cannot read '${f}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
          'a readable file',
        );
        continue;
      }
      this.readFile(f, text, depth + 1);
    }
  }

  /** ~SEQ/~LST repetition, then substitution, then brace splitting. */
  private expand(b: Buf, file: string, line: number, depth: number): void {
    if (depth > MAX_EXPANSION) {
      this.diags.add(
        'KA_ERR_CONF_BAD_PARAM',
        'error',
        KaClass.GeneralError,
        { file, line, col: b.segs[1]! },
        '$',
        'parameter expansion nests too deep (recursive definition?)',
      );
      return;
    }
    if (b.text.charCodeAt(0) === 126 /* ~ */ && SEQ_RE.test(b.text)) {
      this.sequence(b, file, line, depth);
      return;
    }
    if (!b.text.includes('$')) {
      this.expandOne(b, b, file, line, depth);
      return;
    }
    for (const s of this.substitute(b, file, line)) this.expandOne(s, b, file, line, depth);
  }

  /** One line of a substitution's result (`b` itself when nothing was substituted). */
  private expandOne(sub: Buf, b: Buf, file: string, line: number, depth: number): void {
    let s = trim(sub);
    if (s.text.length === 0) return;
    if (s !== b) {
      // substituted text is re-checked for conditionals and sequences, as keepalived does
      if (s.text.charCodeAt(0) === 64) {
        s = trim(this.conditional(s));
        if (s.text.length === 0) return;
      }
      if (s.text.charCodeAt(0) === 126 && SEQ_RE.test(s.text)) {
        this.sequence(s, file, line, depth + 1);
        return;
      }
    }
    this.emit(s, file, line);
  }

  private sequence(b: Buf, file: string, line: number, depth: number): void {
    const t = b.text;
    const close = t.indexOf(')');
    const open = t.indexOf('(');
    const pos: SrcPos = { file, line, col: b.segs[1]! };
    const kind = t.slice(1, open);
    if (close < 0) {
      this.badSeq(pos, t);
      return;
    }
    const inner = t.slice(open + 1, close);
    const rest = trim(slice(b, close + 1));
    const runs: Array<Array<[string, string]>> = [];
    if (kind === 'LST') {
      const parts = splitTopLevel(inner);
      const head = parts[0]?.trim() ?? '';
      if (head.startsWith('{')) {
        const names = head
          .slice(1, -1)
          .split(',')
          .map((s) => s.trim());
        for (const p of parts.slice(1)) {
          const v = p.trim();
          if (!v.startsWith('{') || !v.endsWith('}')) {
            this.badSeq(pos, t);
            return;
          }
          const vals = v
            .slice(1, -1)
            .split(',')
            .map((s) => s.trim());
          if (vals.length !== names.length) {
            this.badSeq(pos, t);
            return;
          }
          runs.push(names.map((n, i) => [n, vals[i]!]));
        }
      } else {
        for (const p of parts.slice(1)) runs.push([[head, p.trim()]]);
      }
      if (!/^[A-Za-z_]/.test(head.replace(/^\{/, '')) || parts.length < 2) {
        this.badSeq(pos, t);
        return;
      }
    } else {
      const a = inner.split(',').map((s) => s.trim());
      const name = a[0] ?? '';
      const nums = a.slice(1).map((s) => (/^-?\d+$/.test(s) ? Number(s) : Number.NaN));
      if (
        !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ||
        nums.length < 1 ||
        nums.length > 3 ||
        nums.some(Number.isNaN)
      ) {
        this.badSeq(pos, t);
        return;
      }
      let start: number;
      let step: number;
      let end: number;
      if (nums.length === 1) {
        end = nums[0]!;
        start = end < 0 ? -1 : 1;
        step = start <= end ? 1 : -1;
      } else if (nums.length === 2) {
        [start, end] = nums as [number, number];
        step = start <= end ? 1 : -1;
      } else {
        [start, step, end] = nums as [number, number, number];
      }
      if (
        step === 0 ||
        (step > 0 && start > end) ||
        (step < 0 && start < end) ||
        (kind === 'SEQx' && (start < 0 || end < 0))
      ) {
        this.badSeq(pos, t);
        return;
      }
      for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
        runs.push([[name, kind === 'SEQx' ? v.toString(16) : String(v)]]);
        if (runs.length > 100_000) {
          this.badSeq(pos, t);
          return;
        }
      }
    }
    for (const run of runs) {
      const saved = run.map(([n]) => [n, this.params.get(n)] as const);
      for (const [n, v] of run) this.params.set(n, { lines: [v] });
      this.expand(rest, file, line, depth + 1);
      for (const [n, p] of saved) {
        if (p) this.params.set(n, p);
        else this.params.delete(n);
      }
    }
  }

  private badSeq(pos: SrcPos, t: string): void {
    this.diags.add(
      'KA_ERR_CONF_BAD_SEQ',
      'error',
      KaClass.GeneralError,
      pos,
      t.slice(0, t.indexOf('(') + 1 || 4),
      `Invalid sequence specification '${t}'`,
      '~SEQ(var, [start,] [step,] end) or ~LST(var, v1, …)',
    );
  }

  /** Replaces `$NAME` / `${NAME}` uses; multi-line values give several lines. */
  private substitute(
    b: Buf,
    file: string,
    line: number,
    depth = 0,
    budget: { left: number; spent: boolean } = { left: MAX_EXPANDED, spent: false },
  ): Buf[] {
    if (budget.spent) return [];
    const t = b.text;
    const lines: Buf[] = [];
    let cur: Buf = { text: '', segs: [0, b.segs[1]!, 1] };
    let last = 0;
    let changed = false;
    let quote = 0;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 34 || c === 39) {
        if (quote === 0) quote = c;
        else if (quote === c) quote = 0;
        continue;
      }
      if (c !== 36 /* $ */) continue;
      let name: string;
      let end: number;
      let args = '';
      if (t.charCodeAt(i + 1) === 123 /* { */) {
        const close = t.indexOf('}', i + 2);
        if (close < 0) continue;
        const body = t.slice(i + 2, close).trim();
        const sp = body.search(/[ \t]/);
        name = sp < 0 ? body : body.slice(0, sp);
        args = sp < 0 ? '' : body.slice(sp + 1).trim();
        end = close + 1;
      } else {
        NAME_RE.lastIndex = i + 1;
        const m = NAME_RE.exec(t);
        if (!m) continue;
        end = i + 1 + m[0].length;
        if (end < t.length && !isBlank(t.charCodeAt(end))) continue;
        name = m[0];
      }
      const value = this.lookup(name, args, file);
      const refCol = mapPos({ text: t, file, line, segs: b.segs }, i).col;
      if (value === undefined) {
        if (quote === 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          this.diags.add(
            'KA_ERR_CONF_UNDEFINED_PARAM',
            'warning',
            KaClass.None,
            { file, line, col: refCol },
            `$${name}`,
            `parameter '${name}' is not defined; the text is kept verbatim`,
            `a $${name}=value definition before this line`,
          );
        }
        continue;
      }
      changed = true;
      cur = concat(cur, slice(b, last, i));
      for (let k = 0; k < value.length; k++) {
        if (k > 0) {
          lines.push(cur);
          cur = { text: '', segs: [0, refCol, 1] };
        }
        cur = concat(cur, { text: value[k]!, segs: [0, refCol, 1] });
      }
      last = end;
      i = end - 1;
    }
    if (!changed) return [b];
    cur = concat(cur, slice(b, last));
    lines.push(cur);
    // Stop as soon as an expansion outgrows what keepalived accepts, before expanding further:
    // nested definitions otherwise grow exponentially (a hang on hostile or broken input). The
    // budget is shared by every branch of the expansion of one source line.
    for (const l of lines) {
      budget.left -= l.text.length + 1;
      if (l.text.length > MAX_LINE || budget.left < 0) {
        budget.spent = true;
        this.diags.add(
          'KA_ERR_CONF_LINE_TOO_LONG',
          'error',
          KaClass.GeneralError,
          { file, line, col: b.segs[1]! },
          b.text.slice(0, 20),
          `parameter expansion produces more than ${l.text.length > MAX_LINE ? `${MAX_LINE} bytes on a line` : `${MAX_EXPANDED} bytes`}`,
          `at most ${MAX_LINE} bytes per line after substitution`,
        );
        return [];
      }
    }
    if (depth >= MAX_EXPANSION) {
      this.diags.add(
        'KA_ERR_CONF_BAD_PARAM',
        'error',
        KaClass.GeneralError,
        { file, line, col: b.segs[1]! },
        '$',
        'parameter expansion nests too deep (recursive definition?)',
      );
      return [];
    }
    // expansion is recursive: values may use other parameters
    const out = lines.flatMap((l) =>
      l.text.includes('$') ? this.substitute(l, file, line, depth + 1, budget) : [l],
    );
    return budget.spent ? [] : out;
  }

  private lookup(name: string, args: string, file: string): string[] | undefined {
    switch (name) {
      case '_PWD':
        return [dirname(file)];
      case '_INSTANCE':
        return [this.opts.configId];
      case '_HASH':
        return ['#'];
      case '_BANG':
        return ['!'];
      case '_RANDOM': {
        const a = args
          .split(/[ \t]+/)
          .filter(Boolean)
          .map(Number);
        const min = a.length >= 2 ? a[0]! : 0;
        const max = a.length >= 2 ? a[1]! : a.length === 1 ? a[0]! : 32767;
        // xorshift32: reproducible from random_seed; no library needed for one PRNG step
        let x = this.rand;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        this.rand = x >>> 0;
        return [String(min + (this.rand % (Math.max(max - min, 0) + 1)))];
      }
      default: {
        const p = this.params.get(name);
        return p ? p.lines : undefined;
      }
    }
  }

  /** Splits `{` and `}` outside quotes onto their own lines and records the result. */
  private emit(b: Buf, file: string, line: number): void {
    const t = b.text;
    if (t.indexOf('{') < 0 && t.indexOf('}') < 0) {
      this.push(b, file, line);
      return;
    }
    let start = 0;
    let quoted = false;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 34) quoted = !quoted;
      else if (!quoted && (c === 123 || c === 125)) {
        this.pushPart(b, start, i, file, line);
        this.push(brace(b, i), file, line);
        start = i + 1;
      }
    }
    if (start === 0) this.push(b, file, line);
    else this.pushPart(b, start, t.length, file, line);
  }

  /** Records b.text[start, end) trimmed. */
  private pushPart(b: Buf, start: number, end: number, file: string, line: number): void {
    const t = b.text;
    while (start < end && isBlank(t.charCodeAt(start))) start++;
    while (end > start && isBlank(t.charCodeAt(end - 1))) end--;
    if (start < end) this.push(slice(b, start, end), file, line);
  }

  private push(b: Buf, file: string, line: number): void {
    this.pushText(b.text, b.segs, file, line);
  }

  private pushText(text: string, segs: number[], file: string, line: number): void {
    this.pushRange(text, 0, text.length, segs, file, line);
  }

  /** Records the logical line src[start, end). */
  private pushRange(
    src: string,
    start: number,
    end: number,
    segs: number[],
    file: string,
    line: number,
  ): void {
    if (end <= start) return;
    if (end - start > MAX_LINE / 4) {
      const text = src.slice(start, end);
      if (Buffer.byteLength(text) > MAX_LINE)
        this.diags.add(
          'KA_ERR_CONF_LINE_TOO_LONG',
          'error',
          KaClass.GeneralError,
          { file, line, col: segs[1]! },
          text.slice(0, 20),
          `line is ${Buffer.byteLength(text)} bytes long`,
          `at most ${MAX_LINE} bytes`,
        );
    }
    this.out.line(src, start, end, file, line, segs);
  }
}

/** One raw line, comment stripped and trimmed (fast path: no comment or escape characters). */
function readLine(raw: string, col0 = 1): Buf {
  if (raw.indexOf('#') < 0 && raw.indexOf('!') < 0) {
    let s = 0;
    let e = raw.length;
    while (s < e && isBlank(raw.charCodeAt(s))) s++;
    while (e > s && isBlank(raw.charCodeAt(e - 1))) e--;
    return { text: s === 0 && e === raw.length ? raw : raw.slice(s, e), segs: plainSegs(s + col0) };
  }
  return trim(stripComment({ text: raw, segs: [0, col0, 0] }));
}

/**
 * The end of the piece of text[from, le) that keepalived reads as one line: it reads a file with a
 * buffer of 1024 bytes (fgets), so a physical line of more than RAW_PIECE bytes comes in pieces of
 * RAW_PIECE bytes, each then parsed as a line of its own. Counted in UTF-8 bytes; a multi-byte
 * character is not cut (keepalived would cut it).
 */
function pieceEnd(text: string, from: number, le: number): number {
  let bytes = 0;
  for (let i = from; i < le; i++) {
    const c = text.charCodeAt(i);
    const n =
      c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 4 : c >= 0xdc00 && c < 0xe000 ? 0 : 3;
    if (bytes + n > RAW_PIECE) return i;
    bytes += n;
  }
  return le;
}

/** Removes a `!`/`#` comment outside double quotes; `\#` and `\!` give the literal character. */
function stripComment(b: Buf): Buf {
  const t = b.text;
  if (t.endsWith('\r')) b = slice(b, 0, t.length - 1);
  const s = b.text;
  let quoted = false;
  let out: Buf | undefined;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (quoted) continue;
    else if (c === 92 /* \ */ && (s.charCodeAt(i + 1) === 35 || s.charCodeAt(i + 1) === 33)) {
      out = concat(out ?? { text: '', segs: [0, 1, 0] }, slice(b, from, i));
      from = i + 1;
      i++;
    } else if (c === 35 || c === 33) {
      return out ? concat(out, slice(b, from, i)) : slice(b, 0, i);
    }
  }
  return out ? concat(out, slice(b, from)) : b;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Splits `a, {b,c}, d` on commas outside braces. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(s.slice(from));
  return parts;
}

/** The logical lines of `path`, all kept (see LineSink for the streaming form). */
export function preprocess(path: string, opts: PreprocessOptions, diags: DiagnosticSink): PreprocessResult {
  const sink = new LineCollector();
  const files = new Preprocessor(opts, diags, sink).run(path);
  return { lines: sink.lines, files };
}

/** Sends the logical lines of `path` to `sink`; returns every file read, main file first. */
export function preprocessInto(
  path: string,
  opts: PreprocessOptions,
  diags: DiagnosticSink,
  sink: LineSink,
): string[] {
  return new Preprocessor(opts, diags, sink).run(path);
}
