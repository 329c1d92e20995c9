import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  AH_LENGTH,
  AH_SEQ_CYCLE,
  ahAcceptRxSeq,
  ahNextTxSeq,
  ahSeqAfterLowerPriority,
  computeAhIcv,
  decodeAh,
  encodeAh,
  sealAhPacket,
  verifyAhIcv,
} from '../../../src/wire/ah.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { authDataFromPassword, encodeVrrpIpv4Packet } from '../../../src/wire/vrrp.js';
import * as V from './vectors.js';

const key = authDataFromPassword('ahpass1');
const packet = () => Buffer.from(decodeEthernet(V.V2_AH).payload);

describe('IPsec-AH (keepalived RFC 2338 mode)', () => {
  it('key is the 8-byte zero-padded password (reference §1.6)', () => {
    expect(key.toString('hex')).toBe('6168706173733100');
    expect(authDataFromPassword('averylongpassword')).toEqual(Buffer.from('averylon'));
  });

  it('decodes the §3.8 AH header: next header 112, payload len 4, SPI = source address, seq 7', () => {
    const ah = decodeAh(packet().subarray(20));
    expect(ah).toEqual({
      nextHeader: 112,
      payloadLen: 4,
      reserved: 0,
      spi: 0x0a370001,
      seq: 7,
      icv: Buffer.from('371ffec8fe894a65545736aa', 'hex'),
    });
    expect(encodeAh(ah).equals(packet().subarray(20, 44))).toBe(true);
  });

  it('the worked ICV input of §1.6 hashes to the documented HMAC and to the captured ICV', () => {
    expect(createHmac('md5', key).update(V.V2_AH_ICV_INPUT).digest('hex')).toBe(V.V2_AH_HMAC);
    expect(computeAhIcv(packet(), key).toString('hex')).toBe(V.V2_AH_HMAC.slice(0, 24));
    expect(verifyAhIcv(packet(), key)).toBe(true);
  });

  it('the ICV ignores TOS, flags/fragment and the IP checksum, but covers TTL, ID, SPI, seq and VRRP', () => {
    const mutate = (i: number, v: number) => {
      const p = packet();
      p[i] = v;
      return p;
    };
    expect(verifyAhIcv(mutate(1, 0), key)).toBe(true); // TOS
    expect(verifyAhIcv(mutate(6, 0x40), key)).toBe(true); // DF
    expect(verifyAhIcv(mutate(10, 0), key)).toBe(true); // IP checksum
    expect(verifyAhIcv(mutate(8, 64), key)).toBe(false); // TTL (multicast)
    expect(verifyAhIcv(mutate(8, 64), key, { unicast: true })).toBe(false); // unicast hashes TTL 0 instead of 255
    expect(verifyAhIcv(mutate(5, 2), key)).toBe(false); // IP ID
    expect(verifyAhIcv(mutate(27, 2), key)).toBe(false); // SPI
    expect(verifyAhIcv(mutate(31, 8), key)).toBe(false); // seq
    expect(verifyAhIcv(mutate(46, 100), key)).toBe(false); // VRRP priority
    expect(verifyAhIcv(packet(), authDataFromPassword('ahpass2'))).toBe(false);
  });

  it('unicast mode zeroes the TTL in the ICV input, so any TTL verifies', () => {
    const p = packet();
    sealAhPacket(p, key, { unicast: true });
    expect(verifyAhIcv(p, key)).toBe(false);
    p[8] = 17;
    expect(verifyAhIcv(p, key, { unicast: true })).toBe(true);
  });

  it('round-trips at an offset into junk and rejects short input with KA_ERR_AH_TRUNCATED only', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(16), (nh, spi, seq, off) => {
        const buf = V.junk(off + AH_LENGTH + 8);
        const h = { nextHeader: nh, payloadLen: 4, reserved: 0, spi, seq, icv: Buffer.alloc(12, 7) };
        encodeAh(h, buf, off);
        expect(buf.subarray(0, off).every((x) => x === 0xa5)).toBe(true);
        expect(buf.subarray(off + AH_LENGTH).every((x) => x === 0xa5)).toBe(true);
        expect(decodeAh(buf.subarray(off))).toEqual(h);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (u) => {
        try {
          decodeAh(Buffer.from(u));
          expect(u.length).toBeGreaterThanOrEqual(AH_LENGTH);
        } catch (e) {
          expect(isKaError(e, 'KA_ERR_AH_TRUNCATED')).toBe(true);
        }
        try {
          verifyAhIcv(Buffer.from(u), key);
        } catch (e) {
          expect(isKaError(e, 'KA_ERR_AH_TRUNCATED')).toBe(true);
        }
      }),
    );
  });

  it('sequence rules: increment before send, freeze above 0xFFFFFFFD, accept only strictly greater', () => {
    expect(ahNextTxSeq(6)).toEqual({ seq: 7, cycled: false });
    expect(ahNextTxSeq(AH_SEQ_CYCLE)).toEqual({ seq: 0xfffffffe, cycled: false });
    expect(ahNextTxSeq(0xfffffffe)).toEqual({ seq: 0xfffffffe, cycled: true });
    expect(ahAcceptRxSeq(7, 8)).toBe(true);
    expect(ahAcceptRxSeq(7, 7)).toBe(false);
    expect(ahAcceptRxSeq(7, 3)).toBe(false);
    expect(ahSeqAfterLowerPriority(41)).toBe(42);
  });

  it('a sealed packet built by encodeVrrpIpv4Packet verifies, for any seq and id', () => {
    fc.assert(
      fc.property(fc.nat(0xffffffff), fc.integer({ min: 1, max: 0xffff }), (seq, id) => {
        const p = encodeVrrpIpv4Packet({
          advert: {
            version: 2,
            type: 1,
            vrid: 9,
            priority: 100,
            advertInterval: 1,
            authType: 2,
            authData: Buffer.alloc(8),
            addresses: ['192.0.2.9'],
            family: 4,
          },
          id,
          src: '192.0.2.1',
          dst: '224.0.0.18',
          ah: { key, seq },
        });
        expect(decodeAh(p.subarray(20)).seq).toBe(seq);
        expect(decodeAh(p.subarray(20)).spi).toBe(0xc0000201);
        expect(verifyAhIcv(p, key)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
