import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticSink } from '../../../src/config/diagnostics.js';
import { parseLines } from '../../../src/config/parse.js';
import { type AstNode, argCount, argText, hasArgs } from '../../../src/config/parse-types.js';
import { preprocess } from '../../../src/config/preprocess.js';

// argText / argCount / hasArgs read a parsed line's arguments without making word objects; they must agree
// with `args` (the words the checker reports positions of) on every line, quoted or not.
const dir = mkdtempSync(join(tmpdir(), 'kt-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parse(text: string): AstNode[] {
  const file = join(dir, 'a.conf');
  writeFileSync(file, text, 'latin1');
  const diags = new DiagnosticSink();
  return parseLines(preprocess(file, { configId: 'x' }, diags).lines, diags);
}

function* walk(nodes: readonly AstNode[]): Generator<AstNode> {
  for (const n of nodes) {
    yield n;
    if (n.children) yield* walk(n.children);
  }
}

function agree(nodes: readonly AstNode[]): number {
  let checked = 0;
  for (const n of walk(nodes)) {
    const words = n.args.map((w) => w.text);
    expect(argCount(n)).toBe(words.length);
    expect(hasArgs(n)).toBe(words.length > 0);
    for (let i = 0; i <= words.length; i++) expect(argText(n, i)).toBe(words[i]);
    // a second read of args (kept for the next read of the same node) gives the same words
    expect(n.args.map((w) => w.text)).toEqual(words);
    checked++;
  }
  return checked;
}

describe('argText / argCount / hasArgs', () => {
  it('agree with args on plain, quoted, tabbed and block lines', () => {
    const n = agree(
      parse(
        [
          'vrrp_instance VI_1 {',
          '\tinterface   eth0\t',
          '  priority 100',
          '  notify "/bin/x a" b"c d"e',
          '  virtual_ipaddress { 192.0.2.1/24 dev eth0 }',
          '  nopreempt',
          '}',
          'virtual_server 203.0.113.1 80 { real_server 198.51.100.1 80 { weight 2 } }',
        ].join('\n'),
      ),
    );
    expect(n).toBe(10);
  });

  it('agree with args on random lines', () => {
    const word = fc.stringMatching(/^[a-z0-9"./_-]{1,8}$/);
    const sep = fc.constantFrom(' ', '\t', '  ', ' \t ');
    fc.assert(
      fc.property(fc.array(fc.tuple(sep, word), { minLength: 1, maxLength: 6 }), (parts) => {
        const line = parts.map(([s, w]) => s + w).join('');
        agree(parse(`x${line}\n`));
      }),
      { numRuns: 300 },
    );
  });

  it('reads literal nodes (no parsed line) through args', () => {
    const pos = { file: 'f', line: 1, col: 1 };
    const n: AstNode = {
      keyword: 'k',
      pos,
      args: [{ text: 'a', pos, quoted: false }],
      children: undefined,
      open: undefined,
      close: undefined,
    };
    expect(argText(n, 0)).toBe('a');
    expect(argText(n, 1)).toBeUndefined();
    expect(argCount(n)).toBe(1);
    expect(hasArgs(n)).toBe(true);
  });

  it('keeps keywords apart whose interning hashes collide', () => {
    // 'Aa' and 'BB' have the same 31-based hash, the interning key of LineParser
    const ast = parse('Aa 1\nBB 2\nAa 3\n x BB 4\n');
    expect(ast.map((n) => n.keyword)).toEqual(['Aa', 'BB', 'Aa', 'x']);
    expect(ast[0]!.keyword).toBe(ast[2]!.keyword);
    expect(ast.map((n) => argText(n, 0))).toEqual(['1', '2', '3', 'BB']);
  });
});
