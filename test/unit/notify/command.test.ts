import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { commandString, parseScriptLine, splitCommand, splitWords } from '../../../src/notify/command.js';

describe('splitWords: one pass of keepalived quoted/escaped splitting', () => {
  it.each([
    ['/x.sh MASTER VI_1', ['/x.sh', 'MASTER', 'VI_1']],
    ['  /x.sh\t a   b  ', ['/x.sh', 'a', 'b']],
    ["/x.sh 'a b' c", ['/x.sh', 'a b', 'c']],
    ['/x.sh "a b" c', ['/x.sh', 'a b', 'c']],
    ["ab'c d'e", ['abc de']],
    ['a"b c"\'d e\'f', ['ab cd ef']],
    ["'it''s'", ['its']],
    ['"say \'hi\'"', ["say 'hi'"]],
    ['\'say "hi"\'', ['say "hi"']],
    ['a\\ b', ['a b']],
    ['"a\\"b"', ['a"b']],
    ["'a\\'b'", ["a'b"]],
    ['\\t\\n\\r\\v\\f\\a\\b\\E', ['\t\n\r\v\f\x07\b\x1b']],
    ["'tab\\there'", ['tab\there']],
    ['\\101\\102\\103', ['ABC']],
    ['\\0', ['\0']],
    ['\\1234', ['S4']],
    ['\\x41\\x4a', ['AJ']],
    ['\\x414', ['\x14']],
    ['\\xg', ['xg']],
    ['\\cA\\cz', ['\x01\x1a']],
    ['\\q', ['q']],
    ['\\\\', ['\\']],
    ['""', ['']],
    ["a '' b", ['a', '', 'b']],
    ['', []],
    ['   ', []],
  ])('%j → %j', (src, want) => {
    expect(splitWords(src)).toEqual(want);
  });

  it.each([["'unterminated"], ['"open'], ['ends with \\']])('%j is a typed error', (src) => {
    expect(() => splitWords(src)).toThrow(expect.objectContaining({ code: 'KA_ERR_NOTIFY_BAD_COMMAND' }));
  });
});

describe('parseScriptLine: both passes, as for notify_master "CMD ARGS" user group', () => {
  it('the lab line: notify_master "/n.sh MASTER-A arg2"', () => {
    expect(parseScriptLine('"/n.sh MASTER-A arg2"')).toEqual({ argv: ['/n.sh', 'MASTER-A', 'arg2'] });
  });
  it('quoted argument with blanks inside the quoted command', () => {
    expect(parseScriptLine(`"/n.sh 'two words' x" nobody nogroup`)).toEqual({
      argv: ['/n.sh', 'two words', 'x'],
      user: 'nobody',
      group: 'nogroup',
    });
  });
  it('escapes are processed on both passes', () => {
    // first pass: \\\\ → \\ ; second pass: \\ + space → one word "a b"
    expect(parseScriptLine('"/n.sh a\\\\ b"').argv).toEqual(['/n.sh', 'a b']);
  });
  it('an unquoted command takes only its first word; the next words are user and group', () => {
    expect(parseScriptLine('/n.sh MASTER')).toEqual({ argv: ['/n.sh'], user: 'MASTER' });
  });
  it('empty command is a typed error', () => {
    expect(() => parseScriptLine('')).toThrow(expect.objectContaining({ code: 'KA_ERR_NOTIFY_BAD_COMMAND' }));
    expect(() => splitCommand('  ')).toThrow(expect.objectContaining({ code: 'KA_ERR_NOTIFY_BAD_COMMAND' }));
  });
});

describe('commandString (keepalived cmd_str for /bin/sh -c)', () => {
  it("quotes each word and escapes ' as '\\''", () => {
    expect(commandString(['/x.sh', "it's", 'a b'])).toBe("'/x.sh' 'it'\\''s' 'a b'");
    expect(commandString(['</dev/tcp/127.0.0.1/80'])).toBe('</dev/tcp/127.0.0.1/80');
  });
  it('round-trips through splitWords', () => {
    const argv = ['/x.sh', "it's", 'a b', '$HOME', '"q"'];
    expect(splitWords(commandString(argv))).toEqual(argv);
  });
});

describe('splitWords properties (fast-check)', () => {
  it('any input either splits or throws KA_ERR_NOTIFY_BAD_COMMAND, nothing else', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', ' ', '\t', "'", '"', '\\', 'x', 'c', '0', '7', 'f', 'n') }),
        (s) => {
          try {
            const w = splitWords(s);
            expect(Array.isArray(w)).toBe(true);
          } catch (e) {
            expect(isKaError(e, 'KA_ERR_NOTIFY_BAD_COMMAND')).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  // commandString targets /bin/sh, where a backslash inside '...' is literal; keepalived's splitter
  // treats it as an escape, so the round trip holds for argv without backslashes (sh is tested with
  // backslashes in script.test.ts).
  it('commandString then splitWords gives back any argv without backslashes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc
            .string({ minLength: 1 })
            .filter((a) => !a.startsWith('<') && !a.startsWith('>') && !a.includes('\\')),
          { minLength: 1 },
        ),
        (argv) => {
          expect(splitWords(commandString(argv))).toEqual(argv);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
