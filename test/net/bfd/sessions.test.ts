/**
 * BFD over real UDP between two namespaces (veth): two of our hosts bring their sessions Up over
 * IPv4 and IPv6; stopping one takes the other Down by detection-time expiry; the kernel's TTL
 * control message drives the GTSM check (a peer sending TTL 254 is dropped and counted).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BfdHost } from '../../../src/bfd/host.js';
import { UdpBfdTransport } from '../../../src/bfd/udp.js';
import type { BfdInstance } from '../../../src/config/model.js';
import { systemClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { inNetns } from '../../../src/sys/netns.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { bfdInstance } from '../../unit/bfd/fixtures.js';
import { createVethLab, type VethLab } from '../sys/veth-lab.js';

const inst = (
  name: string,
  neighborIp: string,
  sourceIp: string,
  o: Partial<BfdInstance> = {},
): BfdInstance => bfdInstance(name, neighborIp, { sourceIp, minRx: 50, minTx: 50, multiplier: 3, ...o });

/** Polls `cond` every 20 ms; rejects with `what` after `ms` (a wait bound, not a timing assertion). */
async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeIf('BFD between two namespaces', needRoot, () => {
  let lab: VethLab;
  const hosts: BfdHost[] = [];
  const mk = (ns: string, instances: BfdInstance[]) => {
    const counters = new Counters();
    const changes: string[] = [];
    const host = new BfdHost({
      instances,
      clock: systemClock,
      log: silentLogger,
      counters,
      transport: new UdpBfdTransport(),
    });
    host.onChange((i, up) => changes.push(`${i.name}:${up ? 'up' : 'down'}`));
    inNetns(ns, () => host.start());
    hosts.push(host);
    return { host, counters, changes };
  };

  beforeAll(async () => {
    lab = await createVethLab();
  }, 60_000);
  afterAll(async () => {
    for (const h of hosts) h.stop();
    await lab?.destroy();
  });

  it('brings IPv4 and IPv6 sessions Up, and the survivor goes Down when its peer stops', async () => {
    const A = mk(lab.a, [inst('V4', '192.0.2.2', '192.0.2.1'), inst('V6', 'fd00::2', 'fd00::1')]);
    const B = mk(lab.b, [inst('V4', '192.0.2.1', '192.0.2.2'), inst('V6', 'fd00::1', 'fd00::2')]);
    await until('all sessions Up', () =>
      [A, B].every((x) => x.host.state('V4') === 'Up' && x.host.state('V6') === 'Up'),
    );
    // Each session's state is sent at start (Down), then its change to Up.
    expect(A.changes.sort()).toEqual(['V4:down', 'V4:up', 'V6:down', 'V6:up']);
    // After the Poll/Final the negotiated interval is min_tx (50 ms), not idle_tx.
    await until('poll sequence done', () => A.host.session('V4')?.poll === false);
    expect(A.host.session('V4')?.txInterval).toBe(50_000);
    expect(A.counters.snapshot()).toEqual({});
    B.host.stop();
    await until('A down', () => A.host.state('V4') === 'Down' && A.host.state('V6') === 'Down');
    expect(A.host.session('V4')?.localDiag).toBe(1); // Control Detection Time Expired
    expect(A.changes.slice(4).sort()).toEqual(['V4:down', 'V6:down']);
    A.host.stop();
  }, 30_000);

  it('drops packets whose received TTL is below ttl - max_hops (kernel IP_RECVTTL)', async () => {
    const A = mk(lab.a, [inst('G', '192.0.2.2', '192.0.2.1')]);
    const B = mk(lab.b, [inst('G', '192.0.2.1', '192.0.2.2', { ttl: 254 })]);
    await until('TTL drops counted', () => A.counters.get('KA_ERR_BFD_BAD_TTL') >= 2);
    expect(A.host.state('G')).toBe('Down');
    A.host.stop();
    B.host.stop();
  }, 30_000);
});
