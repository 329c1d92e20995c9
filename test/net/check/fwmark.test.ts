/**
 * `fwmark N` puts SO_MARK on the check's socket (TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK,
 * UDP_CHECK, and PING_CHECK's raw ICMP socket), proved by policy routing: in the client namespace the server's address 192.0.2.10 is
 * routed only by `ip rule fwmark 0x42 lookup 100`, so a check reaches it only if its socket carries
 * mark 0x42; another mark finds no route (ENETUNREACH, nothing leaves the namespace). The checks run
 * in this process: their sockets are opened while its main thread is inside the client namespace
 * (src/sys/netns.ts inNetns), and a socket stays in the namespace it was opened in. Servers:
 * fixtures/servers.mjs in the server namespace. Client ns: eth0 203.0.113.1/24; server ns: eth0
 * 203.0.113.2/24, 192.0.2.10/32 on lo.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { icmpPinger } from '../../../src/check/icmp.js';
import { runCheck } from '../../../src/check/index.js';
import type { CheckResult, CheckSpec, CheckTiming, ConnOpts } from '../../../src/check/types.js';
import { inNetns } from '../../../src/sys/netns.js';
import { registerCleanup } from '../../lab/resources.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { selfSignedCert } from './fixtures/cert.js';
import { type FixtureServers, startFixtureServers } from './fixtures/servers.js';

const SERVER = '192.0.2.10';
const MARK = 0x42;
/** A mark above 2^31−1 (the addon passes the option as a C int). */
const HIGH_MARK = 0xfffffff0;
const TIMING: CheckTiming = { delayLoop: 1, retry: 1, delayBeforeRetry: 1, warmup: 0, alpha: false };

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

describeIf('fwmark (SO_MARK) on checker sockets (netns)', needRoot, () => {
  const id = randomBytes(3).toString('hex');
  const client = `ktfm${id}c`;
  const server = `ktfm${id}s`;
  const dir = mkdtempSync(join(tmpdir(), 'kt-check-fwmark-'));
  const body = Buffer.from('fwmark fixture body\n'.repeat(50));
  const digest = createHash('md5').update(body).digest('hex');
  let servers: FixtureServers | undefined;
  let releaseCleanup: (() => void) | undefined;

  beforeAll(async () => {
    writeFileSync(join(dir, 'body'), body);
    selfSignedCert(dir, 'fwmark.check.test');
    releaseCleanup = registerCleanup(`fwmark ${client}`, () => {
      for (const ns of [client, server]) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {}
      }
    });
    sh('ip', ['netns', 'add', client]);
    sh('ip', ['netns', 'add', server]);
    // the veth pair is made inside the client namespace: no link ever exists in ours
    sh('ip', ['-n', client, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server]);
    for (const [ns, addr] of [
      [client, '203.0.113.1/24'],
      [server, '203.0.113.2/24'],
    ] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', addr, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh('ip', ['-n', server, 'addr', 'add', `${SERVER}/32`, 'dev', 'lo']);
    for (const mark of [MARK, HIGH_MARK])
      sh('ip', ['-n', client, 'rule', 'add', 'fwmark', `0x${mark.toString(16)}`, 'lookup', '100']);
    sh('ip', ['-n', client, 'route', 'add', `${SERVER}/32`, 'via', '203.0.113.2', 'table', '100']);
    servers = await startFixtureServers(server, SERVER, dir);
  });

  afterAll(() => {
    servers?.stop();
    for (const ns of [client, server]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {}
    }
    releaseCleanup?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const conn = (port: number, fwmark: number): ConnOpts => ({
    connectIp: SERVER,
    connectPort: port,
    connectTimeout: 2,
    fwmark,
  });
  /** One attempt whose socket is opened inside the client namespace (run() opens it synchronously). */
  const inClient = (spec: CheckSpec): Promise<CheckResult> => {
    let p: Promise<CheckResult> | undefined;
    inNetns(client, () => {
      p = runCheck(spec, new AbortController().signal);
    });
    return p as Promise<CheckResult>;
  };
  const specs = (fwmark: number): CheckSpec[] => [
    { kind: 'TCP_CHECK', ...conn(80, fwmark), ...TIMING },
    { kind: 'HTTP_GET', ...conn(80, fwmark), ...TIMING, urls: [{ path: '/index.html', digest }] },
    { kind: 'SSL_GET', ...conn(443, fwmark), ...TIMING, urls: [{ path: '/index.html', digest }] },
    { kind: 'SMTP_CHECK', ...conn(25, fwmark), ...TIMING },
    { kind: 'DNS_CHECK', ...conn(53, fwmark), ...TIMING, type: 'A', name: 'fwmark.check.test' },
    { kind: 'UDP_CHECK', ...conn(7, fwmark), ...TIMING, payload: '01', requireReply: 'ec01' },
    // bound to the client's address (UDP: bound by the addon before dgram adopts the socket)
    { kind: 'TCP_CHECK', ...conn(80, fwmark), ...TIMING, bindto: '203.0.113.1' },
    {
      kind: 'UDP_CHECK',
      ...conn(7, fwmark),
      ...TIMING,
      payload: '02',
      requireReply: 'ec02',
      bindto: '203.0.113.1',
    },
  ];

  it('TCP, HTTP, SSL, SMTP, DNS and UDP checks with the routed mark reach the server; another mark finds no route', async () => {
    for (const spec of [...specs(MARK), ...specs(HIGH_MARK)])
      expect([spec.kind, (spec as ConnOpts).fwmark, await inClient(spec)]).toEqual([
        spec.kind,
        (spec as ConnOpts).fwmark,
        { ok: true },
      ]);
    for (const spec of specs(MARK + 1))
      expect([spec.kind, await inClient(spec)]).toMatchObject([
        spec.kind,
        { ok: false, error: { code: 'KA_ERR_CHECK_UNREACHABLE', details: { errno: 'ENETUNREACH' } } },
      ]);
  });

  const ping = (fwmark: number | undefined): CheckSpec => ({
    kind: 'PING_CHECK',
    connectIp: SERVER,
    connectPort: 0,
    connectTimeout: 2,
    ...(fwmark !== undefined ? { fwmark } : {}),
    ...TIMING,
  });
  const unreachable = (r: CheckResult) => [
    r.ok,
    !r.ok && r.error.code,
    !r.ok && (r.error.cause as { errno?: string } | undefined)?.errno,
  ];

  it('PING_CHECK: the raw ICMP socket carries the mark; differently marked pings never share a socket', async () => {
    const fallbacks = icmpPinger.counters.get('check.ping.fallback');
    expect(await inClient(ping(MARK))).toEqual({ ok: true });
    expect(await inClient(ping(HIGH_MARK))).toEqual({ ok: true });
    // another mark, or none, finds no route: sendmsg fails at once, nothing leaves the namespace
    for (const fwmark of [MARK + 1, undefined])
      expect(unreachable(await inClient(ping(fwmark)))).toEqual([
        false,
        'KA_ERR_CHECK_UNREACHABLE',
        'ENETUNREACH',
      ]);
    // in flight together: a socket shared across marks would send both echoes with one mark
    const both = await Promise.all([inClient(ping(MARK)), inClient(ping(MARK + 1)), inClient(ping(MARK))]);
    expect(both.map(unreachable)).toEqual([
      [true, false, false],
      [false, 'KA_ERR_CHECK_UNREACHABLE', 'ENETUNREACH'],
      [true, false, false],
    ]);
    // every attempt used the raw socket (none fell back to ping -m), and none is left open
    expect(icmpPinger.counters.get('check.ping.fallback')).toBe(fallbacks);
    expect(icmpPinger.openSockets()).toBe(0);
  });

  it('a mark outside 0..2^32−1 is a spec error', async () => {
    for (const fwmark of [-1, 2 ** 32, 1.5])
      expect(
        await runCheck({ kind: 'TCP_CHECK', ...conn(80, fwmark), ...TIMING }, AbortSignal.abort()),
      ).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_SPEC' } });
  });
});
