import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  BFD_STATE,
  type BfdPacket,
  bfdLength,
  decodeBfd,
  encodeBfd,
  encodeBfdInto,
} from '../../../src/wire/bfd.js';

/*
 * Golden vectors: UDP payloads sent by Debian's keepalived 2.2.7 (BFD built in). Captured with two
 * network namespaces joined by a veth pair (192.0.2.1/24 + fd00::1/64 on side A, 192.0.2.2/24 +
 * fd00::2/64 on side B), keepalived in each with `bfd_instance` B1 (IPv4, min_rx/min_tx 200,
 * multiplier 3) and B6 (IPv6, min_rx/min_tx 300, default multiplier 5) pointing at the other side,
 * `tcpdump -i vA -w cap.pcap udp` on side A; B was started 2 s after A and stopped 10 s later. The
 * payloads were cut from the pcap after the UDP header. IPv4 packets had TTL 255, IPv6 hop limit 64
 * (keepalived's defaults for `ttl` / `hoplimit`), destination port 3784, source ports 52316 / 53559.
 */
const V = {
  // A, IPv4, Down, Your Discr 0, Desired Min TX 1 s (idle_tx), Required Min RX 200 ms, mult 3.
  v4Down: '2040031848a7f86c00000000000f424000030d4000000000',
  // A, IPv4, Init after B's Down.
  v4Init: '2080031848a7f86c809127f2000f424000030d4000000000',
  // B, IPv4, Up + Poll carrying the configured 200 ms min_tx (idle 1 s until then).
  v4UpPoll: '20e00318809127f248a7f86c00030d4000030d4000000000',
  // A, IPv4, Up + Final in answer.
  v4UpFinal: '20d0031848a7f86c809127f200030d4000030d4000000000',
  // A, IPv4, steady Up.
  v4Up: '20c0031848a7f86c809127f200030d4000030d4000000000',
  // A, IPv4, Down with diag 1 (Control Detection Time Expired) after B stopped, new My Discriminator.
  v4DownExpired: '21400318b5cb1f9500000000000f424000030d4000000000',
  // A, IPv6, Down, mult 5, Required Min RX 300 ms.
  v6Down: '20400518095c13ca00000000000f4240000493e000000000',
  // B, IPv6, Up + Poll.
  v6UpPoll: '20e00518dd0109f4095c13ca000493e0000493e000000000',
} as const;
const buf = (h: string) => Buffer.from(h, 'hex');

const base: BfdPacket = {
  diag: 0,
  state: BFD_STATE.Up,
  poll: false,
  final: false,
  controlPlaneIndependent: false,
  demand: false,
  multipoint: false,
  detectMult: 3,
  myDiscriminator: 0x48a7f86c,
  yourDiscriminator: 0x809127f2,
  desiredMinTx: 200_000,
  requiredMinRx: 200_000,
  requiredMinEchoRx: 0,
  auth: undefined,
};

describe('BFD golden vectors (keepalived 2.2.7 capture)', () => {
  it('decodes the IPv4 three-way handshake and Poll/Final, and re-encodes each byte for byte', () => {
    const down = decodeBfd(buf(V.v4Down));
    expect(down).toEqual({
      ...base,
      state: BFD_STATE.Down,
      yourDiscriminator: 0,
      desiredMinTx: 1_000_000,
    });
    expect(decodeBfd(buf(V.v4Init))).toEqual({ ...base, state: BFD_STATE.Init, desiredMinTx: 1_000_000 });
    expect(decodeBfd(buf(V.v4UpPoll))).toEqual({
      ...base,
      poll: true,
      myDiscriminator: 0x809127f2,
      yourDiscriminator: 0x48a7f86c,
    });
    expect(decodeBfd(buf(V.v4UpFinal))).toEqual({ ...base, final: true });
    expect(decodeBfd(buf(V.v4Up))).toEqual(base);
    for (const h of Object.values(V)) expect(encodeBfd(decodeBfd(buf(h))).toString('hex')).toBe(h);
  });

  it('decodes the Down with diag "Control Detection Time Expired" and the IPv6 session', () => {
    expect(decodeBfd(buf(V.v4DownExpired))).toMatchObject({
      diag: 1,
      state: BFD_STATE.Down,
      myDiscriminator: 0xb5cb1f95,
      yourDiscriminator: 0,
    });
    expect(decodeBfd(buf(V.v6Down))).toMatchObject({
      state: BFD_STATE.Down,
      detectMult: 5,
      desiredMinTx: 1_000_000,
      requiredMinRx: 300_000,
    });
    expect(decodeBfd(buf(V.v4DownExpired)).desiredMinTx).toBe(1_000_000);
    expect(decodeBfd(buf(V.v6UpPoll))).toMatchObject({
      state: BFD_STATE.Up,
      poll: true,
      desiredMinTx: 300_000,
    });
  });

  it('keepalived sends no authentication section (A bit clear, Length 24 in every captured packet)', () => {
    for (const h of Object.values(V)) {
      const b = buf(h);
      expect(b[1]! & 0x04).toBe(0);
      expect(b[3]).toBe(24);
      expect(decodeBfd(b).auth).toBeUndefined();
    }
  });
});

describe('BFD codec', () => {
  const arbPacket = fc.record({
    diag: fc.nat(8),
    state: fc.constantFrom(BFD_STATE.Down, BFD_STATE.AdminDown, BFD_STATE.Init, BFD_STATE.Up),
    pf: fc.constantFrom('none', 'poll', 'final'),
    controlPlaneIndependent: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    yourDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    desiredMinTx: fc.nat(0xffffffff),
    requiredMinRx: fc.nat(0xffffffff),
    requiredMinEchoRx: fc.nat(0xffffffff),
    auth: fc.option(fc.record({ type: fc.nat(255), data: fc.uint8Array({ maxLength: 28 }) }), {
      nil: undefined,
    }),
  });
  type Arb = typeof arbPacket extends fc.Arbitrary<infer X> ? X : never;
  const toPacket = ({ pf, auth, ...rest }: Arb): BfdPacket => ({
    ...rest,
    poll: pf === 'poll',
    final: pf === 'final',
    multipoint: false,
    auth: auth ? { type: auth.type, data: Buffer.from(auth.data) } : undefined,
  });

  it('round-trips at a non-zero offset in a junk-filled buffer, writing exactly bfdLength bytes', () => {
    fc.assert(
      fc.property(arbPacket, fc.nat(16), (r, off) => {
        const p = toPacket(r);
        const len = bfdLength(p);
        const b = Buffer.alloc(off + len, 0xa5);
        expect(encodeBfdInto(p, b, off)).toBe(len);
        expect(b.subarray(0, off).every((x) => x === 0xa5)).toBe(true);
        expect(decodeBfd(b, off)).toEqual(p);
      }),
    );
  });

  it('rejects each §6.8.6 violation with its code', () => {
    const code = (h: Buffer) => {
      try {
        decodeBfd(h);
        return 'none';
      } catch (e) {
        return isKaError(e) ? e.code : 'untyped';
      }
    };
    const good = buf(V.v4Up);
    const patch = (i: number, v: number) => {
      const b = Buffer.from(good);
      b[i] = v;
      return b;
    };
    expect(code(good.subarray(0, 23))).toBe('KA_ERR_BFD_TRUNCATED');
    expect(code(patch(3, 20))).toBe('KA_ERR_BFD_BAD_LENGTH');
    expect(code(patch(3, 28))).toBe('KA_ERR_BFD_TRUNCATED');
    expect(code(Buffer.concat([good, Buffer.alloc(4)]))).toBe('KA_ERR_BFD_BAD_LENGTH');
    expect(code(patch(0, 0x40))).toBe('KA_ERR_BFD_BAD_VERSION');
    expect(code(patch(2, 0))).toBe('KA_ERR_BFD_BAD_FIELD');
    expect(code(patch(1, 0xc1))).toBe('KA_ERR_BFD_BAD_FIELD'); // Multipoint
    expect(code(patch(1, 0xf0))).toBe('KA_ERR_BFD_BAD_FIELD'); // Poll + Final
    const noMy = Buffer.from(good);
    noMy.writeUInt32BE(0, 4);
    expect(code(noMy)).toBe('KA_ERR_BFD_BAD_FIELD');
    const noYour = Buffer.from(good);
    noYour.writeUInt32BE(0, 8);
    expect(code(noYour)).toBe('KA_ERR_BFD_BAD_FIELD'); // Up with Your Discriminator 0
    expect(code(patch(1, 0xc4))).toBe('KA_ERR_BFD_BAD_LENGTH'); // A bit but Length 24
    // keepalived's BFD_VALID_DIAG: 9-31 are reserved and rejected; 8 is the last defined one.
    expect(code(patch(0, 0x20 | 8))).toBe('none');
    expect(code(patch(0, 0x20 | 9))).toBe('KA_ERR_BFD_BAD_FIELD');
    expect(code(patch(0, 0x20 | 31))).toBe('KA_ERR_BFD_BAD_FIELD');
    expect(() => encodeBfd({ ...base, diag: 9 })).toThrow(/out of range/);
    expect(() => encodeBfd({ ...base, detectMult: 256 })).toThrow(/out of range/);
  });

  it('lets only the typed error escape for any input (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), (u, off) => {
        const b = Buffer.from(u);
        try {
          decodeBfd(b, Math.min(off, b.length));
        } catch (e) {
          expect(isKaError(e) && String(e.code).startsWith('KA_ERR_BFD_')).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
    // Mutations of a valid packet reach the deeper checks, not only the length ones.
    fc.assert(
      fc.property(fc.nat(23), fc.nat(255), (i, v) => {
        const b = buf(V.v4Up);
        b[i] = v;
        try {
          const p = decodeBfd(b);
          expect(encodeBfd(p).toString('hex')).toBe(b.toString('hex'));
        } catch (e) {
          expect(isKaError(e) && String(e.code).startsWith('KA_ERR_BFD_')).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
