import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  be16,
  bytes,
  decodeAttrs,
  decodeMsgs,
  decodeNlError,
  encodeMsg,
  genlHeader,
  NLM_F_ACK,
  NLM_F_REQUEST,
  readStr,
  strz,
  u16,
  u32,
} from '../../../src/wire/netlink.js';
import { hex } from '../../support/hex.js';

describe('netlink framing', () => {
  it('encodes the captured IPVS NEW_SERVICE request byte for byte (reference §5.4)', () => {
    const addr = Buffer.alloc(16);
    addr.set([10, 0, 0, 1]);
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(0xffffffff, 4);
    const msg = encodeMsg({
      type: 0x20,
      flags: NLM_F_REQUEST | NLM_F_ACK,
      seq: 0x67,
      header: genlHeader(1, 1),
      attrs: [
        {
          type: 1,
          plainNest: true,
          nest: [
            u16(1, 2),
            u16(2, 6),
            bytes(3, addr),
            be16(4, 80),
            strz(6, 'rr'),
            bytes(7, flags),
            u32(8, 0),
            u32(9, 0xffffffff),
          ],
        },
      ],
    });
    expect(msg.toString('hex')).toBe(
      hex(`
0000  68 00 00 00 20 00 05 00 67 00 00 00 00 00 00 00
0010  01 01 00 00 54 00 01 00 06 00 01 00 02 00 00 00
0020  06 00 02 00 06 00 00 00 14 00 03 00 0a 00 00 01
0030  00 00 00 00 00 00 00 00 00 00 00 00 06 00 04 00
0040  00 50 00 00 07 00 06 00 72 72 00 00 0c 00 07 00
0050  00 00 00 00 ff ff ff ff 08 00 08 00 00 00 00 00
0060  08 00 09 00 ff ff ff ff`).toString('hex'),
    );
    const [m] = decodeMsgs(msg);
    const [svc] = decodeAttrs(m!.payload, 4);
    const inner = decodeAttrs(svc!.value);
    expect(inner.map((a) => a.type)).toEqual([1, 2, 3, 4, 6, 7, 8, 9]);
    expect(readStr(inner[4]!.value)).toBe('rr');
  });

  it('decodes a capped success ACK and an ext-ack error (reference §4.1)', () => {
    const ack = decodeMsgs(
      hex(
        '24 00 00 00 02 00 00 01 01 00 00 00 32 1d 00 00 00 00 00 00 20 00 00 00 14 00 05 06 01 00 00 00 00 00 00 00',
      ),
    );
    expect(decodeNlError(ack[0]!)).toMatchObject({ error: 0, orig: { type: 20, seq: 1 } });
    const err = decodeMsgs(
      hex(`48 00 00 00 02 00 00 03 03 00 00 00 32 1d 00 00 ef ff ff ff 20 00 00 00 14 00 05 06 03 00 00 00 00 00 00 00
  23 00 01 00 69 70 76 34 3a 20 41 64 64 72 65 73 73 20 61 6c 72 65 61 64 79 20 61 73 73 69 67 6e 65 64 00 00`),
    );
    expect(decodeNlError(err[0]!)).toMatchObject({
      error: -17,
      extMessage: 'ipv4: Address already assigned',
    });
  });

  it('fails only with a typed error on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (arr) => {
        const buf = Buffer.from(arr);
        try {
          for (const m of decodeMsgs(buf)) {
            decodeAttrs(m.payload);
            if (m.type === 2) decodeNlError(m);
          }
        } catch (e) {
          if (!isKaError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
