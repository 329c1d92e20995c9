import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../../src/config/errors.js';
import { loadConfig } from '../../../src/config/load.js';

// Valid configurations mutated (braces deleted, lines truncated, deleted or repeated, random bytes
// inserted) must only ever give typed diagnostics: no exception, no internal error.
const root = join(import.meta.dirname, '../../..');
const bases = readdirSync(join(root, 'conf-examples'))
  .filter((f) => f.endsWith('.conf'))
  .map((f) => readFileSync(join(root, 'conf-examples', f), 'latin1'));
bases.push(
  '$IF=eth0\n@nodeA $P=150\n@^nodeA $P=100\n~SEQ(i, 1, 3) vrrp_instance VI_$i { interface $IF\nvirtual_router_id $i\npriority $P }\n',
  'virtual_server_group G { 192.0.2.1-10 80\nfwmark 5 }\nvirtual_server group G { protocol UDP\nreal_server 198.51.100.1 80 { DNS_CHECK { type A\nname example.com } UDP_CHECK { payload 00ff\nrequire_reply 01XX } PING_CHECK { } } }\n',
);

const dir = mkdtempSync(join(tmpdir(), 'kt-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const codes = new Set(Object.keys(ConfigErrors));

type Mut =
  | { op: 'brace'; n: number }
  | { op: 'truncate'; line: number; at: number }
  | { op: 'bytes'; at: number; bytes: Uint8Array }
  | { op: 'dropLine'; line: number }
  | { op: 'dupLine'; line: number };

const mutation: fc.Arbitrary<Mut> = fc.oneof(
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

function apply(text: string, m: Mut): string {
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

describe('mutated configurations', () => {
  it('give only typed diagnostics (10,000 cases)', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (b, muts) => {
        const text = muts.reduce(apply, bases[b]!);
        const file = join(dir, `f${n++ % 8}.conf`);
        writeFileSync(file, text, 'latin1');
        const { config, diagnostics } = loadConfig(file, { configId: 'nodeA', randomSeed: 1 });
        expect(Object.isFrozen(config)).toBe(true);
        for (const d of diagnostics) {
          expect(codes.has(d.code)).toBe(true);
          expect(d.code).not.toBe('KA_ERR_CONF_INTERNAL');
          expect(['fatal', 'error', 'warning']).toContain(d.severity);
          if (d.pos) {
            expect(d.pos.line).toBeGreaterThanOrEqual(1);
            expect(d.pos.col).toBeGreaterThanOrEqual(1);
          }
        }
      }),
      { numRuns: 10_000 },
    );
  }, 120_000);
});
