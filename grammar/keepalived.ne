# keepalived.conf block structure (stage 2 of the config pipeline, after src/config/preprocess.ts).
#
# The preprocessor has already split every `{` and `}` onto its own logical line, as keepalived does,
# so a file is a sequence of statement lines and brace lines. The moo lexer below splits a statement
# line into words (double quotes group, adjacent parts join: ab"c d"e is one word); LineParser in
# src/config/parse.ts turns each logical line into one token, so the grammar stays linear and cheap on
# 50,000-line files: `stmt` (a keyword with its arguments), `open` (a keyword line followed by its
# `{`, on the same line or the next one) and `close` (a `}`, alone or ending a statement line).
#
#   file  := items
#   items := ε | items stmt          a keyword with its arguments
#          | items open items close  a block

@preprocessor typescript

@{%
import { createRequire } from 'node:module';
import type { AstNode, BlockNode, CloseToken } from '../parse-types.js';

// moo is CommonJS: require() loads it several times faster than an ESM import, which first scans
// the source for its exports (start-up of `keepalived-ts -t`).
const moo = createRequire(import.meta.url)('moo') as typeof import('moo');

/** Splits one logical line into words. An unclosed quote runs to the end of the line. */
export const wordLexer = moo.compile({
  ws: /[ \t\f\v\r]+/,
  badword: /(?:"[^"\n]*"|[^ \t\f\v\r\n"])*"[^"\n]*$/,
  word: /(?:"[^"\n]*"|[^ \t\f\v\r\n"])+/,
});

// Placeholder: src/config/parse.ts passes the Parser a lexer over each item's tokens.
const lexer = {
  has: (t: string) => t === 'stmt' || t === 'open' || t === 'close',
  reset: (_chunk: string, _info: unknown) => undefined,
  next: () => undefined,
  save: () => ({}),
  formatError: (_t: never) => 'lexer placeholder',
};

export interface Cons {
  head: AstNode;
  tail: Cons | null;
}

export function toArray(l: Cons | null): AstNode[] {
  let n = 0;
  for (let c = l; c; c = c.tail) n++;
  const out = new Array<AstNode>(n);
  for (let c = l; c; c = c.tail) out[--n] = c.head;
  return out;
}

/** A block node: the header token's keyword and arguments, its children and closing brace. */
function block(o: BlockNode, children: AstNode[], close: CloseToken): AstNode {
  return o.withBlock(children, close);
}
%}

@lexer lexer

# `main` completes after every top-level item: it returns the list as is (O(1)) and parseLines turns
# the one final result into an array.
main -> items {% (d) => d[0] %}

# One left-recursive list rule, so each token costs the Earley parser only a few states. Lists are
# immutable cons cells: nearley shares partial results between alternatives, so a postprocessor must
# never mutate its inputs. A `stmt` token is already its own AST node. Postprocessors index `d`
# rather than destructure it: destructuring goes through the iterator protocol, slow before the JIT.
items -> null {% () => null %}
  | items %stmt {% (d) => ({ head: d[1], tail: d[0] }) %}
  | items %open items %close {% (d) => ({ head: block(d[1], toArray(d[2]), d[3]), tail: d[0] }) %}
