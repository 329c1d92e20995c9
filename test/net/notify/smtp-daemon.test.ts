/**
 * SMTP alerts from the running daemon: keepalived-ts in one namespace becomes MASTER and, on SIGTERM,
 * stops; the hand-written relay (fixtures/smtp-server.mjs) in a peer namespace receives keepalived's
 * "Entering BACKUP state" (start), "Entering MASTER state" and "Stopping" mails for the instance. This covers the wiring of the VRRP
 * host to the notifier's SMTP sender (start, transitions, the STOP mails at shutdown).
 *
 * A second daemon runs only a virtual server (its real servers checked with TCP_CHECK against the
 * relay's silent port, so they stay up): it mails "Starting with quorum up" at start, and a SIGHUP
 * reload that drops one of its live real servers mails "=> Removing <=" for it; its lvs_notify_fifo
 * gets the `VS … UP` line of the start and the `RS … DOWN` line of the removal before the mails. The
 * daemon runs from the compiled tree (dist/), so it tests what was last built.
 */
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabProcess } from '../../lab/node.js';
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

/** The sessions the relay reported so far. */
const relaySessions = (relay: LabProcess): Session[] =>
  relay
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Session);

/** Node `d` (192.0.2.1) runs keepalived-ts with `config`, node `x` the relay at RELAY. */
async function relayAndDaemon(config: string, name: string) {
  const topo = await createTopology({
    nodes: [
      { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
      { name: 'x', links: [{ addrs: [`${RELAY}/24`] }] },
    ],
  });
  const relay = topo
    .node('x')
    .spawn([process.execPath, join(import.meta.dirname, 'fixtures', 'smtp-server.mjs'), RELAY], {
      name: 'relay',
    });
  await relay.waitForOutput(/^ready$/m, 10_000);
  const daemon = topo.node('d').startDaemon({ command: keepalivedTsCommand(), config, name });
  return { topo, relay, daemon };
}

describeIf('SMTP alerts sent by the daemon on VRRP transitions', needLab, () => {
  let topo: Topology | undefined;
  let relay: LabProcess;
  let daemon: DaemonHandle;

  const sessions = (): Session[] => relaySessions(relay);
  const subjects = (): string[] =>
    sessions().map((s) => /\r\nSubject: ([^\r]*)\r\n/.exec(s.data)?.[1] ?? `(no subject in ${s.data})`);

  beforeAll(async () => {
    ({ topo, relay, daemon } = await relayAndDaemon(config, 'keepalived-ts'));
    await waitForHolders([topo.node('d'), topo.node('x')], VIP, ['d'], 15_000);
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

const fifoDir = mkdtempSync(join(tmpdir(), 'kt-smtp-daemon-'));
const LVS_FIFO = join(fifoDir, 'lvs.fifo');

/** What the daemon wrote to the FIFO since the last call (the daemon holds both ends: lines wait). */
function readFifo(fd: number): string[] {
  const buf = Buffer.alloc(65536);
  let text = '';
  for (;;) {
    let n = 0;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: nothing more
    }
    if (n <= 0) break;
    text += buf.subarray(0, n).toString();
  }
  return text.split('\n').filter((l) => l !== '');
}

const lvsConfig = (servers: readonly number[]) => `
global_defs {
  lvs_notify_fifo ${LVS_FIFO}
  router_id LB-LVS
  notification_email {
    ops@example.org
  }
  notification_email_from lb1@example.org
  smtp_server ${RELAY} 2525
  smtp_helo_name lb1.example.org
  smtp_connect_timeout 3
}
virtual_server 203.0.113.10 80 {
  delay_loop 2
  lvs_sched rr
  lvs_method DR
  protocol TCP
  smtp_alert
${servers
  .map(
    (port) => `  real_server ${RELAY} ${port} {
    TCP_CHECK {
      connect_port 2527
      connect_timeout 2
    }
  }`,
  )
  .join('\n')}
}
`;

describeIf('SMTP alerts sent by the daemon for a virtual server: start-up and reload', needLab, () => {
  let topo: Topology | undefined;
  let relay: LabProcess;
  let daemon: DaemonHandle;
  let fifo = -1;

  const subjectsAndBodies = (): Array<[string, string]> =>
    relaySessions(relay)
      .filter((s) => s.port === 2525)
      .map((s) => {
        const [head = '', body = ''] = s.data.split('\r\n\r\n');
        return [/\r\nSubject: ([^\r]*)/.exec(head)?.[1] ?? `(no subject in ${s.data})`, body.trim()];
      });

  beforeAll(async () => {
    ({ topo, relay, daemon } = await relayAndDaemon(lvsConfig([80, 81]), 'keepalived-ts-lvs'));
  });

  afterAll(async () => {
    if (fifo >= 0) closeSync(fifo);
    await topo?.destroy();
    rmSync(fifoDir, { recursive: true, force: true });
  });

  it('start: "Starting with quorum up" with both real servers\' weight, after the VS UP line', async () => {
    await waitFor({
      what: 'the start-up quorum mail at the relay',
      probe: async () => (subjectsAndBodies().length >= 1 ? true : undefined),
      timeoutMs: 15_000,
    });
    expect(subjectsAndBodies()).toEqual([
      ['[LB-LVS] Virtualserver [203.0.113.10]:tcp:80 - UP', '=> Starting with quorum up 1+0=1 <= 2 <='],
    ]);
    expect(existsSync(LVS_FIFO)).toBe(true);
    fifo = openSync(LVS_FIFO, constants.O_RDONLY | constants.O_NONBLOCK);
    expect(readFifo(fifo)).toEqual(['VS [203.0.113.10]:tcp:80 UP']);
  });

  it('SIGHUP with a live real server dropped: "=> Removing <=" for it, nothing for the one kept', async () => {
    writeFileSync(daemon.configPath, lvsConfig([80]));
    expect(daemon.proc.signal('SIGHUP')).toBe(true);
    await waitFor({
      what: 'the Removing mail at the relay',
      probe: async () => (subjectsAndBodies().length >= 2 ? true : undefined),
      timeoutMs: 15_000,
    });
    expect(subjectsAndBodies().slice(1)).toEqual([
      [
        `[LB-LVS] Realserver [${RELAY}]:tcp:81 of virtual server [203.0.113.10]:tcp:80 - DOWN`,
        '=> Removing <=',
      ],
    ]);
    expect(readFifo(fifo)).toEqual([`RS [${RELAY}]:tcp:81 [203.0.113.10]:tcp:80 DOWN`]);
    const exited = await daemon.proc.stop(10_000);
    expect(exited.code).toBe(0);
    // no further mail: without omega a stop mails nothing for the virtual server
    expect(subjectsAndBodies()).toHaveLength(2);
  });
});
