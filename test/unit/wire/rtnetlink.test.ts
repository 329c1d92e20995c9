/**
 * rtnetlink codecs against the bytes keepalived 2.2.7 sent (and the kernel echoed), captured with
 * `nlmon` in the lab of shared/reference/wire-and-kernel.md §3.1 (vectors in §4.3-4.5).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { decodeMsgs, encodeMsg, type NlMsg } from '../../../src/wire/netlink.js';
import {
  AF_INET,
  decodeAddr,
  decodeLink,
  decodeRtnl,
  delAddr,
  delLink,
  getAddrDump,
  getLinkDump,
  IFA_F_PERMANENT,
  IFA_F_SECONDARY,
  IFF_UP,
  IPV4_DEVCONF_ACCEPT_LOCAL,
  IPV4_DEVCONF_ARP_IGNORE,
  IPV4_DEVCONF_ARPFILTER,
  IPV4_DEVCONF_PROMOTE_SECONDARIES,
  IPV4_DEVCONF_RP_FILTER,
  ifinfomsg,
  newAddr,
  newMacvlan,
  newRoute,
  newRule,
  RTM_DELADDR,
  RTM_NEWADDR,
  RTM_NEWLINK,
  type RtRequest,
  setAddrGenMode,
  setInetConf,
  setLinkUp,
} from '../../../src/wire/rtnetlink.js';
import { hex } from '../../support/hex.js';

const SEQ = 0x6b035100;
const enc = (r: RtRequest, seq: number) => encodeMsg({ ...r, seq });
const one = (b: Buffer): NlMsg => {
  const m = decodeMsgs(b);
  expect(m).toHaveLength(1);
  return m[0]!;
};

describe('rtnetlink encoders: golden bytes (reference §4.3-4.5)', () => {
  it('RTM_NEWADDR 10.55.0.200/24 dev 2', () => {
    const want = hex(`
0000  20 00 00 00 14 00 05 00 09 51 03 6b 00 00 00 00
0010  02 18 00 00 02 00 00 00 08 00 02 00 0a 37 00 c8`);
    expect(enc(newAddr({ family: 4, ifindex: 2, address: '10.55.0.200', prefixlen: 24 }), SEQ + 9)).toEqual(
      want,
    );
  });

  it('RTM_NEWADDR 10.55.0.201/24 brd 10.55.0.255 label eth0:vip', () => {
    const want = hex(`
0000  38 00 00 00 14 00 05 00 0a 51 03 6b 00 00 00 00
0010  02 18 00 00 02 00 00 00 08 00 02 00 0a 37 00 c9
0020  08 00 04 00 0a 37 00 ff 0d 00 03 00 65 74 68 30
0030  3a 76 69 70 00 00 00 00`);
    const r = newAddr({
      family: 4,
      ifindex: 2,
      address: '10.55.0.201',
      prefixlen: 24,
      broadcast: '10.55.0.255',
      label: 'eth0:vip',
    });
    expect(enc(r, SEQ + 10)).toEqual(want);
  });

  it('RTM_NEWADDR fd55::61/64 nodad', () => {
    const want = hex(`
0000  34 00 00 00 14 00 05 00 0e 51 03 6b 00 00 00 00
0010  0a 40 00 00 02 00 00 00 14 00 02 00 fd 55 00 00
0020  00 00 00 00 00 00 00 00 00 00 00 61 08 00 08 00
0030  02 00 00 00`);
    expect(enc(newAddr({ family: 6, ifindex: 2, address: 'fd55::61', prefixlen: 64 }), SEQ + 14)).toEqual(
      want,
    );
  });

  it('RTM_NEWLINK macvlan vrrp.55 (VMAC)', () => {
    const want = hex(`
0000  5c 00 00 00 10 00 05 06 1c 51 03 6b 00 00 00 00
0010  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020  1c 00 12 00 0b 00 01 00 6d 61 63 76 6c 61 6e 00
0030  0c 00 02 00 08 00 01 00 01 00 00 00 08 00 05 00
0040  02 00 00 00 0b 00 03 00 76 72 72 70 2e 35 35 00
0050  0a 00 01 00 00 00 5e 00 01 37 00 00`);
    expect(
      enc(newMacvlan({ name: 'vrrp.55', parentIndex: 2, mac: '00:00:5e:00:01:37' }), SEQ + 0x1c),
    ).toEqual(want);
  });

  it('RTM_NEWLINK devconf on the VMAC and on the parent', () => {
    const vmac = hex(`
0000  4c 00 00 00 10 00 05 00 1e 51 03 6b 00 00 00 00
0010  00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00
0020  2c 00 1a 00 28 00 02 00 24 00 01 00 08 00 13 00
0030  01 00 00 00 08 00 17 00 01 00 00 00 08 00 08 00
0040  00 00 00 00 08 00 14 00 01 00 00 00`);
    const r = setInetConf(3, [
      [IPV4_DEVCONF_ARP_IGNORE, 1],
      [IPV4_DEVCONF_ACCEPT_LOCAL, 1],
      [IPV4_DEVCONF_RP_FILTER, 0],
      [IPV4_DEVCONF_PROMOTE_SECONDARIES, 1],
    ]);
    expect(enc(r, SEQ + 0x1e)).toEqual(vmac);
    const parent = hex(`
0000  3c 00 00 00 10 00 05 00 1f 51 03 6b 00 00 00 00
0010  00 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00
0020  1c 00 1a 00 18 00 02 00 14 00 01 00 08 00 13 00
0030  01 00 00 00 08 00 0d 00 01 00 00 00`);
    const p = setInetConf(2, [
      [IPV4_DEVCONF_ARP_IGNORE, 1],
      [IPV4_DEVCONF_ARPFILTER, 1],
    ]);
    expect(enc(p, SEQ + 0x1f)).toEqual(parent);
  });

  it('RTM_NEWLINK addr_gen_mode none, and link up', () => {
    const agm = hex(`
0000  30 00 00 00 10 00 05 00 20 51 03 6b 00 00 00 00
0010  00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00
0020  10 00 1a 00 0c 00 0a 00 05 00 08 00 01 00 00 00`);
    expect(enc(setAddrGenMode(3, 1), SEQ + 0x20)).toEqual(agm);
    const up = hex(`
0000  20 00 00 00 10 00 05 00 21 51 03 6b 00 00 00 00
0010  00 00 00 00 03 00 00 00 01 00 00 00 01 00 00 00`);
    expect(enc(setLinkUp(3), SEQ + 0x21)).toEqual(up);
  });

  it('RTM_NEWROUTE 10.66.0.0/16 via 10.55.0.254 dev 2', () => {
    const want = hex(`
0000  34 00 00 00 18 00 05 04 0b 51 03 6b 00 00 00 00
0010  02 10 00 00 fe 12 00 01 00 00 00 00 08 00 01 00
0020  0a 42 00 00 08 00 05 00 0a 37 00 fe 08 00 04 00
0030  02 00 00 00`);
    const r = newRoute({ family: 4, dst: '10.66.0.0', dstLen: 16, gateway: '10.55.0.254', oif: 2 });
    expect(enc(r, SEQ + 0x0b)).toEqual(want);
  });

  it('RTM_NEWRULE from 10.55.0.200/32 table 100 priority 16384', () => {
    const want = hex(`
0000  34 00 00 00 20 00 05 06 0c 51 03 6b 00 00 00 00
0010  02 00 20 00 64 00 00 01 00 00 00 00 08 00 02 00
0020  0a 37 00 c8 08 00 06 00 00 40 00 00 05 00 15 00
0030  12 00 00 00`);
    const r = newRule({ family: 4, src: '10.55.0.200', srcLen: 32, table: 100, priority: 16384 });
    expect(enc(r, SEQ + 0x0c)).toEqual(want);
  });

  it('RTM_DELLINK uses family AF_INET and the index; dumps use 0x301', () => {
    const d = one(enc(delLink(3), 7));
    expect(d.type).toBe(17);
    expect(d.flags).toBe(0x5);
    expect(d.payload).toEqual(ifinfomsg({ family: AF_INET, index: 3 }));
    const l = one(enc(getLinkDump(), 1));
    expect([l.type, l.flags, l.payload.length]).toEqual([18, 0x301, 16]);
    const a = one(enc(getAddrDump(6), 2));
    expect([a.type, a.flags, a.payload[0]]).toEqual([22, 0x301, 10]);
  });

  it('tables above 255 go into RTA_TABLE / FRA_TABLE with 0 in the header', () => {
    const r = one(enc(newRoute({ family: 6, dst: 'fd00::', dstLen: 8, table: 1000 }), 1));
    expect(r.payload[4]).toBe(0);
    expect(r.payload.subarray(12 + 20)).toEqual(hex('08 00 0f 00 e8 03 00 00'));
    const u = one(enc(newRule({ family: 4, dst: '192.0.2.0', dstLen: 24, table: 1000 }), 1));
    expect(u.payload[4]).toBe(0);
    expect(u.payload.includes(hex('08 00 0f 00 e8 03 00 00'))).toBe(true);
  });

  it('encoders reject bad input with typed errors', () => {
    const cases: Array<() => unknown> = [
      () => newAddr({ family: 4, ifindex: 2, address: 'fd00::1', prefixlen: 24 }),
      () => newAddr({ family: 4, ifindex: 2, address: '192.0.2.1', prefixlen: 33 }),
      () => newAddr({ family: 6, ifindex: 0, address: 'fd00::1', prefixlen: 64 }),
      () => newMacvlan({ name: 'a-name-that-is-too-long', parentIndex: 2, mac: '00:00:5e:00:01:01' }),
      () => newMacvlan({ name: 'vrrp.1', parentIndex: 2, mac: '00:00:5e:00:01' }),
      () => newRoute({ family: 4, dst: '192.0.2.0', dstLen: 40 }),
    ];
    for (const c of cases) {
      let caught: unknown;
      try {
        c();
      } catch (e) {
        caught = e;
      }
      expect(isKaError(caught), String(caught)).toBe(true);
      expect((caught as { code: string }).code).toMatch(/^KA_ERR_WIRE_BAD_(ADDRESS|FIELD)$/);
    }
  });
});

describe('rtnetlink decoders', () => {
  it('decodes the captured RTNLGRP_IPV4_IFADDR notification for 10.55.0.77/24 (reference §4.3)', () => {
    const m = one(
      hex(`
0000  50 00 00 00 14 00 00 00 01 00 00 00 32 1d 00 00
0010  02 18 81 00 02 00 00 00 08 00 01 00 0a 37 00 4d
0020  08 00 02 00 0a 37 00 4d 09 00 03 00 65 74 68 30
0030  00 00 00 00 08 00 08 00 81 00 00 00 14 00 06 00
0040  ff ff ff ff ff ff ff ff 38 49 01 00 38 49 01 00`),
    );
    expect(m.type).toBe(RTM_NEWADDR);
    expect(decodeAddr(m)).toEqual({
      deleted: false,
      family: 4,
      ifindex: 2,
      prefixlen: 24,
      flags: IFA_F_SECONDARY | IFA_F_PERMANENT,
      scope: 0,
      address: '10.55.0.77',
      peer: undefined,
      broadcast: undefined,
      label: 'eth0',
      cacheinfo: { preferred: 0xffffffff, valid: 0xffffffff, cstamp: 0x14938, tstamp: 0x14938 },
    });
  });

  it('round-trips addresses through encode → decode (IPv4 with label/brd, IPv6 nodad + cacheinfo)', () => {
    const v4 = newAddr({
      family: 4,
      ifindex: 7,
      address: '192.0.2.10',
      prefixlen: 24,
      broadcast: '192.0.2.255',
      label: 'veth0:1',
    });
    const a = decodeAddr({ ...one(enc(v4, 5)), type: RTM_NEWADDR });
    expect([a.family, a.ifindex, a.prefixlen, a.address, a.broadcast, a.label]).toEqual([
      4,
      7,
      24,
      '192.0.2.10',
      '192.0.2.255',
      'veth0:1',
    ]);
    const v6 = newAddr({ family: 6, ifindex: 9, address: 'fd00::12', prefixlen: 64, preferredLft: 0 });
    const b = decodeAddr(one(enc(v6, 6)));
    expect([b.family, b.address, b.flags & 2, b.cacheinfo?.preferred, b.cacheinfo?.valid]).toEqual([
      6,
      'fd00::12',
      2,
      0,
      0xffffffff,
    ]);
    const d = decodeAddr(
      one(enc(delAddr({ family: 4, ifindex: 7, address: '192.0.2.10', prefixlen: 24 }), 8)),
    );
    expect([d.deleted, d.address, d.peer]).toEqual([true, '192.0.2.10', undefined]);
    expect(one(enc(delAddr({ family: 4, ifindex: 7, address: '192.0.2.10', prefixlen: 24 }), 8)).type).toBe(
      RTM_DELADDR,
    );
  });

  it('decodes a link message: name, index, flags, mtu, mac, kind, parent', () => {
    const req = newMacvlan({ name: 'vrrp.55', parentIndex: 2, mac: '00:00:5e:00:01:37' });
    const msg = one(
      encodeMsg({
        type: RTM_NEWLINK,
        flags: 0,
        seq: 0,
        header: ifinfomsg({ type: 1, index: 3, flags: IFF_UP | 0x1000 }),
        attrs: [...req.attrs, { type: 4, value: hex('dc 05 00 00') }],
      }),
    );
    expect(decodeLink(msg)).toEqual({
      deleted: false,
      ifindex: 3,
      name: 'vrrp.55',
      flags: IFF_UP | 0x1000,
      linkType: 1,
      mtu: 1500,
      mac: '00:00:5e:00:01:37',
      kind: 'macvlan',
      parentIndex: 2,
      master: undefined,
      operstate: undefined,
    });
    expect(decodeRtnl(msg)?.kind).toBe('link');
    expect(decodeRtnl({ ...msg, type: 24 })).toBeUndefined();
  });

  it('fuzz: decoders throw only typed errors on arbitrary payloads', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16, 17, 20, 21),
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        (type, raw, plausible) => {
          const payload = Buffer.from(raw);
          // Half the cases: a well-formed fixed header with a real family, so attributes get parsed.
          if (plausible && payload.length >= 8) payload[0] = type >= 20 ? (raw[1]! & 1 ? 2 : 10) : 0;
          try {
            decodeRtnl({ type, flags: 0, seq: 0, pid: 0, payload });
          } catch (e) {
            if (!isKaError(e)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
