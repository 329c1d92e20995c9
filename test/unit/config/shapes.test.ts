import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticSink } from '../../../src/config/diagnostics.js';
import { parseLines } from '../../../src/config/parse.js';
import type { AstNode } from '../../../src/config/parse-types.js';
import { preprocess } from '../../../src/config/preprocess.js';
import { apply, mutation } from './mutate.js';

// parseLines reuses the nearley derivation of an item shape it has already parsed. The tree it
// builds that way must be the one nearley gives for every item parsed on its own: same keywords,
// arguments, positions (braces too), nesting and diagnostics.
const root = join(import.meta.dirname, '../../..');
const samples = '/usr/share/doc/keepalived/samples';
const read = (d: string) =>
  readdirSync(d)
    .filter((f) => !f.endsWith('.gz'))
    .map((f) => readFileSync(join(d, f), 'latin1'));
const bases = [...read(join(root, 'conf-examples')), ...(existsSync(samples) ? read(samples) : [])];

// repeated shapes with different words, quotes, brace placement and a stray brace
const repeated = [
  'global_defs {\n router_id a\n}',
  ...Array.from(
    { length: 30 },
    (_, i) =>
      `virtual_server 203.0.113.${i} ${80 + i} {\n lvs_sched ${i % 2 ? 'wlc' : 'rr'}\n real_server 198.51.100.${i} 80 { weight ${i}\n TCP_CHECK { connect_timeout ${i % 5} } }\n real_server 198.51.100.${i + 1} 80\n {\n MISC_CHECK { misc_path "/bin/x ${i}" }\n }\n}`,
  ),
  'vrrp_instance A { interface eth0 } }',
  'vrrp_instance B { interface eth1 } }',
  'vrrp_instance C {\n virtual_ipaddress {\n 192.0.2.1/24\n',
].join('\n');
bases.push(repeated);

const dir = mkdtempSync(join(tmpdir(), 'kt-shapes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plain(n: AstNode): unknown {
  return {
    keyword: n.keyword,
    pos: n.pos,
    args: n.args.map((w) => ({ text: w.text, pos: w.pos, quoted: w.quoted })),
    open: n.open,
    close: n.close,
    children: n.children?.map(plain),
  };
}

let k = 0;
function both(text: string, limits: { shapeCacheTokens?: number; shapeMaxTokens?: number } = {}) {
  const file = join(dir, `c${k++ % 4}.conf`);
  writeFileSync(file, text, 'latin1');
  const run = (shapes: boolean) => {
    const diags = new DiagnosticSink();
    const pp = preprocess(file, { configId: 'nodeA', randomSeed: 1 }, diags);
    const ast = parseLines(pp.lines, diags, { shapes, ...limits });
    return { ast: ast.map(plain), diags: diags.list };
  };
  return { reused: run(true), direct: run(false) };
}

describe('item shapes', () => {
  it('give the tree nearley gives each item on its own, for every sample file', () => {
    expect(bases.length).toBeGreaterThan(4);
    for (const b of bases) {
      const { reused, direct } = both(b);
      expect(reused).toEqual(direct);
    }
  });

  it('keep each repeated item its own words and positions', () => {
    const { reused } = both(repeated);
    const vs = reused.ast.filter((n) => (n as { keyword: string }).keyword === 'virtual_server') as {
      args: { text: string; pos: { line: number } }[];
      children: { keyword: string; args: { text: string }[]; close?: { line: number } }[];
    }[];
    expect(vs).toHaveLength(30);
    expect(vs.map((v) => v.args[1]!.text)).toEqual(Array.from({ length: 30 }, (_, i) => String(80 + i)));
    const rs = vs[7]!.children.filter((c) => c.keyword === 'real_server');
    expect(rs.map((r) => r.args[0]!.text)).toEqual(['198.51.100.7', '198.51.100.8']);
    expect(vs[7]!.args[0]!.pos.line).toBeGreaterThan(vs[6]!.args[0]!.pos.line);
    expect(rs[1]!.close!.line).toBeGreaterThan(rs[0]!.close!.line);
  });

  it('give the same tree when the cache is full or an item is too long for it', () => {
    for (const limits of [{ shapeCacheTokens: 0 }, { shapeCacheTokens: 12 }, { shapeMaxTokens: 3 }]) {
      const { reused, direct } = both(repeated, limits);
      expect(reused).toEqual(direct);
    }
  });

  it('give the same tree and diagnostics on 1,000 mutated files', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (b, muts) => {
        const { reused, direct } = both(muts.reduce(apply, bases[b]!));
        expect(reused).toEqual(direct);
      }),
      { numRuns: 1000 },
    );
  }, 120_000);
});
