import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/log.js';
import {
  facilityNumber,
  formatSyslog,
  SyslogStream,
  severityOf,
  syslogTime,
} from '../../../src/core/syslog.js';
import { sendUnixDatagram, UnixDatagramReceiver } from '../../../src/sys/unix-dgram.js';

const at = new Date(2026, 10, 3, 9, 5, 1); // local time: Nov  3 09:05:01
const opts = { facility: 3, pid: 4242, now: () => at };
const text = (b: Buffer | undefined) => b?.toString('utf8');

describe('syslog datagrams as glibc syslog(3) sends them', () => {
  it('gives PRI from facility and level, an RFC 3164 time, ident[pid] and the message', () => {
    const line = JSON.stringify({
      level: 30,
      time: 'x',
      pid: 1,
      msg: '(VI_1) Entering MASTER STATE',
      proc: 'vrrp',
    });
    // daemon (3) × 8 + info (6) = 30
    expect(text(formatSyslog(line, opts))).toBe(
      '<30>Nov  3 09:05:01 Keepalived_vrrp[4242]: (VI_1) Entering MASTER STATE',
    );
  });

  it("uses keepalived's idents per subsystem, with the instance suffix", () => {
    const idents = ['vrrp', 'healthcheckers', 'bfd', undefined, 'other'].map(
      (proc) =>
        text(
          formatSyslog(JSON.stringify({ level: 30, msg: 'm', proc }), { ...opts, identSuffix: '_A' }),
        )?.match(/ (\S+\[\d+\]:) /)?.[1],
    );
    expect(idents).toEqual([
      'Keepalived_vrrp_A[4242]:',
      'Keepalived_healthcheckers_A[4242]:',
      'Keepalived_bfd_A[4242]:',
      'Keepalived_A[4242]:',
      'Keepalived_A[4242]:',
    ]);
  });

  it('maps pino levels to syslog severities', () => {
    expect([10, 20, 30, 40, 50, 60].map(severityOf)).toEqual([7, 7, 6, 4, 3, 2]);
    const err = formatSyslog(
      JSON.stringify({ level: 50, msg: 'reload failed', err: { message: 'EACCES' } }),
      {
        ...opts,
        facility: facilityNumber('local2'),
      },
    );
    // local2 (18) × 8 + err (3) = 147; the error's message follows the text
    expect(text(err)).toBe('<147>Nov  3 09:05:01 Keepalived[4242]: reload failed: EACCES');
  });

  it('reads -S facilities as keepalived does', () => {
    expect(['0', '7', 'local3', 'user', 'daemon', undefined].map(facilityNumber)).toEqual([
      16, 23, 19, 1, 3, 3,
    ]);
  });

  it('pads the day with a space and the time with zeros', () => {
    expect(syslogTime(new Date(2026, 0, 9, 1, 2, 3))).toBe('Jan  9 01:02:03');
    expect(syslogTime(new Date(2026, 11, 31, 23, 59, 59))).toBe('Dec 31 23:59:59');
  });

  it('ignores what is not a log record and cuts a message at 8 KiB', () => {
    expect(formatSyslog('not json', opts)).toBeUndefined();
    expect(formatSyslog('{"msg":"no level"}', opts)).toBeUndefined();
    const long = formatSyslog(JSON.stringify({ level: 30, msg: 'x'.repeat(20_000) }), opts);
    expect(long?.length).toBe(8192);
  });
});

describe('SyslogStream', () => {
  it('never throws: a failed send is reported with its errno and the line dropped', () => {
    const codes: string[] = [];
    const sent: string[] = [];
    let fail = true;
    const s = new SyslogStream(
      {
        send(path, data) {
          if (fail) throw Object.assign(new Error('no syslog'), { code: 'ENOENT' });
          sent.push(`${path} ${data.toString()}`);
        },
      },
      { ...opts, onError: (c) => codes.push(c) },
    );
    expect(s.write(`${JSON.stringify({ level: 30, msg: 'a' })}\n`)).toBe(true);
    fail = false;
    s.write(`${JSON.stringify({ level: 40, msg: 'b' })}\n${JSON.stringify({ level: 30, msg: 'c' })}\n`);
    expect(codes).toEqual(['ENOENT']);
    expect(sent).toEqual([
      '/dev/log <28>Nov  3 09:05:01 Keepalived[4242]: b',
      '/dev/log <30>Nov  3 09:05:01 Keepalived[4242]: c',
    ]);
  });
});

describe('createLogger with syslog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-syslog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends each record as one datagram to a real AF_UNIX socket, filtered by level', async () => {
    const path = join(dir, 'log');
    const rx = UnixDatagramReceiver.listen(path);
    const got: string[] = [];
    rx.on('message', (b) => got.push(b.toString()));
    try {
      const log = createLogger({
        level: 'info',
        console: false,
        syslog: { facility: 3, path, pid: 7, sink: { send: (p, d) => void sendUnixDatagram(p, d) } },
      });
      log.child({ proc: 'vrrp' }).info('(VI_1) Entering BACKUP STATE');
      log.debug('not at info level');
      log.warn({ proc: 'healthcheckers' }, 'TCP connection to [192.0.2.10]:tcp:80 failed.');
      for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got.map((g) => g.replace(/^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d /, '$1'))).toEqual([
        '<30>Keepalived_vrrp[7]: (VI_1) Entering BACKUP STATE',
        '<28>Keepalived_healthcheckers[7]: TCP connection to [192.0.2.10]:tcp:80 failed.',
      ]);
    } finally {
      rx.close();
    }
  });

  it('with neither console nor syslog logs nothing and does not fail', () => {
    const log = createLogger({ console: false });
    expect(log.level).toBe('silent');
    log.info('dropped');
  });
});
