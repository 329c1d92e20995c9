/** nlctrl codec against reference §5.1 (captured under QEMU, Debian 6.1 kernel). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { decodeFamily, GENL_ID_CTRL, getFamilyRequest } from '../../../src/wire/genl-ctrl.js';
import { decodeMsgs, encodeMsg, genlHeader, strz, u16, u32 } from '../../../src/wire/netlink.js';
import { hex } from '../../support/hex.js';

describe('generic netlink controller', () => {
  it('encodes CTRL_CMD_GETFAMILY "IPVS" byte for byte', () => {
    const want = hex(`
0000  20 00 00 00 10 00 01 00 65 00 00 00 00 00 00 00
0010  03 01 00 00 09 00 02 00 49 50 56 53 00 00 00 00`);
    expect(encodeMsg({ ...getFamilyRequest('IPVS'), seq: 0x65 })).toEqual(want);
  });

  it('decodes a NEWFAMILY reply in the kernel attribute order, with the captured FAMILY_ID bytes', () => {
    // Attribute order and values from §5.1: FAMILY_NAME, FAMILY_ID (06 00 01 00 20 00), VERSION 1,
    // HDRSIZE 0, MAXATTR 6; plus one multicast group to cover CTRL_ATTR_MCAST_GROUPS.
    const reply = encodeMsg({
      type: GENL_ID_CTRL,
      flags: 0,
      seq: 0x65,
      header: genlHeader(1, 2),
      attrs: [
        strz(2, 'IPVS'),
        u16(1, 0x20),
        u32(3, 1),
        u32(4, 0),
        u32(5, 6),
        { type: 7, nest: [{ type: 1, nest: [strz(1, 'notify'), u32(2, 0x10)] }] },
      ],
    });
    expect(reply.includes(hex('06 00 01 00 20 00'))).toBe(true);
    const [m] = decodeMsgs(reply);
    expect(decodeFamily(m!)).toEqual({
      id: 0x20,
      name: 'IPVS',
      version: 1,
      hdrsize: 0,
      maxattr: 6,
      mcastGroups: [{ name: 'notify', id: 0x10 }],
    });
  });

  it('rejects replies that are not NEWFAMILY or lack the id, and bad names', () => {
    const noId = decodeMsgs(
      encodeMsg({ type: 0x10, flags: 0, seq: 1, header: genlHeader(1, 2), attrs: [strz(2, 'x')] }),
    );
    expect(() => decodeFamily(noId[0]!)).toThrow(expect.objectContaining({ code: 'KA_ERR_GENL_BAD_REPLY' }));
    const wrongCmd = decodeMsgs(
      encodeMsg({ type: 0x10, flags: 0, seq: 1, header: genlHeader(3, 1), attrs: [] }),
    );
    expect(() => decodeFamily(wrongCmd[0]!)).toThrow(
      expect.objectContaining({ code: 'KA_ERR_GENL_BAD_REPLY' }),
    );
    expect(() => getFamilyRequest('')).toThrow(expect.objectContaining({ code: 'KA_ERR_WIRE_BAD_FIELD' }));
  });

  it('fuzz: only typed errors escape decodeFamily', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (raw) => {
        const payload = Buffer.from(raw);
        if (payload.length > 0) payload[0] = 1;
        try {
          decodeFamily({ type: GENL_ID_CTRL, flags: 0, seq: 0, pid: 0, payload });
        } catch (e) {
          if (!isKaError(e)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
