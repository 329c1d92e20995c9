/**
 * Stage 2: logical lines → position-annotated syntax tree, with the nearley grammar of
 * grammar/keepalived.ne. The line lexer below feeds the grammar one token per logical line and
 * applies keepalived's brace leniency first, so the grammar always succeeds on what it is given:
 * a stray `{` is ignored ("Unexpected '{'"), a `}` with no open block is ignored, and blocks still
 * open at the end of the input are closed there ("Missing '}'").
 */
import { createRequire } from 'node:module';
import type nearleyTypes from 'nearley';
import { type DiagnosticSink, KaClass, type SrcPos } from './diagnostics.js';
import grammar, { type Cons, toArray, wordLexer } from './generated/keepalived.js';
import { type AstNode, type AstWord, isWs, LineToken, NO_WORDS, Word } from './parse-types.js';
import { mapPos, type PpLine } from './preprocess.js';

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

/** Yields the logical lines as tokens, one top-level item at a time, brace leniency applied. */
class LineLexer {
  private i = 0;
  private depth = 0;
  private pendingClose = 0;
  /** Token read ahead by hasMore(). */
  private peeked: LineToken | undefined;
  /** The current top-level item is complete: next() ends the chunk. */
  private itemDone = false;
  private readonly names = new Map<string, string>();
  /** The last line read: end-of-input diagnostics point at its start. */
  private last: PpLine | undefined;

  constructor(
    private readonly lines: readonly PpLine[],
    private readonly diags: DiagnosticSink,
  ) {}

  private lastPos(): SrcPos {
    return this.last ? mapPos(this.last, 0) : { file: '', line: 1, col: 1 };
  }

  /** Starts the next top-level item; false at the end of the input. */
  hasMore(): boolean {
    this.itemDone = false;
    this.peeked ??= this.read();
    return this.peeked !== undefined;
  }

  /** The tokens of one top-level item (a statement, or a block down to its closing brace). */
  next(): LineToken | undefined {
    if (this.itemDone) return undefined;
    const t = this.peeked ?? this.read();
    this.peeked = undefined;
    if (t && this.depth === 0) this.itemDone = true;
    return t;
  }

  private read(): LineToken | undefined {
    for (;;) {
      if (this.pendingClose > 0) {
        this.pendingClose--;
        this.depth--;
        return closeToken(this.last);
      }
      // bounds checked first: reading past the end deoptimizes the compiled loop
      const l = this.i < this.lines.length ? this.lines[this.i++] : undefined;
      if (!l) {
        if (this.depth > 0) {
          this.diags.add(
            'KA_ERR_CONF_MISSING_BRACE',
            'error',
            KaClass.UnexpectedBrace,
            this.lastPos(),
            '}',
            `${this.depth} block(s) still open at end of input`,
            "a closing '}' for every '{'",
          );
          this.pendingClose = this.depth;
          continue;
        }
        return undefined;
      }
      this.last = l;
      if (l.text === '{') {
        // a '{' not right after a keyword line (those are taken with their keyword below)
        this.diags.add(
          'KA_ERR_CONF_UNEXPECTED_BRACE',
          'warning',
          KaClass.UnexpectedBrace,
          mapPos(l, 0),
          '{',
          "Unexpected '{' - ignoring",
          "'{' right after a block keyword",
        );
        continue;
      }
      if (l.text === '}') {
        if (this.depth === 0) {
          this.diags.add(
            'KA_ERR_CONF_UNEXPECTED_BRACE',
            'warning',
            KaClass.UnexpectedBrace,
            mapPos(l, 0),
            '}',
            "Unexpected '}' with no open block - ignoring",
            'a keyword',
          );
          continue;
        }
        this.depth--;
        return closeToken(l);
      }
      const t = l.text;
      let kw: string;
      let args: readonly AstWord[] | undefined;
      if (t.indexOf('"') < 0) {
        // the keyword is the first run of non-blank characters; the arguments are split when read
        const n = t.length;
        let i = 0;
        while (i < n && isWs(t.charCodeAt(i))) i++;
        const start = i;
        while (i < n && !isWs(t.charCodeAt(i))) i++;
        if (start === n) continue;
        kw = this.name(start === 0 && i === n ? t : t.slice(start, i));
      } else {
        quotedWords(l, this.diags);
        const first = scratch[0];
        args = scratch.length <= 1 ? NO_WORDS : scratch.slice(1);
        scratch.length = 0;
        if (!first) continue;
        kw = first.text;
      }
      if (this.opensBlock())
        return new LineToken('open', kw, l, args, undefined, this.braceOpen(), undefined);
      return new LineToken('stmt', kw, l, args, undefined, undefined, undefined);
    }
  }

  /**
   * One string per distinct keyword of this input: a large file repeats a few dozen keywords tens
   * of thousands of times, and each node keeps its keyword until the model is built.
   */
  private name(kw: string): string {
    const k = this.names.get(kw);
    if (k !== undefined) return k;
    this.names.set(kw, kw);
    return kw;
  }

  /** The next line is a `{`: the current line is a block header. */
  private opensBlock(): boolean {
    const nx = this.lines[this.i];
    return nx !== undefined && nx.text === '{';
  }

  /** Takes the `{` line after a block header, one level deeper. */
  private braceOpen(): PpLine {
    const nx = this.lines[this.i++]!;
    this.depth++;
    return nx;
  }
}

function closeToken(line: PpLine | undefined): LineToken {
  return new LineToken('close', '', undefined, undefined, undefined, line, undefined);
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
    readonly type: 'stmt' | 'open' | 'close',
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

/** Shapes kept per parse; an item longer than SHAPE_MAX_TOKENS is parsed directly, not kept. */
const SHAPES_MAX = 4096;
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

function instantiate(n: ShapeNode, item: readonly LineToken[]): AstNode {
  if (n instanceof ShapeToken) return item[n.index]!;
  const children = new Array<AstNode>(n.children.length);
  for (let i = 0; i < children.length; i++) children[i] = instantiate(n.children[i]!, item);
  return item[n.open]!.withBlock(children, item[n.close]!);
}

export interface ParseOptions {
  /**
   * Reuse the derivation of an item shape already parsed (default true). False runs nearley on
   * every item's own tokens: the reference the tests compare with.
   */
  shapes?: boolean;
}

/**
 * Parses preprocessed lines into a tree of statements and blocks. Never throws. Each top-level item
 * (a statement, or a block down to its closing brace) is parsed on its own: one parser over the
 * whole file would keep every chart state reachable to the end (tens of MB copied by each GC).
 */
export function parseLines(
  lines: readonly PpLine[],
  diags: DiagnosticSink,
  opts: ParseOptions = {},
): AstNode[] {
  const lexer = new LineLexer(lines, diags);
  const nodes: AstNode[] = [];
  const useShapes = opts.shapes !== false;
  const shapes = new Map<string, Shape>();
  const syntax = (message: string) =>
    diags.add('KA_ERR_CONF_SYNTAX', 'error', KaClass.GeneralError, undefined, '', message, 'balanced blocks');
  const item: LineToken[] = [];
  const types: LineToken['type'][] = [];
  while (lexer.hasMore()) {
    item.length = 0;
    types.length = 0;
    let key = '';
    for (let t = lexer.next(); t; t = lexer.next()) {
      item.push(t);
      types.push(t.type);
      key += t.type === 'stmt' ? 's' : t.type === 'open' ? 'o' : 'c';
    }
    let d: Derivation<AstNode>;
    if (!useShapes || item.length > SHAPE_MAX_TOKENS) {
      d = derive<AstNode>(item);
    } else {
      let shape = shapes.get(key);
      if (!shape) {
        shape = derive<ShapeNode>(types.map((t, i) => new ShapeToken(t, i)));
        if (shapes.size < SHAPES_MAX) shapes.set(key, shape);
      }
      d =
        'thrown' in shape
          ? shape
          : { nodes: shape.nodes.map((n) => instantiate(n, item)), problem: shape.problem };
    }
    // The line lexer only yields balanced input the grammar accepts; keep a typed diagnostic anyway.
    if ('thrown' in d) {
      syntax(`cannot parse block structure: ${d.thrown}`);
      return nodes;
    }
    if (d.problem) syntax(d.problem);
    for (const n of d.nodes) nodes.push(n);
  }
  return nodes;
}
