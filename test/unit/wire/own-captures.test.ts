import { describe, expect, it } from 'vitest';
import { validateAdvert } from '../../../src/vrrp/validate.js';
import { decodeAh, verifyAhIcv } from '../../../src/wire/ah.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { decodeIpv4, decodeIpv6 } from '../../../src/wire/ip.js';
import { unsolicitedNaFrame } from '../../../src/wire/ndisc.js';
import {
  authDataFromPassword,
  decodeVrrp,
  encodeVrrp,
  encodeVrrpIpv4Packet,
  updateVrrpPriority,
  verifyVrrpChecksum,
} from '../../../src/wire/vrrp.js';
import * as O from './own-vectors.js';

const v4 = (frame: Buffer) => decodeIpv4(decodeEthernet(frame).payload);
const v6 = (frame: Buffer) => decodeIpv6(decodeEthernet(frame).payload);
const uniah = authDataFromPassword('uniah');
const unicastBase = {
  version: 2 as const,
  family: 4 as const,
  authType: 0,
  advertInterval: 1,
  unicastPeers: [{ address: '192.0.2.1' }],
  checkUnicastSrc: true,
  skipCheckAdvAddr: false,
  inBackup: true,
};

describe('own keepalived 2.2.7 captures (see own-vectors.ts)', () => {
  it('v3 unicast: the pseudo-header uses the unicast destination; 10 cs interval; byte-exact re-encode', () => {
    const { header, payload } = v4(O.OWN_V3_UNICAST);
    const a = decodeVrrp(payload, 4);
    expect(a).toMatchObject({
      version: 3,
      vrid: 61,
      priority: 255,
      advertInterval: 10,
      addresses: ['192.0.2.161'],
    });
    expect(verifyVrrpChecksum(payload, header)).toBe(true);
    expect(verifyVrrpChecksum(payload, { src: header.src, dst: '224.0.0.18' })).toBe(false);
    const pkt = encodeVrrpIpv4Packet({
      advert: a,
      id: 1,
      src: '192.0.2.1',
      dst: '192.0.2.2',
      ipChecksum: 'compute',
    });
    expect(pkt.equals(decodeEthernet(O.OWN_V3_UNICAST).payload)).toBe(true);
    const stop = v4(O.OWN_V3_UNICAST_PRIO0);
    expect(stop.header.id).toBe(0x33);
    expect(updateVrrpPriority(Buffer.from(payload), 0).equals(stop.payload)).toBe(true);
  });

  it('v2 AH unicast: the ICV hashes TTL 0; byte-exact re-encode of seq 1 and of the priority-0 seq 7', () => {
    for (const [frame, seq, id, prio] of [
      [O.OWN_AH_UNICAST, 1, 1, 255],
      [O.OWN_AH_UNICAST_PRIO0, 7, 7, 0],
    ] as const) {
      const ip = decodeEthernet(frame).payload;
      expect(verifyAhIcv(ip, uniah, { unicast: true })).toBe(true);
      expect(verifyAhIcv(ip, uniah, { unicast: false })).toBe(false);
      expect(decodeAh(ip.subarray(20))).toMatchObject({ spi: 0xc0000201, seq });
      const a = decodeVrrp(ip.subarray(44), 4);
      expect(a).toMatchObject({
        version: 2,
        vrid: 62,
        priority: prio,
        authType: 2,
        addresses: ['192.0.2.162'],
      });
      const pkt = encodeVrrpIpv4Packet({
        advert: a,
        id,
        src: '192.0.2.1',
        dst: '192.0.2.2',
        ipChecksum: 'compute',
        ah: { key: uniah, seq },
        unicast: true,
      });
      expect(pkt.equals(ip)).toBe(true);
    }
  });

  it('v3 IPv6, 50 cs: decodes, verifies, re-encodes; priority 0 by incremental update', () => {
    const { header, payload } = v6(O.OWN_V3_IPV6);
    const a = decodeVrrp(payload, 6);
    expect(a).toMatchObject({
      vrid: 63,
      priority: 200,
      advertInterval: 50,
      addresses: ['fe80::63', 'fd00::63'],
    });
    expect(verifyVrrpChecksum(payload, header)).toBe(true);
    expect(encodeVrrp(a, header).equals(payload)).toBe(true);
    expect(updateVrrpPriority(Buffer.from(payload), 0).equals(v6(O.OWN_V3_IPV6_PRIO0).payload)).toBe(true);
  });

  it('unsolicited NA for a link-local VIP is built byte for byte', () => {
    const frame = unsolicitedNaFrame({ mac: '02:00:00:00:02:01', vip: 'fe80::63', router: false });
    expect(frame.equals(O.OWN_NA_LINK_LOCAL)).toBe(true);
  });

  it('validateAdvert accepts them as keepalived would, tracking the AH counter', () => {
    const v3u = validateAdvert(
      { family: 4, packet: Buffer.from(decodeEthernet(O.OWN_V3_UNICAST).payload) },
      { ...unicastBase, version: 3, vrid: 61, vips: ['192.0.2.161'], advertInterval: 10 },
    );
    expect(v3u.ok).toBe(true);
    const ahInst = { ...unicastBase, vrid: 62, authType: 2, authData: uniah, vips: ['192.0.2.162'] };
    const first = validateAdvert(
      { family: 4, packet: Buffer.from(decodeEthernet(O.OWN_AH_UNICAST).payload) },
      ahInst,
    );
    expect(first).toMatchObject({ ok: true, ahSeq: 1 });
    const last = validateAdvert(
      { family: 4, packet: Buffer.from(decodeEthernet(O.OWN_AH_UNICAST_PRIO0).payload) },
      { ...ahInst, ahSeq: 1 },
    );
    expect(last).toMatchObject({ ok: true, ahSeq: 7, advert: { priority: 0 } });
    const { header, payload } = v6(O.OWN_V3_IPV6);
    const r6 = validateAdvert(
      {
        family: 6,
        packet: Buffer.from(payload),
        src: header.src,
        dst: header.dst,
        hopLimit: 255,
        verifyChecksum: true,
      },
      {
        ...unicastBase,
        version: 3,
        family: 6,
        vrid: 63,
        vips: ['fd00::63', 'fe80::63'],
        unicastPeers: [],
        checkUnicastSrc: false,
        advertInterval: 50,
      },
    );
    expect(r6.ok).toBe(true);
  });
});
