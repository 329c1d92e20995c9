import type { SrcPos } from './diagnostics.js';

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
 * Token produced by the line lexer, shaped as an AST node so a statement token is its own node:
 * a statement line (`stmt`), a block header with its `{` (`open`, brace position in `open`), or a
 * closing brace (`close`, no keyword). nearley matches tokens on `type` only. `pos` is the position
 * of `head` (the keyword word), computed when read.
 */
export class LineToken implements AstNode {
  constructor(
    readonly type: 'stmt' | 'open' | 'close',
    readonly head: AstWord,
    readonly args: readonly AstWord[],
    readonly children: readonly AstNode[] | undefined,
    readonly open: SrcPos | undefined,
    readonly close: SrcPos | undefined,
  ) {}
  get keyword(): string {
    return this.head.text;
  }
  get pos(): SrcPos {
    return this.head.pos;
  }
}
