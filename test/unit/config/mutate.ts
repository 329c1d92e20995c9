import fc from 'fast-check';

// Mutations of valid configuration text shared by the property tests: braces deleted, lines
// truncated, deleted or repeated, random bytes inserted.
export type Mut =
  | { op: 'brace'; n: number }
  | { op: 'truncate'; line: number; at: number }
  | { op: 'bytes'; at: number; bytes: Uint8Array }
  | { op: 'dropLine'; line: number }
  | { op: 'dupLine'; line: number };

export const mutation: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ op: fc.constant('brace' as const), n: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), line: fc.nat(), at: fc.nat(80) }),
  fc.record({
    op: fc.constant('bytes' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
  fc.record({ op: fc.constant('dropLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('dupLine' as const), line: fc.nat() }),
);

export function apply(text: string, m: Mut): string {
  switch (m.op) {
    case 'brace': {
      const at = [...text.matchAll(/[{}]/g)].map((x) => x.index);
      if (at.length === 0) return text;
      const i = at[m.n % at.length]!;
      return text.slice(0, i) + text.slice(i + 1);
    }
    case 'bytes': {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + Buffer.from(m.bytes).toString('latin1') + text.slice(i);
    }
    default: {
      const lines = text.split('\n');
      const i = m.line % lines.length;
      if (m.op === 'truncate') lines[i] = lines[i]!.slice(0, m.at);
      else if (m.op === 'dropLine') lines.splice(i, 1);
      else lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
  }
}
