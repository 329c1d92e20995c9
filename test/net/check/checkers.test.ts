/**
 * Checkers against real servers in a namespace the test creates (veth: host 198.51.100.1/24, namespace
 * 198.51.100.2/24). The servers are a child node process in the namespace (fixtures/servers.mjs) whose
 * behaviour is switched per test: healthy, slow, reset mid-response, wrong status, wrong digest,
 * truncated body, never answering, refusing. Checkers run in this process.
 * Detection and recovery times are measured with the real clock and printed; the bound
 * delay_loop × (retry + 1) + connect_timeout is asserted with a generous margin.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectWith } from '../../../src/check/common.js';
import * as dns from '../../../src/check/dns.js';
import { runGenhash } from '../../../src/check/genhash.js';
import * as http from '../../../src/check/http.js';
import { openIcmpSockets, runRaw } from '../../../src/check/icmp.js';
import { runCheck } from '../../../src/check/index.js';
import * as ping from '../../../src/check/ping.js';
import { Scheduler } from '../../../src/check/schedule.js';
import * as smtp from '../../../src/check/smtp.js';
import * as tcp from '../../../src/check/tcp.js';
import type {
  CheckResult,
  CheckSpec,
  CheckTiming,
  ConnOpts,
  HttpCheckSpec,
  RealServerEvent,
} from '../../../src/check/types.js';
import * as udp from '../../../src/check/udp.js';
import { systemClock } from '../../../src/core/clock.js';
import type { KaError } from '../../../src/core/errors.js';
import { type HostVeth, hostVeth } from '../../lab/host-veth.js';
import { describeIf, inCI, needRoot } from '../../support/privilege.js';
import { selfSignedCert } from './fixtures/cert.js';
import { type FixtureServers, startFixtureServers } from './fixtures/servers.js';

const HOST = '198.51.100.1';
const RS = '198.51.100.2';
const TIMING: CheckTiming = { delayLoop: 1, retry: 1, delayBeforeRetry: 0.5, warmup: 0, alpha: false };
const CONNECT_TIMEOUT = 0.5;
const BOUND_S = TIMING.delayLoop * (TIMING.retry + 1) + CONNECT_TIMEOUT;
const MARGIN_S = 1.5;
const conn = (port: number): ConnOpts => ({
  connectIp: RS,
  connectPort: port,
  connectTimeout: CONNECT_TIMEOUT,
  bindto: HOST,
});

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

describeIf('health checkers against real servers (netns)', needRoot, () => {
  const id = randomBytes(3).toString('hex');
  const ns = `ktck${id}`;
  const vethHost = `ktck${id}h`;
  const dir = mkdtempSync(join(tmpdir(), 'kt-check-net-'));
  const body = Buffer.from('keepalived-ts checker fixture body\n'.repeat(200));
  const digest = createHash('md5').update(body).digest('hex');
  let servers: FixtureServers | undefined;
  const measured: Array<{ fault: string; detectS: number; recoverS: number }> = [];
  let veth: HostVeth | undefined;

  const setMode = async (mode: string): Promise<void> => {
    servers!.child.stdin!.write(`mode ${mode}\n`);
    for (;;) {
      const l = await servers!.lines.next();
      if (l.done) throw new Error('fixture exited');
      if (l.value === `mode ${mode}`) return;
    }
  };

  beforeAll(async () => {
    writeFileSync(join(dir, 'body'), body);
    selfSignedCert(dir, 'rs.check.test', `IP:${RS},DNS:rs.check.test`);
    // Removed in afterAll, and by the lab's exit/signal hook if the run dies first.
    veth = hostVeth({ ns, vethHost, hostAddr: `${HOST}/24`, nsAddr: `${RS}/24` });
    servers = await startFixtureServers(ns, RS, dir);
  });

  afterAll(() => {
    servers?.stop();
    veth?.destroy();
    rmSync(dir, { recursive: true, force: true });
    if (measured.length) {
      process.stdout.write(
        `\nchecker fault detection (bound ${BOUND_S}s = delay_loop ${TIMING.delayLoop} × (retry ${TIMING.retry} + 1) + connect_timeout ${CONNECT_TIMEOUT}):\n`,
      );
      for (const m of measured)
        process.stdout.write(
          `  ${m.fault.padEnd(28)} detected ${m.detectS.toFixed(3)} s, recovered ${m.recoverS.toFixed(3)} s\n`,
        );
    }
  });

  const httpSpec = (over: Partial<HttpCheckSpec> = {}): HttpCheckSpec => ({
    kind: 'HTTP_GET',
    ...conn(80),
    ...TIMING,
    urls: [{ path: '/index.html', digest }],
    ...over,
  });
  const sslSpec = (over: Partial<HttpCheckSpec> = {}): HttpCheckSpec =>
    httpSpec({ kind: 'SSL_GET', connectPort: 443, ...over });
  const once = (spec: CheckSpec): Promise<CheckResult> => runCheck(spec, new AbortController().signal);

  it('healthy servers pass every checker (HTTP, HTTPS, TCP, SMTP, DNS, UDP, PING)', async () => {
    await setMode('ok');
    expect(
      await http.run(
        httpSpec({ urls: [{ path: '/', digest, statusCodes: [200] }, { path: '/b' }] }),
        new AbortController().signal,
      ),
    ).toEqual({ ok: true });
    expect(await once(sslSpec())).toEqual({ ok: true });
    expect(
      await once(
        sslSpec({
          enableSni: true,
          virtualhost: 'rs.check.test',
          tls: { verify: true, ca: readFileSync(join(dir, 'cert.pem'), 'utf8') },
        }),
      ),
    ).toEqual({ ok: true });
    expect(await once(sslSpec({ tls: { verify: true } }))).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_TLS' },
    });
    expect(
      await tcp.run({ kind: 'TCP_CHECK', ...conn(80), ...TIMING }, new AbortController().signal),
    ).toEqual({ ok: true });
    expect(
      await smtp.run(
        { kind: 'SMTP_CHECK', ...conn(25), ...TIMING, heloName: 'lb.test' },
        new AbortController().signal,
      ),
    ).toEqual({ ok: true });
    expect(
      await dns.run(
        { kind: 'DNS_CHECK', ...conn(53), ...TIMING, type: 'A', name: 'rs.check.test' },
        new AbortController().signal,
      ),
    ).toEqual({ ok: true });
    expect(
      await udp.run(
        {
          kind: 'UDP_CHECK',
          ...conn(7),
          ...TIMING,
          payload: '0102',
          requireReply: 'ecxx02',
          minReplyLength: 3,
        },
        new AbortController().signal,
      ),
    ).toEqual({ ok: true });
    expect(
      await udp.run(
        { kind: 'UDP_CHECK', ...conn(7), ...TIMING, payload: '0102', requireReply: 'ed' },
        new AbortController().signal,
      ),
    ).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_UDP_REPLY' } });
    expect(
      await udp.run(
        { kind: 'UDP_CHECK', ...conn(7), ...TIMING, payload: '01' },
        new AbortController().signal,
      ),
    ).toMatchObject({ ok: true });
    // Raw ICMP socket (we are root) and the ping(8) fallback.
    const pingSpec = { kind: 'PING_CHECK' as const, ...conn(0), connectTimeout: 1, ...TIMING };
    expect(await runRaw(pingSpec, new AbortController().signal)).toEqual({ ok: true });
    expect(await ping.run(pingSpec, new AbortController().signal)).toEqual({ ok: true });
    expect(await ping.runPingCommand(pingSpec, new AbortController().signal)).toEqual({ ok: true });
  });

  it('PING_CHECK attempts in flight share one raw ICMP socket, demultiplexed by echo id, closed once idle', async () => {
    const up = { kind: 'PING_CHECK' as const, ...conn(0), connectTimeout: 1, ...TIMING };
    const absent = { ...up, connectIp: '198.51.100.3' };
    const runs = [
      ...Array.from({ length: 40 }, () => runRaw(up, new AbortController().signal)),
      ...Array.from({ length: 5 }, () => runRaw(absent, new AbortController().signal)),
    ];
    expect(openIcmpSockets()).toBe(1);
    const results = await Promise.all(runs);
    expect(results.slice(0, 40).every((r) => r?.ok === true)).toBe(true);
    for (const r of results.slice(40))
      expect(r).toMatchObject({
        ok: false,
        error: { code: expect.stringMatching(/^KA_ERR_CHECK_(PING|UNREACHABLE)$/) },
      });
    expect(openIcmpSockets()).toBe(0);
  });

  it.each([
    ['slow', 'KA_ERR_CHECK_TIMEOUT'],
    ['silent', 'KA_ERR_CHECK_TIMEOUT'],
    ['reset', 'KA_ERR_CHECK_RESET'],
    ['status', 'KA_ERR_CHECK_STATUS'],
    ['digest', 'KA_ERR_CHECK_DIGEST'],
    ['truncated', 'KA_ERR_CHECK_TRUNCATED'],
    ['refuse', 'KA_ERR_CHECK_REFUSED'],
  ])('one HTTP and HTTPS attempt against a %s server fails with %s', async (mode, code) => {
    await setMode(mode);
    expect(await once(httpSpec())).toMatchObject({ ok: false, error: { code } });
    expect(await once(sslSpec())).toMatchObject({ ok: false, error: { code } });
    await setMode('ok');
  });

  it('HTTP responses: malformed ones get typed errors; chunked, unsized and trickled ones are read whole', async () => {
    const get = (over: Partial<HttpCheckSpec> = {}) =>
      http.fetchUrl(httpSpec(over), { path: '/' }, new AbortController().signal, { keepBody: true });
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'resolved';
      } catch (e) {
        return (e as KaError).code;
      }
    };
    for (const [mode, want] of [
      ['no-status', 'KA_ERR_CHECK_BAD_RESPONSE'],
      ['header-eof', 'KA_ERR_CHECK_TRUNCATED'],
      ['empty', 'KA_ERR_CHECK_NO_DATA'],
      ['huge-header', 'KA_ERR_CHECK_BAD_RESPONSE'],
    ] as const) {
      await setMode(mode);
      expect([mode, await code(get())]).toEqual([mode, want]);
      expect([mode, await code(get({ kind: 'SSL_GET', connectPort: 443 }))]).toEqual([mode, want]);
    }
    await setMode('chunked');
    const chunked = await get();
    const raw = chunked.body ?? Buffer.alloc(0);
    // the digest covers the chunk framing, as keepalived's does; the payload is inside it
    expect(chunked.contentLength).toBeNull();
    expect(chunked.digest).toBe(createHash('md5').update(raw).digest('hex'));
    expect(chunked.digest).not.toBe(digest);
    const half = body.length >> 1;
    expect(raw.toString('latin1')).toBe(
      `${half.toString(16)}\r\n${body.subarray(0, half).toString('latin1')}\r\n` +
        `${(body.length - half).toString(16)}\r\n${body.subarray(half).toString('latin1')}\r\n0\r\n\r\n`,
    );
    await setMode('no-length');
    const unsized = await get();
    expect([unsized.status, unsized.contentLength, unsized.received, unsized.digest]).toEqual([
      200,
      null,
      body.length,
      digest,
    ]);
    await setMode('trickle');
    const trickled = await get();
    expect([trickled.status, trickled.contentLength, trickled.received]).toEqual([200, 64, 64]);
    expect(trickled.digest).toBe(createHash('md5').update(body.subarray(0, 64)).digest('hex'));
    expect(await code(get({ kind: 'SSL_GET', connectPort: 443 }))).toBe('resolved');
    await setMode('ok');
  });

  it('other protocols report their faults with typed codes', async () => {
    await setMode('refuse');
    expect(await once({ kind: 'TCP_CHECK', ...conn(80), ...TIMING })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_REFUSED' },
    });
    expect(await once({ kind: 'SMTP_CHECK', ...conn(25), ...TIMING })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_REFUSED' },
    });
    await setMode('smtp-bad');
    expect(await once({ kind: 'SMTP_CHECK', ...conn(25), ...TIMING })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_BAD_RESPONSE' },
    });
    await setMode('dns-servfail');
    expect(await once({ kind: 'DNS_CHECK', ...conn(53), ...TIMING })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_DNS_RCODE', details: { rcode: 2 } },
    });
    await setMode('silent');
    expect(await once({ kind: 'DNS_CHECK', ...conn(53), ...TIMING })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_TIMEOUT' },
    });
    expect(await once({ kind: 'UDP_CHECK', ...conn(7), ...TIMING, requireReply: true })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_TIMEOUT' },
    });
    await setMode('udp-closed');
    expect(await once({ kind: 'UDP_CHECK', ...conn(7), ...TIMING, payload: '00' })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_REFUSED' },
    });
    expect(await once({ kind: 'DNS_CHECK', ...conn(53), ...TIMING })).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_REFUSED' },
    });
    const absent = {
      kind: 'PING_CHECK' as const,
      ...conn(0),
      connectIp: '198.51.100.3',
      connectTimeout: 1,
      ...TIMING,
    };
    expect(await once(absent)).toMatchObject({
      ok: false,
      error: { code: expect.stringMatching(/^KA_ERR_CHECK_(PING|UNREACHABLE)$/) },
    });
    expect(await ping.runPingCommand(absent, new AbortController().signal)).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_PING' },
    });
    await setMode('ok');
  });

  it('an attempt is cancelled through its AbortSignal', async () => {
    await setMode('silent');
    const ctl = new AbortController();
    const p = runCheck(httpSpec({ connectTimeout: 30 }), ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    expect(await p).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_ABORTED' } });
    await setMode('ok');
  });

  it("SMTP, DNS and UDP: a deadline mid-exchange is TIMEOUT, the caller's abort is ABORTED", async () => {
    const smtpSpec: CheckSpec = { kind: 'SMTP_CHECK', ...conn(25), ...TIMING };
    const dnsSpec: CheckSpec = {
      kind: 'DNS_CHECK',
      ...conn(53),
      ...TIMING,
      type: 'A',
      name: 'rs.check.test',
    };
    const udpReply: CheckSpec = {
      kind: 'UDP_CHECK',
      ...conn(7),
      ...TIMING,
      payload: '01',
      requireReply: true,
    };
    const udpQuiet: CheckSpec = { kind: 'UDP_CHECK', ...conn(7), ...TIMING, payload: '01' };
    // the greeting arrives, the HELO is never answered
    await setMode('smtp-mute');
    expect(await once(smtpSpec)).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_TIMEOUT', message: 'SMTP: timed out' },
    });
    await setMode('silent');
    expect(await once(smtpSpec)).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_TIMEOUT', message: 'SMTP: timed out' },
    });
    // without require_reply, silence until the deadline is success
    expect(await once(udpQuiet)).toEqual({ ok: true, detail: 'no ICMP error' });
    expect(await once(udpReply)).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_TIMEOUT', message: 'UDP: no reply within connect_timeout' },
    });
    // cancelled while waiting (a long connect_timeout), and cancelled before the attempt starts
    for (const spec of [smtpSpec, dnsSpec, udpReply, udpQuiet]) {
      const ctl = new AbortController();
      const p = runCheck({ ...spec, connectTimeout: 30 }, ctl.signal);
      setTimeout(() => ctl.abort(), 100);
      expect([spec.kind, await p]).toMatchObject([
        spec.kind,
        { ok: false, error: { code: 'KA_ERR_CHECK_ABORTED' } },
      ]);
      expect([spec.kind, await runCheck(spec, AbortSignal.abort())]).toMatchObject([
        spec.kind,
        { ok: false, error: { code: 'KA_ERR_CHECK_ABORTED' } },
      ]);
    }
    await setMode('smtp-mute');
    const ctl = new AbortController();
    const p = smtp.run({ kind: 'SMTP_CHECK', ...conn(25), ...TIMING, connectTimeout: 30 }, ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    expect(await p).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_ABORTED', message: 'SMTP: cancelled' },
    });
    await setMode('ok');
  });

  it('DNS_CHECK skips a reply with another id and a datagram without QR, and takes the answer', async () => {
    await setMode('dns-noise');
    expect(
      await dns.run(
        { kind: 'DNS_CHECK', ...conn(53), ...TIMING, type: 'A', name: 'rs.check.test' },
        new AbortController().signal,
      ),
    ).toEqual({ ok: true });
    await setMode('ok');
  });

  it("PING_CHECK raw: the caller's abort is ABORTED, a pre-aborted signal sends nothing", async () => {
    const absent = {
      kind: 'PING_CHECK' as const,
      ...conn(0),
      connectIp: '198.51.100.3',
      connectTimeout: 30,
      ...TIMING,
    };
    const ctl = new AbortController();
    const p = runRaw(absent, ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    expect(await p).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_ABORTED' } });
    expect(await runRaw(absent, AbortSignal.abort())).toMatchObject({
      ok: false,
      error: { code: 'KA_ERR_CHECK_ABORTED' },
    });
    expect(openIcmpSockets()).toBe(0);
  });

  /** Run one real server under the scheduler; inject `fault`, time DOWN; restore, time UP. */
  async function detect(label: string, spec: CheckSpec, fault: string): Promise<void> {
    await setMode('ok');
    const events: Array<RealServerEvent & { at: number }> = [];
    let okAttempts = 0;
    let wake: (() => void) | null = null;
    const sched = new Scheduler({
      clock: systemClock,
      random: () => 0,
      onEvent: (e) => {
        events.push({ ...e, at: performance.now() });
        wake?.();
      },
      onAttempt: (_rs, _i, r) => {
        if (r.ok) okAttempts++;
        wake?.();
      },
    });
    const until = async (cond: () => boolean, limitS: number): Promise<void> => {
      const end = performance.now() + limitS * 1000;
      while (!cond()) {
        const left = end - performance.now();
        if (left <= 0)
          throw new Error(`${label}: condition not met within ${limitS}s; events ${JSON.stringify(events)}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.min(left, 200));
        });
      }
    };
    try {
      sched.add({ id: `${RS}:${label}`, weight: 1, checkers: [spec] });
      await until(() => okAttempts > 0, 5);
      // Inject the fault at a random phase of the check cycle, not right after a check.
      await new Promise((r) => setTimeout(r, Math.random() * TIMING.delayLoop * 1000));
      await setMode(fault);
      const t0 = performance.now();
      await until(() => events.some((e) => !e.up), BOUND_S + MARGIN_S + 2);
      const t1 = events.find((e) => !e.up)!.at;
      await setMode('ok');
      const t2 = performance.now();
      await until(
        () => events.at(-1)!.up && events.length >= 3,
        TIMING.delayLoop + CONNECT_TIMEOUT + MARGIN_S + 2,
      );
      const t3 = events.at(-1)!.at;
      const m = { fault: label, detectS: (t1 - t0) / 1000, recoverS: (t3 - t2) / 1000 };
      measured.push(m);
      expect(events.map((e) => e.up)).toEqual([true, false, true]);
      expect(m.detectS).toBeLessThan(BOUND_S + MARGIN_S);
      expect(m.recoverS).toBeLessThan(TIMING.delayLoop + CONNECT_TIMEOUT + MARGIN_S);
    } finally {
      sched.stop();
    }
  }

  it.each(['slow', 'reset', 'status', 'digest', 'truncated', 'silent', 'refuse'])(
    'HTTP_GET: a %s server is taken DOWN within the bound and comes back UP',
    (fault) => detect(`HTTP_GET ${fault}`, httpSpec(), fault),
  );

  it.each(['reset', 'digest', 'refuse'])('SSL_GET: a %s server is taken DOWN and comes back UP', (fault) =>
    detect(`SSL_GET ${fault}`, sslSpec(), fault),
  );

  it('TCP, SMTP, DNS and UDP checkers: DOWN within the bound and back UP', async () => {
    await detect('TCP_CHECK refuse', { kind: 'TCP_CHECK', ...conn(80), ...TIMING }, 'refuse');
    await detect('SMTP_CHECK bad greeting', { kind: 'SMTP_CHECK', ...conn(25), ...TIMING }, 'smtp-bad');
    await detect('DNS_CHECK servfail', { kind: 'DNS_CHECK', ...conn(53), ...TIMING }, 'dns-servfail');
    await detect(
      'UDP_CHECK no reply',
      { kind: 'UDP_CHECK', ...conn(7), ...TIMING, payload: '01', requireReply: true },
      'silent',
    );
  });

  it('genhash prints the MD5 of the body computed independently (HTTP and HTTPS)', async () => {
    await setMode('ok');
    for (const argv of [
      ['-s', RS, '-p', '80', '-u', '/index.html'],
      ['-S', '-s', RS, '-p', '443', '-u', '/index.html', '-P', '1.1', '-t', '2'],
    ]) {
      const out: string[] = [];
      const rc = await runGenhash(argv, { stdout: (s) => out.push(s), stderr: () => {} });
      expect(rc).toBe(0);
      expect(out.join('')).toBe(`${digest}\n`);
    }
    const verbose: string[] = [];
    await runGenhash(['-s', RS, '-p', '80', '-u', '/', '-v'], {
      stdout: (s) => verbose.push(s),
      stderr: () => {},
    });
    expect(verbose.join('')).toContain(`HTML hash final resulting ]-----------------------\n${digest}\n`);
    const refused: string[] = [];
    await setMode('refuse');
    expect(
      await runGenhash(['-s', RS, '-p', '80', '-u', '/'], {
        stdout: (s) => refused.push(s),
        stderr: () => {},
      }),
    ).toBe(0);
    expect(refused.join('')).toBe('Connection failed\n');
    await setMode('ok');
  });

  it('connectWith with fwmark: a connect that throws at once closes the marked descriptor', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 5; i++)
      expect(() => connectWith({ ...conn(70000), fwmark: 0x42 }, 'TCP connect', () => {})).toThrow(
        expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }),
      );
    await new Promise((r) => setImmediate(r));
    expect(fds()).toBe(before);
  });

  // Skipped (reported as skipped) without keepalived outside CI; in CI it runs and fails if missing.
  it.skipIf(!existsSync('/usr/sbin/keepalived') && !inCI())(
    "genhash matches Debian keepalived's genhash byte for byte",
    async () => {
      await setMode('ok');
      for (const argv of [
        ['-s', RS, '-p', '80', '-u', '/x'],
        ['-S', '-s', RS, '-p', '443', '-u', '/x', '-V', 'rs.check.test', '-I'],
      ]) {
        const theirs = sh('keepalived', ['--genhash', ...argv]);
        const out: string[] = [];
        await runGenhash(argv, { stdout: (s) => out.push(s), stderr: () => {} });
        expect(out.join('')).toBe(theirs);
      }
    },
  );
});
