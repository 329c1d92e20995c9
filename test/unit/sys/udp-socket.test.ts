/**
 * src/sys/udp-socket.ts and marked-socket.ts without privilege: option and argument validation (typed
 * KA_ERR_SYS_BAD_ARG before any system call), the port order of bindInRange with an injected random,
 * binding past taken ports on loopback, and a loopback round trip reporting TTL, destination and
 * truncation.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SysErrors } from '../../../src/sys/errors.js';
import { markedSocketFd } from '../../../src/sys/marked-socket.js';
import { RawSocket } from '../../../src/sys/raw-socket.js';
import {
  checkUdpSocketOptions,
  portsInRange,
  type UdpMessage,
  UdpSocket,
  type UdpSocketOptions,
} from '../../../src/sys/udp-socket.js';

const badArg = expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG });
const fdCount = (): number => readdirSync('/proc/self/fd').length;

function nextMessage(s: UdpSocket): Promise<UdpMessage> {
  return new Promise((resolve, reject) => {
    s.once('message', resolve);
    s.once('error', reject);
  });
}

describe('UdpSocket options', () => {
  it('rejects out-of-range options with KA_ERR_SYS_BAD_ARG, before opening anything', () => {
    const bad: UdpSocketOptions[] = [
      { family: 5 as 4 },
      { family: 4, ttl: 0 },
      { family: 4, ttl: 256 },
      { family: 6, ttl: 1.5 },
      { family: 4, mark: -1 },
      { family: 4, mark: 2 ** 32 },
      { family: 4, mark: Number.NaN },
      { family: 4, v6only: true },
      { family: 4, ifname: '' },
      { family: 4, ifname: 'a-name-longer-than-ifnamsiz' },
    ];
    const before = fdCount();
    for (const o of bad) {
      expect(() => checkUdpSocketOptions(o)).toThrow(badArg);
      expect(() => UdpSocket.open(o)).toThrow(badArg);
    }
    expect(fdCount()).toBe(before);
    for (const o of [
      { family: 4, ttl: 1, mark: 0xffffffff },
      { family: 6, ttl: 255, v6only: false },
    ] as const)
      expect(() => checkUdpSocketOptions(o)).not.toThrow();
  });

  it('RawSocket and markedSocketFd reject a bad mark the same way', () => {
    expect(() => RawSocket.open({ family: 4, protocol: 1, mark: 2 ** 32 })).toThrow(
      expect.objectContaining({
        code: SysErrors.KA_ERR_SYS_BAD_ARG,
        details: expect.objectContaining({ option: 'SO_MARK' }),
      }),
    );
    for (const args of [
      [4, 'stream', -1],
      [4, 'dgram', 1.5],
      [7, 'stream', 1],
      [4, 'seqpacket', 1],
    ] as const)
      expect(() => markedSocketFd(args[0] as 4, args[1] as 'stream', args[2])).toThrow(badArg);
    expect(() => markedSocketFd(4, 'dgram', 1, { port: 70000 })).toThrow(badArg);
    expect(() => markedSocketFd(6, 'dgram', 1, { addr: '192.0.2.1' })).toThrow(badArg);
  });

  it('markedSocketFd leaves no descriptor behind when it fails', () => {
    const before = fdCount();
    // unprivileged: SO_MARK fails (EPERM); as root: the bind fails (192.0.2.1 is not local here)
    expect(() => markedSocketFd(4, 'dgram', 7, { addr: '192.0.2.1', port: 0 })).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_CALL }),
    );
    expect(fdCount()).toBe(before);
  });
});

describe('portsInRange', () => {
  it('starts at the port the random number picks, then wraps through the range once', () => {
    expect([...portsInRange(10, 14, () => 0)]).toEqual([10, 11, 12, 13, 14]);
    expect([...portsInRange(10, 14, () => 0.5)]).toEqual([12, 13, 14, 10, 11]);
    expect([...portsInRange(10, 14, () => 0.9999)]).toEqual([14, 10, 11, 12, 13]);
    expect([...portsInRange(65535, 65535, () => 0.3)]).toEqual([65535]);
    const bfd = portsInRange(49152, 65535, () => 0.25);
    expect(bfd.next().value).toBe(49152 + 4096);
  });

  it('offers every port of any range exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 0, max: 300 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (min, len, r) => {
          const max = Math.min(65535, min + len);
          const ports = [...portsInRange(min, max, () => r)];
          expect(ports.length).toBe(max - min + 1);
          expect(new Set(ports).size).toBe(ports.length);
          expect(Math.min(...ports)).toBe(min);
          expect(Math.max(...ports)).toBe(max);
        },
      ),
    );
  });

  it('rejects empty or out-of-range ranges and a random number outside [0, 1)', () => {
    for (const [min, max, r] of [
      [0, 10, 0],
      [10, 65536, 0],
      [20, 10, 0],
      [1.5, 10, 0],
      [10, 20, 1],
      [10, 20, -0.1],
      [10, 20, Number.NaN],
    ] as const)
      expect(() => [...portsInRange(min, max, () => r)]).toThrow(badArg);
  });
});

describe('UdpSocket on loopback', () => {
  it('bindInRange skips taken ports and fails with EADDRINUSE when all are taken', () => {
    const taken = UdpSocket.open({ family: 4 });
    const probe = UdpSocket.open({ family: 4 });
    const s = UdpSocket.open({ family: 4 });
    try {
      taken.bind('127.0.0.1', 0);
      const p = taken.address().port;
      expect(() => s.bindInRange('127.0.0.1', p, p, () => 0)).toThrow(
        expect.objectContaining({ code: SysErrors.KA_ERR_SYS_CALL, errno: 'EADDRINUSE' }),
      );
      // the port after p, if no one else has it: the random number points at p, which is taken
      const next = p === 65535 ? p - 1 : p + 1;
      probe.bind('127.0.0.1', next);
      probe.close();
      const [min, max] = next > p ? [p, next] : [next, p];
      expect(s.bindInRange('127.0.0.1', min, max, () => (p === min ? 0 : 0.5))).toBe(next);
      expect(s.address()).toEqual({ addr: '127.0.0.1', port: next });
    } finally {
      for (const x of [taken, probe, s]) x.close();
    }
  });

  it('a bad bind address or port is KA_ERR_SYS_BAD_ARG', () => {
    const s = UdpSocket.open({ family: 4 });
    try {
      expect(() => s.bind('::1', 0)).toThrow(badArg);
      expect(() => s.bind('127.0.0.1', 65536)).toThrow(badArg);
      expect(() => s.bindInRange('not-an-address', 50000, 50010, () => 0)).toThrow(badArg);
      expect(() => s.send(Buffer.from('x'), '127.0.0.1', 0)).toThrow(badArg);
      expect(() => s.startReceiving(255)).toThrow(badArg);
    } finally {
      s.close();
    }
  });

  for (const [family, lo] of [
    [4, '127.0.0.1'],
    [6, '::1'],
  ] as const) {
    it(`IPv${family}: a datagram arrives with its source, destination, TTL / hop limit and truncation flag`, async () => {
      const rx = UdpSocket.open({ family, recvTtl: true, recvPktinfo: true });
      const tx = UdpSocket.open({ family, ttl: 7 });
      try {
        rx.bind(lo, 0);
        tx.bind(lo, 0);
        rx.startReceiving(256);
        const port = rx.address().port;
        const first = nextMessage(rx);
        expect(tx.send(Buffer.from('hello'), lo, port)).toBe(5);
        expect(await first).toEqual({
          data: Buffer.from('hello'),
          src: lo,
          srcPort: tx.address().port,
          dst: lo,
          ifindex: 1,
          ttl: 7,
          truncated: false,
        });
        const second = nextMessage(rx);
        tx.send(Buffer.alloc(300, 1), lo, port);
        expect(await second).toMatchObject({ data: Buffer.alloc(256, 1), truncated: true, ttl: 7 });
      } finally {
        rx.close();
        tx.close();
      }
    });
  }

  it('without recvTtl / recvPktinfo the message has no TTL nor destination', async () => {
    const rx = UdpSocket.open({ family: 4 });
    const tx = UdpSocket.open({ family: 4 });
    try {
      rx.bind('127.0.0.1', 0);
      rx.startReceiving();
      const m = nextMessage(rx);
      tx.send(Buffer.from('x'), '127.0.0.1', rx.address().port);
      expect(await m).toMatchObject({
        data: Buffer.from('x'),
        src: '127.0.0.1',
        dst: undefined,
        ttl: undefined,
      });
    } finally {
      rx.close();
      tx.close();
    }
  });
});
