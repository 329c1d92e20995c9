import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  ARP_LENGTH,
  decodeArp,
  encodeArp,
  GARP_FRAME_LENGTH,
  gratuitousArpFrame,
} from '../../../src/wire/arp.js';
import {
  bytesToMac,
  decodeEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV6,
  encodeEthernet,
  macToBytes,
  vrrpVmac,
} from '../../../src/wire/ethernet.js';
import {
  addrToBytes,
  bytesToAddr,
  decodeIpv4,
  decodeIpv4Header,
  decodeIpv6,
  encodeIpv4Header,
  encodeIpv6Header,
  ipv4HeaderChecksumOk,
  isMulticast,
  multicastMac,
  nextIpId,
  vrrpIpv4Header,
} from '../../../src/wire/ip.js';
import {
  decodeNeighbourAdvert,
  encodeNeighbourAdvert,
  UNSOLICITED_NA_FRAME_LENGTH,
  unsolicitedNaFrame,
} from '../../../src/wire/ndisc.js';
import * as V from './vectors.js';

/** Runs `f`; returns the KaError code it threw, 'ok' if none, and fails on anything that is not a KaError. */
function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!isKaError(e)) throw e;
    return e.code;
  }
}

describe('Ethernet', () => {
  it('decodes the captured headers and re-encodes them at an offset into junk', () => {
    const eth = decodeEthernet(V.GARP);
    expect(eth).toMatchObject({
      dst: 'ff:ff:ff:ff:ff:ff',
      src: '02:00:00:00:55:01',
      etherType: ETHERTYPE_ARP,
    });
    const buf = V.junk(V.GARP.length + 10);
    encodeEthernet(eth, buf, 5);
    expect(buf.subarray(5, 5 + V.GARP.length).equals(V.GARP)).toBe(true);
    expect(
      buf.subarray(0, 5).every((x) => x === 0xa5) && buf.subarray(5 + V.GARP.length).every((x) => x === 0xa5),
    ).toBe(true);
  });

  it('VMACs and multicast MACs (reference §1.1, §3.10)', () => {
    expect(vrrpVmac(55, 4)).toBe('00:00:5e:00:01:37');
    expect(vrrpVmac(57, 6)).toBe('00:00:5e:00:02:39');
    expect(multicastMac('224.0.0.18')).toBe('01:00:5e:00:00:12');
    expect(multicastMac('ff02::12')).toBe('33:33:00:00:00:12');
    expect(multicastMac('ff02::1')).toBe('33:33:00:00:00:01');
    expect(outcome(() => vrrpVmac(0, 4))).toBe('KA_ERR_WIRE_BAD_FIELD');
    expect(outcome(() => macToBytes('02:00:00:00:55'))).toBe('KA_ERR_WIRE_BAD_ADDRESS');
    expect(bytesToMac(macToBytes('02:AB:00:00:55:01'))).toBe('02:ab:00:00:55:01');
  });

  it('short frames throw KA_ERR_ETH_TRUNCATED only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), (u) => {
        expect(outcome(() => decodeEthernet(Buffer.from(u)))).toBe(
          u.length < 14 ? 'KA_ERR_ETH_TRUNCATED' : 'ok',
        );
      }),
    );
  });
});

describe('IPv4 / IPv6 headers', () => {
  it('keepalived advert header (§1.2) matches the capture except the kernel-filled checksum', () => {
    const ip = decodeEthernet(V.V2_PASS).payload;
    expect(ipv4HeaderChecksumOk(ip)).toBe(true);
    const h = vrrpIpv4Header({ id: 1, src: '10.55.0.1', dst: '224.0.0.18', payloadLength: 20 });
    const bytes = encodeIpv4Header(h);
    expect(bytes.readUInt16BE(10)).toBe(0);
    expect(encodeIpv4Header({ ...h, checksum: undefined }).equals(ip.subarray(0, 20))).toBe(true);
    const ah = vrrpIpv4Header({
      id: 1,
      src: '10.55.0.1',
      dst: '224.0.0.18',
      payloadLength: 44,
      ah: true,
      checksum: 'compute',
    });
    expect(encodeIpv4Header(ah).equals(decodeEthernet(V.V2_AH).payload.subarray(0, 20))).toBe(true);
  });

  it('IP ID counter skips 0', () => {
    expect(nextIpId(1)).toBe(2);
    expect(nextIpId(0xfffe)).toBe(0xffff);
    expect(nextIpId(0xffff)).toBe(1);
  });

  it('round-trips IPv4 headers with options at an offset, and IPv6 headers', () => {
    fc.assert(
      fc.property(
        fc.record({
          tos: fc.nat(255),
          totalLength: fc.nat(0xffff),
          id: fc.nat(0xffff),
          flagsFragment: fc.nat(0xffff),
          ttl: fc.nat(255),
          protocol: fc.nat(255),
          src: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.')),
          dst: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.')),
          options: fc
            .nat(10)
            .chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n }).map((u) => Buffer.from(u))),
        }),
        fc.nat(9),
        (h, off) => {
          const len = 20 + h.options.length;
          const buf = V.junk(off + len + 3);
          encodeIpv4Header(h, buf, off);
          expect(buf.subarray(0, off).every((x) => x === 0xa5)).toBe(true);
          expect(buf.subarray(off + len).every((x) => x === 0xa5)).toBe(true);
          const back = decodeIpv4Header(buf.subarray(off, off + len));
          expect(back).toEqual({ ...h, checksum: back.checksum });
          expect(ipv4HeaderChecksumOk(buf.subarray(off, off + len))).toBe(true);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          trafficClass: fc.nat(255),
          flowLabel: fc.nat(0xfffff),
          payloadLength: fc.nat(40),
          nextHeader: fc.nat(255),
          hopLimit: fc.nat(255),
          src: fc.constantFrom('fe80::ff:fe00:5501', 'fd00::1', '::', 'ff02::12'),
          dst: fc.constantFrom('ff02::12', 'ff02::1', 'fd00::2'),
        }),
        (h) => {
          const pkt = Buffer.concat([encodeIpv6Header(h), Buffer.alloc(h.payloadLength, 1)]);
          expect(decodeIpv6(pkt).header).toEqual(h);
          expect(decodeIpv6(pkt).payload.length).toBe(h.payloadLength);
        },
      ),
    );
  });

  it('decoders check version, IHL and lengths; random bytes give only the typed IP errors', () => {
    const ip = Buffer.from(decodeEthernet(V.V3_IPV4).payload);
    expect(decodeIpv4(Buffer.concat([ip, Buffer.alloc(6)])).payload.length).toBe(12); // Ethernet padding ignored
    expect(outcome(() => decodeIpv4(ip.subarray(0, 31)))).toBe('KA_ERR_IP_TRUNCATED');
    const v6 = Buffer.from(ip);
    v6[0] = 0x65;
    expect(outcome(() => decodeIpv4(v6))).toBe('KA_ERR_IP_BAD_HEADER');
    const ihl4 = Buffer.from(ip);
    ihl4[0] = 0x44;
    expect(outcome(() => decodeIpv4(ihl4))).toBe('KA_ERR_IP_BAD_HEADER');
    const ihl15 = Buffer.from(ip);
    ihl15[0] = 0x4f;
    expect(outcome(() => decodeIpv4(ihl15))).toBe('KA_ERR_IP_TRUNCATED');
    const tot = Buffer.from(ip);
    tot.writeUInt16BE(10, 2);
    expect(outcome(() => decodeIpv4(tot))).toBe('KA_ERR_IP_BAD_HEADER');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (u) => {
        expect(['ok', 'KA_ERR_IP_TRUNCATED', 'KA_ERR_IP_BAD_HEADER']).toContain(
          outcome(() => decodeIpv4(Buffer.from(u))),
        );
        expect(['ok', 'KA_ERR_IP_TRUNCATED', 'KA_ERR_IP_BAD_HEADER']).toContain(
          outcome(() => decodeIpv6(Buffer.from(u))),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('address helpers: strict dotted quads, RFC 5952 output, multicast test', () => {
    expect(bytesToAddr(addrToBytes('fe80:0:0:0:0:ff:fe00:5501'))).toBe('fe80::ff:fe00:5501');
    expect(outcome(() => addrToBytes('10.1'))).toBe('KA_ERR_WIRE_BAD_ADDRESS');
    expect(outcome(() => addrToBytes('fe80::1%eth0'))).toBe('KA_ERR_WIRE_BAD_ADDRESS');
    expect(outcome(() => addrToBytes('10.0.0.1', 6))).toBe('KA_ERR_WIRE_BAD_ADDRESS');
    expect(isMulticast('224.0.0.18')).toBe(true);
    expect(isMulticast('192.0.2.1')).toBe(false);
    expect(isMulticast('ff02::12')).toBe(true);
    expect(isMulticast('fe80::1')).toBe(false);
  });
});

describe('gratuitous ARP (§3.7, §3.10)', () => {
  it('builds the captured 42-byte frames byte for byte and decodes them', () => {
    expect(gratuitousArpFrame('02:00:00:00:55:01', '10.55.0.100').equals(V.GARP)).toBe(true);
    expect(gratuitousArpFrame(vrrpVmac(55, 4), '10.55.0.155').equals(V.VMAC_GARP)).toBe(true);
    expect(GARP_FRAME_LENGTH).toBe(V.GARP.length);
    expect(decodeArp(decodeEthernet(V.GARP).payload)).toEqual({
      op: 1,
      sha: '02:00:00:00:55:01',
      spa: '10.55.0.100',
      tha: 'ff:ff:ff:ff:ff:ff',
      tpa: '10.55.0.100',
    });
    const buf = V.junk(60);
    gratuitousArpFrame('02:00:00:00:55:01', '10.55.0.100', buf, 9);
    expect(buf.subarray(9, 51).equals(V.GARP)).toBe(true);
    expect(buf.subarray(0, 9).every((x) => x === 0xa5) && buf.subarray(51).every((x) => x === 0xa5)).toBe(
      true,
    );
  });

  it('round-trips, and bad input gives only the typed ARP errors', () => {
    const arp = decodeEthernet(V.GARP).payload;
    expect(decodeArp(Buffer.concat([arp, Buffer.alloc(18)])).spa).toBe('10.55.0.100'); // padded to 60
    for (let n = 0; n < ARP_LENGTH; n++)
      expect(outcome(() => decodeArp(arp.subarray(0, n)))).toBe('KA_ERR_ARP_TRUNCATED');
    for (const i of [1, 3, 4, 5]) {
      const m = Buffer.from(arp);
      m[i] = m[i]! ^ 0x40;
      expect(outcome(() => decodeArp(m))).toBe('KA_ERR_ARP_UNSUPPORTED');
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (u) => {
        expect(['ok', 'KA_ERR_ARP_TRUNCATED', 'KA_ERR_ARP_UNSUPPORTED']).toContain(
          outcome(() => decodeArp(Buffer.from(u))),
        );
      }),
    );
    fc.assert(
      fc.property(fc.nat(0xffff), fc.uint8Array({ minLength: 6, maxLength: 6 }), (op, mac) => {
        const p = {
          op,
          sha: bytesToMac(mac),
          spa: '192.0.2.7',
          tha: '00:00:00:00:00:00',
          tpa: '198.51.100.1',
        };
        expect(decodeArp(encodeArp(p))).toEqual(p);
      }),
    );
  });
});

describe('unsolicited Neighbour Advertisement (§3.9)', () => {
  it('builds the captured 86-byte frame byte for byte and decodes it', () => {
    expect(
      unsolicitedNaFrame({ mac: '02:00:00:00:55:01', vip: 'fd55::54', router: false }).equals(V.NA),
    ).toBe(true);
    expect(UNSOLICITED_NA_FRAME_LENGTH).toBe(V.NA.length);
    const eth = decodeEthernet(V.NA);
    expect(eth).toMatchObject({ dst: '33:33:00:00:00:01', etherType: ETHERTYPE_IPV6 });
    const { header, payload } = decodeIpv6(eth.payload);
    expect(header).toMatchObject({
      trafficClass: 0,
      flowLabel: 0,
      nextHeader: 58,
      hopLimit: 255,
      src: 'fd55::54',
      dst: 'ff02::1',
    });
    expect(decodeNeighbourAdvert(payload, header)).toEqual({
      router: false,
      solicited: false,
      override: true,
      target: 'fd55::54',
      tlla: '02:00:00:00:55:01',
    });
  });

  it('R flag only when forwarding; checksum follows the flags', () => {
    const frame = unsolicitedNaFrame({ mac: '02:00:00:00:55:01', vip: 'fd55::54', router: true });
    const { header, payload } = decodeIpv6(decodeEthernet(frame).payload);
    expect(payload.readUInt32BE(4)).toBe(0xa0000000);
    expect(decodeNeighbourAdvert(payload, header).router).toBe(true);
  });

  it('rejects bad type, short messages, zero-length and overrunning options, bad checksum', () => {
    const { header, payload } = decodeIpv6(decodeEthernet(V.NA).payload);
    const m = (i: number, v: number) => {
      const b = Buffer.from(payload);
      b[i] = v;
      return b;
    };
    expect(outcome(() => decodeNeighbourAdvert(m(0, 135)))).toBe('KA_ERR_NDISC_BAD_TYPE');
    expect(outcome(() => decodeNeighbourAdvert(m(1, 1)))).toBe('KA_ERR_NDISC_BAD_TYPE');
    expect(outcome(() => decodeNeighbourAdvert(m(25, 0)))).toBe('KA_ERR_NDISC_BAD_OPTION');
    expect(outcome(() => decodeNeighbourAdvert(m(25, 2)))).toBe('KA_ERR_NDISC_TRUNCATED');
    expect(outcome(() => decodeNeighbourAdvert(payload.subarray(0, 25)))).toBe('KA_ERR_NDISC_TRUNCATED');
    expect(outcome(() => decodeNeighbourAdvert(payload.subarray(0, 23)))).toBe('KA_ERR_NDISC_TRUNCATED');
    expect(outcome(() => decodeNeighbourAdvert(m(30, 9), header))).toBe('KA_ERR_NDISC_BAD_CHECKSUM');
    expect(decodeNeighbourAdvert(payload.subarray(0, 24), undefined)).not.toHaveProperty('tlla');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (u) => {
        const b = Buffer.from(u);
        if (b.length > 1) b[0] = 136;
        if (b.length > 2) b[1] = 0;
        expect([
          'ok',
          'KA_ERR_NDISC_TRUNCATED',
          'KA_ERR_NDISC_BAD_TYPE',
          'KA_ERR_NDISC_BAD_OPTION',
          'KA_ERR_NDISC_BAD_CHECKSUM',
        ]).toContain(outcome(() => decodeNeighbourAdvert(b, { src: 'fd00::1', dst: 'ff02::1' })));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips at an offset into junk', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.uint8Array({ minLength: 6, maxLength: 6 })),
        fc.nat(9),
        (r, s, o, mac, off) => {
          const na = {
            router: r,
            solicited: s,
            override: o,
            target: 'fd00::54',
            ...(mac ? { tlla: bytesToMac(mac) } : {}),
          };
          const buf = V.junk(off + 40);
          const out = encodeNeighbourAdvert(na, 'fd00::54', 'ff02::1', buf, off);
          expect(buf.subarray(0, off).every((x) => x === 0xa5)).toBe(true);
          expect(buf.subarray(off + out.length).every((x) => x === 0xa5)).toBe(true);
          expect(decodeNeighbourAdvert(out, { src: 'fd00::54', dst: 'ff02::1' })).toEqual(na);
        },
      ),
    );
  });
});
