# keepalived.conf block structure (stage 2 of the config pipeline, after src/config/preprocess.ts).
#
# The preprocessor has already split every `{` and `}` onto its own logical line, as keepalived does,
# so a file is a sequence of statement lines and brace lines. The moo lexer below splits a statement
# line into words (double quotes group, adjacent parts join: ab"c d"e is one word); the line lexer in
# src/config/parse.ts turns each logical line into one token, so the grammar stays linear and cheap on
# 50,000-line files: `stmt` (a keyword with its arguments), `open` (a keyword line followed by its
# `{`, on the same line or the next one) and `close` (a `}`, alone or ending a statement line).
#
#   file  := item*
#   item  := stmt                    a keyword with its arguments
#          | open item* close        a block

@preprocessor typescript

@{%
import moo from 'moo';
import type { AstNode, StmtToken } from '../parse-types.js';

/** Splits one logical line into words. An unclosed quote runs to the end of the line. */
export const wordLexer = moo.compile({
  ws: /[ \t\f\v\r]+/,
  badword: /(?:"[^"\n]*"|[^ \t\f\v\r\n"])*"[^"\n]*$/,
  word: /(?:"[^"\n]*"|[^ \t\f\v\r\n"])+/,
});

// Placeholder: the real line lexer is passed to the Parser by src/config/parse.ts.
const lexer = {
  has: (t: string) => t === 'stmt' || t === 'open' || t === 'close',
  reset: (_chunk: string, _info: unknown) => undefined,
  next: () => undefined,
  save: () => ({}),
  formatError: (_t: never) => 'line lexer placeholder',
};

interface Cons {
  head: AstNode;
  tail: Cons | null;
}

function toArray(l: Cons | null): AstNode[] {
  const out: AstNode[] = [];
  for (let c = l; c; c = c.tail) out.push(c.head);
  return out.reverse();
}

function mkNode(s: StmtToken, children: AstNode[] | undefined, close: StmtToken | undefined): AstNode {
  return {
    keyword: s.words[0]!.text,
    pos: s.words[0]!.pos,
    args: s.words.slice(1),
    children,
    open: s.open,
    close: close?.pos,
  };
}
%}

@lexer lexer

main -> items {% ([l]) => toArray(l) %}

# Lists are built as immutable cons cells: nearley shares partial results between alternatives, so
# a postprocessor must never mutate its inputs.
items -> null {% () => null %}
  | items item {% ([tail, head]) => ({ head, tail }) %}

item -> %stmt {% ([s]) => mkNode(s, undefined, undefined) %}
  | %open items %close {% ([s, c, e]) => mkNode(s, toArray(c), e) %}
