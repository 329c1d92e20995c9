// biome-ignore-all lint/suspicious/noTemplateCurlyInString: keepalived parameters are written ${NAME}
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticSink } from '../../../src/config/diagnostics.js';
import { lineWords } from '../../../src/config/parse.js';
import { preprocess } from '../../../src/config/preprocess.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kt-pp-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Preprocesses main.conf; returns each logical line as its words with file:line:col. */
function run(files: Record<string, string>, configId = 'nodeA') {
  const dir = tree(files);
  const diags = new DiagnosticSink();
  const { lines, files: read } = preprocess(join(dir, 'main.conf'), { configId, randomSeed: 42 }, diags);
  const words = lines.map((l) => lineWords(l, diags));
  return {
    dir,
    diags: diags.list,
    read,
    text: words.map((ws) => ws.map((w) => w.text).join(' ')),
    where: words.map((ws) => ws.map((w) => `${w.pos.file.slice(dir.length + 1)}:${w.pos.line}:${w.pos.col}`)),
  };
}

describe('comments', () => {
  it('removes ! and # comments anywhere outside double quotes', () => {
    const r = run({
      'main.conf': '! header\n# header\nrouter_id a#b\nauth_pass "x!y#z" ! tail\n  notify "a # b"  # c\n',
    });
    expect(r.text).toEqual(['router_id a', 'auth_pass x!y#z', 'notify a # b']);
  });
  it('keeps \\# and \\! as literal characters', () => {
    const r = run({ 'main.conf': 'auth_pass ab\\#cd\\!e\n' });
    expect(r.text).toEqual(['auth_pass ab#cd!e']);
  });
});

describe('plain lines', () => {
  // A line without comment, quote, parameter or directive takes a shorter path; a trailing comment
  // sends the same line through the general one. Both must give the same lines and columns.
  // `x`×300: lines past keepalived's 1,023-byte read (read in pieces, LINE_TOO_LONG) on both paths
  const piece = fc.constantFrom(
    'a',
    'kw',
    '192.0.2.1/24',
    '{',
    '}',
    ' ',
    '\t',
    '  ',
    '\r',
    '\v',
    '\f',
    'x_y-z',
    'x'.repeat(300),
  );
  it('give the lines and columns the general path gives (2,000 files)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(piece, { maxLength: 12 }).map((p) => p.join('')),
          { maxLength: 8 },
        ),
        fc.constantFrom('\n', '\r\n'),
        (ls, eol) => {
          const plain = run({ 'main.conf': ls.join(eol) });
          // keepalived reads a line in pieces of 1,023 bytes: the comment must not straddle a cut
          const general = run({
            'main.conf': ls.map((l) => (l.length % 1023 >= 1021 ? l : `${l} #c`)).join(eol),
          });
          expect(plain.text).toEqual(general.text);
          expect(plain.where.map((w) => w.map((x) => x.slice(x.indexOf(':'))))).toEqual(
            general.where.map((w) => w.map((x) => x.slice(x.indexOf(':')))),
          );
          // each run has its own directory: compare diagnostics without the file name
          const diag = (r: typeof plain) =>
            r.diags.map((d) => ({
              ...d,
              pos: d.pos && { line: d.pos.line, col: d.pos.col },
              // the comment adds 3 bytes to the length a long line's warning gives
              message: d.message.replace(/line is \d+ bytes/, 'line is N bytes'),
            }));
          expect(diag(plain)).toEqual(diag(general));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('braces', () => {
  it('splits braces onto their own lines with their columns', () => {
    const r = run({ 'main.conf': 'global_defs { router_id R1 }\n' });
    expect(r.text).toEqual(['global_defs', '{', 'router_id R1', '}']);
    expect(r.where).toEqual([
      ['main.conf:1:1'],
      ['main.conf:1:13'],
      ['main.conf:1:15', 'main.conf:1:25'],
      ['main.conf:1:28'],
    ]);
  });
  it('keeps braces inside double quotes', () => {
    const r = run({ 'main.conf': 'script "/bin/sh -c \'echo {}\'"\n' });
    expect(r.text).toEqual(["script /bin/sh -c 'echo {}'"]);
  });
  it('joins adjacent quoted and unquoted parts into one word', () => {
    const r = run({ 'main.conf': 'x ab"c d"e\n' });
    expect(r.text).toEqual(['x abc de']);
  });
});

describe('include', () => {
  it('resolves relative to the including file, globs sorted, positions in the included file', () => {
    const r = run({
      'main.conf': 'a 1\ninclude conf.d/*.conf\nz 26\n',
      'conf.d/b.conf': 'b 2\n',
      'conf.d/a.conf': 'include ../extra/{x,y}.inc\n',
      'extra/x.inc': 'x 24\n',
      'extra/y.inc': '\n  y 25\n',
    });
    expect(r.text).toEqual(['a 1', 'x 24', 'y 25', 'b 2', 'z 26']);
    expect(r.where[2]).toEqual(['extra/y.inc:2:3', 'extra/y.inc:2:5']);
    expect(r.read.map((f) => f.slice(r.dir.length + 1))).toEqual([
      'main.conf',
      'conf.d/a.conf',
      'extra/x.inc',
      'extra/y.inc',
      'conf.d/b.conf',
    ]);
  });
  it('ignores a plain include that matches nothing, with a warning', () => {
    const r = run({ 'main.conf': 'include nothing/*.conf\na 1\n' });
    expect(r.text).toEqual(['a 1']);
    expect(r.diags.map((d) => [d.code, d.severity])).toEqual([['KA_ERR_CONF_INCLUDE_MISSING', 'warning']]);
  });
  it('stops an include loop', () => {
    const r = run({ 'main.conf': 'include b.conf\n', 'b.conf': 'b 1\ninclude main.conf\n' });
    expect(r.text).toEqual(['b 1']);
    expect(r.diags.map((d) => d.code)).toEqual(['KA_ERR_CONF_INCLUDE_LOOP']);
  });
});

describe('parameters', () => {
  it('substitutes $NAME and ${NAME}, lazily and recursively, with redefinition', () => {
    const r = run({ 'main.conf': '$A=1\n$B=${A}0\nx $B ${B}y\n$A=2\nx $B\n' });
    expect(r.text).toEqual(['x 10 10y', 'x 20']);
  });
  it('maps words after a substitution back to their own columns', () => {
    const r = run({ 'main.conf': '$LONGNAME=v\nkey $LONGNAME tail\n' });
    expect(r.where).toEqual([['main.conf:2:1', 'main.conf:2:5', 'main.conf:2:15']]);
  });
  it('expands multi-line definitions into several lines', () => {
    const r = run({
      'main.conf': '$VIPS=192.0.2.1 \\\n  192.0.2.2 \\\n  192.0.2.3\nvirtual_ipaddress {\n$VIPS\n}\n',
    });
    expect(r.text).toEqual(['virtual_ipaddress', '{', '192.0.2.1', '192.0.2.2', '192.0.2.3', '}']);
  });
  it('leaves undefined parameters verbatim and warns about one outside quotes', () => {
    const r = run({ 'main.conf': 'a "${UNDEF}" "$QUOTED" $BARE\n' });
    expect(r.text).toEqual(['a ${UNDEF} $QUOTED $BARE']);
    expect(r.diags.filter((d) => d.code === 'KA_ERR_CONF_UNDEFINED_PARAM').map((d) => d.keyword)).toEqual([
      '$BARE',
    ]);
  });
  it('predefines _INSTANCE, _HASH, _BANG and _PWD', () => {
    const r = run({ 'main.conf': 'a ${_INSTANCE} ${_HASH} ${_BANG}\nb ${_PWD}\n' }, 'nodeB');
    expect(r.text[0]).toBe('a nodeB # !');
    expect(r.text[1]).toBe(`b ${r.dir}`);
  });
  it('gives ${_RANDOM MIN MAX} values in range, reproducible from the seed', () => {
    const a = run({ 'main.conf': '~SEQ(i,1,20) r ${_RANDOM 5 9}\n' });
    const b = run({ 'main.conf': '~SEQ(i,1,20) r ${_RANDOM 5 9}\n' });
    const vals = a.text.map((t) => Number(t.split(' ')[1]));
    expect(vals.every((v) => v >= 5 && v <= 9)).toBe(true);
    expect(a.text).toEqual(b.text);
  });
  it('re-checks a substituted line for a conditional', () => {
    const r = run({ 'main.conf': '$C=@nodeA\n$D=@nodeB\n$C priority 240\n$D priority 100\n' });
    expect(r.text).toEqual(['priority 240']);
  });
});

describe('conditional lines', () => {
  it('keeps @ID lines for the config id and @^ID lines for the others', () => {
    const conf = '@nodeA priority 150\n@nodeB priority 100\n@^nodeA state BACKUP\n  @nodeB { x }\n';
    expect(run({ 'main.conf': conf }, 'nodeA').text).toEqual(['priority 150']);
    expect(run({ 'main.conf': conf }, 'nodeB').text).toEqual(['priority 100', 'state BACKUP', '{', 'x', '}']);
  });
  it('points at the kept text, not at the @ID prefix', () => {
    expect(run({ 'main.conf': '@nodeA priority 150\n' }).where).toEqual([
      ['main.conf:1:8', 'main.conf:1:17'],
    ]);
  });
});

describe('~SEQ and ~LST', () => {
  it('repeats a line per value, counting up or down, hex with ~SEQx', () => {
    expect(run({ 'main.conf': '~SEQ(n, 3) a $n\n' }).text).toEqual(['a 1', 'a 2', 'a 3']);
    expect(run({ 'main.conf': '~SEQ(n, 5, -2, 1) a $n\n' }).text).toEqual(['a 5', 'a 3', 'a 1']);
    expect(run({ 'main.conf': '~SEQx(n, 9, 11) a $n\n' }).text).toEqual(['a 9', 'a a', 'a b']);
  });
  it('nests several sequences on one line', () => {
    expect(run({ 'main.conf': '~SEQ(i, 1, 2) ~SEQ(j, 1, 2) x $i$j\n' }).text.length).toBe(4);
    expect(run({ 'main.conf': '~SEQ(i, 1, 2) ~SEQ(j, 1, 2) x ${i}.${j}\n' }).text).toEqual([
      'x 1.1',
      'x 1.2',
      'x 2.1',
      'x 2.2',
    ]);
  });
  it('iterates explicit values and tuples with ~LST', () => {
    expect(run({ 'main.conf': '~LST(v, a, b) k $v\n' }).text).toEqual(['k a', 'k b']);
    expect(run({ 'main.conf': '~LST({x,y},{1,2},{3,4}) k $x $y\n' }).text).toEqual(['k 1 2', 'k 3 4']);
  });
  it('reports a bad specification and drops the line', () => {
    const r = run({ 'main.conf': '~SEQ(1bad, 3) a\nb 1\n' });
    expect(r.text).toEqual(['b 1']);
    expect(r.diags.map((d) => d.code)).toEqual(['KA_ERR_CONF_BAD_SEQ']);
  });
});

describe('line rules', () => {
  it('has no trailing-backslash continuation outside definitions', () => {
    expect(run({ 'main.conf': 'virtual_router_id \\\n51\n' }).text).toEqual(['virtual_router_id \\', '51']);
  });
  it('reports a line longer than 1024 bytes after substitution', () => {
    const r = run({ 'main.conf': `$X=${'y'.repeat(600)}\nk $X $X\n` });
    expect(r.diags.map((d) => d.code)).toEqual(['KA_ERR_CONF_LINE_TOO_LONG']);
  });
  it('strips CR of CRLF files', () => {
    expect(run({ 'main.conf': 'a 1\r\nb 2\r\n' }).text).toEqual(['a 1', 'b 2']);
  });
});

describe('parameter expansion limits', () => {
  it('stops an exponentially nested $VAR expansion with a typed error at the using line', () => {
    // Each level doubles the text: 2^30 bytes if expanded fully (it used to hang the config test).
    const defs = ['$A0=xxxxxxxxxxxxxxxx'];
    for (let i = 1; i <= 30; i++) defs.push(`$A${i}=$A${i - 1} $A${i - 1}`);
    const r = run({ 'main.conf': `${defs.join('\n')}\nglobal_defs {\n  router_id $A30\n}\n` });
    const d = r.diags.find((x) => x.code === 'KA_ERR_CONF_LINE_TOO_LONG');
    expect(d?.pos).toMatchObject({ line: 33 });
    expect(d?.severity).toBe('error');
    expect(r.text.some((t) => /^router_id x/.test(t))).toBe(false);
  });

  it('stops a multi-line parameter that multiplies into too many lines', () => {
    const defs = ['$L0=a \\\nb'];
    for (let i = 1; i <= 25; i++) defs.push(`$L${i}=$L${i - 1}\\\n$L${i - 1}`);
    const r = run({ 'main.conf': `${defs.join('\n')}\n$L25\n` });
    expect(r.diags.some((x) => x.code === 'KA_ERR_CONF_LINE_TOO_LONG')).toBe(true);
    expect(r.text.length).toBeLessThan(1000);
  });
});
