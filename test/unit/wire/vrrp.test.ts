import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { decodeEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6, vrrpVmac } from '../../../src/wire/ethernet.js';
import { decodeIpv4, decodeIpv6, encodeIpv6Header, IPPROTO_VRRP } from '../../../src/wire/ip.js';
import {
  authDataFromPassword,
  decodeVrrp,
  encodeVrrp,
  encodeVrrpIpv4Packet,
  updateVrrpPriority,
  type VrrpAdvert,
  verifyVrrpChecksum,
  vrrpLength,
} from '../../../src/wire/vrrp.js';
import * as V from './vectors.js';

/** Strips Ethernet + IPv4 with our own decoders. */
function ipv4Of(frame: Buffer) {
  const eth = decodeEthernet(frame);
  expect(eth.etherType).toBe(ETHERTYPE_IPV4);
  return { eth, ...decodeIpv4(eth.payload) };
}
function ipv6Of(frame: Buffer) {
  const eth = decodeEthernet(frame);
  expect(eth.etherType).toBe(ETHERTYPE_IPV6);
  return { eth, ...decodeIpv6(eth.payload) };
}

const zero8 = Buffer.alloc(8);

/** Re-encodes the whole IPv4 packet of a captured frame (IP checksum computed) and compares it byte for byte. */
function expectSameIpv4(frame: Buffer, a: Omit<VrrpAdvert, 'checksum'>, ah?: { key: Buffer; seq: number }) {
  const { eth, header } = ipv4Of(frame);
  const pkt = encodeVrrpIpv4Packet({
    advert: a,
    id: header.id,
    src: header.src,
    dst: header.dst,
    ipChecksum: 'compute',
    ...(ah ? { ah } : {}),
  });
  expect(pkt.toString('hex')).toBe(eth.payload.toString('hex'));
}

describe('VRRP golden vectors (keepalived 2.2.7 captures, reference §3)', () => {
  it('§3.2 v2 PASS: decodes, verifies, re-encodes the whole IPv4 packet byte for byte', () => {
    const { eth, header, payload } = ipv4Of(V.V2_PASS);
    expect(eth).toMatchObject({ dst: '01:00:5e:00:00:12', src: '02:00:00:00:55:01' });
    expect(header).toMatchObject({
      tos: 0xc0,
      totalLength: 40,
      id: 1,
      ttl: 255,
      protocol: 112,
      checksum: 0xd05a,
    });
    const a = decodeVrrp(payload, 4);
    expect(a).toEqual({
      version: 2,
      type: 1,
      vrid: 51,
      priority: 150,
      advertInterval: 1,
      authType: 1,
      authData: authDataFromPassword('secret1'),
      addresses: ['10.55.0.100'],
      family: 4,
      checksum: 0xcfe2,
    } satisfies VrrpAdvert);
    expect(verifyVrrpChecksum(payload, header)).toBe(true);
    expect(encodeVrrp(a).equals(payload)).toBe(true);
    expectSameIpv4(V.V2_PASS, a);
    // keepalived leaves the IP checksum 0 for the kernel (IP_HDRINCL): only bytes 10-11 differ.
    const forKernel = encodeVrrpIpv4Packet({ advert: a, id: 1, src: header.src, dst: header.dst });
    expect(forKernel.readUInt16BE(10)).toBe(0);
    const captured = ipv4Of(V.V2_PASS).eth.payload;
    expect(Buffer.concat([forKernel.subarray(0, 10), forKernel.subarray(12)])).toEqual(
      Buffer.concat([captured.subarray(0, 10), captured.subarray(12)]),
    );
  });

  it('§3.3 v2 no auth, 3 VIPs', () => {
    const { header, payload } = ipv4Of(V.V2_3VIP);
    const a = decodeVrrp(payload, 4);
    expect(a).toMatchObject({
      version: 2,
      vrid: 52,
      priority: 150,
      authType: 0,
      advertInterval: 1,
      checksum: 0x28f0,
    });
    expect(a.addresses).toEqual(['10.55.0.101', '10.55.0.102', '10.55.0.103']);
    expect(a.authData).toEqual(zero8);
    expect(vrrpLength(a)).toBe(28);
    expect(verifyVrrpChecksum(payload, header)).toBe(true);
    expectSameIpv4(V.V2_3VIP, a);
  });

  it('§3.4 v3 IPv4: 100 cs interval, checksum with the IPv4 pseudo-header', () => {
    const { header, payload } = ipv4Of(V.V3_IPV4);
    const a = decodeVrrp(payload, 4);
    expect(a).toEqual({
      version: 3,
      type: 1,
      vrid: 53,
      priority: 150,
      advertInterval: 100,
      authType: 0,
      authData: Buffer.alloc(0),
      addresses: ['10.55.0.110'],
      family: 4,
      checksum: 0x42f9,
    } satisfies VrrpAdvert);
    expect(verifyVrrpChecksum(payload, header)).toBe(true);
    // Wrong pseudo-header destination (a unicast peer) must not verify.
    expect(verifyVrrpChecksum(payload, { src: header.src, dst: '10.55.0.2' })).toBe(false);
    expect(encodeVrrp(a, header).equals(payload)).toBe(true);
    expectSameIpv4(V.V3_IPV4, a);
  });

  it('§3.5 v3 IPv6: link-local source, two VIPs, checksum with the IPv6 pseudo-header', () => {
    const { eth, header, payload } = ipv6Of(V.V3_IPV6);
    expect(eth.dst).toBe('33:33:00:00:00:12');
    expect(header).toEqual({
      trafficClass: 0xc0,
      flowLabel: 0x4ba7a,
      payloadLength: 40,
      nextHeader: IPPROTO_VRRP,
      hopLimit: 255,
      src: 'fe80::ff:fe00:5501',
      dst: 'ff02::12',
    });
    const a = decodeVrrp(payload, 6);
    expect(a).toMatchObject({ version: 3, vrid: 54, priority: 150, advertInterval: 100, checksum: 0xe9b4 });
    expect(a.addresses).toEqual(['fe80::54', 'fd55::54']);
    expect(verifyVrrpChecksum(payload, header)).toBe(true);
    expect(encodeVrrp(a, header).equals(payload)).toBe(true);
    // Without src/dst (the kernel fills it via IPV6_CHECKSUM=6) the field is left 0.
    expect(encodeVrrp(a).readUInt16BE(6)).toBe(0);
    expect(Buffer.concat([encodeIpv6Header(header), encodeVrrp(a, header)]).equals(eth.payload)).toBe(true);
  });

  it('§3.6 priority-0 adverts: decode, and the RFC 1624 incremental update reproduces each checksum', () => {
    const cases = [
      [V.V2_PASS, V.V2_PASS_PRIO0, 4, 0x65e3],
      [V.V3_IPV4, V.V3_IPV4_PRIO0, 4, 0xd8f9],
      [V.V3_IPV6, V.V3_IPV6_PRIO0, 6, 0x7fb5],
    ] as const;
    for (const [live, stop, family, sum] of cases) {
      const l = family === 4 ? ipv4Of(live) : ipv6Of(live);
      const s = family === 4 ? ipv4Of(stop) : ipv6Of(stop);
      const a = decodeVrrp(s.payload, family);
      expect(a.priority).toBe(0);
      expect(a.checksum).toBe(sum);
      expect(verifyVrrpChecksum(s.payload, s.header)).toBe(true);
      expect(updateVrrpPriority(Buffer.from(l.payload), 0).equals(s.payload)).toBe(true);
      expect(encodeVrrp(a, s.header).equals(s.payload)).toBe(true);
    }
    const s = ipv4Of(V.V2_PASS_PRIO0);
    expect(s.header.id).toBe(7);
    const a = decodeVrrp(s.payload, 4);
    expectSameIpv4(V.V2_PASS_PRIO0, a);
  });

  it('§3.8 v2 AH: auth type 2, zero auth data, whole packet with ICV re-encoded byte for byte', () => {
    const { eth, header } = ipv4Of(V.V2_AH);
    expect(header.protocol).toBe(51);
    const vrrp = eth.payload.subarray(20 + 24);
    const a = decodeVrrp(vrrp, 4);
    expect(a).toMatchObject({
      version: 2,
      vrid: 56,
      priority: 150,
      authType: 2,
      advertInterval: 1,
      checksum: 0x3c16,
    });
    expect(a.addresses).toEqual(['10.55.0.120']);
    expect(a.authData).toEqual(zero8);
    expect(verifyVrrpChecksum(vrrp, header)).toBe(true);
    expectSameIpv4(V.V2_AH, a, { key: authDataFromPassword('ahpass1'), seq: 7 });
  });

  it('§3.10 VMAC adverts: source MAC is the VMAC, IPv4 source stays the parent address', () => {
    const v4 = ipv4Of(V.VMAC_ADVERT);
    expect(v4.eth.src).toBe(vrrpVmac(55, 4));
    expect(v4.header.src).toBe('10.55.0.1');
    const a = decodeVrrp(v4.payload, 4);
    expect(a).toMatchObject({ version: 2, vrid: 55, priority: 255, authType: 0, checksum: 0xd4f3 });
    expect(a.addresses).toEqual(['10.55.0.155']);
    expectSameIpv4(V.VMAC_ADVERT, a);

    const v6 = ipv6Of(V.VMAC_ADVERT6);
    expect(v6.eth.src).toBe(vrrpVmac(57, 6));
    const b = decodeVrrp(v6.payload, 6);
    expect(b).toMatchObject({ version: 3, vrid: 57, priority: 255, advertInterval: 100, checksum: 0x80ab });
    expect(b.addresses).toEqual(['fe80::57', 'fd55::57']);
    expect(encodeVrrp(b, v6.header).equals(v6.payload)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(':');
});
const canonical6 = (a: string) =>
  decodeVrrp(encodeVrrp(advertFor6([a]), { src: 'fe80::1', dst: 'ff02::12' }), 6).addresses[0]!;
function advertFor6(addresses: string[]): Omit<VrrpAdvert, 'checksum'> {
  return {
    version: 3,
    type: 1,
    vrid: 1,
    priority: 100,
    advertInterval: 100,
    authType: 0,
    authData: Buffer.alloc(0),
    addresses,
    family: 6,
  };
}

const v3Fields = {
  version: fc.constant(3 as const),
  type: fc.nat(15),
  vrid: fc.nat(255),
  priority: fc.nat(255),
  advertInterval: fc.nat(4095),
  authType: fc.constant(0),
  authData: fc.constant(Buffer.alloc(0)),
};
const advertArb: fc.Arbitrary<Omit<VrrpAdvert, 'checksum'>> = fc.oneof(
  fc.record({
    version: fc.constant(2 as const),
    type: fc.nat(15),
    vrid: fc.nat(255),
    priority: fc.nat(255),
    advertInterval: fc.nat(255),
    authType: fc.nat(255),
    authData: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((u) => Buffer.from(u)),
    addresses: fc.array(ipv4, { maxLength: 20 }),
    family: fc.constant(4 as const),
  }),
  fc.record({ ...v3Fields, addresses: fc.array(ipv4, { maxLength: 20 }), family: fc.constant(4 as const) }),
  fc.record({
    ...v3Fields,
    addresses: fc.array(ipv6, { maxLength: 10 }).map((l) => l.map(canonical6)),
    family: fc.constant(6 as const),
  }),
);
const pseudoFor = (a: { family: 4 | 6 }) =>
  a.family === 4 ? { src: '192.0.2.1', dst: '224.0.0.18' } : { src: 'fe80::1', dst: 'ff02::12' };

describe('VRRP codec properties', () => {
  it('round-trips at a non-zero offset into a junk-filled buffer without touching other bytes', () => {
    fc.assert(
      fc.property(advertArb, fc.nat(32), (a, off) => {
        const len = vrrpLength(a);
        const buf = V.junk(off + len + 16);
        const out = encodeVrrp(a, pseudoFor(a), buf, off);
        expect(out.length).toBe(len);
        expect(buf.subarray(0, off).every((x) => x === 0xa5)).toBe(true);
        expect(buf.subarray(off + len).every((x) => x === 0xa5)).toBe(true);
        const back = decodeVrrp(buf.subarray(off, off + len), a.family);
        expect(back).toEqual({ ...a, checksum: back.checksum });
        expect(verifyVrrpChecksum(out, pseudoFor(a))).toBe(true);
        expect(encodeVrrp(back, pseudoFor(a)).equals(out)).toBe(true);
      }),
    );
  });

  it('updateVrrpPriority equals a full re-encode for every priority pair', () => {
    fc.assert(
      fc.property(advertArb, fc.nat(255), (a, p) => {
        const msg = encodeVrrp(a, pseudoFor(a));
        expect(
          updateVrrpPriority(Buffer.from(msg), p).equals(encodeVrrp({ ...a, priority: p }, pseudoFor(a))),
        ).toBe(true);
      }),
    );
  });

  it('decoding random bytes throws only KaError with a VRRP code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(4 as const, 6 as const), (u, fam) => {
        try {
          const a = decodeVrrp(Buffer.from(u), fam);
          expect(vrrpLength(a)).toBe(u.length);
        } catch (e) {
          expect(isKaError(e)).toBe(true);
          expect((e as { code: string }).code).toMatch(
            /^KA_ERR_VRRP_(TRUNCATED|BAD_LENGTH|BAD_VERSION|BAD_FAMILY)$/,
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('every truncation and every extension of a valid message is rejected with the length codes', () => {
    fc.assert(
      fc.property(advertArb, fc.nat(40), (a, extra) => {
        const msg = encodeVrrp(a, pseudoFor(a));
        for (let n = 0; n < msg.length; n++) {
          expect(() => decodeVrrp(msg.subarray(0, n), a.family)).toThrow(
            expect.objectContaining({ code: 'KA_ERR_VRRP_TRUNCATED' }),
          );
        }
        const longer = Buffer.concat([msg, Buffer.alloc(extra + 1, 0xa5)]);
        expect(() => decodeVrrp(longer, a.family)).toThrow(
          expect.objectContaining({ code: 'KA_ERR_VRRP_BAD_LENGTH' }),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('single-byte mutations of the golden messages decode or throw only the typed error; checksum catches them', () => {
    const msgs: [Buffer, 4 | 6, { src: string; dst: string }][] = [];
    for (const f of [V.V2_PASS, V.V2_3VIP, V.V3_IPV4, V.VMAC_ADVERT]) {
      const { header, payload } = decodeIpv4(decodeEthernet(f).payload);
      msgs.push([payload, 4, header]);
    }
    for (const f of [V.V3_IPV6, V.VMAC_ADVERT6]) {
      const { header, payload } = decodeIpv6(decodeEthernet(f).payload);
      msgs.push([payload, 6, header]);
    }
    let rejected = 0;
    for (const [msg, fam, pseudo] of msgs) {
      for (let i = 0; i < msg.length; i++) {
        for (const delta of [1, 0x10, 0x80]) {
          const m = Buffer.from(msg);
          m[i] = (m[i]! + delta) & 0xff;
          try {
            decodeVrrp(m, fam);
          } catch (e) {
            expect(isKaError(e)).toBe(true);
            rejected++;
            continue;
          }
          // Any single-byte change that still decodes is caught by the checksum.
          expect(verifyVrrpChecksum(m, pseudo)).toBe(false);
        }
      }
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it('encode rejects out-of-range fields with KA_ERR_WIRE_BAD_FIELD / family and version codes', () => {
    const base: Omit<VrrpAdvert, 'checksum'> = {
      version: 2,
      type: 1,
      vrid: 1,
      priority: 100,
      advertInterval: 1,
      authType: 0,
      authData: zero8,
      addresses: ['192.0.2.10'],
      family: 4,
    };
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => encodeVrrp({ ...base, vrid: 256 }))).toBe('KA_ERR_WIRE_BAD_FIELD');
    expect(code(() => encodeVrrp({ ...base, priority: -1 }))).toBe('KA_ERR_WIRE_BAD_FIELD');
    expect(code(() => encodeVrrp({ ...base, authData: Buffer.alloc(9) }))).toBe('KA_ERR_WIRE_BAD_FIELD');
    expect(code(() => encodeVrrp({ ...base, family: 6, addresses: ['fd00::1'] }))).toBe(
      'KA_ERR_VRRP_BAD_FAMILY',
    );
    expect(code(() => encodeVrrp({ ...base, addresses: ['fd00::1'] }))).toBe('KA_ERR_WIRE_BAD_ADDRESS');
    expect(code(() => encodeVrrp({ ...base, addresses: ['10.1'] }))).toBe('KA_ERR_WIRE_BAD_ADDRESS');
    expect(code(() => encodeVrrp({ ...base, addresses: Array(256).fill('192.0.2.1') }))).toBe(
      'KA_ERR_WIRE_BAD_FIELD',
    );
    const v3 = { ...base, version: 3 as const, authData: Buffer.alloc(0), advertInterval: 4096 };
    expect(code(() => encodeVrrp(v3, pseudoFor(v3)))).toBe('KA_ERR_WIRE_BAD_FIELD');
    expect(code(() => encodeVrrp({ ...v3, advertInterval: 100 }))).toBe('KA_ERR_WIRE_BAD_FIELD'); // v3 IPv4 needs src/dst
    expect(code(() => encodeVrrp({ ...v3, advertInterval: 100, authType: 1 }, pseudoFor(v3)))).toBe(
      'KA_ERR_WIRE_BAD_FIELD',
    );
    expect(code(() => encodeVrrp({ ...base, version: 4 as never }))).toBe('KA_ERR_VRRP_BAD_VERSION');
    // PASS auth data shorter than 8 is zero-padded, as keepalived does.
    expect(decodeVrrp(encodeVrrp({ ...base, authData: Buffer.from('ab') }), 4).authData).toEqual(
      authDataFromPassword('ab'),
    );
  });

  it('v3 ignores the reserved interval bits on receive (RFC 5798 §5.2.7)', () => {
    const { header, payload } = decodeIpv4(decodeEthernet(V.V3_IPV4).payload);
    const m = Buffer.from(payload);
    m[4] = 0xf0 | m[4]!;
    expect(decodeVrrp(m, 4).advertInterval).toBe(100);
    expect(verifyVrrpChecksum(m, header)).toBe(false);
  });
});
