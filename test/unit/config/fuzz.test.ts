import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigErrors } from '../../../src/config/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import { apply, mutation } from './mutate.js';

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
