/**
 * Stage 2: logical lines → position-annotated syntax tree, with the nearley grammar of
 * grammar/keepalived.ne. The line lexer below feeds the grammar one token per logical line and
 * applies keepalived's brace leniency first, so the grammar always succeeds on what it is given:
 * a stray `{` is ignored ("Unexpected '{'"), a `}` with no open block is ignored, and blocks still
 * open at the end of the input are closed there ("Missing '}'").
 */
import nearley from 'nearley';
import { type DiagnosticSink, KaClass, type SrcPos } from './diagnostics.js';
import grammar, { wordLexer } from './generated/keepalived.js';
import type { AstNode, AstWord, StmtToken } from './parse-types.js';
import { mapPos, type PpLine } from './preprocess.js';

const compiled = nearley.Grammar.fromCompiled(grammar as unknown as nearley.CompiledRules);

/** Splits one logical line into words with their source positions. */
export function lineWords(l: PpLine, diags: DiagnosticSink): AstWord[] {
  const words: AstWord[] = [];
  wordLexer.reset(l.text);
  for (let tok = wordLexer.next(); tok; tok = wordLexer.next()) {
    if (tok.type === 'ws') continue;
    const raw = tok.text;
    const quoted = raw.includes('"');
    const pos = mapPos(l, tok.offset);
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
    words.push({ text: quoted ? raw.replaceAll('"', '') : raw, pos, quoted });
  }
  return words;
}

class LineLexer implements nearley.Lexer {
  private i = 0;
  private depth = 0;
  private pendingClose = 0;
  private lastPos: SrcPos = { file: '', line: 1, col: 1 };

  constructor(
    private readonly lines: readonly PpLine[],
    private readonly diags: DiagnosticSink,
  ) {}

  reset(): void {
    // the input is given to the constructor
  }

  next(): StmtToken | undefined {
    for (;;) {
      if (this.pendingClose > 0) {
        this.pendingClose--;
        return tok('close', [], this.lastPos, undefined);
      }
      const l = this.lines[this.i++];
      if (!l) {
        if (this.depth > 0) {
          this.diags.add(
            'KA_ERR_CONF_MISSING_BRACE',
            'error',
            KaClass.UnexpectedBrace,
            this.lastPos,
            '}',
            `${this.depth} block(s) still open at end of input`,
            "a closing '}' for every '{'",
          );
          this.pendingClose = this.depth;
          this.depth = 0;
          continue;
        }
        return undefined;
      }
      const pos = mapPos(l, 0);
      this.lastPos = pos;
      if (l.text === '{') {
        // a '{' not right after a keyword line (those are taken with their keyword below)
        this.diags.add(
          'KA_ERR_CONF_UNEXPECTED_BRACE',
          'warning',
          KaClass.UnexpectedBrace,
          pos,
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
            pos,
            '}',
            "Unexpected '}' with no open block - ignoring",
            'a keyword',
          );
          continue;
        }
        this.depth--;
        return tok('close', [], pos, undefined);
      }
      const words = lineWords(l, this.diags);
      if (words.length === 0) continue;
      const nx = this.lines[this.i];
      if (nx && nx.text === '{') {
        this.i++;
        this.depth++;
        return tok('open', words, pos, mapPos(nx, 0));
      }
      return tok('stmt', words, pos, undefined);
    }
  }

  save(): nearley.LexerState {
    return {} as nearley.LexerState;
  }

  formatError(_t: nearley.Token, message: string): string {
    return message;
  }

  has(name: string): boolean {
    return name === 'stmt' || name === 'open' || name === 'close';
  }
}

function tok(type: StmtToken['type'], words: AstWord[], pos: SrcPos, open: SrcPos | undefined): StmtToken {
  return { type, words, pos, open, value: type, text: type, line: pos.line, col: pos.col, offset: 0 };
}

/** Parses preprocessed lines into a tree of statements and blocks. Never throws. */
export function parseLines(lines: readonly PpLine[], diags: DiagnosticSink): AstNode[] {
  const parser = new nearley.Parser(compiled, { lexer: new LineLexer(lines, diags) });
  try {
    parser.feed('');
  } catch (e) {
    // The line lexer only yields balanced input the grammar accepts; keep a typed diagnostic anyway.
    diags.add(
      'KA_ERR_CONF_SYNTAX',
      'error',
      KaClass.GeneralError,
      undefined,
      '',
      `cannot parse block structure: ${String((e as Error).message).split('\n')[0]}`,
      'balanced blocks',
    );
    return [];
  }
  const results = parser.results as AstNode[][];
  if (results.length !== 1) {
    diags.add(
      'KA_ERR_CONF_SYNTAX',
      'error',
      KaClass.GeneralError,
      undefined,
      '',
      results.length === 0 ? 'incomplete input' : 'ambiguous block structure',
      'balanced blocks',
    );
    return results[0] ?? [];
  }
  return results[0]!;
}
