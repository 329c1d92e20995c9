/**
 * The lab's pcap parser and frame decoder over frames captured from keepalived 2.2.7 (the reference's
 * vectors §3.2, 3.4, 3.5, 3.7, 3.9), wrapped in pcap files of both byte orders and stamp resolutions.
 * Needs no privilege; it lives with the lab's other tests.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame, failoverGapMs, garps, parsePcap } from '../../lab/observe.js';
import { hex } from '../../support/hex.js';

const v2pass = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 28 00 01 00 00 ff 70 d0 5a 0a 37 00 01 e0 00
0020  00 12 21 33 96 01 01 01 cf e2 0a 37 00 64 73 65
0030  63 72 65 74 31 00`);
const v3ipv4 = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 20 00 01 00 00 ff 70 d0 62 0a 37 00 01 e0 00
0020  00 12 31 35 96 01 00 64 42 f9 0a 37 00 6e`);
const v3ipv6 = hex(`
0000  33 33 00 00 00 12 02 00 00 00 55 01 86 dd 6c 04
0010  ba 7a 00 28 70 ff fe 80 00 00 00 00 00 00 00 00
0020  00 ff fe 00 55 01 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 12 31 36 96 02 00 64 e9 b4 fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 54 fd 55
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 54`);
const garp = hex(`
0000  ff ff ff ff ff ff 02 00 00 00 55 01 08 06 00 01
0010  08 00 06 04 00 01 02 00 00 00 55 01 0a 37 00 64
0020  ff ff ff ff ff ff 0a 37 00 64`);
const na = hex(`
0000  33 33 00 00 00 01 02 00 00 00 55 01 86 dd 60 00
0010  00 00 00 20 3a ff fd 55 00 00 00 00 00 00 00 00
0020  00 00 00 00 00 54 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 01 88 00 04 4b 20 00 00 00 fd 55
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 54 02 01
0050  02 00 00 00 55 01`);

/** A pcap file: `le` picks the byte order, `nano` the stamp resolution. */
function pcap(frames: { tsUs: number; data: Buffer }[], le: boolean, nano: boolean): Buffer {
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return b;
  };
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const parts: Buffer[] = [
    u32(nano ? 0xa1b23c4d : 0xa1b2c3d4),
    u16(2),
    u16(4),
    u32(0),
    u32(0),
    u32(262144),
    u32(1),
  ];
  for (const f of frames) {
    const sec = Math.floor(f.tsUs / 1e6);
    const frac = f.tsUs % 1e6;
    parts.push(u32(sec), u32(nano ? frac * 1000 : frac), u32(f.data.length), u32(f.data.length), f.data);
  }
  return Buffer.concat(parts);
}

describe('lab capture decoding', () => {
  const t = 1_763_000_000_000_000;
  const records = [v2pass, v3ipv4, v3ipv6, garp, na].map((data, i) => ({ tsUs: t + i * 1_000_123, data }));

  for (const [le, nano] of [
    [true, false],
    [false, false],
    [true, true],
    [false, true],
  ] as const) {
    it(`parses pcap (${le ? 'little' : 'big'}-endian, ${nano ? 'ns' : 'µs'}) and ignores a truncated tail`, () => {
      const file = pcap(records, le, nano);
      const parsed = parsePcap(Buffer.concat([file, Buffer.from([1, 2, 3, 4, 5, 6, 7])]));
      expect(parsed.map((r) => r.tsUs)).toEqual(records.map((r) => r.tsUs));
      expect(parsed.map((r) => r.data.toString('hex'))).toEqual(records.map((r) => r.data.toString('hex')));
    });
  }

  it('rejects a file that is not pcap', () => {
    expect(() => parsePcap(Buffer.alloc(24, 7))).toThrow(/not a pcap/);
  });

  it('decodes VRRPv2, VRRPv3 over IPv4 and IPv6, GARP and unsolicited NA', () => {
    const [a, b, c, d, e] = records.map((r) => decodeFrame(r.tsUs, r.data));
    expect(a).toMatchObject({ kind: 'vrrp', srcIp: '10.55.0.1', srcMac: '02:00:00:00:55:01' });
    expect(a?.vrrp).toEqual({ version: 2, vrid: 51, priority: 150, count: 1, interval: 1, ah: false });
    expect(b?.vrrp).toEqual({ version: 3, vrid: 53, priority: 150, count: 1, interval: 100, ah: false });
    expect(c).toMatchObject({ kind: 'vrrp', srcIp: 'fe80::ff:fe00:5501', dstMac: '33:33:00:00:00:12' });
    expect(c?.vrrp).toMatchObject({ version: 3, vrid: 54, count: 2 });
    expect(d).toMatchObject({
      kind: 'arp',
      arp: { op: 1, senderIp: '10.55.0.100', targetIp: '10.55.0.100' },
    });
    expect(e).toMatchObject({ kind: 'na', srcIp: 'fd55::54', na: { target: 'fd55::54' } });
    expect(garps([a!, b!, c!, d!, e!], '10.55.0.100')).toEqual([d]);
  });

  it('measures a failover gap between two sources of one VRID', () => {
    const at = (ms: number, src: number, prio: number) => {
      const f = Buffer.from(v2pass);
      f[29] = src; // last byte of the IPv4 source
      f[36] = prio;
      return decodeFrame(t + ms * 1000, f);
    };
    const frames = [at(0, 1, 150), at(1000, 1, 150), at(4609, 2, 100), at(5609, 2, 100)];
    expect(failoverGapMs(frames, 51, '10.55.0.1', '10.55.0.2')).toBe(3609);
    expect(failoverGapMs(frames, 52, '10.55.0.1', '10.55.0.2')).toBeUndefined();
  });
});
