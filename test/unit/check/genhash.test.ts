import { describe, expect, it } from 'vitest';
import { dumpBuffer, GENHASH_USAGE, parseGenhashArgs, runGenhash } from '../../../src/check/genhash.js';
import { KaError } from '../../../src/core/errors.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) }, out, err };
}

describe('genhash command line', () => {
  it('parses keepalived 2.2 options, short and long', () => {
    const a = parseGenhashArgs([
      '-S',
      '-I',
      '-s',
      '198.51.100.2',
      '-p',
      '443',
      '-u',
      '/x',
      '-V',
      'www',
      '-P',
      '1.0c',
      '-t',
      '3',
      '-v',
    ]);
    expect(a.spec).toMatchObject({
      kind: 'SSL_GET',
      connectIp: '198.51.100.2',
      connectPort: 443,
      connectTimeout: 3,
      httpProtocol: '1.0C',
      enableSni: true,
      virtualhost: 'www',
    });
    expect(a.verbose).toBe(true);
    const b = parseGenhashArgs([
      '--server',
      'fd00::2',
      '--port',
      '80',
      '--url',
      '/',
      '--protocol',
      '1.1',
      '--fwmark',
      '7',
    ]);
    expect(b.spec).toMatchObject({ kind: 'HTTP_GET', connectIp: 'fd00::2', httpProtocol: '1.1', fwmark: 7 });
  });

  it('rejects bad options with KA_ERR_GENHASH_USAGE and keepalived messages', () => {
    const msg = (argv: string[]) => {
      try {
        parseGenhashArgs(argv);
        return 'parsed';
      } catch (e) {
        expect(e).toBeInstanceOf(KaError);
        expect((e as KaError).code).toBe('KA_ERR_GENHASH_USAGE');
        return (e as KaError).message;
      }
    };
    expect(msg(['-s', 'foo', '-p', '80', '-u', '/'])).toBe('server should be an IP, not foo');
    expect(msg(['-s', '198.51.100.2', '-p', '0', '-u', '/'])).toBe("invalid port number '0'");
    expect(msg(['-s', '198.51.100.2', '-p', '80', '-u', '/', '-P', '2'])).toBe(
      "invalid HTTP protocol version '2'",
    );
    expect(msg(['-s', '198.51.100.2', '-p', '80'])).toContain('mandatory');
    expect(msg(['-s', '198.51.100.2', '-p', '80', '-u', '/', 'extra'])).not.toBe('parsed');
    expect(msg(['--bogus'])).not.toBe('parsed');
  });

  it('prints usage and exits 1 for -h and for errors, like keepalived', async () => {
    const c = capture();
    expect(await runGenhash(['-h'], c.io)).toBe(1);
    expect(c.err.join('')).toBe(GENHASH_USAGE);
    const d = capture();
    expect(await runGenhash(['-s', 'foo', '-p', '80', '-u', '/'], d.io)).toBe(1);
    expect(d.err.join('')).toBe(`server should be an IP, not foo\n${GENHASH_USAGE}`);
    expect(d.out).toEqual([]);
  });

  it("dumps buffers in keepalived's format (lines captured from keepalived 2.2.7 -v)", () => {
    expect(dumpBuffer(Buffer.from('hello world\nhello world\nhello world\n'))).toBe(
      '0000  68 65 6c 6c 6f 20 77 6f - 72 6c 64 0a 68 65 6c 6c   hello world.hell\n' +
        '0016  6f 20 77 6f 72 6c 64 0a - 68 65 6c 6c 6f 20 77 6f   o world.hello wo\n' +
        '0032  72 6c 64 0a             -                           rld.            \n',
    );
    expect(dumpBuffer(Buffer.from('3a20636c6f73650d0a0d0a', 'hex'))).toBe(
      '0000  3a 20 63 6c 6f 73 65 0d - 0a 0d 0a                  : close....     \n',
    );
  });
});
