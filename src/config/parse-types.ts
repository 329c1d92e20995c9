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

/**
 * Token produced by the line lexer, shaped as an AST node so a statement token is its own node:
 * a statement line (`stmt`), a block header with its `{` (`open`) or a closing brace (`close`: no
 * keyword, no statement line). nearley matches tokens on `type` only.
 *
 * A line without double quotes keeps only its keyword and its logical line: `args` splits the line
 * again on each read (a cheap scan). Word objects kept for every statement of a large file made up a
 * fifth of the heap that stays alive, and was copied by every young-generation collection, while
 * each statement's arguments are read only once or twice. A line with quotes keeps the words the
 * lexer made (`quotedArgs`), since splitting it also reports unmatched quotes. Brace positions are
 * kept as their logical lines and mapped when read, for the same reason (they serve diagnostics).
 */
export class LineToken implements AstNode {
  constructor(
    readonly type: 'stmt' | 'open' | 'close',
    readonly keyword: string,
    private readonly line: PpLine | undefined,
    private readonly quotedArgs: readonly AstWord[] | undefined,
    readonly children: readonly AstNode[] | undefined,
    /** `open`: the line of its `{`; `close`: the line of the `}` (or of the last line, at end of input). */
    private readonly brace: PpLine | undefined,
    /** A block's closing `}` line (set by withBlock). */
    private readonly closeBrace: PpLine | undefined,
  ) {}

  /** The same node with its children and closing brace (the grammar's block postprocessor). */
  withBlock(children: readonly AstNode[], close: LineToken): LineToken {
    return new LineToken('open', this.keyword, this.line, this.quotedArgs, children, this.brace, close.brace);
  }

  get open(): SrcPos | undefined {
    return this.type === 'open' && this.brace ? mapPos(this.brace, 0) : undefined;
  }

  get close(): SrcPos | undefined {
    const l = this.type === 'close' ? this.brace : this.closeBrace;
    return l ? mapPos(l, 0) : undefined;
  }

  get pos(): SrcPos {
    const l = this.line;
    if (!l) return this.close ?? { file: '', line: 1, col: 1 };
    const t = l.text;
    let i = 0;
    while (i < t.length && isWs(t.charCodeAt(i))) i++;
    return mapPos(l, i);
  }

  get args(): readonly AstWord[] {
    if (this.quotedArgs) return this.quotedArgs;
    const l = this.line;
    if (!l) return NO_WORDS;
    const t = l.text;
    const n = t.length;
    let i = 0;
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
      const w = new Word(t.slice(start, i), false, l, start);
      if (out) out.push(w);
      else out = [w];
    }
    return out ?? NO_WORDS;
  }
}
