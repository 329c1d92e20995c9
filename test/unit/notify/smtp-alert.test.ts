/**
 * SMTP alerts without a network: texts and headers as keepalived writes them, which objects mail
 * (smtp_alert precedence, parsed from real configuration text), keepalived's one-mail-per-state
 * rule, the bounded queue and failure counting, over a fake MailTransport that records each mail
 * and can hold, fail or time out. keepalived's start-up and reload mails of ipwrapper.c ("Starting
 * with quorum up/down", `=> Removing <=`): their texts and conditions, and LvsHost sending them over
 * the in-memory IPVS with checker results from a fake runner.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Runner } from '../../../src/check/index.js';
import type { CheckSpec } from '../../../src/check/types.js';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { LvsHost } from '../../../src/daemon/lvs-host.js';
import { ScriptResolver } from '../../../src/daemon/scripts.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { Notifier } from '../../../src/notify/notifier.js';
import { ScriptRunner } from '../../../src/notify/script.js';
import {
  alertText,
  checkerBody,
  composeMail,
  groupAlerts,
  instanceAlerts,
  type MailTransport,
  mailsCheckerResult,
  type OutgoingMail,
  quorumBody,
  realServerAlerts,
  rfc822Date,
  type SendResult,
  SmtpAlerter,
  type SmtpRelay,
  virtualServerAlerts,
} from '../../../src/notify/smtp-alert.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-smtp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string): KeepalivedConfig {
  const path = join(dir, `k${Math.random().toString(16).slice(2)}.conf`);
  writeFileSync(path, text);
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  const bad = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal');
  if (bad.length > 0) throw new Error(JSON.stringify(bad));
  return config;
}

const vrrp = (name: string, vrid: number, extra = '') => `
vrrp_instance ${name} {
  interface eth0
  virtual_router_id ${vrid}
  priority 100
  ${extra}
  virtual_ipaddress {
    192.0.2.${vrid}/32
  }
}`;

const GLOBAL = `
global_defs {
  router_id LB1
  notification_email {
    ops@example.org
    noc@example.net
  }
  notification_email_from lb1@example.org
  smtp_server 192.0.2.25 2525
  smtp_helo_name lb1.example.org
  smtp_connect_timeout 7
  smtp_alert
}`;

/** A transport that records mails; each send waits until the test settles it. */
class FakeTransport implements MailTransport {
  readonly sent: OutgoingMail[] = [];
  readonly pending: Array<{ mail: OutgoingMail; ok: () => void; fail: (e: unknown) => void }> = [];
  closed = 0;
  constructor(
    readonly relay: SmtpRelay,
    private readonly mode: 'ok' | 'hold' | 'throw' = 'ok',
  ) {}
  send(mail: OutgoingMail): Promise<SendResult> {
    if (this.mode === 'throw') throw new Error('synchronous failure');
    if (this.mode === 'ok') {
      this.sent.push(mail);
      return Promise.resolve({ rejected: [] });
    }
    return new Promise((ok, fail) =>
      this.pending.push({
        mail,
        ok: () => {
          this.sent.push(mail);
          ok({ rejected: [] });
        },
        fail,
      }),
    );
  }
  close(): void {
    this.closed++;
  }
}

function alerter(
  mode: 'ok' | 'hold' | 'throw' = 'ok',
  opts: { maxQueued?: number; maxInFlight?: number } = {},
) {
  const transports: FakeTransport[] = [];
  const counters = new Counters();
  const a = new SmtpAlerter({
    counters,
    transport: (relay) => {
      const t = new FakeTransport(relay, mode);
      transports.push(t);
      return t;
    },
    now: () => new Date(Date.UTC(2026, 10, 23, 4, 5, 6)),
    ...opts,
  });
  return { a, counters, transports };
}

const turns = async (n = 4) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Subject of a recorded mail. */
const subjectOf = (m: OutgoingMail) => /\r\nSubject: ([^\r]*)\r\n/.exec(m.raw)?.[1];

describe('texts', () => {
  it('VRRP instance and sync group subjects and bodies, router_id first', () => {
    const inst = (state: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP') =>
      alertText({ kind: 'instance', name: 'VI_1', state }, 'LB1');
    expect(inst('MASTER')).toEqual({
      subject: '[LB1] VRRP Instance VI_1 - Entering MASTER state',
      body: '=> VRRP Instance is now owning VRRP VIPs <=',
    });
    expect(inst('BACKUP')).toEqual({
      subject: '[LB1] VRRP Instance VI_1 - Entering BACKUP state',
      body: '=> VRRP Instance is no longer owning VRRP VIPs <=',
    });
    expect(inst('FAULT')).toEqual({
      subject: '[LB1] VRRP Instance VI_1 - Entering FAULT state',
      body: '=> VRRP Instance is no longer owning VRRP VIPs <=',
    });
    expect(inst('STOP')).toEqual({
      subject: '[LB1] VRRP Instance VI_1 - Stopping',
      body: '=> VRRP Instance stopping <=',
    });
    expect(alertText({ kind: 'group', name: 'G1', state: 'MASTER' }, 'LB1')).toEqual({
      subject: '[LB1] VRRP Group G1 - Entering MASTER state',
      body: '=> All VRRP group instances are now in MASTER state <=',
    });
    expect(alertText({ kind: 'group', name: 'G1', state: 'STOP' }, 'LB1')).toEqual({
      subject: '[LB1] VRRP Group G1 - Stopping',
      body: '=> All VRRP group instances are now stopping <=',
    });
  });

  it('real server and virtual server subjects; checker and quorum bodies', () => {
    expect(
      alertText(
        {
          kind: 'real-server',
          rs: '[198.51.100.11]:tcp:80',
          vs: '[203.0.113.10]:tcp:80',
          up: false,
          body: checkerBody({ kind: 'TCP_CHECK', up: false }) ?? '',
        },
        'LB1',
      ),
    ).toEqual({
      subject: '[LB1] Realserver [198.51.100.11]:tcp:80 of virtual server [203.0.113.10]:tcp:80 - DOWN',
      body: '=> TCP CHECK failed on service <=',
    });
    expect(
      alertText({ kind: 'virtual-server', vs: 'FWM 5', up: true, body: quorumBody(true, 3, 1, 4, 5) }, 'LB1'),
    ).toEqual({ subject: '[LB1] Virtualserver FWM 5 - UP', body: '=> Gained quorum 3+1=4 <= 5 <=' });
    expect(quorumBody(false, 3, 1, 2, 1)).toBe('=> Lost quorum 3+1=2 <= 1 <=');
    expect(checkerBody({ kind: 'PING_CHECK', up: true })).toBe('=> ICMP CHECK succeed on service <=');
    expect(checkerBody({ kind: 'DNS_CHECK', up: false })).toBe('=> DNS_CHECK: failed on service <=');
    expect(checkerBody({ kind: 'MISC_CHECK', up: true })).toBe('=> MISC CHECK succeeded on service <=');
    expect(checkerBody({ kind: 'MISC_CHECK', up: false })).toBe('=> MISC CHECK failed on service <=');
    expect(checkerBody({ kind: 'MISC_CHECK', up: false, reason: 'timed out' })).toBe(
      '=> MISC CHECK timed out on service <=',
    );
    expect(checkerBody({ kind: 'UDP_CHECK', up: false })).toBe('=> UDP CHECK failed on service <=');
    expect(checkerBody({ kind: 'BFD_CHECK', up: true, bfd: 'bfd1' })).toBe(
      '=> BFD CHECK bfd1 succeeded on service <=',
    );
    expect(checkerBody({ kind: 'BFD_CHECK', up: false, bfd: 'bfd1' })).toBe(
      '=> BFD CHECK bfd1 failed on service <=',
    );
    expect(checkerBody({ kind: 'HTTP_GET', up: true })).toBe('=> CHECK succeed on service <=');
    expect(checkerBody({ kind: 'SSL_GET', up: false })).toBe(
      '=> CHECK failed on service : HTTP request failed <=',
    );
    expect(checkerBody({ kind: 'SMTP_CHECK', up: true })).toBe('=> CHECK succeed on service <=');
    expect(
      checkerBody({ kind: 'SMTP_CHECK', up: false, reason: 'Error connecting to server [198.51.100.2]:25' }),
    ).toBe('=> CHECK failed on service : Error connecting to server [198.51.100.2]:25 <=');
    expect(checkerBody({ kind: 'SMTP_CHECK', up: false })).toBe('=> CHECK failed on service <=');
    // keepalived's track file updates mail nothing
    expect(checkerBody({ kind: 'FILE_CHECK', up: false })).toBeUndefined();
  });

  it('checker results mail with smtp_alert when the real server changed or no_checker_emails is off', () => {
    const rows: Array<[boolean, boolean, boolean, boolean]> = [];
    for (const smtpAlert of [false, true])
      for (const rsChanged of [false, true])
        for (const noCheckerEmails of [false, true])
          rows.push([
            smtpAlert,
            rsChanged,
            noCheckerEmails,
            mailsCheckerResult({ smtpAlert, rsChanged, noCheckerEmails }),
          ]);
    expect(rows.filter((r) => r[3]).map((r) => r.slice(0, 3))).toEqual([
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ]);
  });

  it('subject and body are cut at keepalived buffer sizes; a line break cannot start a header', () => {
    const t = alertText({ kind: 'instance', name: `A\r\nBcc: x@y${'n'.repeat(400)}`, state: 'MASTER' }, 'R');
    expect(t.subject.length).toBe(255);
    expect(t.subject).not.toMatch(/[\r\n]/);
    const long = alertText({ kind: 'virtual-server', vs: 'v', up: true, body: 'b'.repeat(900) }, 'R');
    expect(long.body.length).toBe(511);
  });

  it('headers in keepalived order, To lists every recipient, Date in local time with its offset', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata'; // +0530: the offset's minutes show
    try {
      const d = new Date(Date.UTC(2026, 10, 23, 22, 59, 7));
      expect(rfc822Date(d)).toBe('Tue, 24 Nov 2026 04:29:07 +0530');
      expect(
        composeMail({ date: d, from: 'lb1@example.org', to: ['a@x', 'b@y'], subject: 'S', body: 'B' }),
      ).toBe(
        'Date: Tue, 24 Nov 2026 04:29:07 +0530\r\nFrom: lb1@example.org\r\nSubject: S\r\n' +
          'X-Mailer: Keepalived\r\nTo: a@x, b@y\r\n\r\nB\r\n',
      );
      process.env.TZ = 'America/New_York';
      expect(rfc822Date(new Date(Date.UTC(2026, 0, 5, 3, 4, 5)))).toBe('Sun, 04 Jan 2026 22:04:05 -0500');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('which objects mail (smtp_alert precedence, from configuration text)', () => {
  const none = { smtpAlert: undefined, smtpAlertVrrp: undefined, smtpAlertChecker: undefined };

  it('object beats smtp_alert_vrrp / smtp_alert_checker beats smtp_alert; defaults off, real servers on', () => {
    expect(instanceAlerts({ smtpAlert: undefined }, none)).toBe(false);
    expect(groupAlerts({ smtpAlert: undefined }, none)).toBe(false);
    expect(virtualServerAlerts({ smtpAlert: undefined }, none)).toBe(false);
    expect(realServerAlerts({ smtpAlert: undefined }, none)).toBe(true);
    const g = { smtpAlert: true, smtpAlertVrrp: false, smtpAlertChecker: undefined };
    expect(instanceAlerts({ smtpAlert: undefined }, g)).toBe(false);
    expect(instanceAlerts({ smtpAlert: true }, g)).toBe(true);
    expect(groupAlerts({ smtpAlert: undefined }, g)).toBe(false);
    expect(virtualServerAlerts({ smtpAlert: undefined }, g)).toBe(true);
    expect(realServerAlerts({ smtpAlert: undefined }, { ...g, smtpAlertChecker: false })).toBe(false);
    expect(realServerAlerts({ smtpAlert: true }, { ...g, smtpAlertChecker: false })).toBe(true);
  });

  it('parsed: global smtp_alert, smtp_alert_vrrp off, an instance and a group turning it back on', () => {
    const c = load(`
global_defs {
  smtp_alert
  smtp_alert_vrrp off
}
${vrrp('VI_1', 1)}
${vrrp('VI_2', 2, 'smtp_alert on')}
${vrrp('VI_3', 3)}
${vrrp('VI_4', 4)}
vrrp_sync_group G_ON {
  group {
    VI_1
    VI_2
  }
  smtp_alert yes
}
vrrp_sync_group G_DEFAULT {
  group {
    VI_3
    VI_4
  }
}
virtual_server 192.0.2.10 80 {
  lvs_method NAT
  protocol TCP
  real_server 192.0.2.11 80 {
    smtp_alert off
  }
  real_server 192.0.2.12 80 {
  }
}`);
    const g = c.global;
    const byName = (n: string) => c.vrrpInstances.find((i) => i.name === n)!;
    expect(instanceAlerts(byName('VI_1'), g)).toBe(false);
    expect(instanceAlerts(byName('VI_2'), g)).toBe(true);
    expect(groupAlerts(c.syncGroups.find((s) => s.name === 'G_ON')!, g)).toBe(true);
    expect(groupAlerts(c.syncGroups.find((s) => s.name === 'G_DEFAULT')!, g)).toBe(false);
    const vs = c.virtualServers[0]!;
    expect(virtualServerAlerts(vs, g)).toBe(true); // smtp_alert_checker unset: smtp_alert
    expect(realServerAlerts(vs.realServers[0]!, g)).toBe(false);
    expect(realServerAlerts(vs.realServers[1]!, g)).toBe(true);
  });
});

describe('SmtpAlerter', () => {
  it('sends one mail per enabled transition with the envelope and relay of the configuration', async () => {
    const { a, counters, transports } = alerter();
    a.configure(load(`${GLOBAL}\n${vrrp('VI_1', 1)}\n${vrrp('VI_2', 2, 'smtp_alert off')}`));
    expect(a.instance('VI_1', 'MASTER')).toBe(true);
    expect(a.instance('VI_2', 'MASTER')).toBe(false); // its own smtp_alert off beats the global one
    await turns();
    expect(transports).toHaveLength(1);
    const t = transports[0]!;
    expect(t.relay).toEqual({ host: '192.0.2.25', port: 2525, heloName: 'lb1.example.org', timeoutMs: 7000 });
    expect(t.sent).toHaveLength(1);
    const m = t.sent[0]!;
    expect(m.envelope).toEqual({ from: 'lb1@example.org', to: ['ops@example.org', 'noc@example.net'] });
    expect(m.raw).toMatch(
      /^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} 2026 \d\d:\d\d:\d\d [+-]\d{4}\r\nFrom: lb1@example.org\r\n/,
    );
    expect(m.raw).toContain(
      '\r\nSubject: [LB1] VRRP Instance VI_1 - Entering MASTER state\r\nX-Mailer: Keepalived\r\n' +
        'To: ops@example.org, noc@example.net\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n',
    );
    expect(counters.get('smtp_alerts_sent')).toBe(1);
    expect(a.stats()).toMatchObject({ sent: 1, failed: 0, dropped: 0, queued: 0, inFlight: 0 });
  });

  it('nothing without recipients or without smtp_server (keepalived sends only with both)', async () => {
    const { a, transports } = alerter();
    a.configure(load(`global_defs {\n smtp_server 192.0.2.25\n smtp_alert\n}\n${vrrp('VI_1', 1)}`));
    expect(a.enabled).toBe(false);
    expect(a.instance('VI_1', 'MASTER')).toBe(false);
    a.configure(load(`global_defs {\n notification_email {\n a@b\n }\n smtp_alert\n}\n${vrrp('VI_1', 1)}`));
    expect(a.send({ kind: 'virtual-server', vs: 'v', up: true, body: 'x' })).toBe(false);
    await turns();
    expect(transports).toHaveLength(0);
  });

  it('one mail per state (last_email_state); DELETED sends none; no_email_faults silences FAULT only', async () => {
    const { a, transports } = alerter();
    a.configure(load(`${GLOBAL}\n${vrrp('VI_1', 1)}`));
    expect(a.instance('VI_1', 'BACKUP')).toBe(true);
    expect(a.instance('VI_1', 'BACKUP')).toBe(false);
    expect(a.instance('VI_1', 'FAULT')).toBe(true);
    expect(a.instance('VI_1', 'DELETED')).toBe(false);
    a.forget('VI_1');
    expect(a.instance('VI_1', 'FAULT')).toBe(true);
    a.configure(
      load(`${GLOBAL.replace('smtp_alert\n', 'smtp_alert\n  no_email_faults\n')}\n${vrrp('VI_1', 1)}`),
    );
    expect(a.instance('VI_1', 'MASTER')).toBe(true);
    expect(a.instance('VI_1', 'FAULT')).toBe(false);
    expect(a.instance('VI_1', 'BACKUP')).toBe(true);
    await turns();
    expect(transports[0]!.sent.map(subjectOf)).toEqual([
      '[LB1] VRRP Instance VI_1 - Entering BACKUP state',
      '[LB1] VRRP Instance VI_1 - Entering FAULT state',
      '[LB1] VRRP Instance VI_1 - Entering FAULT state',
      '[LB1] VRRP Instance VI_1 - Entering MASTER state',
      '[LB1] VRRP Instance VI_1 - Entering BACKUP state',
    ]);
  });

  it('bounded queue: while the relay hangs the oldest waiting alerts are dropped and counted', async () => {
    const { a, counters, transports } = alerter('hold', { maxQueued: 3, maxInFlight: 1 });
    a.configure(load(GLOBAL));
    for (let i = 0; i < 10; i++) a.send({ kind: 'virtual-server', vs: `v${i}`, up: true, body: 'b' });
    expect(a.stats()).toMatchObject({ inFlight: 1, queued: 3, dropped: 6 });
    expect(counters.get('KA_ERR_NOTIFY_SMTP_DROPPED')).toBe(6);
    const t = transports[0]!;
    // the relay answers: the first (in flight) then the three newest go out, in order
    for (let i = 0; i < 4; i++) {
      await turns();
      t.pending.shift()?.ok();
    }
    await turns();
    expect(t.sent.map(subjectOf)).toEqual([
      '[LB1] Virtualserver v0 - UP',
      '[LB1] Virtualserver v7 - UP',
      '[LB1] Virtualserver v8 - UP',
      '[LB1] Virtualserver v9 - UP',
    ]);
    expect(await a.drain(1000)).toBe(true);
    expect(a.stats()).toMatchObject({ sent: 4, dropped: 6, queued: 0, inFlight: 0 });
  });

  it('failures are counted by code and never reach the caller: timeout, refusal, synchronous throw', async () => {
    const { a, counters, transports } = alerter('hold', { maxInFlight: 3 });
    a.configure(load(GLOBAL));
    for (const vs of ['t', 'r', 'x']) a.send({ kind: 'virtual-server', vs, up: false, body: 'b' });
    const [t1, t2, t3] = transports[0]!.pending;
    t1!.fail(new KaError('KA_ERR_NOTIFY_SMTP_TIMEOUT', 'Timeout with SMTP server'));
    t2!.fail(new KaError('KA_ERR_NOTIFY_SMTP_FAILED', 'RCPT TO refused'));
    t3!.fail(new Error('not a KaError'));
    expect(await a.drain(1000)).toBe(true);
    expect(counters.get('KA_ERR_NOTIFY_SMTP_TIMEOUT')).toBe(1);
    expect(counters.get('KA_ERR_NOTIFY_SMTP_FAILED')).toBe(2);
    expect(a.stats()).toMatchObject({ sent: 0, failed: 2, timedOut: 1 });

    const s = alerter('throw');
    s.a.configure(load(GLOBAL));
    expect(() => s.a.send({ kind: 'virtual-server', vs: 'v', up: true, body: 'b' })).not.toThrow();
    expect(await s.a.drain(1000)).toBe(true);
    expect(s.counters.get('KA_ERR_NOTIFY_SMTP_FAILED')).toBe(1);
  });

  it('close waits for the queue up to its bound, then drops the rest and closes the transport', async () => {
    const { a, counters, transports } = alerter('hold', { maxInFlight: 1 });
    a.configure(load(GLOBAL));
    a.send({ kind: 'virtual-server', vs: 'a', up: true, body: 'b' });
    a.send({ kind: 'virtual-server', vs: 'b', up: true, body: 'b' });
    await a.close(20);
    expect(counters.get('KA_ERR_NOTIFY_SMTP_DROPPED')).toBe(1);
    expect(transports[0]!.closed).toBe(1);
    expect(a.send({ kind: 'virtual-server', vs: 'c', up: true, body: 'b' })).toBe(false);
  });

  it('reload with another relay: new alerts use a new transport, the old one closes', async () => {
    const { a, transports } = alerter();
    a.configure(load(GLOBAL));
    a.send({ kind: 'virtual-server', vs: 'a', up: true, body: 'b' });
    await turns();
    a.configure(load(GLOBAL.replace('192.0.2.25 2525', '192.0.2.26')));
    a.send({ kind: 'virtual-server', vs: 'b', up: true, body: 'b' });
    await turns();
    expect(transports.map((t) => [t.relay.host, t.relay.port, t.sent.length, t.closed])).toEqual([
      ['192.0.2.25', 2525, 1, 1],
      ['192.0.2.26', 25, 1, 0],
    ]);
  });
});

describe('Notifier: SMTP last, after the scripts and the FIFO line', () => {
  let notifier: Notifier | undefined;
  afterEach(async () => {
    await notifier?.closeSmtp();
  });

  it('instance and group transitions mail after the FIFO line; a member following its group is silent', async () => {
    const order: string[] = [];
    const runner = new ScriptRunner();
    const transports: FakeTransport[] = [];
    notifier = new Notifier({
      runner,
      fifos: [
        {
          path: 'fake',
          write: (line: string) => {
            order.push(`fifo ${line.trim()}`);
            return true;
          },
        } as never,
      ],
      smtpOptions: {
        transport: (relay) => {
          const t = new FakeTransport(relay);
          const send = t.send.bind(t);
          t.send = (m) => {
            order.push(`smtp ${subjectOf(m)}`);
            return send(m);
          };
          transports.push(t);
          return t;
        },
      },
    });
    const c = load(`${GLOBAL}
${vrrp('VI_1', 1)}
${vrrp('VI_2', 2)}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
}`);
    notifier.configureSmtp(c);
    notifier.instance({ name: 'VI_1' }, 'MASTER', 100);
    notifier.group({ name: 'G1' }, 'MASTER');
    // VI_2 already notified once, now follows its group into MASTER: nothing at all
    notifier.instance({ name: 'VI_2' }, 'BACKUP', 100);
    notifier.instance({ name: 'VI_2' }, 'MASTER', 100, 'MASTER');
    await turns(6);
    expect(order).toEqual([
      'fifo INSTANCE "VI_1" MASTER 100',
      'fifo GROUP "G1" MASTER 0',
      'fifo INSTANCE "VI_2" BACKUP 100',
      'smtp [LB1] VRRP Instance VI_1 - Entering MASTER state',
      'smtp [LB1] VRRP Group G1 - Entering MASTER state',
      'smtp [LB1] VRRP Instance VI_2 - Entering BACKUP state',
    ]);
  });

  it('closeSmtp right after the STOP notifies still sends their mails, then refuses new ones', async () => {
    const transports: FakeTransport[] = [];
    notifier = new Notifier({
      runner: new ScriptRunner(),
      smtpOptions: {
        transport: (relay) => {
          const t = new FakeTransport(relay);
          transports.push(t);
          return t;
        },
      },
    });
    notifier.configureSmtp(load(`${GLOBAL}\n${vrrp('VI_1', 1)}`));
    notifier.instance({ name: 'VI_1' }, 'STOP', 0);
    await notifier.closeSmtp(1000);
    expect(transports[0]?.sent.map(subjectOf)).toEqual(['[LB1] VRRP Instance VI_1 - Stopping']);
    expect(transports[0]?.closed).toBe(1);
    expect(notifier.smtp?.enabled).toBe(false);
  });

  it('the decision is taken at the transition: a reload right after it does not cancel the mail', async () => {
    const transports: FakeTransport[] = [];
    notifier = new Notifier({
      runner: new ScriptRunner(),
      smtpOptions: {
        transport: (relay) => {
          const t = new FakeTransport(relay);
          transports.push(t);
          return t;
        },
      },
    });
    notifier.configureSmtp(load(`${GLOBAL}\n${vrrp('VI_1', 1)}`));
    notifier.instance({ name: 'VI_1' }, 'FAULT', 0); // removed by the reload: FAULT notifies
    notifier.configureSmtp(load(`${GLOBAL}\n${vrrp('VI_2', 2)}`));
    await turns();
    expect(transports[0]?.sent.map(subjectOf)).toEqual(['[LB1] VRRP Instance VI_1 - Entering FAULT state']);
  });

  it('without configureSmtp nothing is mailed', async () => {
    notifier = new Notifier({ runner: new ScriptRunner() });
    notifier.instance({ name: 'VI_1' }, 'MASTER', 100);
    notifier.mail({ kind: 'virtual-server', vs: 'v', up: true, body: 'b' });
    await turns();
    expect(notifier.smtp).toBeUndefined();
  });
});

describe('start-up and reload quorum mail texts (keepalived ipwrapper.c)', () => {
  it('"Starting with quorum up/down" with the threshold the decision used, subject UP / DOWN', () => {
    expect(quorumBody(true, 2, 1, 3, 4, true)).toBe('=> Starting with quorum up 2+1=3 <= 4 <=');
    expect(quorumBody(false, 2, 1, 3, 1, true)).toBe('=> Starting with quorum down 2+1=3 <= 1 <=');
    // a reload's first pass taking a kept virtual server down compares with quorum-hysteresis
    expect(quorumBody(false, 9, 1, 8, 4, true)).toBe('=> Starting with quorum down 9+1=8 <= 4 <=');
    expect(
      alertText(
        {
          kind: 'virtual-server',
          vs: '[203.0.113.10]:tcp:80',
          up: false,
          body: quorumBody(false, 2, 1, 3, 0, true),
        },
        'LB1',
      ),
    ).toEqual({
      subject: '[LB1] Virtualserver [203.0.113.10]:tcp:80 - DOWN',
      body: '=> Starting with quorum down 2+1=3 <= 0 <=',
    });
  });
});

describe('LvsHost sends the start-up and reload mails', () => {
  const SMTP = `
global_defs {
  router_id LB1
  notification_email {
    ops@example.org
  }
  smtp_server 192.0.2.25
  LVS_FLUSH
}`;
  const check = 'TCP_CHECK {\n      connect_timeout 1\n      retry 0\n    }';
  const rs = (addr: string, extra = '') => `  real_server ${addr} 80 {\n    ${extra}\n    ${check}\n  }`;
  const vsBlock = (addr: string, extra: string, servers: string[]) =>
    `virtual_server ${addr} 80 {\n  delay_loop 2\n  lvs_sched rr\n  lvs_method DR\n  protocol TCP\n  ${extra}\n${servers.join('\n')}\n}`;

  async function host(text: string, down: ReadonlySet<string> = new Set()) {
    const config = load(text);
    const clock = new FakeClock();
    const mails: Array<[string, string]> = [];
    const runner: Runner = async (spec: CheckSpec) => {
      const target = 'connectIp' in spec ? spec.connectIp : '';
      return down.has(target)
        ? { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', `connect to ${target} refused`) }
        : { ok: true };
    };
    const h = new LvsHost(config, {
      clock,
      log: silentLogger,
      counters: new Counters(),
      scripts: await ScriptResolver.create(config, silentLogger),
      ipvs: new FakeIpvs(),
      checkRunner: runner,
      random: () => 0,
      smtp: {
        transport: () => ({
          send: async (m: OutgoingMail) => {
            const [head = '', body = ''] = m.raw.split('\r\n\r\n');
            mails.push([/\r\nSubject: ([^\r]*)/.exec(head)?.[1] ?? '', body.trim()]);
            return { rejected: [] };
          },
          close: () => {},
        }),
      },
    });
    await h.start();
    /** Lets checker rounds run (fake time) and the queued mails go out. */
    const run = async (seconds: number) => {
      for (let t = 0; t < seconds * 10; t++) {
        clock.advance(100_000);
        await turns(8);
      }
    };
    return { h, mails, run };
  }

  it('start: "Starting with quorum up", "down" only beside a sorry server, nothing below quorum without one', async () => {
    const text = `${SMTP.replace('LVS_FLUSH', 'smtp_alert')}
${vsBlock('203.0.113.10', 'quorum 2\n  hysteresis 1', [rs('198.51.100.11', 'weight 2'), rs('198.51.100.12'), '  real_server 198.51.100.13 80 {\n  }'])}
${vsBlock('203.0.113.20', 'alpha\n  sorry_server 198.51.100.99 80', [rs('198.51.100.21')])}
${vsBlock('203.0.113.30', 'alpha', [rs('198.51.100.31')])}
${vsBlock('203.0.113.40', 'smtp_alert off', [rs('198.51.100.41')])}`;
    const { h, mails, run } = await host(text, new Set(['198.51.100.21', '198.51.100.31']));
    await run(0.5);
    expect(mails).toEqual([
      // weights 2 + 1 + 1 (the real server without checkers counts as up)
      ['[LB1] Virtualserver [203.0.113.10]:tcp:80 - UP', '=> Starting with quorum up 2+1=3 <= 4 <='],
      ['[LB1] Virtualserver [203.0.113.20]:tcp:80 - DOWN', '=> Starting with quorum down 1+0=1 <= 0 <='],
    ]);
    await h.stop();
  });

  it('reload: each live real server dropped mails "=> Removing <=", a new virtual server "Starting with quorum"', async () => {
    const before = `${SMTP.replace('LVS_FLUSH', '')}
${vsBlock('203.0.113.10', '', [rs('198.51.100.11'), rs('198.51.100.12'), rs('198.51.100.13'), rs('198.51.100.14', 'smtp_alert off'), '  real_server 198.51.100.15 80 {\n  }'])}
${vsBlock('203.0.113.20', '', [rs('198.51.100.21')])}`;
    const { h, mails, run } = await host(before, new Set(['198.51.100.13']));
    await run(0.5);
    // smtp_alert nowhere: the virtual servers do not mail, their real servers do (keepalived default)
    expect(mails).toEqual([
      [
        '[LB1] Realserver [198.51.100.13]:tcp:80 of virtual server [203.0.113.10]:tcp:80 - DOWN',
        '=> TCP CHECK failed on service <=',
      ],
    ]);
    mails.length = 0;
    const after = `${SMTP.replace('LVS_FLUSH', '')}
${vsBlock('203.0.113.10', '', [rs('198.51.100.12')])}
${vsBlock('203.0.113.30', 'smtp_alert', [rs('198.51.100.31')])}`;
    await h.reload(load(after));
    await run(0.5);
    expect(mails).toEqual([
      // .11 live; .13 down (no mail); .14 smtp_alert off; .15 has no checker, so is live
      [
        '[LB1] Realserver [198.51.100.11]:tcp:80 of virtual server [203.0.113.10]:tcp:80 - DOWN',
        '=> Removing <=',
      ],
      [
        '[LB1] Realserver [198.51.100.15]:tcp:80 of virtual server [203.0.113.10]:tcp:80 - DOWN',
        '=> Removing <=',
      ],
      // the virtual server removed whole: its live real server too
      [
        '[LB1] Realserver [198.51.100.21]:tcp:80 of virtual server [203.0.113.20]:tcp:80 - DOWN',
        '=> Removing <=',
      ],
      ['[LB1] Virtualserver [203.0.113.30]:tcp:80 - UP', '=> Starting with quorum up 1+0=1 <= 1 <='],
    ]);
    await h.stop();
  });

  it('reload with lvs_flush_on_stop: a virtual server removed whole mails no real server', async () => {
    const before = `${SMTP.replace('LVS_FLUSH', 'lvs_flush_onstop')}
${vsBlock('203.0.113.10', '', [rs('198.51.100.11'), rs('198.51.100.12')])}
${vsBlock('203.0.113.20', '', [rs('198.51.100.21')])}`;
    const { h, mails, run } = await host(before);
    await run(0.5);
    expect(mails).toEqual([]);
    await h.reload(
      load(
        `${SMTP.replace('LVS_FLUSH', 'lvs_flush_onstop')}\n${vsBlock('203.0.113.10', '', [rs('198.51.100.12')])}`,
      ),
    );
    await run(0.5);
    expect(mails).toEqual([
      [
        '[LB1] Realserver [198.51.100.11]:tcp:80 of virtual server [203.0.113.10]:tcp:80 - DOWN',
        '=> Removing <=',
      ],
    ]);
    await h.stop();
  });
});
