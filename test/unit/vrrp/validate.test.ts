import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type VrrpRxCode, VrrpRxErrors } from '../../../src/vrrp/errors.js';
import {
  peekVrid,
  type RxPacket,
  type ValidateInstance,
  VRRP_RX_CODES,
  validateAdvert,
} from '../../../src/vrrp/validate.js';
import { sealAhPacket } from '../../../src/wire/ah.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { decodeIpv6 } from '../../../src/wire/ip.js';
import { authDataFromPassword, encodeVrrpIpv4Packet, type VrrpAdvert } from '../../../src/wire/vrrp.js';
import * as V from '../wire/vectors.js';

// Instances matching the keepalived configs of reference §3.1 (the captures were sent by wr1).
const passInstance: ValidateInstance = {
  vrid: 51,
  version: 2,
  family: 4,
  authType: 1,
  authData: authDataFromPassword('secret1'),
  vips: ['10.55.0.100'],
  advertInterval: 1,
  unicastPeers: [],
  checkUnicastSrc: false,
  skipCheckAdvAddr: false,
  inBackup: true,
};
const vip3Instance: ValidateInstance = {
  ...passInstance,
  vrid: 52,
  authType: 0,
  authData: undefined,
  vips: ['10.55.0.103', '10.55.0.101', '10.55.0.102'], // order irrelevant
};
const v3Instance: ValidateInstance = {
  ...vip3Instance,
  vrid: 53,
  version: 3,
  vips: ['10.55.0.110'],
  advertInterval: 100,
};
const v6Instance: ValidateInstance = { ...v3Instance, vrid: 54, family: 6, vips: ['fd55::54', 'fe80::54'] };
const ahInstance: ValidateInstance = {
  ...passInstance,
  vrid: 56,
  authType: 2,
  authData: authDataFromPassword('ahpass1'),
  vips: ['10.55.0.120'],
  ahSeq: 6,
};

const ip4 = (frame: Buffer): Buffer => Buffer.from(decodeEthernet(frame).payload);
const rx4 = (packet: Buffer): RxPacket => ({ family: 4, packet, ifindex: 2 });
type Rx6 = Extract<RxPacket, { family: 6 }>;
function rx6(frame: Buffer, over: Partial<Rx6> = {}): Rx6 {
  const { header, payload } = decodeIpv6(decodeEthernet(frame).payload);
  return {
    family: 6,
    packet: Buffer.from(payload),
    src: header.src,
    dst: header.dst,
    hopLimit: header.hopLimit,
    ...over,
  };
}
const mut = (b: Buffer, i: number, v: number): Buffer => {
  const c = Buffer.from(b);
  c[i] = v;
  return c;
};

const seen = new Set<VrrpRxCode>();
function expectReject(rx: RxPacket, inst: ValidateInstance, code: VrrpRxCode, drop: 'KO' | 'DROP' = 'KO') {
  const r = validateAdvert(rx, inst);
  expect(r.ok ? 'ok' : r.code).toBe(code);
  if (!r.ok) {
    expect(r.drop).toBe(drop);
    expect(r.reason.length).toBeGreaterThan(0);
    seen.add(r.code);
  }
  return r;
}

/** An advert built with our encoder (unicast and mutated-field cases). */
function v2Packet(
  o: Partial<Omit<VrrpAdvert, 'checksum'>> = {},
  ip: { src?: string; dst?: string; ttl?: number } = {},
) {
  return encodeVrrpIpv4Packet({
    advert: {
      version: 2,
      type: 1,
      vrid: 51,
      priority: 100,
      advertInterval: 1,
      authType: 1,
      authData: authDataFromPassword('secret1'),
      addresses: ['10.55.0.100'],
      family: 4,
      ...o,
    },
    id: 1,
    src: ip.src ?? '10.55.0.1',
    dst: ip.dst ?? '224.0.0.18',
    ...(ip.ttl === undefined ? {} : { ttl: ip.ttl }),
  });
}

describe('validateAdvert: the keepalived captures pass', () => {
  it('v2 PASS (§3.2), v2 3 VIPs (§3.3), v3 IPv4 (§3.4), priority 0 (§3.6), VMAC (§3.10)', () => {
    const r = validateAdvert(rx4(ip4(V.V2_PASS)), passInstance);
    expect(r).toMatchObject({
      ok: true,
      received: { src: '10.55.0.1', dst: '224.0.0.18', ttl: 255, ifindex: 2 },
    });
    expect(r.ok && r.advert.priority).toBe(150);
    expect(validateAdvert(rx4(ip4(V.V2_PASS_PRIO0)), passInstance)).toMatchObject({
      ok: true,
      advert: { priority: 0 },
    });
    expect(validateAdvert(rx4(ip4(V.V2_3VIP)), vip3Instance).ok).toBe(true);
    expect(validateAdvert(rx4(ip4(V.V3_IPV4)), v3Instance)).toMatchObject({
      ok: true,
      advert: { advertInterval: 100 },
    });
    // v3: the received interval is learned, not checked.
    expect(validateAdvert(rx4(ip4(V.V3_IPV4_PRIO0)), { ...v3Instance, advertInterval: 7 }).ok).toBe(true);
    const vmac = { ...vip3Instance, vrid: 55, vips: ['10.55.0.155'] };
    expect(validateAdvert(rx4(ip4(V.VMAC_ADVERT)), vmac)).toMatchObject({
      ok: true,
      advert: { priority: 255 },
    });
  });

  it('v3 IPv6 (§3.5) with ancillary data; checksum re-verified on request', () => {
    expect(validateAdvert(rx6(V.V3_IPV6), v6Instance)).toMatchObject({
      ok: true,
      received: { src: 'fe80::ff:fe00:5501', ttl: 255 },
    });
    expect(validateAdvert(rx6(V.V3_IPV6, { verifyChecksum: true }), v6Instance).ok).toBe(true);
    expect(validateAdvert(rx6(V.V3_IPV6_PRIO0, { hopLimit: null }), v6Instance)).toMatchObject({
      ok: true,
      received: { ttl: -1 },
    });
  });

  it('AH (§3.8): passes with counter 6 and returns the new counter 7', () => {
    expect(validateAdvert(rx4(ip4(V.V2_AH)), ahInstance)).toMatchObject({ ok: true, ahSeq: 7 });
    expect(validateAdvert(rx4(ip4(V.V2_AH)), { ...ahInstance, ahSeq: undefined })).toMatchObject({
      ok: true,
      ahSeq: 7,
    });
  });

  it('peekVrid finds the VRID behind IPv4, IPv4+AH and IPv6 headers', () => {
    expect(peekVrid(rx4(ip4(V.V2_PASS)))).toBe(51);
    expect(peekVrid(rx4(ip4(V.V2_AH)))).toBe(56);
    expect(peekVrid(rx6(V.V3_IPV6))).toBe(54);
    expect(peekVrid(rx4(Buffer.alloc(10)))).toBeUndefined();
  });
});

describe('validateAdvert: every check rejects, with its code, in keepalived order', () => {
  const pass = ip4(V.V2_PASS);

  it('dispatcher-level: truncated headers, bad IP header, family, VRID', () => {
    expectReject(rx4(pass.subarray(0, 19)), passInstance, 'KA_ERR_VRRP_RX_TRUNCATED');
    expectReject(rx4(pass.subarray(0, 27)), passInstance, 'KA_ERR_VRRP_RX_TRUNCATED');
    expectReject(rx4(ip4(V.V2_AH).subarray(0, 50)), ahInstance, 'KA_ERR_VRRP_RX_TRUNCATED');
    expectReject(rx6(V.V3_IPV6, { packet: Buffer.alloc(7) }), v6Instance, 'KA_ERR_VRRP_RX_TRUNCATED');
    expectReject(rx4(mut(pass, 0, 0x55)), passInstance, 'KA_ERR_VRRP_RX_BAD_IP_HEADER');
    expectReject(rx4(mut(pass, 0, 0x44)), passInstance, 'KA_ERR_VRRP_RX_BAD_IP_HEADER');
    expectReject(rx4(mut(pass, 9, 17)), passInstance, 'KA_ERR_VRRP_RX_BAD_IP_HEADER');
    expectReject(rx6(V.V3_IPV6, { src: '10.0.0.1' }), v6Instance, 'KA_ERR_VRRP_RX_BAD_IP_HEADER');
    expectReject(rx4(pass), { ...passInstance, family: 6 }, 'KA_ERR_VRRP_RX_FAMILY');
    expectReject(rx4(pass), { ...passInstance, vrid: 52 }, 'KA_ERR_VRRP_RX_VRID', 'DROP');
  });

  it('1: AH framing must match auth_type AH', () => {
    expectReject(rx4(pass), { ...passInstance, authType: 2 }, 'KA_ERR_VRRP_RX_AUTH_PROTO');
    expectReject(rx4(ip4(V.V2_AH)), { ...ahInstance, authType: 1 }, 'KA_ERR_VRRP_RX_AUTH_PROTO');
    // v3 ignores authentication: an AH-configured v3 instance still expects plain VRRP.
    expect(validateAdvert(rx4(ip4(V.V3_IPV4)), { ...v3Instance, authType: 2 }).ok).toBe(true);
  });

  it('2: exact length, both truncations and extra trailing bytes', () => {
    for (let n = 28; n < pass.length; n++) {
      expectReject(rx4(pass.subarray(0, n)), passInstance, 'KA_ERR_VRRP_RX_LENGTH');
    }
    expectReject(rx4(Buffer.concat([pass, Buffer.alloc(1)])), passInstance, 'KA_ERR_VRRP_RX_LENGTH');
    expectReject(rx4(mut(pass, 23, 2)), passInstance, 'KA_ERR_VRRP_RX_LENGTH'); // naddr 2 in a 1-VIP packet
    const v6 = rx6(V.V3_IPV6);
    expectReject(
      { ...v6, packet: Buffer.concat([v6.packet, Buffer.alloc(16)]) },
      v6Instance,
      'KA_ERR_VRRP_RX_LENGTH',
    );
    // A v3 packet reaching a v2 instance is measured as v3 (no auth bytes), then fails the version check.
    expectReject(rx4(ip4(V.V3_IPV4)), { ...passInstance, vrid: 53, authType: 0 }, 'KA_ERR_VRRP_RX_VERSION');
  });

  it('3: TTL / hop limit 255, with the unicast exemption', () => {
    expectReject(rx4(mut(pass, 8, 254)), passInstance, 'KA_ERR_VRRP_RX_TTL');
    expectReject(rx6(V.V3_IPV6, { hopLimit: 1 }), v6Instance, 'KA_ERR_VRRP_RX_TTL');
    const uni = { ...passInstance, unicastPeers: [{ address: '192.0.2.1' }] };
    const p = v2Packet({}, { src: '192.0.2.1', dst: '192.0.2.2', ttl: 64 });
    expect(validateAdvert(rx4(p), uni).ok).toBe(true);
  });

  it('4: version', () => {
    expectReject(rx4(ip4(V.V2_3VIP)), { ...vip3Instance, version: 3 }, 'KA_ERR_VRRP_RX_VERSION');
  });

  it('5: auth type, PASS bytes', () => {
    expectReject(rx4(v2Packet({ authType: 3 })), passInstance, 'KA_ERR_VRRP_RX_AUTH_TYPE_INVALID');
    expectReject(rx4(ip4(V.V2_3VIP)), { ...vip3Instance, authType: 1 }, 'KA_ERR_VRRP_RX_AUTH_TYPE_MISMATCH');
    expectReject(
      rx4(pass),
      { ...passInstance, authData: authDataFromPassword('secret2') },
      'KA_ERR_VRRP_RX_AUTH_PASS',
    );
    expectReject(
      rx4(v2Packet({ authData: authDataFromPassword('secret') })),
      passInstance,
      'KA_ERR_VRRP_RX_AUTH_PASS',
    );
  });

  it('5: AH next header, ICV, SPI, sequence number', () => {
    const ah = ip4(V.V2_AH);
    const key = authDataFromPassword('ahpass1');
    expectReject(rx4(sealAhPacket(mut(ah, 20, 6), key)), ahInstance, 'KA_ERR_VRRP_RX_AH_NEXT_HEADER', 'DROP');
    expectReject(
      rx4(ah),
      { ...ahInstance, authData: authDataFromPassword('ahpass2') },
      'KA_ERR_VRRP_RX_AH_ICV',
    );
    expectReject(rx4(mut(ah, 46, 100)), ahInstance, 'KA_ERR_VRRP_RX_AH_ICV'); // priority changed after sealing
    expectReject(rx4(sealAhPacket(mut(ah, 27, 9), key)), ahInstance, 'KA_ERR_VRRP_RX_AH_SPI');
    expectReject(rx4(ah), { ...ahInstance, ahSeq: 7 }, 'KA_ERR_VRRP_RX_AH_SEQ');
    expectReject(rx4(ah), { ...ahInstance, ahSeq: 100 }, 'KA_ERR_VRRP_RX_AH_SEQ');
    // A later failure still hands back the accepted sequence number (keepalived stores it first).
    const r = expectReject(rx4(ah), { ...ahInstance, advertInterval: 2 }, 'KA_ERR_VRRP_RX_INTERVAL', 'DROP');
    expect(r.ok === false && r.ahSeq).toBe(7);
  });

  it('6: v2 interval mismatch is DROP, not KO', () => {
    expectReject(rx4(pass), { ...passInstance, advertInterval: 3 }, 'KA_ERR_VRRP_RX_INTERVAL', 'DROP');
  });

  it('7: type', () => {
    expectReject(rx4(v2Packet({ type: 2 })), passInstance, 'KA_ERR_VRRP_RX_TYPE');
  });

  it('8: naddr, skipped for the current master with skip_check_adv_addr in BACKUP', () => {
    const two = v2Packet({ addresses: ['10.55.0.100', '10.55.0.101'] });
    expectReject(rx4(two), passInstance, 'KA_ERR_VRRP_RX_NADDR');
    const skip = { ...passInstance, skipCheckAdvAddr: true, masterAddress: '10.55.0.1' };
    expect(validateAdvert(rx4(two), skip).ok).toBe(true);
    expectReject(rx4(two), { ...skip, inBackup: false }, 'KA_ERR_VRRP_RX_NADDR');
    expectReject(rx4(two), { ...skip, masterAddress: '10.55.0.2' }, 'KA_ERR_VRRP_RX_NADDR');
  });

  it('9: IPv4 total length', () => {
    const p = Buffer.from(pass);
    p.writeUInt16BE(41, 2);
    expectReject(rx4(p), passInstance, 'KA_ERR_VRRP_RX_IP_TOTAL_LENGTH');
  });

  it('10: checksum (v2 message, v3 pseudo-header, IPv6 on request)', () => {
    expectReject(rx4(mut(pass, 25, 2)), { ...passInstance, advertInterval: 2 }, 'KA_ERR_VRRP_RX_CHECKSUM');
    expectReject(rx4(mut(ip4(V.V3_IPV4), 22, 151)), v3Instance, 'KA_ERR_VRRP_RX_CHECKSUM');
    // Same v3 message to a different destination: the pseudo-header no longer matches.
    const v3 = ip4(V.V3_IPV4);
    const moved = Buffer.from(v3);
    moved[19] = 19; // 224.0.0.19
    expectReject(rx4(moved), v3Instance, 'KA_ERR_VRRP_RX_CHECKSUM');
    const v6 = rx6(V.V3_IPV6, { verifyChecksum: true });
    expectReject({ ...v6, packet: mut(v6.packet, 2, 151) }, v6Instance, 'KA_ERR_VRRP_RX_CHECKSUM');
    // Without verifyChecksum the kernel is trusted (IPV6_CHECKSUM=6).
    expect(
      validateAdvert({ ...v6, verifyChecksum: false, packet: mut(v6.packet, 2, 151) }, v6Instance).ok,
    ).toBe(true);
  });

  it('11: multicast destination <=> multicast instance', () => {
    const uni = { ...passInstance, unicastPeers: [{ address: '10.55.0.1' }] };
    expectReject(rx4(pass), uni, 'KA_ERR_VRRP_RX_CAST');
    expectReject(rx4(v2Packet({}, { dst: '10.55.0.2' })), passInstance, 'KA_ERR_VRRP_RX_CAST');
    expectReject(rx6(V.V3_IPV6, { dst: 'fe80::2' }), v6Instance, 'KA_ERR_VRRP_RX_CAST');
  });

  it('12: every configured VIP present', () => {
    expectReject(rx4(pass), { ...passInstance, vips: ['10.55.0.99'] }, 'KA_ERR_VRRP_RX_VIP_MISSING');
    expectReject(
      rx6(V.V3_IPV6),
      { ...v6Instance, vips: ['fe80::54', 'fd55::55'] },
      'KA_ERR_VRRP_RX_VIP_MISSING',
    );
    const skip = {
      ...passInstance,
      vips: ['10.55.0.99'],
      skipCheckAdvAddr: true,
      masterAddress: '10.55.0.1',
    };
    expect(validateAdvert(rx4(pass), skip).ok).toBe(true);
  });

  it('13: unicast source among the peers and within its TTL range', () => {
    const p = rx4(v2Packet({}, { src: '192.0.2.1', dst: '192.0.2.2', ttl: 64 }));
    const uni = {
      ...passInstance,
      unicastPeers: [{ address: '192.0.2.1', minTtl: 60, maxTtl: 64 }],
      checkUnicastSrc: true,
    };
    expect(validateAdvert(p, uni).ok).toBe(true);
    expectReject(p, { ...uni, unicastPeers: [{ address: '192.0.2.9' }] }, 'KA_ERR_VRRP_RX_UNICAST_SRC');
    expectReject(
      p,
      { ...uni, unicastPeers: [{ address: '192.0.2.1', minTtl: 65 }] },
      'KA_ERR_VRRP_RX_UNICAST_TTL',
    );
    expectReject(
      p,
      { ...uni, unicastPeers: [{ address: '192.0.2.1', maxTtl: 63 }] },
      'KA_ERR_VRRP_RX_UNICAST_TTL',
    );
    // Without check_unicast_src any source is accepted.
    expect(
      validateAdvert(p, { ...uni, checkUnicastSrc: false, unicastPeers: [{ address: '192.0.2.9' }] }).ok,
    ).toBe(true);
  });

  it('covers every exported code', () => {
    expect([...seen].sort()).toEqual([...VRRP_RX_CODES].sort());
    expect(VRRP_RX_CODES).toEqual(Object.keys(VrrpRxErrors));
  });
});

describe('validateAdvert never throws on packet content', () => {
  const cases: [string, () => RxPacket, ValidateInstance][] = [
    ['v2 PASS', () => rx4(ip4(V.V2_PASS)), passInstance],
    ['v2 3 VIPs', () => rx4(ip4(V.V2_3VIP)), vip3Instance],
    ['v3 IPv4', () => rx4(ip4(V.V3_IPV4)), v3Instance],
    ['AH', () => rx4(ip4(V.V2_AH)), ahInstance],
    ['v3 IPv6', () => rx6(V.V3_IPV6, { verifyChecksum: true }), v6Instance],
  ];

  it('single-byte mutations of each capture: ok or a listed code; any accepted mutation is a no-op field', () => {
    for (const [, make, inst] of cases) {
      const base = make();
      for (let i = 0; i < base.packet.length; i++) {
        for (const delta of [1, 0x7f, 0x80]) {
          const packet = Buffer.from(base.packet);
          packet[i] = (packet[i]! + delta) & 0xff;
          const r = validateAdvert({ ...base, packet }, inst);
          if (r.ok) {
            // IPv4 TOS, ID, flags, IP checksum (the kernel checks it) and AH-ignored fields may change; VRRP may not.
            const vrrpAt = base.family === 4 ? (inst.authType === 2 ? 44 : 20) : 0;
            expect(i < vrrpAt).toBe(true);
          } else {
            expect(VRRP_RX_CODES).toContain(r.code);
          }
        }
      }
    }
  });

  it('random bytes and truncations of each capture return a typed rejection', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.uint8Array({ maxLength: 120 }),
        fc.nat(200),
        fc.boolean(),
        ([, make, inst], u, cut, random) => {
          const base = make();
          const packet = random
            ? Buffer.from(u)
            : base.packet.subarray(0, Math.min(cut, base.packet.length - 1));
          const r = validateAdvert({ ...base, packet }, inst);
          expect(r.ok).toBe(false);
          if (!r.ok) expect(VRRP_RX_CODES).toContain(r.code);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
