/**
 * SMTP alerts over real TCP through nodemailer, to a hand-written relay (fixtures/smtp-server.mjs)
 * in a namespace the test creates (veth: host 192.0.2.4n+1/30, namespace 192.0.2.4n+2/30, n random).
 * Checks the dialogue (greeting name from smtp_helo_name, MAIL FROM, one RCPT TO per recipient, no
 * STARTTLS), the message as keepalived writes it, the HELO fallback for a relay refusing EHLO, and
 * that a relay that never answers or a closed port ends in a typed error and a counter, not a crash.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { Counters } from '../../../src/core/counters.js';
import { SmtpAlerter } from '../../../src/notify/smtp-alert.js';
import { type HostVeth, hostVeth } from '../../lab/host-veth.js';
import { describeIf, needRoot } from '../../support/privilege.js';

interface Session {
  port: number;
  commands: string[];
  data: string;
}

describeIf('SMTP alerts to a relay in a namespace (nodemailer over TCP)', needRoot, () => {
  const id = randomBytes(3).toString('hex');
  const ns = `ktsm${id}`;
  const vethHost = `ktsm${id}h`;
  const n = randomInt(1, 63);
  const HOST = `192.0.2.${4 * n + 1}`;
  const RELAY = `192.0.2.${4 * n + 2}`;
  const dir = mkdtempSync(join(tmpdir(), 'kt-smtp-net-'));
  let child: ChildProcess | undefined;
  const sessions: Session[] = [];
  const waiters: Array<() => void> = [];
  let veth: HostVeth | undefined;

  const nextSession = async (port: number): Promise<Session> => {
    for (;;) {
      const i = sessions.findIndex((s) => s.port === port);
      if (i >= 0) return sessions.splice(i, 1)[0]!;
      await new Promise<void>((r) => waiters.push(r));
    }
  };

  const config = (
    port: number,
    timeout = 3,
    extra = '',
    to = ['ops@example.org', 'noc@example.net'],
  ): KeepalivedConfig => {
    const path = join(dir, `k${port}-${timeout}-${to.length}${extra.length}.conf`);
    writeFileSync(
      path,
      `global_defs {
  router_id LB-NET
  notification_email {
${to.map((t) => `    ${t}`).join('\n')}
  }
  notification_email_from lb1@example.org
  smtp_server ${RELAY} ${port}
  smtp_helo_name lb1.example.org
  smtp_connect_timeout ${timeout}
}
${extra}`,
    );
    const { config: c, diagnostics } = loadConfig(path, { configId: 'test' });
    const bad = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal');
    if (bad.length > 0) throw new Error(JSON.stringify(bad));
    return c;
  };

  beforeAll(async () => {
    veth = hostVeth({ ns, vethHost, hostAddr: `${HOST}/30`, nsAddr: `${RELAY}/30` });
    const fixture = join(import.meta.dirname, 'fixtures', 'smtp-server.mjs');
    child = spawn('ip', ['netns', 'exec', ns, process.execPath, fixture, RELAY], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const rl = readline.createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child!.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
      rl.on('line', (line) => {
        if (line === 'ready') {
          resolve();
          return;
        }
        sessions.push(JSON.parse(line) as Session);
        for (const w of waiters.splice(0)) w();
      });
    });
  });

  afterAll(() => {
    if (child?.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }
    veth?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers an instance alert: greeting name, MAIL FROM, one RCPT TO per recipient, keepalived headers', async () => {
    const counters = new Counters();
    const a = new SmtpAlerter({ counters });
    a.configure(
      config(
        2525,
        3,
        'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n smtp_alert\n virtual_ipaddress {\n  192.0.2.250/32\n }\n}\n',
      ),
    );
    const t0 = performance.now();
    expect(a.instance('VI_1', 'MASTER')).toBe(true);
    const s = await nextSession(2525);
    expect(await a.drain(5000)).toBe(true);
    console.log(`SMTP alert delivered in ${(performance.now() - t0).toFixed(1)} ms`);
    // keepalived ends with QUIT; nodemailer 10 closes the connection after the 250 for the message.
    expect(s.commands.filter((c) => c !== 'QUIT')).toEqual([
      'EHLO lb1.example.org',
      'MAIL FROM:<lb1@example.org>',
      'RCPT TO:<ops@example.org>',
      'RCPT TO:<noc@example.net>',
      'DATA',
    ]);
    const [head = '', body] = s.data.split('\r\n\r\n');
    const headers = head.split('\r\n');
    expect(headers.map((h) => h.split(':')[0])).toEqual(['Date', 'From', 'Subject', 'X-Mailer', 'To']);
    expect(headers[0]).toMatch(/^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/);
    expect(headers.slice(1)).toEqual([
      'From: lb1@example.org',
      'Subject: [LB-NET] VRRP Instance VI_1 - Entering MASTER state',
      'X-Mailer: Keepalived',
      'To: ops@example.org, noc@example.net',
    ]);
    expect(body).toBe('=> VRRP Instance is now owning VRRP VIPs <=\r\n');
    expect(counters.get('smtp_alerts_sent')).toBe(1);
    await a.close();
  });

  it('a relay refusing EHLO gets HELO with smtp_helo_name, as keepalived greets', async () => {
    const counters = new Counters();
    const a = new SmtpAlerter({ counters });
    a.configure(config(2526));
    a.send({
      kind: 'virtual-server',
      vs: '[203.0.113.10]:tcp:80',
      up: false,
      body: '=> Lost quorum 2+0=2 <= 1 <=',
    });
    const s = await nextSession(2526);
    expect(await a.drain(5000)).toBe(true);
    expect(s.commands.slice(0, 3)).toEqual([
      'EHLO lb1.example.org',
      'HELO lb1.example.org',
      'MAIL FROM:<lb1@example.org>',
    ]);
    expect(s.data).toContain('\r\nSubject: [LB-NET] Virtualserver [203.0.113.10]:tcp:80 - DOWN\r\n');
    expect(counters.get('smtp_alerts_sent')).toBe(1);
    await a.close();
  });

  it('a refused recipient: the others get the mail (keepalived would drop it), the refusal is counted', async () => {
    const counters = new Counters();
    const a = new SmtpAlerter({ counters });
    a.configure(config(2525, 3, '', ['ops@example.org', 'refuse@example.net']));
    a.send({ kind: 'virtual-server', vs: 'v', up: true, body: 'b' });
    const s = await nextSession(2525);
    expect(await a.drain(5000)).toBe(true);
    expect(s.commands).toContain('RCPT TO:<refuse@example.net>');
    expect(s.data).toContain('\r\nTo: ops@example.org, refuse@example.net\r\n');
    expect(counters.get('smtp_alerts_sent')).toBe(1);
    expect(counters.get('smtp_alert_recipients_rejected')).toBe(1);
    expect(a.stats().rejectedRecipients).toBe(1);
    await a.close();
  });

  it('a relay that never answers: KA_ERR_NOTIFY_SMTP_TIMEOUT after smtp_connect_timeout, counted, no throw', async () => {
    const counters = new Counters();
    const a = new SmtpAlerter({ counters });
    a.configure(config(2527, 1));
    const t0 = performance.now();
    expect(a.send({ kind: 'virtual-server', vs: 'v', up: true, body: 'b' })).toBe(true);
    expect(await a.drain(10_000)).toBe(true);
    const ms = performance.now() - t0;
    console.log(`silent relay: alert given up after ${ms.toFixed(0)} ms (smtp_connect_timeout 1)`);
    expect(counters.get('KA_ERR_NOTIFY_SMTP_TIMEOUT')).toBe(1);
    expect(counters.get('smtp_alerts_sent')).toBe(0);
    expect(a.stats()).toMatchObject({ timedOut: 1, failed: 0, sent: 0 });
    await a.close();
  });

  it('a closed port: KA_ERR_NOTIFY_SMTP_FAILED, counted, no throw', async () => {
    const counters = new Counters();
    const a = new SmtpAlerter({ counters });
    a.configure(config(2529));
    a.send({ kind: 'virtual-server', vs: 'v', up: true, body: 'b' });
    expect(await a.drain(10_000)).toBe(true);
    expect(counters.get('KA_ERR_NOTIFY_SMTP_FAILED')).toBe(1);
    expect(a.stats()).toMatchObject({ failed: 1, sent: 0 });
    await a.close();
  });
});
