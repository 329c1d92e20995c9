import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticSink } from '../../../src/config/diagnostics.js';
import { lineWords } from '../../../src/config/parse.js';
import { preprocess } from '../../../src/config/preprocess.js';

// keepalived reads its files with a 1,024-byte buffer: a physical line of more than 1,023 bytes
// is read in pieces, each parsed as a line of its own. Exit codes against keepalived -t itself:
// test/interop/config/long-lines.test.ts.
const dir = mkdtempSync(join(tmpdir(), 'kt-long-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function run(text: string) {
  const path = join(dir, `c${n++}.conf`);
  writeFileSync(path, text);
  const diags = new DiagnosticSink();
  const { lines } = preprocess(path, { configId: 'nodeA' }, diags);
  const words = lines.map((l) => lineWords(l, diags));
  return {
    text: words.map((ws) => ws.map((w) => w.text).join(' ')),
    cols: words.map((ws) => ws.map((w) => `${w.pos.line}:${w.pos.col}`)),
    diags: diags.list,
  };
}

describe('lines longer than keepalived reads at once', () => {
  it('a line of 1,023 bytes is one line, without a warning', () => {
    const r = run(`priority${' '.repeat(1012)}150\nx 1\n`);
    expect(r.text).toEqual(['priority 150', 'x 1']);
    expect(r.diags).toEqual([]);
  });

  it('reads bytes 1,024 on of a longer line as a new line, at their own columns', () => {
    const r = run(`priority${' '.repeat(1013)}150\nx 1\n`);
    expect(r.text).toEqual(['priority 15', '0', 'x 1']);
    expect(r.cols).toEqual([['1:1', '1:1022'], ['1:1024'], ['2:1', '2:3']]);
    expect(r.diags).toHaveLength(1);
    expect(r.diags[0]).toMatchObject({
      code: 'KA_ERR_CONF_LINE_TOO_LONG',
      severity: 'warning',
      pos: { line: 1, col: 1024 },
    });
    expect(r.diags[0]?.message).toContain('1024 bytes');
  });

  it('cuts a line of several thousand bytes every 1,023 bytes', () => {
    const words = Array.from({ length: 500 }, (_, i) => `w${String(i).padStart(4, '0')}`);
    const line = `k ${words.join(' ')}`; // 2 + 500×6 - 1 = 3,001 bytes: three pieces, each cut inside a word
    const r = run(`${line}\n`);
    expect(r.cols.map((c) => c[0])).toEqual(['1:1', '1:1024', '1:2047']);
    // nothing lost or added: the pieces hold the line's words, a word cut where a piece ends
    expect(r.text.join(' ').replaceAll(' ', '')).toEqual(line.replaceAll(' ', ''));
    expect(r.diags.filter((d) => d.code === 'KA_ERR_CONF_LINE_TOO_LONG')).toHaveLength(1);
  });

  it('reads the rest of a long comment as a line, as keepalived does', () => {
    const r = run(`# ${'c'.repeat(1021)}tail\n`);
    expect(r.text).toEqual(['tail']);
    expect(r.cols).toEqual([['1:1024']]);
  });

  it('counts UTF-8 bytes and does not cut a character', () => {
    // 'é' is 2 bytes: 511 of them after "k " make 1,024 bytes; the cut falls before the last one
    const r = run(`k ${'é'.repeat(511)}\n`);
    expect(r.text).toEqual([`k ${'é'.repeat(510)}`, 'é']);
    expect(r.cols[1]).toEqual(['1:513']);
  });

  it('counts a CR before the newline as keepalived does', () => {
    const r = run(`priority${' '.repeat(1012)}150\r\nx 1\r\n`);
    // 1,023 bytes then CR: the CR alone is read as the next piece (blank)
    expect(r.text).toEqual(['priority 150', 'x 1']);
    expect(r.diags.map((d) => d.code)).toEqual(['KA_ERR_CONF_LINE_TOO_LONG']);
  });
});
