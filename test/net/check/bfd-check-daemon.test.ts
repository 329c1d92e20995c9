/**
 * BFD_CHECK in the running daemon: keepalived-ts in namespace `d` checks a real server with
 * BFD_CHECK against its bfd_instance, whose peer is a second keepalived-ts (BFD only) in namespace
 * `x`. What it proves, from the checking daemon's lvs_notify_fifo and log: the BFD host's session
 * changes reach the LVS host through the daemon's wiring (run.ts; the instance is `checker`, so
 * delivered to the checkers only), and the LVS host takes the real
 * server out of the pool when the session goes Down and puts it back when it comes Up:
 * - start: the session is announced Down first (keepalived's BFD process sends every session's state
 *   when it starts), so the real server (not alpha) goes DOWN, then UP once the session is Up;
 * - the peer stops: detection time expires, the real server goes DOWN ("Removing service …" and the
 *   `RS … DOWN` line); the peer starts again: UP;
 * - reloads while the session is Down keep the BFD_CHECK down (no line; a checker started afresh
 *   would come up), and the session coming Up brings the real server back.
 * The host has no IPVS: the daemon programs its in-memory table, so the pool decision is read from
 * its log and FIFO, not from the kernel. The daemons run from dist/ (what was last built).
 */
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const D = '192.0.2.1';
const X = '192.0.2.2';
const scratch = mkdtempSync(join(tmpdir(), 'kt-bfd-check-'));
const FIFO = join(scratch, 'lvs.fifo');

const checking = `
global_defs {
  router_id LB-BFD
  lvs_notify_fifo ${FIFO}
}
bfd_instance b1 {
  neighbor_ip ${X}
  source_ip ${D}
  min_rx 100
  min_tx 100
  multiplier 3
  checker
}
virtual_server 203.0.113.10 80 {
  delay_loop 2
  lvs_sched rr
  lvs_method DR
  protocol TCP
  real_server 192.0.2.11 80 {
    BFD_CHECK {
      name b1
    }
  }
  real_server 192.0.2.12 80 {
  }
}
`;

const peer = `
bfd_instance b1 {
  neighbor_ip ${D}
  source_ip ${X}
  min_rx 100
  min_tx 100
  multiplier 3
}
`;

const RS_LINE = 'RS [192.0.2.11]:tcp:80 [203.0.113.10]:tcp:80';

describeIf('BFD_CHECK follows the bfd_instance session in the daemon', needLab, () => {
  let topo: Topology | undefined;
  let daemon: DaemonHandle;
  let fifo = -1;
  const lines: string[] = [];
  let peerRuns = 0;
  let peerDaemon: DaemonHandle | undefined;

  /** Every RS line the daemon wrote so far (the FIFO is read as it goes). */
  const rsLines = (): string[] => {
    const buf = Buffer.alloc(65536);
    for (;;) {
      let n = 0;
      try {
        n = readSync(fifo, buf, 0, buf.length, null);
      } catch {
        break; // EAGAIN: nothing more
      }
      if (n <= 0) break;
      lines.push(
        ...buf
          .subarray(0, n)
          .toString()
          .split('\n')
          .filter((l) => l.startsWith('RS ')),
      );
    }
    return lines;
  };
  /** Waits for the n-th RS line; on timeout the error shows the lines and the daemon's last log lines. */
  const waitLines = (n: number, what: string) =>
    waitFor({ what, probe: async () => (rsLines().length >= n ? true : undefined), timeoutMs: 40_000 }).catch(
      (e: unknown) => {
        const tail = daemon.proc.output().split('\n').slice(-30).join('\n');
        throw new Error(`${(e as Error).message}; RS lines ${JSON.stringify(rsLines())}; log:\n${tail}`);
      },
    );
  const startPeer = () => {
    peerDaemon = topo
      ?.node('x')
      .startDaemon({ command: keepalivedTsCommand(), config: peer, name: `peer${++peerRuns}` });
  };

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: [`${D}/24`] }] },
        { name: 'x', links: [{ addrs: [`${X}/24`] }] },
      ],
    });
    daemon = topo.node('d').startDaemon({ command: keepalivedTsCommand(), config: checking, name: 'lb' });
    fifo = await waitFor({
      what: 'the lvs_notify_fifo',
      probe: async () => {
        try {
          return openSync(FIFO, constants.O_RDONLY | constants.O_NONBLOCK);
        } catch {
          return undefined;
        }
      },
      timeoutMs: 15_000,
    });
  });

  afterAll(async () => {
    if (fifo >= 0) closeSync(fifo);
    await topo?.destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('start: the session is announced Down (real server out), then Up once the peer answers', async () => {
    await waitLines(1, 'the DOWN of the start-up announcement');
    startPeer();
    await waitLines(2, 'the UP once the session is Up');
    expect(rsLines()).toEqual([`${RS_LINE} DOWN`, `${RS_LINE} UP`]);
    const out = daemon.proc.output();
    expect(out).toContain('BFD check of [b1] RS([192.0.2.11]:tcp:80) is DOWN');
    expect(out).toContain('Removing service [192.0.2.11]:tcp:80 from VS [203.0.113.10]:tcp:80');
    expect(out).toContain('BFD check of [b1] RS([192.0.2.11]:tcp:80) is UP');
    expect(out).toContain('Adding service [192.0.2.11]:tcp:80 to VS [203.0.113.10]:tcp:80');
    // the peer stops: detection time expires, the real server leaves the pool
    await peerDaemon?.proc.stop(10_000);
    await waitLines(3, 'the DOWN after the peer stopped');
    expect(rsLines().slice(2)).toEqual([`${RS_LINE} DOWN`]);
    startPeer();
    await waitLines(4, 'the UP after the peer came back');
    expect(rsLines().slice(3)).toEqual([`${RS_LINE} UP`]);
  });

  it('a reload while the session is Down keeps the BFD_CHECK down: no RS line until the peer answers', async () => {
    await peerDaemon?.proc.stop(10_000);
    await waitLines(5, 'the DOWN after the peer stopped again');
    // a checker started afresh would come up (not alpha) and write `RS … UP`
    for (let n = 1; n <= 2; n++) {
      expect(daemon.proc.signal('SIGHUP')).toBe(true);
      await waitFor({
        what: `reload ${n}`,
        probe: async () =>
          (daemon.proc.output().match(/Reload complete/g) ?? []).length >= n ? true : undefined,
        timeoutMs: 40_000,
      });
    }
    expect(rsLines().slice(4)).toEqual([`${RS_LINE} DOWN`]);
    startPeer();
    await waitLines(6, 'the UP after the reloads');
    expect(rsLines().slice(5)).toEqual([`${RS_LINE} UP`]);
  });
});
