/** Socket ABI structs built in TypeScript (the addon only passes bytes through). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  decodeCmsgInt,
  decodeCmsgs,
  decodeCmsgTimespecUs,
  decodeIn6Pktinfo,
  decodeInPktinfo,
  decodeSockaddrInet,
  decodeSockaddrLl,
  decodeSockaddrNl,
  encodeCmsgs,
  errnoName,
  ifnameOpt,
  in6Pktinfo,
  ipMreqn,
  ipv6Mreq,
  sockaddrIn,
  sockaddrIn6,
  sockaddrLl,
  sockaddrNl,
  sockaddrUn,
  stampToMonotonicUs,
} from '../../../src/sys/abi.js';
import { SysErrors } from '../../../src/sys/errors.js';
import { hex } from '../../support/hex.js';

describe('sockaddr structs', () => {
  it('sockaddr_in / sockaddr_in6 layouts and round trip', () => {
    expect(sockaddrIn('224.0.0.18', 0)).toEqual(hex('02 00 00 00 e0 00 00 12 00 00 00 00 00 00 00 00'));
    const s6 = sockaddrIn6('ff02::12', 0x1234, 7);
    expect(s6).toEqual(
      hex('0a 00 12 34 00 00 00 00 ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 12 07 00 00 00'),
    );
    expect(decodeSockaddrInet(s6)).toEqual({ family: 6, addr: 'ff02::12', port: 0x1234, scopeId: 7 });
    expect(decodeSockaddrInet(sockaddrIn('192.0.2.1', 80))).toEqual({
      family: 4,
      addr: '192.0.2.1',
      port: 80,
      scopeId: 0,
    });
    expect(decodeSockaddrInet(Buffer.alloc(1))).toBeUndefined();
  });

  it('sockaddr_nl, sockaddr_ll, sockaddr_un (path and abstract)', () => {
    expect(sockaddrNl(0x1d32, 0x11)).toEqual(hex('10 00 00 00 32 1d 00 00 11 00 00 00'));
    expect(decodeSockaddrNl(sockaddrNl(5, 1))).toEqual({ pid: 5, groups: 1 });
    const ll = sockaddrLl({ protocol: 0x0806, ifindex: 3, hatype: 1, addr: hex('ff ff ff ff ff ff') });
    expect(ll).toEqual(hex('11 00 08 06 03 00 00 00 01 00 00 06 ff ff ff ff ff ff 00 00'));
    expect(decodeSockaddrLl(ll)).toEqual({
      protocol: 0x0806,
      ifindex: 3,
      hatype: 1,
      pkttype: 0,
      addr: hex('ff ff ff ff ff ff'),
    });
    expect(sockaddrUn('@sd')).toEqual(hex('01 00 00 73 64'));
    expect(sockaddrUn('/run/n')).toEqual(Buffer.concat([hex('01 00'), Buffer.from('/run/n\0')]));
  });

  it('multicast requests and pktinfo', () => {
    expect(ipMreqn('224.0.0.18', 4)).toEqual(hex('e0 00 00 12 00 00 00 00 04 00 00 00'));
    expect(ipv6Mreq('ff02::12', 4)).toEqual(
      hex('ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 12 04 00 00 00'),
    );
    expect(decodeIn6Pktinfo(in6Pktinfo('fe80::1', 9))).toEqual({ ifindex: 9, dst: 'fe80::1' });
    expect(decodeInPktinfo(hex('05 00 00 00 c0 00 02 02 e0 00 00 12'))).toEqual({
      ifindex: 5,
      dst: '224.0.0.18',
    });
    expect(ifnameOpt('eth0')).toEqual(Buffer.from('eth0\0'));
  });

  it('control messages: CMSG_SPACE layout on 64-bit and decode of what recvmsg returns', () => {
    const c = encodeCmsgs([
      { level: 41, type: 50, data: in6Pktinfo('fd00::1', 2) },
      { level: 41, type: 52, data: hex('ff 00 00 00') },
    ]);
    // 16-byte header + 20 bytes data padded to 24, then 16 + 4 padded to 8.
    expect(c.length).toBe(40 + 24);
    expect(c.readBigUInt64LE(0)).toBe(36n);
    const d = decodeCmsgs(c);
    expect(d.map((x) => [x.level, x.type, x.data.length])).toEqual([
      [41, 50, 20],
      [41, 52, 4],
    ]);
    expect(decodeCmsgInt(d[1]!.data)).toBe(255);
    // A header claiming more than the buffer holds ends decoding (as CMSG_NXTHDR would).
    const broken = Buffer.from(c);
    broken.writeBigUInt64LE(1000n, 40);
    expect(decodeCmsgs(broken)).toHaveLength(1);
    // 32-bit layout (12-byte header, 4-byte alignment).
    expect(decodeCmsgs(encodeCmsgs([{ level: 0, type: 2, data: hex('40') }], 4), 4)[0]!.data).toEqual(
      hex('40'),
    );
  });

  it('SCM_TIMESTAMPNS payload and its mapping onto the monotonic clock', () => {
    const ts = Buffer.alloc(16);
    ts.writeBigInt64LE(1_795_396_803n, 0);
    ts.writeBigInt64LE(453_506_799n, 8);
    expect(decodeCmsgTimespecUs(ts)).toBeCloseTo(1_795_396_803_453_506.8, 1);
    const ts32 = Buffer.alloc(8);
    ts32.writeInt32LE(10, 0);
    ts32.writeInt32LE(5_000, 4);
    expect(decodeCmsgTimespecUs(ts32, 4)).toBe(10_000_005);
    expect(decodeCmsgTimespecUs(ts.subarray(0, 12))).toBeUndefined();
    const badNsec = Buffer.from(ts);
    badNsec.writeBigInt64LE(1_000_000_000n, 8);
    expect(decodeCmsgTimespecUs(badNsec)).toBeUndefined();
    // Stamped 700 µs before the read; the read saw realtime 2_000_000 and monotonic 50_000.
    expect(stampToMonotonicUs(1_999_300, 2_000_000, 50_000)).toBe(49_300);
    // A stamp after the read, or older than the limit: the realtime clock moved; no answer.
    expect(stampToMonotonicUs(2_000_001, 2_000_000, 50_000)).toBeUndefined();
    expect(stampToMonotonicUs(0, 2_000_000, 50_000)).toBeUndefined();
    expect(stampToMonotonicUs(0, 2_000_000, 50_000, 3_000_000)).toBe(-1_950_000);
  });

  it('errno names and bad arguments', () => {
    expect(errnoName(-19)).toBe('ENODEV');
    expect(errnoName(17)).toBe('EEXIST');
    expect(errnoName(-100000)).toBe('E100000');
    for (const f of [
      () => sockaddrIn('fd00::1'),
      () => sockaddrIn6('192.0.2.1'),
      () => ifnameOpt('a-very-long-interface-name'),
      () => sockaddrUn('@'),
      () => ipMreqn('1.2.3', 1),
    ]) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isKaError(err, SysErrors.KA_ERR_SYS_BAD_ARG)).toBe(true);
    }
  });

  it('fuzz: decoders of kernel-supplied bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(4, 8), (raw, sizeT) => {
        const b = Buffer.from(raw);
        for (const c of decodeCmsgs(b, sizeT)) {
          decodeInPktinfo(c.data);
          decodeIn6Pktinfo(c.data);
          decodeCmsgInt(c.data);
          decodeCmsgTimespecUs(c.data, sizeT);
        }
        decodeSockaddrInet(b);
        decodeSockaddrNl(b);
        decodeSockaddrLl(b);
      }),
      { numRuns: 5000 },
    );
  });
});
