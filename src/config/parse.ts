/**
 * Stage 2: logical lines → position-annotated syntax tree, with the nearley grammar of
 * grammar/keepalived.ne. The preprocessor hands LineParser one logical line at a time (a LineSink);
 * it makes one token per line, applies keepalived's brace leniency first, so the grammar always
 * succeeds on what it is given (a stray `{` is ignored, "Unexpected '{'"; a `}` with no open block
 * is ignored; blocks still open at the end of the input are closed there, "Missing '}'"), and parses
 * each top-level item as soon as its last token arrives. No line object outlives its item.
 */
import { createRequire } from 'node:module';
import type nearleyTypes from 'nearley';
import { type DiagnosticSink, KaClass } from './diagnostics.js';
import grammar, { type Cons, toArray, wordLexer } from './generated/keepalived.js';
import {
  type AstNode,
  type AstWord,
  BlockNode,
  type BracePos,
  bracePos,
  CLOSE,
  isWs,
  LineToken,
  NO_WORDS,
  startCol,
  type Token,
  Word,
} from './parse-types.js';
import { type LineSink, mapPos, type PpLine } from './preprocess.js';

// nearley is CommonJS: require() loads it several times faster than an ESM import, which first
// scans the source for its exports (start-up of `keepalived-ts -t`).
const nearley = createRequire(import.meta.url)('nearley') as typeof nearleyTypes;
const compiled = nearley.Grammar.fromCompiled(grammar as unknown as nearleyTypes.CompiledRules);

/** Splits one logical line into words with their source positions. */
export function lineWords(l: PpLine, diags: DiagnosticSink): AstWord[] {
  splitWords(l, diags);
  const words = scratch.slice();
  scratch.length = 0;
  return words;
}

/** Words of the line being split; copied out at their exact length (a pushed-to array keeps spare room). */
const scratch: AstWord[] = [];

function splitWords(l: PpLine, diags: DiagnosticSink): void {
  const t = l.text;
  if (t.indexOf('"') >= 0) {
    quotedWords(l, diags);
    return;
  }
  // No double quote: a word is a run of non-blank characters, exactly what wordLexer yields for such
  // a line. This loop avoids moo's per-token objects on the common line.
  const n = t.length;
  let i = 0;
  while (i < n) {
    while (i < n && isWs(t.charCodeAt(i))) i++;
    if (i === n) break;
    const start = i;
    while (i < n && !isWs(t.charCodeAt(i))) i++;
    scratch.push(new Word(start === 0 && i === n ? t : t.slice(start, i), false, l, start));
  }
}

function quotedWords(l: PpLine, diags: DiagnosticSink): void {
  wordLexer.reset(l.text);
  for (let tok = wordLexer.next(); tok; tok = wordLexer.next()) {
    if (tok.type === 'ws') continue;
    const raw = tok.text;
    const quoted = raw.includes('"');
    if (tok.type === 'badword') {
      diags.add(
        'KA_ERR_CONF_UNMATCHED_QUOTE',
        'error',
        KaClass.UnmatchedQuote,
        mapPos(l, tok.offset + raw.lastIndexOf('"')),
        raw,
        'unmatched double quote; the rest of the line is taken as one word',
        'a closing "',
      );
    }
    scratch.push(new Word(quoted ? raw.replaceAll('"', '') : raw, quoted, l, tok.offset));
  }
}

// ---- shapes: one nearley parse per distinct item shape ----
//
// nearley matches tokens on their type only, and the postprocessors build structure from token
// identities alone, so the derivation of a top-level item is a function of its sequence of token
// types (its shape). A large file repeats a few shapes thousands of times (every real_server block
// of a generated LVS file looks alike): each distinct shape is parsed once, by nearley, over
// placeholder tokens that stand for positions in the item, and the derivation found is then
// instantiated with the item's real tokens. Measured on the 52,003-line bench file: nearley went
// from 2,001 parses to 3 and its allocations (over half of a load's) with it.

/** A placeholder token: position `index` in its item. */
class ShapeToken {
  constructor(
    readonly type: Token['type'],
    readonly index: number,
  ) {}
  /** The grammar's block postprocessor, on placeholders. */
  withBlock(children: readonly ShapeNode[], close: ShapeToken): ShapeBlock {
    return new ShapeBlock(this.index, children, close.index);
  }
}

class ShapeBlock {
  constructor(
    readonly open: number,
    readonly children: readonly ShapeNode[],
    readonly close: number,
  ) {}
}

type ShapeNode = ShapeToken | ShapeBlock;

/** The derivation of one shape, or why nearley rejected it (a typed diagnostic, never expected). */
type Shape = Derivation<ShapeNode>;

/**
 * What one parse keeps: placeholder tokens of all shapes together (bounds the cache's memory on any
 * input), and the longest item parsed through a shape; beyond either, items are parsed directly.
 */
const SHAPE_CACHE_TOKENS = 1 << 18;
const SHAPE_MAX_TOKENS = 4096;

/** Feeds nearley the tokens of one item (placeholders, or the real tokens when shapes are off). */
class ItemLexer {
  private i = 0;
  constructor(private readonly tokens: readonly { type: string }[]) {}
  reset(): void {
    this.i = 0;
  }
  next(): { type: string } | undefined {
    return this.i < this.tokens.length ? this.tokens[this.i++] : undefined;
  }
  save(): nearleyTypes.LexerState {
    return {} as nearleyTypes.LexerState;
  }
  formatError(_t: unknown, message: string): string {
    return message;
  }
  has(name: string): boolean {
    return name === 'stmt' || name === 'open' || name === 'close';
  }
}

type Derivation<T> = { nodes: T[]; problem?: string } | { thrown: string };

/** Runs the grammar on one item's tokens. */
function derive<T>(tokens: readonly { type: string }[]): Derivation<T> {
  const parser = new nearley.Parser(compiled, {
    lexer: new ItemLexer(tokens) as unknown as nearleyTypes.Lexer,
  });
  try {
    parser.feed('');
  } catch (e) {
    return { thrown: String((e as Error).message).split('\n')[0] ?? '' };
  }
  const results = parser.results as (Cons | null)[];
  const nodes = toArray(results[0] ?? null) as unknown as T[];
  if (results.length === 1) return { nodes };
  return { nodes, problem: results.length === 0 ? 'incomplete input' : 'ambiguous block structure' };
}

function instantiate(n: ShapeNode, item: readonly Token[]): AstNode {
  if (n instanceof ShapeToken) return item[n.index] as LineToken;
  const children = new Array<AstNode>(n.children.length);
  for (let i = 0; i < children.length; i++) children[i] = instantiate(n.children[i]!, item);
  // each header appears once in a derivation: completed in place
  return (item[n.open] as BlockNode).complete(children);
}

export interface ParseOptions {
  /**
   * Reuse the derivation of an item shape already parsed (default true). False runs nearley on
   * every item's own tokens: the reference the tests compare with.
   */
  shapes?: boolean;
  /** Limits of the shape cache (tests lower them): tokens kept in all, longest item through a shape. */
  shapeCacheTokens?: number;
  shapeMaxTokens?: number;
}

/**
 * Logical lines in (a LineSink), syntax tree out (`end()`). Never throws. Each top-level item (a
 * statement, or a block down to its closing brace) is parsed on its own as soon as it is complete:
 * one parser over the whole file would keep every chart state reachable to the end.
 */
export class LineParser implements LineSink {
  private depth = 0;
  /** The blocks open at this point, innermost last (a `}` is recorded on the block it closes). */
  private readonly blocks: BlockNode[] = [];
  private readonly nodes: AstNode[] = [];
  private readonly names = new Map<string, string>();
  /** Interned keywords by a hash of their characters, for nameAt. */
  private readonly byHash = new Map<number, string[]>();
  private readonly useShapes: boolean;
  private readonly cacheTokensMax: number;
  private readonly itemTokensMax: number;
  /** Placeholder tokens held by the cached shapes. */
  private cachedTokens = 0;
  private readonly shapes = new Map<string, Shape>();
  /**
   * Tokens of the item being read (the first `count`; the array is reused, not emptied, so it does
   * not grow again for every item) and their types as letters s/o/c, the item's shape key.
   */
  private readonly item: Token[] = new Array<Token>(256);
  private count = 0;
  private shapeKey = Buffer.allocUnsafe(256);
  /** A nearley failure (never expected): the rest of the input is ignored, as before. */
  private broken = false;
  /** The statement line waiting for the next line, which decides whether it opens a block. */
  private pending = false;
  private pKeyword = '';
  private pSrc = '';
  private pStart = 0;
  private pEnd = 0;
  private pFile = '';
  private pLine = 0;
  private pSegs: number[] = [];
  private pQuoted: readonly AstWord[] | undefined;
  /** The last line seen: end-of-input diagnostics point at its start. */
  private lastFile = '';
  private lastLine = 0;
  private lastSegs: number[] | undefined;

  constructor(
    private readonly diags: DiagnosticSink,
    opts: ParseOptions = {},
  ) {
    this.useShapes = opts.shapes !== false;
    this.cacheTokensMax = opts.shapeCacheTokens ?? SHAPE_CACHE_TOKENS;
    this.itemTokensMax = opts.shapeMaxTokens ?? SHAPE_MAX_TOKENS;
  }

  line(src: string, start: number, end: number, file: string, line: number, segs: number[]): void {
    // a brace line is the brace alone
    const c0 = end - start === 1 ? src.charCodeAt(start) : 0;
    this.lastFile = file;
    this.lastLine = line;
    this.lastSegs = segs;
    if (this.pending) {
      this.pending = false;
      if (c0 === 123 /* { */) {
        this.depth++;
        const b = new BlockNode(
          this.pKeyword,
          this.pSrc,
          this.pStart,
          this.pEnd,
          this.pFile,
          this.pLine,
          this.pSegs,
          this.pQuoted,
          // the common `{` on its header's line is kept as a column (no position object)
          file === this.pFile && line === this.pLine ? startCol(segs) : bracePos(file, line, segs),
        );
        this.blocks.push(b);
        this.token(b);
        return;
      }
      this.token(
        new LineToken(
          this.pKeyword,
          this.pSrc,
          this.pStart,
          this.pEnd,
          this.pFile,
          this.pLine,
          this.pSegs,
          this.pQuoted,
        ),
      );
    }
    if (c0 === 123) {
      // a '{' not right after a keyword line (those are taken with their keyword above)
      this.diags.add(
        'KA_ERR_CONF_UNEXPECTED_BRACE',
        'warning',
        KaClass.UnexpectedBrace,
        bracePos(file, line, segs),
        '{',
        "Unexpected '{' - ignoring",
        "'{' right after a block keyword",
      );
      return;
    }
    if (c0 === 125 /* } */) {
      if (this.depth === 0) {
        this.diags.add(
          'KA_ERR_CONF_UNEXPECTED_BRACE',
          'warning',
          KaClass.UnexpectedBrace,
          bracePos(file, line, segs),
          '}',
          "Unexpected '}' with no open block - ignoring",
          'a keyword',
        );
        return;
      }
      this.depth--;
      this.blocks.pop()?.closeAt(file, line, startCol(segs));
      this.token(CLOSE);
      return;
    }
    let kw: string;
    let quoted: readonly AstWord[] | undefined;
    // the keyword is the first run of non-blank characters, its hash taken while scanning it
    // (nameAt finds the interned string by it); the arguments are split when read
    let i = start;
    while (i < end && isWs(src.charCodeAt(i))) i++;
    const kwStart = i;
    let h = 0;
    let quote = false;
    for (; i < end; i++) {
      const c = src.charCodeAt(i);
      if (isWs(c)) break;
      if (c === 34) quote = true;
      h = (Math.imul(h, 31) + c) | 0;
    }
    for (let k = i; k < end && !quote; k++) quote = src.charCodeAt(k) === 34;
    if (!quote) {
      if (kwStart === end) return;
      kw = this.nameAt(src, kwStart, i, h);
    } else {
      if (start !== 0 || end !== src.length) {
        src = src.slice(start, end);
        start = 0;
        end = src.length;
      }
      const words = lineWords({ text: src, file, line, segs }, this.diags);
      const first = words[0];
      if (!first) return;
      quoted = words.length === 1 ? NO_WORDS : words.slice(1);
      kw = first.text;
    }
    this.pending = true;
    this.pKeyword = kw;
    this.pSrc = src;
    this.pStart = start;
    this.pEnd = end;
    this.pFile = file;
    this.pLine = line;
    this.pSegs = segs;
    this.pQuoted = quoted;
  }

  /** The tree of every line given; blocks still open are closed at the last line ("Missing '}'"). */
  end(): AstNode[] {
    if (this.pending) {
      this.pending = false;
      this.token(
        new LineToken(
          this.pKeyword,
          this.pSrc,
          this.pStart,
          this.pEnd,
          this.pFile,
          this.pLine,
          this.pSegs,
          this.pQuoted,
        ),
      );
    }
    if (this.depth > 0) {
      const at: BracePos = this.lastSegs
        ? bracePos(this.lastFile, this.lastLine, this.lastSegs)
        : { file: '', line: 1, col: 1 };
      this.diags.add(
        'KA_ERR_CONF_MISSING_BRACE',
        'error',
        KaClass.UnexpectedBrace,
        at,
        '}',
        `${this.depth} block(s) still open at end of input`,
        "a closing '}' for every '{'",
      );
      while (this.depth > 0) {
        this.depth--;
        this.blocks.pop()?.closeAt(at.file, at.line, at.col);
        this.token(CLOSE);
      }
    }
    return this.nodes;
  }

  /**
   * One string per distinct keyword of this input: a large file repeats a few dozen keywords tens
   * of thousands of times, and each node keeps its keyword until the model is built.
   */
  private name(kw: string): string {
    const k = this.names.get(kw);
    if (k !== undefined) return k;
    // V8 keeps property names as unique strings: the keyword taken as one is the same string as
    // the keyword tables' names, so the checker's Map lookups and draft keys match by identity
    // instead of comparing characters (measured: the hottest line of the keyword checks)
    const u = Object.keys({ [kw]: 0 })[0] ?? kw;
    this.names.set(u, u);
    return u;
  }

  /**
   * The keyword text[start, end) as its interned string, found without copying it first: the
   * keywords seen are kept by a hash `h` of their characters, and compared in place.
   */
  private nameAt(text: string, start: number, end: number, h: number): string {
    const len = end - start;
    let seen = this.byHash.get(h);
    if (seen)
      for (const k of seen) {
        if (k.length !== len) continue;
        let j = 0;
        while (j < len && k.charCodeAt(j) === text.charCodeAt(start + j)) j++;
        if (j === len) return k;
      }
    const k = this.name(text.slice(start, end));
    if (!seen) {
      seen = [];
      this.byHash.set(h, seen);
    }
    seen.push(k);
    return k;
  }

  /** Adds a token to the current item; at depth 0 the item is complete and parsed. */
  private token(t: Token): void {
    const type = t.type;
    const i = this.count++;
    this.item[i] = t;
    if (i === this.shapeKey.length) {
      const k = Buffer.allocUnsafe(2 * i);
      this.shapeKey.copy(k);
      this.shapeKey = k;
    }
    this.shapeKey[i] = type === 'stmt' ? 115 : type === 'open' ? 111 : 99;
    if (this.depth === 0) this.finishItem();
  }

  private finishItem(): void {
    const count = this.count;
    const item = this.item;
    if (!this.broken) {
      let d: Derivation<AstNode>;
      if (!this.useShapes || count > this.itemTokensMax) {
        d = derive<AstNode>(item.length === count ? item : item.slice(0, count));
      } else {
        const key = this.shapeKey.toString('latin1', 0, count);
        let shape = this.shapes.get(key);
        if (!shape) {
          const placeholders = new Array<ShapeToken>(count);
          for (let i = 0; i < count; i++) placeholders[i] = new ShapeToken(item[i]!.type, i);
          shape = derive<ShapeNode>(placeholders);
          if (this.cachedTokens + count <= this.cacheTokensMax) {
            this.shapes.set(key, shape);
            this.cachedTokens += count;
          }
        }
        d =
          'thrown' in shape
            ? shape
            : { nodes: shape.nodes.map((n) => instantiate(n, item)), problem: shape.problem };
      }
      // The parser only yields balanced input the grammar accepts; keep a typed diagnostic anyway.
      if ('thrown' in d) {
        this.syntax(`cannot parse block structure: ${d.thrown}`);
        this.broken = true;
      } else {
        if (d.problem) this.syntax(d.problem);
        for (const n of d.nodes) this.nodes.push(n);
      }
    }
    // the tokens stay referenced until overwritten: they are all in the tree already
    this.count = 0;
  }

  private syntax(message: string): void {
    this.diags.add(
      'KA_ERR_CONF_SYNTAX',
      'error',
      KaClass.GeneralError,
      undefined,
      '',
      message,
      'balanced blocks',
    );
  }
}

/** Parses logical lines already collected (tests, and the bench's stage timings). */
export function parseLines(
  lines: readonly PpLine[],
  diags: DiagnosticSink,
  opts: ParseOptions = {},
): AstNode[] {
  const p = new LineParser(diags, opts);
  for (const l of lines) p.line(l.text, 0, l.text.length, l.file, l.line, l.segs);
  return p.end();
}
