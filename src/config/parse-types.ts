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
 * Token produced by the line lexer: a statement line (`stmt`), a block header with its `{`
 * (`open`, brace position in `open`), or a closing brace (`close`, `words` empty).
 */
export interface StmtToken {
  readonly type: 'stmt' | 'open' | 'close';
  readonly words: readonly AstWord[];
  readonly pos: SrcPos;
  readonly open: SrcPos | undefined;
  readonly value: string;
  readonly text: string;
  readonly line: number;
  readonly col: number;
  readonly offset: number;
}
