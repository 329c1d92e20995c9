/**
 * Per-checker SMTP alerts from the running daemon (keepalived 2.2.7 mails each checker result, not
 * each real-server change). Two keepalived-ts daemons in namespace `d` check the same real server
 * with two checkers: TCP_CHECK against a TCP listener in namespace `x`, and MISC_CHECK testing for a
 * flag file. One has `no_checker_emails`. The relay (fixtures/smtp-server.mjs) in `x` receives their
 * mails. The test takes A (TCP) down, then B (MISC), brings A back, then B, and reads: the daemon
 * without no_checker_emails mails every checker flip with the real server's state after it in the
 * subject (DOWN, DOWN, DOWN, UP), and at start the MISC checker's first result (keepalived's misc
 * checker reports it); the other only the two results that change the real server; both write one
 * `RS … DOWN` and one `RS … UP` FIFO line. The daemons run from dist/ (what was last built). The
 * host has no IPVS, so the daemons program their in-memory table (as the daemon does without it).
 */
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabProcess } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const RELAY = '192.0.2.2';
const BACKEND_PORT = 8081;
const scratch = mkdtempSync(join(tmpdir(), 'kt-checker-mails-'));
const FLAG = join(scratch, 'b-up');
const fifoPath = (id: string) => join(scratch, `${id}.fifo`);

const config = (id: string, extra: string) => `
global_defs {
  router_id ${id}
  lvs_notify_fifo ${fifoPath(id)}
  notification_email {
    ops@example.org
  }
  notification_email_from lb@example.org
  smtp_server ${RELAY} 2525
  smtp_connect_timeout 3
${extra}}
virtual_server 203.0.113.10 80 {
  delay_loop 1
  lvs_sched rr
  lvs_method DR
  protocol TCP
  real_server ${RELAY} ${BACKEND_PORT} {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
    MISC_CHECK {
      misc_path "/bin/test -e ${FLAG}"
    }
  }
}
`;

interface Session {
  port: number;
  data: string;
}

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

const RS = `Realserver [${RELAY}]:tcp:${BACKEND_PORT} of virtual server [203.0.113.10]:tcp:80`;

describeIf('per-checker SMTP alerts from the daemon (no_checker_emails off and on)', needLab, () => {
  let topo: Topology | undefined;
  let relay: LabProcess;
  let backend: LabProcess | undefined;
  const fifos = new Map<string, number>();
  const daemons = new Map<string, DaemonHandle>();

  /** `subject | body` of the mails of router `id`, in arrival order. */
  const mails = (id: string): string[] =>
    relay
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Session)
      .filter((s) => s.port === 2525)
      .map((s) => {
        const [head = '', body = ''] = s.data.split('\r\n\r\n');
        return `${/\r\nSubject: ([^\r]*)/.exec(head)?.[1] ?? '?'} | ${body.trim()}`;
      })
      .filter((m) => m.startsWith(`[${id}] `));

  const startBackend = async () => {
    backend = topo
      ?.node('x')
      .spawn(
        [
          process.execPath,
          '-e',
          `require('net').createServer((s) => s.end()).listen(${BACKEND_PORT}, '${RELAY}', () => console.log('ready'))`,
        ],
        { name: `backend-${Date.now()}` },
      );
    await backend?.waitForOutput(/^ready$/m, 10_000);
  };

  /** Both daemons have logged `text` `n` times (a checker result that mails nothing in LB-NCE). */
  const waitLogged = (text: string, n: number) =>
    waitFor({
      what: `${n} × "${text}" in both logs`,
      probe: async () =>
        [...daemons.values()].every((d) => d.proc.output().split(text).length - 1 >= n) ? true : undefined,
      timeoutMs: 20_000,
    });

  const waitMails = (id: string, n: number, what: string) =>
    waitFor({
      what: `${what} (${id})`,
      probe: async () => (mails(id).length >= n ? true : undefined),
      timeoutMs: 20_000,
    });

  beforeAll(async () => {
    writeFileSync(FLAG, '');
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'x', links: [{ addrs: [`${RELAY}/24`] }] },
      ],
    });
    relay = topo
      .node('x')
      .spawn([process.execPath, join(import.meta.dirname, 'fixtures', 'smtp-server.mjs'), RELAY], {
        name: 'relay',
      });
    await relay.waitForOutput(/^ready$/m, 10_000);
    await startBackend();
    for (const [id, extra] of [
      ['LB-ALL', ''],
      ['LB-NCE', '  no_checker_emails\n'],
    ] as const)
      daemons.set(
        id,
        topo.node('d').startDaemon({ command: keepalivedTsCommand(), config: config(id, extra), name: id }),
      );
  });

  afterAll(async () => {
    for (const fd of fifos.values()) closeSync(fd);
    await topo?.destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('start: the MISC checker reports its first result (mailed unless no_checker_emails)', async () => {
    await waitMails('LB-ALL', 1, 'the MISC first-result mail');
    expect(mails('LB-ALL')).toEqual([`[LB-ALL] ${RS} - UP | => MISC CHECK succeeded on service <=`]);
    for (const id of ['LB-ALL', 'LB-NCE']) {
      await waitFor({
        what: `the FIFO of ${id}`,
        probe: async () => {
          try {
            return openSync(fifoPath(id), constants.O_RDONLY | constants.O_NONBLOCK);
          } catch {
            return undefined;
          }
        },
        timeoutMs: 10_000,
      }).then((fd) => fifos.set(id, fd));
    }
  });

  it('A down, B down, A up, B up: one mail per checker flip; no_checker_emails keeps the first and last', async () => {
    // each step waits for both daemons to have seen it (LB-NCE mails only the first and last)
    await backend?.stop(5_000); // A (TCP_CHECK) fails
    await waitMails('LB-ALL', 2, 'A failed');
    await waitMails('LB-NCE', 1, 'A failed');
    rmSync(FLAG); // B (MISC_CHECK) fails
    await waitMails('LB-ALL', 3, 'B failed');
    await waitLogged(`MISC_CHECK on service [/bin/test -e ${FLAG}] failed.`, 1);
    await startBackend(); // A recovers
    await waitMails('LB-ALL', 4, 'A recovered');
    await waitLogged(`TCP_CHECK on service [${RELAY}]:tcp:${BACKEND_PORT} success.`, 1);
    writeFileSync(FLAG, ''); // B recovers
    await waitMails('LB-ALL', 5, 'B recovered');
    await waitMails('LB-NCE', 2, 'B recovered');
    expect(mails('LB-ALL').slice(1)).toEqual([
      `[LB-ALL] ${RS} - DOWN | => TCP CHECK failed on service <=`,
      `[LB-ALL] ${RS} - DOWN | => MISC CHECK failed on service <=`,
      `[LB-ALL] ${RS} - DOWN | => TCP CHECK succeed on service <=`,
      `[LB-ALL] ${RS} - UP | => MISC CHECK succeeded on service <=`,
    ]);
    expect(mails('LB-NCE')).toEqual([
      `[LB-NCE] ${RS} - DOWN | => TCP CHECK failed on service <=`,
      `[LB-NCE] ${RS} - UP | => MISC CHECK succeeded on service <=`,
    ]);
    // scripts and FIFO follow the real server: one DOWN, one UP
    for (const id of ['LB-ALL', 'LB-NCE'])
      expect(readFifo(fifos.get(id) ?? -1).filter((l) => l.startsWith('RS '))).toEqual([
        `RS [${RELAY}]:tcp:${BACKEND_PORT} [203.0.113.10]:tcp:80 DOWN`,
        `RS [${RELAY}]:tcp:${BACKEND_PORT} [203.0.113.10]:tcp:80 UP`,
      ]);
  });
});
