import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksumUpdate16,
  fold16,
  internetChecksum,
  pseudoHeaderSum,
  sum16,
} from '../../../src/wire/checksum.js';
import { hex } from '../../support/hex.js';

describe('internet checksum', () => {
  it('RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2', () => {
    const data = Buffer.from('0001f203f4f5f6f7', 'hex');
    expect(fold16(sum16(data))).toBe(0xddf2);
    expect(internetChecksum(data)).toBe(0x220d);
  });

  it('reference §1.5 worked example: v3 IPv4 pseudo-header + message gives 0x42f9', () => {
    const msg = hex('31 35 96 01 00 64 00 00 0a 37 00 6e');
    const acc = pseudoHeaderSum(Buffer.from([10, 55, 0, 1]), Buffer.from([224, 0, 0, 18]), 112, msg.length);
    expect(acc).toBe(sum16(hex('0a 37 00 01 e0 00 00 12 00 70 00 0c')));
    expect(internetChecksum(msg, acc)).toBe(0x42f9);
  });

  it('IPv6 pseudo-header sum equals the sum of its RFC 8200 layout', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.nat(0xffffff),
        fc.nat(255),
        (s, d, len, nh) => {
          const layout = Buffer.alloc(40);
          layout.set(s, 0);
          layout.set(d, 16);
          layout.writeUInt32BE(len, 32);
          layout[39] = nh;
          expect(fold16(pseudoHeaderSum(s, d, nh, len))).toBe(fold16(sum16(layout)));
        },
      ),
    );
  });

  it('an odd trailing byte is padded with zero; a message with its checksum sums to 0', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 101 }), (u) => {
        const b = Buffer.from(u);
        b.writeUInt16BE(0, 0);
        const withPad = Buffer.concat([b, Buffer.alloc(1)]);
        expect(internetChecksum(b)).toBe(internetChecksum(b.length % 2 ? withPad : b));
        b.writeUInt16BE(internetChecksum(b), 0);
        expect(internetChecksum(b)).toBe(0);
      }),
    );
  });

  it('RFC 1624 incremental update equals recomputation for any word change', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 64 }), fc.nat(0xffff), (u, w) => {
        const b = Buffer.from(u.length % 2 ? u.subarray(1) : u);
        b.writeUInt16BE(0, 0);
        const hc = internetChecksum(b);
        const old = b.readUInt16BE(2);
        b.writeUInt16BE(w, 2);
        const fresh = internetChecksum(b);
        const inc = checksumUpdate16(hc, old, w);
        // One's complement has two zeros: 0x0000 and 0xffff denote the same sum.
        expect(inc === fresh || ((inc | fresh) === 0xffff && (inc & fresh) === 0)).toBe(true);
      }),
    );
  });
});
