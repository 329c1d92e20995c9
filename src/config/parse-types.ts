import type { SrcPos } from './diagnostics.js';
import { mapPos, type PpLine } from './preprocess.js';

/** One word of a statement, unquoted (`ab"c d"e` → `abc de`). */
export interface AstWord {
  readonly text: string;
  readonly pos: SrcPos;
  /** The word contained double quotes. */
  readonly quoted: boolean;
}

/** A statement (`keyword args…`) or a block (`keyword args… { children }`), positions kept. */
export interface AstNode {
  readonly keyword: string;
  readonly pos: SrcPos;
  readonly args: readonly AstWord[];
  /** Present for blocks. */
  readonly children: readonly AstNode[] | undefined;
  readonly open: SrcPos | undefined;
  readonly close: SrcPos | undefined;
}

/**
 * A word whose source position is computed when read: most positions are only needed for a
 * diagnostic, and a 50,000-line file has over 100,000 words.
 */
export class Word implements AstWord {
  constructor(
    readonly text: string,
    readonly quoted: boolean,
    private readonly line: PpLine,
    private readonly offset: number,
  ) {}
  get pos(): SrcPos {
    return mapPos(this.line, this.offset);
  }
  toJSON(): { text: string; pos: SrcPos; quoted: boolean } {
    return { text: this.text, pos: this.pos, quoted: this.quoted };
  }
}

export const NO_WORDS: readonly AstWord[] = Object.freeze([]);

export function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 12 || c === 11 || c === 13;
}

/** The source column of column 0 of a logical line (mapPos for index 0, without a line object). */
export function startCol(s: readonly number[]): number {
  let k = 0;
  for (let i = 3; i < s.length && s[i]! <= 0; i += 3) k = i;
  return s[k + 2] ? s[k + 1]! : s[k + 1]! - s[k]!;
}

/**
 * The text of argument `i` of a node (`n.args[i]?.text`): a parsed line reads it without making
 * word objects, which are only needed for a diagnostic's position.
 */
export function argText(n: AstNode, i: number): string | undefined {
  return n instanceof LineNode ? n.arg(i) : n.args[i]?.text;
}

/** How many arguments a node has (`n.args.length`), counted without making word objects. */
export function argCount(n: AstNode): number {
  return n instanceof LineNode ? n.argc : n.args.length;
}

/** Whether a node has arguments (`n.args.length > 0`), found without making word objects. */
export function hasArgs(n: AstNode): boolean {
  return n instanceof LineNode ? n.hasArgs : n.args.length > 0;
}

/** Where a brace was: its file, line and column. */
export interface BracePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** A brace position from its logical line's data. */
export function bracePos(file: string, line: number, segs: readonly number[]): BracePos {
  return { file, line, col: startCol(segs) };
}

/**
 * Shared members of statement and block nodes: the logical line (a PpLine) split when read. The
 * line is src[start, end): for the common line, a range of the file's own text, so no string is
 * kept per line and scans read the file's flat text.
 */
abstract class LineNode implements PpLine {
  constructor(
    readonly keyword: string,
    protected readonly src: string,
    protected readonly start: number,
    protected readonly end: number,
    readonly file: string,
    readonly line: number,
    readonly segs: number[],
    /** The words of a line with double quotes, made by the lexer (undefined: split when read). */
    protected readonly quotedArgs: readonly AstWord[] | undefined,
  ) {}

  /** The logical line's text (made when read). */
  get text(): string {
    return this.start === 0 && this.end === this.src.length ? this.src : this.src.slice(this.start, this.end);
  }

  get pos(): SrcPos {
    const t = this.src;
    const e = this.end;
    let i = this.start;
    while (i < e && isWs(t.charCodeAt(i))) i++;
    return mapPos(this, i - this.start);
  }

  arg(i: number): string | undefined {
    if (this.quotedArgs) return this.quotedArgs[i]?.text;
    const t = this.src;
    const n = this.end;
    let p = this.start;
    // the keyword is word -1
    for (let w = -1; p < n; w++) {
      while (p < n && isWs(t.charCodeAt(p))) p++;
      if (p === n) break;
      const start = p;
      while (p < n && !isWs(t.charCodeAt(p))) p++;
      if (w === i) return t.slice(start, p);
    }
    return undefined;
  }

  get hasArgs(): boolean {
    if (this.quotedArgs) return this.quotedArgs.length > 0;
    const t = this.src;
    const n = this.end;
    let p = this.start;
    while (p < n && isWs(t.charCodeAt(p))) p++;
    while (p < n && !isWs(t.charCodeAt(p))) p++;
    while (p < n && isWs(t.charCodeAt(p))) p++;
    return p < n;
  }

  get argc(): number {
    if (this.quotedArgs) return this.quotedArgs.length;
    const t = this.src;
    const n = this.end;
    let p = this.start;
    let w = -1;
    while (p < n) {
      while (p < n && isWs(t.charCodeAt(p))) p++;
      if (p === n) break;
      while (p < n && !isWs(t.charCodeAt(p))) p++;
      w++;
    }
    return Math.max(w, 0);
  }

  get args(): readonly AstWord[] {
    if (this.quotedArgs) return this.quotedArgs;
    if (lastSplit === this) return lastArgs;
    const t = this.src;
    const n = this.end;
    let i = this.start;
    let out: Word[] | undefined;
    let first = true;
    while (i < n) {
      while (i < n && isWs(t.charCodeAt(i))) i++;
      if (i === n) break;
      const start = i;
      while (i < n && !isWs(t.charCodeAt(i))) i++;
      if (first) {
        first = false;
        continue;
      }
      const w = new Word(t.slice(start, i), false, this, start - this.start);
      if (out) out.push(w);
      else out = [w];
    }
    lastSplit = this;
    lastArgs = out ?? NO_WORDS;
    return lastArgs;
  }
}

/**
 * The node whose arguments were split last, and its words: a statement's arguments are mostly read
 * several times in a row (the keyword check, then its value parser), so the split is kept for the
 * next read of the same node. One entry only: nothing is kept per node.
 */
let lastSplit: LineNode | undefined;
let lastArgs: readonly AstWord[] = NO_WORDS;

/** Drops the kept split (its node refers to the file's whole text): called once a load is done. */
export function releaseSplit(): void {
  lastSplit = undefined;
  lastArgs = NO_WORDS;
}

/**
 * A statement line (`stmt` token), its own AST node. It is the logical line itself (text, file,
 * line, column map): no separate line object stays alive, and `args` splits the text again on each
 * read (a cheap scan). Word objects kept for every statement of a large file made up a fifth of the
 * heap that stays alive, while each statement's arguments are read only once or twice. A line with
 * quotes keeps the words the lexer made, since splitting it also reports unmatched quotes.
 * nearley matches tokens on `type` only.
 */
export class LineToken extends LineNode implements AstNode {
  get type(): 'stmt' {
    return 'stmt';
  }
  get children(): undefined {
    return undefined;
  }
  get open(): undefined {
    return undefined;
  }
  get close(): undefined {
    return undefined;
  }
}

/**
 * A block header with its `{` (`open` token); once parsed, the block node itself, with its children
 * and closing brace. Brace positions are kept as numbers where they can be (a `{` on the header's
 * own line, a `}` in the header's file), not as objects: a large file has tens of thousands of blocks.
 */
export class BlockNode extends LineNode implements AstNode {
  /** The `{`: its column when on the header's line, else its position. */
  private readonly openAt: number | BracePos;
  private kids: readonly AstNode[] | undefined = undefined;
  /** The `}`: line and column, and its file when not the header's (undefined: not closed yet). */
  private closeLine = 0;
  private closeCol = 0;
  private closeFile: string | undefined = undefined;

  constructor(
    keyword: string,
    src: string,
    start: number,
    end: number,
    file: string,
    line: number,
    segs: number[],
    quotedArgs: readonly AstWord[] | undefined,
    /** The `{`, or its column when it is on the header's line. */
    open: BracePos | number,
  ) {
    super(keyword, src, start, end, file, line, segs, quotedArgs);
    this.openAt = typeof open === 'number' || open.file !== file || open.line !== line ? open : open.col;
  }
  get type(): 'open' {
    return 'open';
  }
  get children(): readonly AstNode[] | undefined {
    return this.kids;
  }
  get open(): SrcPos {
    const o = this.openAt;
    return typeof o === 'number' ? { file: this.file, line: this.line, col: o } : o;
  }
  get close(): SrcPos | undefined {
    if (this.closeLine === 0) return undefined;
    return { file: this.closeFile ?? this.file, line: this.closeLine, col: this.closeCol };
  }

  /**
   * Records the block's `}` (LineParser, when it reads it; the header is the block node, its
   * children are added once the item is parsed).
   */
  closeAt(file: string, line: number, col: number): void {
    this.closeLine = line;
    this.closeCol = col;
    this.closeFile = file === this.file ? undefined : file;
  }

  /** A new node: this header, its `}` and the given children (the grammar's block postprocessor). */
  withBlock(children: readonly AstNode[], _close: CloseToken): BlockNode {
    const b = new BlockNode(
      this.keyword,
      this.src,
      this.start,
      this.end,
      this.file,
      this.line,
      this.segs,
      this.quotedArgs,
      this.openAt,
    );
    b.closeLine = this.closeLine;
    b.closeCol = this.closeCol;
    b.closeFile = this.closeFile;
    return b.complete(children);
  }

  /**
   * The same, in place: for a header used once by a derivation already complete (parse.ts
   * instantiates shapes this way; nearley's own postprocessors get withBlock).
   */
  complete(children: readonly AstNode[]): this {
    this.kids = children;
    return this;
  }
}

/**
 * A closing brace (`close` token). Its position is recorded on the block it closes
 * (BlockNode.closeAt), so every `}` is this one object.
 */
export class CloseToken {
  get type(): 'close' {
    return 'close';
  }
}

export const CLOSE = new CloseToken();

export type Token = LineToken | BlockNode | CloseToken;
