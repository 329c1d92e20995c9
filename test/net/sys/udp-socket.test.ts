/**
 * src/sys/udp-socket.ts between two namespaces joined by a veth pair (veth-lab.ts): datagrams sent
 * from A with a chosen TTL / hop limit arrive in B with that value (one link, no router: not
 * decremented), their source port from bindInRange, and the destination address from PKTINFO; B
 * answers back to the source port. A SO_MARK'd socket needs privilege, which this tier has.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inNetns } from '../../../src/sys/netns.js';
import { type UdpMessage, UdpSocket } from '../../../src/sys/udp-socket.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { createVethLab, nextEvent, type VethLab } from './veth-lab.js';

describeIf('UdpSocket between two namespaces', needRoot, () => {
  let lab: VethLab;
  const open: UdpSocket[] = [];
  const sock = (ns: string, o: Parameters<typeof UdpSocket.open>[0]): UdpSocket => {
    let s: UdpSocket | undefined;
    inNetns(ns, () => {
      s = UdpSocket.open(o);
    });
    open.push(s!);
    return s!;
  };

  beforeAll(async () => {
    lab = await createVethLab();
  }, 60_000);
  afterAll(async () => {
    for (const s of open) s.close();
    await lab?.destroy();
  });

  for (const [family, a, b] of [
    [4, '192.0.2.1', '192.0.2.2'],
    [6, 'fd00::1', 'fd00::2'],
  ] as const) {
    it(`IPv${family}: TTL / hop limit, source port and destination are reported; the answer comes back`, async () => {
      const rx = sock(lab.b, {
        family,
        recvTtl: true,
        recvPktinfo: true,
        ...(family === 6 ? { v6only: true } : {}),
      });
      rx.bind(undefined, 3784);
      rx.startReceiving();
      const tx = sock(lab.a, { family, ttl: 200, recvTtl: true, mark: 0x42 });
      const port = tx.bindInRange(a, 49152, 65535, Math.random);
      expect(port).toBeGreaterThanOrEqual(49152);
      tx.startReceiving();
      const got = nextEvent<UdpMessage>(rx, 'message');
      expect(tx.send(Buffer.from('ping'), b, 3784)).toBe(4);
      const m = await got;
      expect(m).toMatchObject({
        data: Buffer.from('ping'),
        src: a,
        srcPort: port,
        dst: b,
        ttl: 200,
        truncated: false,
      });
      expect(m.ifindex).toBeGreaterThan(1);
      // B answers from its listener with its default TTL (64); A reads it on its sender socket
      const back = nextEvent<UdpMessage>(tx, 'message');
      rx.send(Buffer.from('pong'), m.src, m.srcPort);
      expect(await back).toMatchObject({ data: Buffer.from('pong'), src: b, srcPort: 3784, ttl: 64 });
      rx.close();
      tx.close();
    });
  }

  it('an unreachable destination is a typed send error', () => {
    const tx = sock(lab.a, { family: 4 });
    expect(() => tx.send(Buffer.from('x'), '198.51.100.1', 9)).toThrow(
      expect.objectContaining({ code: 'KA_ERR_SYS_CALL', errno: 'ENETUNREACH', syscall: 'sendmsg' }),
    );
  });
});
