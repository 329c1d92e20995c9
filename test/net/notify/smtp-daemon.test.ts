/**
 * SMTP alerts from the running daemon: keepalived-ts in one namespace becomes MASTER and, on SIGTERM,
 * stops; the hand-written relay (fixtures/smtp-server.mjs) in a peer namespace receives keepalived's
 * "Entering BACKUP state" (start), "Entering MASTER state" and "Stopping" mails for the instance. This covers the wiring of the VRRP
 * host to the notifier's SMTP sender (start, transitions, the STOP mails at shutdown).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VIP = '192.0.2.81';
const RELAY = '192.0.2.2';
const config = `
global_defs {
  router_id LB-DAEMON
  notification_email {
    ops@example.org
  }
  notification_email_from lb1@example.org
  smtp_server ${RELAY} 2525
  smtp_helo_name lb1.example.org
  smtp_connect_timeout 3
}
vrrp_instance VI_S {
  state MASTER
  interface eth0
  virtual_router_id 11
  priority 150
  advert_int 1
  smtp_alert
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

interface Session {
  port: number;
  commands: string[];
  data: string;
}

describeIf('SMTP alerts sent by the daemon on VRRP transitions', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let x: LabNode;
  let relay: LabProcess;
  let daemon: DaemonHandle;

  const sessions = (): Session[] =>
    relay
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Session);
  const subjects = (): string[] =>
    sessions().map((s) => /\r\nSubject: ([^\r]*)\r\n/.exec(s.data)?.[1] ?? `(no subject in ${s.data})`);

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'x', links: [{ addrs: [`${RELAY}/24`] }] },
      ],
    });
    d = topo.node('d');
    x = topo.node('x');
    relay = x.spawn([process.execPath, join(import.meta.dirname, 'fixtures', 'smtp-server.mjs'), RELAY], {
      name: 'relay',
    });
    await relay.waitForOutput(/^ready$/m, 10_000);
    daemon = d.startDaemon({ command: keepalivedTsCommand(), config, name: 'keepalived-ts' });
    await waitForHolders([d, x], VIP, ['d'], 15_000);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('start in BACKUP, then MASTER: one mail each to the recipient, keepalived’s subjects and body', async () => {
    await waitFor({
      what: 'the BACKUP and MASTER mails at the relay',
      probe: async () => (sessions().length >= 2 ? true : undefined),
      timeoutMs: 10_000,
    });
    expect(subjects()).toEqual([
      '[LB-DAEMON] VRRP Instance VI_S - Entering BACKUP state',
      '[LB-DAEMON] VRRP Instance VI_S - Entering MASTER state',
    ]);
    const s = sessions()[1];
    expect(s?.commands).toContain('MAIL FROM:<lb1@example.org>');
    expect(s?.commands).toContain('RCPT TO:<ops@example.org>');
    expect(s?.data).toContain('\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=');
  });

  it('SIGTERM: the STOP mail goes out before the daemon exits', async () => {
    const exited = await daemon.proc.stop(10_000);
    expect(exited.code).toBe(0);
    await waitFor({
      what: 'the STOP mail at the relay',
      probe: async () => (sessions().length >= 3 ? true : undefined),
      timeoutMs: 5_000,
    });
    expect(subjects()).toEqual([
      '[LB-DAEMON] VRRP Instance VI_S - Entering BACKUP state',
      '[LB-DAEMON] VRRP Instance VI_S - Entering MASTER state',
      '[LB-DAEMON] VRRP Instance VI_S - Stopping',
    ]);
  });
});
