import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyReply, encodeQuery } from '../../../src/check/dns.js';
import * as file from '../../../src/check/file.js';
import { checkHttpSpec, regexAccepted, requestBytes, statusAccepted } from '../../../src/check/http.js';
import { classifyIcmp, echoOf, encodeEcho, type IcmpOpener, IcmpPinger } from '../../../src/check/icmp.js';
import { runCheck } from '../../../src/check/index.js';
import * as misc from '../../../src/check/misc.js';
import { pingArgs } from '../../../src/check/ping.js';
import { replyCode, replyEnd } from '../../../src/check/smtp.js';
import {
  defaultTiming,
  type HttpCheckSpec,
  type MiscCheckSpec,
  type PingCheckSpec,
} from '../../../src/check/types.js';
import { matchesPattern, parseHex } from '../../../src/check/udp.js';
import { isKaError, KaError } from '../../../src/core/errors.js';
import { SysError, SysErrors } from '../../../src/sys/errors.js';
import { internetChecksum } from '../../../src/wire/checksum.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

const miscSpec = (argv: string[], over: Partial<MiscCheckSpec> = {}): MiscCheckSpec => ({
  kind: 'MISC_CHECK',
  miscPath: argv,
  ...defaultTiming('MISC_CHECK', 5),
  ...over,
});

describe('MISC_CHECK', () => {
  it('maps exit codes like keepalived (misc_dynamic: 2..255 → weight exit−2)', () => {
    expect(misc.interpretExit({}, 0)).toEqual({ ok: true });
    expect(misc.interpretExit({}, 1)).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_EXIT' } });
    expect(misc.interpretExit({}, 7)).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_EXIT' } });
    expect(misc.interpretExit({ miscDynamic: true }, 1)).toMatchObject({ ok: false });
    expect(misc.interpretExit({ miscDynamic: true }, 2)).toEqual({ ok: true, weight: 0 });
    expect(misc.interpretExit({ miscDynamic: true }, 255)).toEqual({ ok: true, weight: 253 });
    expect(misc.interpretExit({}, undefined, 'SIGKILL')).toMatchObject({
      error: { code: 'KA_ERR_CHECK_EXIT' },
    });
    expect(misc.interpretExit({}, undefined, 'SIGTERM', true)).toMatchObject({
      error: { code: 'KA_ERR_CHECK_TIMEOUT' },
    });
  });

  it('runs real scripts: exit status, dynamic weight, arguments, timeout, missing file, cancel', async () => {
    const ok = await misc.run(miscSpec([script('ok.sh', 'exit 0')]), AbortSignal.timeout(10_000));
    expect(ok).toEqual({ ok: true });
    const arg = await misc.run(
      miscSpec([script('arg.sh', 'exit "$1"'), '9'], { miscDynamic: true }),
      new AbortController().signal,
    );
    expect(arg).toEqual({ ok: true, weight: 7 });
    const one = await misc.run(
      miscSpec([script('one.sh', 'exit 1')], { miscDynamic: true }),
      new AbortController().signal,
    );
    expect(one).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_EXIT', details: { exitCode: 1 } } });
    const slow = await misc.run(
      miscSpec([script('slow.sh', 'sleep 5')], { miscTimeout: 0.2 }),
      new AbortController().signal,
    );
    expect(slow).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_TIMEOUT' }, reason: 'timed out' });
    const missing = await misc.run(miscSpec([join(dir, 'nope.sh')]), new AbortController().signal);
    expect(missing).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_SPAWN' } });
    const empty = await misc.run(miscSpec([]), new AbortController().signal);
    expect(empty).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_SPEC' } });
    const ctl = new AbortController();
    const p = misc.run(miscSpec([script('hang.sh', 'sleep 5')]), ctl.signal);
    setTimeout(() => ctl.abort(), 50);
    expect(await p).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_ABORTED' } });
  });

  it('resolves user and group from passwd/group files', () => {
    const passwd = join(dir, 'passwd');
    const group = join(dir, 'group');
    writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nchk:x:1200:1300::/:/bin/false\n');
    writeFileSync(group, 'root:x:0:\nops:x:1400:\n');
    const files = { passwd, group };
    expect(misc.resolveUser('chk', undefined, files)).toEqual({ uid: 1200, gid: 1300 });
    expect(misc.resolveUser('chk', 'ops', files)).toEqual({ uid: 1200, gid: 1400 });
    expect(misc.resolveUser('1200', '7', files)).toEqual({ uid: 1200, gid: 7 });
    expect(isKaError(misc.resolveUser('nobody-here', undefined, files), 'KA_ERR_CHECK_SPEC')).toBe(true);
    expect(isKaError(misc.resolveUser('chk', 'nogroup-here', files), 'KA_ERR_CHECK_SPEC')).toBe(true);
  });
});

describe('FILE_CHECK', () => {
  it('weight 0: non-zero value is DOWN (reverse: zero is); weight N [reverse]: weight moves by value × N', () => {
    expect(file.interpretValue({}, '0\n')).toEqual({ ok: true });
    expect(file.interpretValue({}, '3')).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_FILE_VALUE' },
    });
    expect(file.interpretValue({ reverse: true }, '3')).toEqual({ ok: true });
    expect(file.interpretValue({ reverse: true }, '0')).toMatchObject({ ok: false });
    expect(file.interpretValue({ weight: 5 }, '-2')).toEqual({ ok: true, weightDelta: -10 });
    expect(file.interpretValue({ weight: 5, reverse: true }, '2')).toEqual({ ok: true, weightDelta: -10 });
  });

  it('reads numbers as keepalived (strtol base 0): garbage and emptiness are 0, out of range is ignored', () => {
    expect(file.interpretValue({}, 'abc')).toEqual({ ok: true });
    expect(file.interpretValue({}, '')).toEqual({ ok: true });
    expect(file.interpretValue({ weight: 1 }, '010')).toEqual({ ok: true, weightDelta: 8 });
    expect(file.interpretValue({ weight: 1 }, ' 0x10 trailing')).toEqual({ ok: true, weightDelta: 16 });
    expect(file.interpretValue({ weight: 1 }, '5abc')).toEqual({ ok: true, weightDelta: 5 });
    expect(file.interpretValue({ weight: 1 }, String(2 ** 31))).toEqual({ ok: true, weightDelta: 2 ** 31 });
    expect(file.interpretValue({ weight: 1 }, String(2 ** 31 + 1))).toBeUndefined();
    expect(file.interpretValue({ weight: 1 }, String(-(2 ** 31) - 1))).toBeUndefined();
  });

  it('reads the file; a missing one reads as 0 and an out-of-range value keeps the last result', async () => {
    const p = join(dir, 'track');
    writeFileSync(p, '4\n');
    const spec = { kind: 'FILE_CHECK' as const, file: p, weight: 2, ...defaultTiming('FILE_CHECK') };
    expect(await file.run(spec, new AbortController().signal)).toEqual({ ok: true, weightDelta: 8 });
    writeFileSync(p, '99999999999\n');
    expect(await file.run(spec, new AbortController().signal)).toEqual({ ok: true, weightDelta: 8 });
    expect(await file.run({ ...spec, file: join(dir, 'absent') }, new AbortController().signal)).toEqual({
      ok: true,
      weightDelta: 0,
    });
    const down = { kind: 'FILE_CHECK' as const, file: join(dir, 'absent'), ...defaultTiming('FILE_CHECK') };
    expect(await file.run(down, new AbortController().signal)).toEqual({ ok: true });
  });
});

describe('HTTP_GET / SSL_GET pieces', () => {
  it("writes keepalived 2.2.7's request bytes (captured from keepalived --genhash)", () => {
    expect(requestBytes('/a', '127.0.0.1', 8080).toString()).toBe(
      'GET /a HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:8080\r\n\r\n',
    );
    expect(requestBytes('/b', '127.0.0.1', 80, '1.1', 'foo').toString()).toBe(
      'GET /b HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: foo\r\n\r\n',
    );
    expect(requestBytes('/b', '127.0.0.1', 80, '1.0C').toString()).toBe(
      'GET /b HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:80\r\n\r\n',
    );
    expect(requestBytes('/', 'fd00::2', 80).toString()).toContain('Host: [fd00::2]:80\r\n');
  });

  it('status_code sets and ranges (default 200-299)', () => {
    expect(statusAccepted({ path: '/' }, 204)).toBe(true);
    expect(statusAccepted({ path: '/' }, 301)).toBe(false);
    const u = { path: '/', statusCodes: [301, [500, 503] as const] };
    expect([200, 301, 499, 500, 503, 504].map((c) => statusAccepted(u, c))).toEqual([
      false,
      true,
      false,
      true,
      true,
      false,
    ]);
  });

  it('regex, regex_no_match and offsets', () => {
    const body = Buffer.from('xxxx OK yyyy');
    expect(regexAccepted({ path: '/', regex: 'OK' }, body)).toBe(true);
    expect(regexAccepted({ path: '/', regex: 'ok', regexOptions: ['caseless'] }, body)).toBe(true);
    expect(regexAccepted({ path: '/', regex: 'OK', regexNoMatch: true }, body)).toBe(false);
    expect(regexAccepted({ path: '/', regex: 'OK', regexMinOffset: 6 }, body)).toBe(false);
    expect(regexAccepted({ path: '/', regex: 'OK', regexMaxOffset: 4 }, body)).toBe(false);
  });

  it('rejects bad specs with KA_ERR_CHECK_SPEC and never throws', async () => {
    const base: HttpCheckSpec = {
      kind: 'HTTP_GET',
      connectIp: '198.51.100.2',
      connectPort: 80,
      connectTimeout: 1,
      urls: [{ path: '/' }],
      ...defaultTiming('HTTP_GET'),
    };
    expect(checkHttpSpec(base)).toBeNull();
    for (const bad of [
      { ...base, urls: [] },
      { ...base, connectIp: 'example' },
      { ...base, connectPort: 70000 },
      { ...base, urls: [{ path: '/', digest: 'xyz' }] },
      { ...base, urls: [{ path: '/', statusCodes: [[300, 200] as const] }] },
      { ...base, urls: [{ path: '/', regex: '(' }] },
    ]) {
      expect(checkHttpSpec(bad)?.code).toBe('KA_ERR_CHECK_SPEC');
      expect(await runCheck(bad, new AbortController().signal)).toMatchObject({
        ok: false,
        error: { code: 'KA_ERR_CHECK_SPEC' },
      });
    }
  });
});

describe('SMTP, DNS, UDP, PING pieces', () => {
  it('SMTP multi-line replies', () => {
    const r = Buffer.from('220-mail.example\r\n220 ready\r\n250 ok\r\n');
    expect(replyEnd(r)).toBe('220-mail.example\r\n220 ready\r\n'.length);
    expect(replyEnd(Buffer.from('220-partial\r\n'))).toBe(-1);
    expect(replyCode(Buffer.from('220-a\r\n220 b\r\n'))).toBe(220);
    expect(replyCode(Buffer.from('garbage\r\n'))).toBeNull();
  });

  it('DNS query bytes (RD, QDCOUNT 1, root SOA) and reply classification', () => {
    expect(encodeQuery(0x1234, '.', 'SOA').toString('hex')).toBe(
      '123401000001000000000000' + '00' + '0006' + '0001',
    );
    expect(encodeQuery(1, 'example.org.', 'A').subarray(12).toString('hex')).toBe(
      '076578616d706c65036f726700' + '0001' + '0001',
    );
    const reply = (id: number, flags: number) => {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(id, 0);
      b.writeUInt16BE(flags, 2);
      return b;
    };
    expect(classifyReply(reply(7, 0x8180), 7)).toBe('ok');
    expect(classifyReply(reply(7, 0x8183), 7)).toBe(3);
    expect(classifyReply(reply(8, 0x8180), 7)).toBe('ignore');
    expect(classifyReply(reply(7, 0x0100), 7)).toBe('ignore');
    expect(classifyReply(Buffer.alloc(5), 7)).toBe('ignore');
  });

  it('UDP hex payloads and require_reply patterns with X wildcards', () => {
    expect(parseHex('de ad', false)).toBe('dead');
    expect(isKaError(parseHex('xx', false), 'KA_ERR_CHECK_SPEC')).toBe(true);
    expect(isKaError(parseHex('abc', true), 'KA_ERR_CHECK_SPEC')).toBe(true);
    expect(matchesPattern(Buffer.from('dead01', 'hex'), 'dexx')).toBe(true);
    expect(matchesPattern(Buffer.from('dfad01', 'hex'), 'dexx')).toBe(false);
    expect(matchesPattern(Buffer.from('de', 'hex'), 'dead')).toBe(false);
  });

  it('PING_CHECK argv for ping(8)', () => {
    const spec = {
      kind: 'PING_CHECK' as const,
      connectIp: '198.51.100.2',
      connectPort: 0,
      connectTimeout: 2.5,
      bindto: '198.51.100.1',
      ...defaultTiming('PING_CHECK'),
    };
    expect(pingArgs(spec)).toEqual([
      '-4',
      '-n',
      '-q',
      '-c',
      '1',
      '-W',
      '3',
      '-w',
      '3',
      '-I',
      '198.51.100.1',
      '198.51.100.2',
    ]);
  });

  it('keepalived default timing per checker', () => {
    expect(defaultTiming('DNS_CHECK', 10)).toMatchObject({ retry: 3, delayBeforeRetry: 10 });
    expect(defaultTiming('MISC_CHECK')).toMatchObject({ retry: 0, delayBeforeRetry: 1 });
    expect(defaultTiming('SSL_GET')).toMatchObject({ retry: 1, delayBeforeRetry: 3 });
  });

  it('reply parsers never throw on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff }), (bytes, id) => {
        const b = Buffer.from(bytes);
        classifyReply(b, id);
        replyEnd(b);
        replyCode(b);
        matchesPattern(b, 'xx00');
        file.interpretValue({ weight: 3 }, b.toString('latin1'));
        return true;
      }),
    );
  });
});

describe('PING_CHECK ICMP echo', () => {
  const ipHeader = (): Buffer => {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    return h;
  };
  const sent = { id: 0x4242, seq: 1, target: '198.51.100.2' };

  it('encodes echo requests (IPv4 checksum verifies) and classifies replies and errors', () => {
    const req = encodeEcho(false, 0x4242, 1);
    expect(req[0]).toBe(8);
    expect(internetChecksum(req)).toBe(0);
    const reply = Buffer.from(req);
    reply[0] = 0;
    const v4reply = echoOf(false, Buffer.concat([ipHeader(), reply]));
    expect(v4reply).toEqual({ kind: 'reply', id: 0x4242, seq: 1 });
    expect(classifyIcmp(v4reply, '198.51.100.2', sent)).toBe('reply');
    expect(classifyIcmp(v4reply, '198.51.100.2', { ...sent, id: 0x4243 })).toBe('ignore');
    expect(classifyIcmp(v4reply, '198.51.100.2', { ...sent, seq: 2 })).toBe('ignore');
    // A reply must come from the target; an error may come from any router.
    expect(classifyIcmp(v4reply, '198.51.100.9', sent)).toBe('ignore');
    const unreach = echoOf(
      false,
      Buffer.concat([ipHeader(), Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), ipHeader(), req]),
    );
    expect(unreach).toEqual({ kind: 'unreachable', id: 0x4242, seq: 1 });
    expect(classifyIcmp(unreach, '198.51.100.9', sent)).toBe('unreachable');
    expect(classifyIcmp(unreach, '198.51.100.9', { ...sent, seq: 2 })).toBe('ignore');
    const v6 = encodeEcho(true, 7, 1);
    expect(v6[0]).toBe(128);
    const v6reply = Buffer.from(v6);
    v6reply[0] = 129;
    const v6sent = { id: 7, seq: 1, target: 'fe80::2' };
    expect(classifyIcmp(echoOf(true, v6reply), 'fe80::2%veth0', v6sent)).toBe('reply');
    expect(
      classifyIcmp(
        echoOf(true, Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), Buffer.alloc(40), v6])),
        'fd00::1',
        v6sent,
      ),
    ).toBe('unreachable');
    expect(classifyIcmp(null, '198.51.100.2', sent)).toBe('ignore');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, isV6) => {
        const e = echoOf(isV6, Buffer.from(bytes));
        classifyIcmp(e, '198.51.100.2', sent);
        return true;
      }),
    );
  });

  const spec = (connectIp: string): PingCheckSpec => ({
    kind: 'PING_CHECK',
    connectIp,
    connectPort: 0,
    connectTimeout: 5,
    ...defaultTiming('PING_CHECK'),
  });
  const refusing = (errno: string) => {
    const families: number[] = [];
    const open: IcmpOpener = (o) => {
      families.push(o.family);
      throw new SysError(SysErrors.KA_ERR_SYS_CALL, `socket: ${errno}`, errno, 'socket');
    };
    return { families, open };
  };

  it('remembers per family that raw sockets are refused and goes straight to ping(8)', async () => {
    const { families, open } = refusing('EPERM');
    const p = new IcmpPinger({ open });
    const signal = new AbortController().signal;
    expect(await p.run(spec('198.51.100.2'), signal)).toBeNull();
    expect(await p.run(spec('198.51.100.3'), signal)).toBeNull();
    expect(families).toEqual([4]);
    expect(p.refusedFamily(4)).toBe(true);
    expect(p.refusedFamily(6)).toBe(false);
    expect(await p.run(spec('fd00::2'), signal)).toBeNull();
    expect(await p.run(spec('fd00::3'), signal)).toBeNull();
    expect(families).toEqual([4, 6]);
    expect(p.counters.get('check.ping.raw_refused')).toBe(2);
    expect(p.counters.get('check.ping.fallback')).toBe(4);
  });

  it('remembers a missing addon, but retries failures that depend on the check (ENODEV)', async () => {
    const signal = new AbortController().signal;
    let calls = 0;
    const noAddon = new IcmpPinger({
      open: () => {
        calls++;
        throw new KaError(SysErrors.KA_ERR_SYS_ADDON, 'cannot load the native addon');
      },
    });
    await noAddon.run(spec('198.51.100.2'), signal);
    await noAddon.run(spec('198.51.100.2'), signal);
    expect(calls).toBe(1);
    const { families, open } = refusing('ENODEV');
    const p = new IcmpPinger({ open });
    expect(await p.run({ ...spec('198.51.100.2'), bindIf: 'nosuch0' }, signal)).toBeNull();
    expect(await p.run(spec('198.51.100.2'), signal)).toBeNull();
    expect(families).toEqual([4, 4]);
    expect(p.refusedFamily(4)).toBe(false);
    expect(p.counters.get('check.ping.raw_refused')).toBe(0);
    expect(p.counters.get('check.ping.fallback')).toBe(2);
  });

  it('a refused SO_MARK fails the attempt (KA_ERR_CHECK_IO) without marking the family refused', async () => {
    const p = new IcmpPinger({
      open: () => {
        throw new SysError(SysErrors.KA_ERR_SYS_CALL, 'setsockopt: EPERM', 'EPERM', 'setsockopt', {
          option: 'SO_MARK',
        });
      },
    });
    const r = await p.run({ ...spec('198.51.100.2'), fwmark: 0x42 }, new AbortController().signal);
    expect(r?.ok).toBe(false);
    expect(r && !r.ok && r.error.code).toBe('KA_ERR_CHECK_IO');
    expect(p.refusedFamily(4)).toBe(false);
    expect(p.counters.get('check.ping.fallback')).toBe(0);
  });

  /** An in-memory raw socket: each echo sent is answered by `answer` (IPv4 datagrams with IP header). */
  const answering = (answer: (req: Buffer, dst: string) => [Buffer, string][]) => {
    let opened = 0;
    let closed = 0;
    const open: IcmpOpener = (_o, onMessage) => {
      opened++;
      return {
        send: (data, dst) => {
          for (const [d, src] of answer(data, dst)) queueMicrotask(() => onMessage(d, src));
          return data.length;
        },
        close: () => {
          closed++;
        },
      };
    };
    return { open, counts: () => ({ opened, closed }) };
  };
  const asReply = (req: Buffer, seq?: number): Buffer => {
    const r = Buffer.from(req);
    r[0] = 0;
    if (seq !== undefined) r.writeUInt16BE(seq, 6);
    return Buffer.concat([ipHeader(), r]);
  };

  it('the receive handler accepts only the reply from the target with our id and sequence', async () => {
    const { open, counts } = answering((req, dst) => [
      [asReply(req), '198.51.100.9'],
      [asReply(req, 2), dst],
      [asReply(req), dst],
    ]);
    const p = new IcmpPinger({ open });
    expect(await p.run(spec('198.51.100.2'), new AbortController().signal)).toEqual({ ok: true });
    expect(counts()).toEqual({ opened: 1, closed: 1 });
    expect(p.openSockets()).toBe(0);
  });

  it('attempts with different marks never share a raw socket', async () => {
    const marks: (number | undefined)[] = [];
    const { open: answer } = answering((req, dst) => [[asReply(req), dst]]);
    const p = new IcmpPinger({
      open: (o, onMessage) => {
        marks.push(o.mark);
        return answer(o, onMessage);
      },
    });
    const signal = new AbortController().signal;
    const rs = await Promise.all([
      p.run({ ...spec('198.51.100.2'), fwmark: 1 }, signal),
      p.run({ ...spec('198.51.100.2'), fwmark: 2 }, signal),
      p.run({ ...spec('198.51.100.3'), fwmark: 1 }, signal),
    ]);
    expect(rs).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(marks).toEqual([1, 2]);
  });

  it('a reply from another host does not pass; an error quoting our echo fails at once', async () => {
    const wrongSource = new IcmpPinger({ open: answering((req) => [[asReply(req), '198.51.100.9']]).open });
    const ac = new AbortController();
    const pending = wrongSource.run(spec('198.51.100.2'), ac.signal);
    await new Promise((r) => setImmediate(r));
    ac.abort();
    const r = await pending;
    expect(r?.ok === false && r.error.code).toBe('KA_ERR_CHECK_ABORTED');
    const unreachable = new IcmpPinger({
      open: answering((req) => [
        [Buffer.concat([ipHeader(), Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), ipHeader(), req]), '198.51.100.1'],
      ]).open,
    });
    const u = await unreachable.run(spec('198.51.100.2'), new AbortController().signal);
    expect(u?.ok === false && u.error.code).toBe('KA_ERR_CHECK_UNREACHABLE');
  });

  it('no reply within connect_timeout is PING; a pre-aborted signal sends nothing; the socket closes', async () => {
    let sent = 0;
    const { open, counts } = answering(() => {
      sent++;
      return [];
    });
    const p = new IcmpPinger({ open });
    const r = await p.run({ ...spec('198.51.100.2'), connectTimeout: 0.01 }, new AbortController().signal);
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_PING', message: 'PING: no echo reply' },
    });
    expect([sent, counts()]).toEqual([1, { opened: 1, closed: 1 }]);
    const a = await p.run(spec('198.51.100.2'), AbortSignal.abort());
    expect(a).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_ABORTED', message: 'PING: cancelled' },
    });
    expect([sent, counts(), p.openSockets()]).toEqual([1, { opened: 2, closed: 2 }, 0]);
  });
});
