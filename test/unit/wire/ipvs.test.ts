import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  AF_INET,
  AF_INET6,
  canonicalAddr,
  decodeConfigMsg,
  decodeDaemonMsg,
  decodeDestMsg,
  decodeInfoMsg,
  decodeServiceMsg,
  encodeIpvsMsg,
  Fwd,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IpvsCmd,
  type IpvsDest,
  type IpvsService,
  ipvsRequest,
  SvcFlag,
  TunFlag,
  TunType,
} from '../../../src/wire/ipvs.js';
import { decodeMsgs, encodeMsg, genlHeader, NLM_F_MULTI, type NlMsg } from '../../../src/wire/netlink.js';
import { hex } from '../../support/hex.js';

// Golden vectors: shared/reference/wire-and-kernel.md §5.4, captured from a Debian 6.1 kernel under QEMU
// (family id 0x20). Where the reference elides bytes ("....") the message is rebuilt from the captured
// prefix plus the layout stated there (all-zero statistics), and only the captured bytes are asserted.
const FAMILY = 0x20;

const rr80: IpvsService = {
  af: AF_INET,
  fwmark: 0,
  protocol: IPPROTO_TCP,
  addr: '10.0.0.1',
  port: 80,
  sched: 'rr',
  flags: 0,
  timeout: 0,
  netmask: 0xffffffff,
};

const one = (buf: Buffer): NlMsg => {
  const msgs = decodeMsgs(buf);
  expect(msgs).toHaveLength(1);
  return msgs[0] as NlMsg;
};

describe('IPVS encoders (golden vectors)', () => {
  it('GET_INFO request is byte-exact', () => {
    expect(encodeIpvsMsg(FAMILY, 0x66, ipvsRequest.getInfo())).toEqual(
      hex('14 00 00 00 20 00 01 00 66 00 00 00 00 00 00 00 0f 01 00 00'),
    );
  });

  it('NEW_SERVICE tcp 10.0.0.1:80 rr is byte-exact (104 bytes)', () => {
    const want = hex(`
0000  68 00 00 00 20 00 05 00 67 00 00 00 00 00 00 00
0010  01 01 00 00 54 00 01 00 06 00 01 00 02 00 00 00
0020  06 00 02 00 06 00 00 00 14 00 03 00 0a 00 00 01
0030  00 00 00 00 00 00 00 00 00 00 00 00 06 00 04 00
0040  00 50 00 00 07 00 06 00 72 72 00 00 0c 00 07 00
0050  00 00 00 00 ff ff ff ff 08 00 08 00 00 00 00 00
0060  08 00 09 00 ff ff ff ff`);
    expect(want).toHaveLength(104);
    expect(encodeIpvsMsg(FAMILY, 0x67, ipvsRequest.newService(rr80))).toEqual(want);
  });

  it('NEW_DEST 10.0.0.2:80 DR weight 3 matches the captured 140 bytes', () => {
    const dest: IpvsDest = {
      af: AF_INET,
      addr: '10.0.0.2',
      port: 80,
      fwd: Fwd.DROUTE,
      weight: 3,
      uThresh: 0,
      lThresh: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    };
    const buf = encodeIpvsMsg(FAMILY, 0x68, ipvsRequest.newDest(rr80, dest));
    expect(buf).toHaveLength(140);
    // Header + SERVICE id nest (AF, PROTOCOL, ADDR, PORT): same bytes as NEW_SERVICE's id part.
    expect(buf.subarray(0, 0x10)).toEqual(hex('8c 00 00 00 20 00 05 00 68 00 00 00 00 00 00 00'));
    expect(buf.subarray(0x10, 0x18)).toEqual(hex('05 01 00 00 30 00 01 00'));
    const captured = hex(`
0040  00 50 00 00 48 00 02 00 06 00 0b 00 02 00 00 00
0050  14 00 01 00 0a 00 00 02 00 00 00 00 00 00 00 00
0060  00 00 00 00 06 00 02 00 00 50 00 00 08 00 03 00
0070  03 00 00 00 08 00 04 00 03 00 00 00 08 00 05 00
0080  00 00 00 00 08 00 06 00 00 00 00 00`);
    expect(buf.subarray(0x40)).toEqual(captured);
  });

  it('a GUE tunnel dest carries TUN_TYPE u8, TUN_PORT be16, TUN_FLAGS u16', () => {
    const dest: IpvsDest = {
      af: AF_INET,
      addr: '10.0.0.3',
      port: 80,
      fwd: Fwd.TUNNEL,
      weight: 1,
      uThresh: 0,
      lThresh: 0,
      tunType: TunType.GUE,
      tunPort: 6080,
      tunFlags: TunFlag.CSUM,
    };
    const buf = encodeIpvsMsg(FAMILY, 1, ipvsRequest.newDest(rr80, dest));
    const tun = hex('05 00 0d 00 01 00 00 00 06 00 0e 00 17 c0 00 00 06 00 0f 00 01 00 00 00');
    expect(buf.indexOf(tun)).toBeGreaterThan(0);
  });

  it('IPv6 sh service: flags 0x18 and NETMASK as host-order prefix length 128', () => {
    const svc: IpvsService = {
      af: AF_INET6,
      fwmark: 0,
      protocol: IPPROTO_UDP,
      addr: '2001:db8::1',
      port: 53,
      sched: 'sh',
      flags: SvcFlag.SCHED1 | SvcFlag.SCHED2,
      timeout: 0,
      netmask: 128,
    };
    const buf = encodeIpvsMsg(FAMILY, 1, ipvsRequest.newService(svc));
    expect(buf.indexOf(hex('08 00 09 00 80 00 00 00'))).toBeGreaterThan(0);
    expect(buf.indexOf(hex('0c 00 07 00 18 00 00 00 ff ff ff ff'))).toBeGreaterThan(0);
    expect(buf.indexOf(hex('06 00 04 00 00 35 00 00'))).toBeGreaterThan(0); // PORT be16 53
    expect(buf.indexOf(hex('14 00 03 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01'))).toBeGreaterThan(
      0,
    );
    const back = decodeServiceMsg({
      ...one(buf),
      payload: rewriteCmd(one(buf).payload, IpvsCmd.NEW_SERVICE),
    });
    expect(back).toMatchObject({ ...svc, pe: undefined, stats: undefined });
  });

  it('rejects out-of-range values with a typed error', () => {
    expect(() => ipvsRequest.newService({ ...rr80, port: 70000 })).toThrow(/65535/);
    expect(() => ipvsRequest.newService({ ...rr80, addr: '2001:db8::1' })).toThrow(/IPv4/);
    expect(() => ipvsRequest.newService({ ...rr80, sched: 'a-very-long-scheduler' })).toThrow(/15 bytes/);
    expect(() => ipvsRequest.newService({ ...rr80, af: AF_INET6, addr: '::1', netmask: 0xffffffff })).toThrow(
      /1\.\.128/,
    );
  });
});

function rewriteCmd(payload: Buffer, cmd: number): Buffer {
  const p = Buffer.from(payload);
  p.writeUInt8(cmd, 0);
  return p;
}

describe('IPVS decoders (golden vectors)', () => {
  it('GET_INFO reply: version 1.2.1, table size 4096', () => {
    const reply = hex(
      '24 00 00 00 20 00 00 00 66 00 00 00 8f 00 00 00 0e 01 00 00 08 00 01 00 01 02 01 00 08 00 02 00 00 10 00 00',
    );
    expect(decodeInfoMsg(one(reply))).toEqual({ version: 0x00010201, connTabSize: 4096 });
  });

  it('GET_CONFIG reply: 900/120/300', () => {
    const msg = encodeMsg({
      type: FAMILY,
      flags: 0,
      seq: 1,
      header: genlHeader(IpvsCmd.SET_CONFIG, 1),
      attrs: [],
    });
    const body = hex('08 00 04 00 84 03 00 00 08 00 05 00 78 00 00 00 08 00 06 00 2c 01 00 00');
    const full = Buffer.concat([msg, body]);
    full.writeUInt32LE(full.length, 0);
    expect(decodeConfigMsg(one(full))).toEqual({ tcp: 900, tcpFin: 120, udp: 300 });
  });

  it('GET_SERVICE dump part with STATS and STATS64 (320 bytes)', () => {
    const prefix = hex(`
0000  40 01 00 00 20 00 02 00 71 00 00 00 8f 00 00 00
0010  01 01 00 00 2c 01 01 00 06 00 01 00 02 00 00 00
0020  06 00 02 00 06 00 00 00 14 00 03 00 0a 00 00 01
0030  00 00 00 00 00 00 00 00 00 00 00 00 06 00 04 00
0040  00 50 00 00 07 00 06 00 72 72 00 00 0c 00 07 00
0050  02 00 00 00 ff ff ff ff 08 00 08 00 00 00 00 00
0060  08 00 09 00 ff ff ff ff 5c 00 0a 00 08 00 01 00
0070  00 00 00 00 08 00 02 00 00 00 00 00 08 00 03 00
0080  00 00 00 00 0c 00 04 00 00 00 00 00 00 00 00 00
0090  0c 00 05 00 00 00 00 00 00 00 00 00 08 00 06 00`);
    // Elided part: CPS value, INPPS..OUTBPS (u32 zero), then STATS64 nest 0x7c with 10 x u64 zero.
    const parts: Buffer[] = [prefix, Buffer.alloc(4)];
    for (const t of [7, 8, 9, 10]) parts.push(hex(`08 00 ${t.toString(16).padStart(2, '0')} 00 00 00 00 00`));
    parts.push(hex('7c 00 0c 00'));
    for (let t = 1; t <= 10; t++)
      parts.push(hex(`0c 00 ${t.toString(16).padStart(2, '0')} 00`), Buffer.alloc(8));
    const buf = Buffer.concat(parts);
    expect(buf).toHaveLength(0x140);
    expect(buf.subarray(0xc4, 0xc8)).toEqual(hex('7c 00 0c 00'));
    const done = hex('14 00 00 00 03 00 02 00 71 00 00 00 8f 00 00 00 00 00 00 00');
    const msgs = decodeMsgs(Buffer.concat([buf, done]));
    expect(msgs).toHaveLength(2);
    expect((msgs[0] as NlMsg).flags & NLM_F_MULTI).toBe(NLM_F_MULTI);
    const svc = decodeServiceMsg(msgs[0] as NlMsg);
    expect(svc).toMatchObject({ ...rr80, pe: undefined });
    expect(svc.flags).toBe(0); // HASHED stripped
    expect(svc.stats?.conns).toBe(0n);
    expect(svc.stats?.outbps).toBe(0n);
  });

  it('GET_DEST dump part in the kernel attribute order, incl. tunnel and counters', () => {
    const attrs = hex(`
14 00 01 00 0a 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00
06 00 02 00 00 50 00 00  08 00 03 00 02 00 00 00  08 00 04 00 05 00 00 00
05 00 0d 00 01 00 00 00  06 00 0e 00 17 c0 00 00  06 00 0f 00 02 00 00 00
08 00 05 00 64 00 00 00  08 00 06 00 0a 00 00 00
08 00 07 00 07 00 00 00  08 00 08 00 08 00 00 00  08 00 09 00 09 00 00 00
06 00 0b 00 02 00 00 00`);
    const dest = Buffer.concat([hex(`${(attrs.length + 4).toString(16)} 00 02 00`), attrs]);
    const msg = encodeMsg({
      type: FAMILY,
      flags: NLM_F_MULTI,
      seq: 9,
      header: genlHeader(IpvsCmd.NEW_DEST, 1),
    });
    const full = Buffer.concat([msg, dest]);
    full.writeUInt32LE(full.length, 0);
    expect(decodeDestMsg(one(full), AF_INET)).toEqual({
      af: AF_INET,
      addr: '10.0.0.2',
      port: 80,
      fwd: Fwd.TUNNEL,
      weight: 5,
      uThresh: 100,
      lThresh: 10,
      tunType: TunType.GUE,
      tunPort: 6080,
      tunFlags: TunFlag.REMCSUM,
      activeConns: 7,
      inactConns: 8,
      persistConns: 9,
      stats: undefined,
    });
  });
});

/** Feeds the encoder's output back through the decoders (kernel replies reuse the request layout). */
describe('IPVS codec round trips', () => {
  const svcArb = fc.oneof(
    fc.record({
      af: fc.constant(AF_INET as 2),
      fwmark: fc.constant(0),
      protocol: fc.constantFrom(6, 17, 132),
      addr: fc.ipV4(),
      port: fc.integer({ min: 0, max: 65535 }),
      sched: fc.constantFrom('rr', 'wrr', 'sh', 'mh', 'wlc'),
      flags: fc.integer({ min: 0, max: 0x3d }).map((f) => f & ~SvcFlag.HASHED),
      timeout: fc.nat(),
      netmask: fc.integer({ min: 0, max: 32 }).map((n) => (n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0)),
      pe: fc.constantFrom(undefined, 'sip'),
    }),
    fc.record({
      af: fc.constant(AF_INET6 as 10),
      fwmark: fc.integer({ min: 1, max: 0xffffffff }),
      protocol: fc.constant(0),
      addr: fc.constant('::'),
      port: fc.constant(0),
      sched: fc.constantFrom('rr', 'lblcr', 'sed'),
      flags: fc.constantFrom(0, 1, 5),
      timeout: fc.nat(),
      netmask: fc.integer({ min: 1, max: 128 }),
      pe: fc.constant(undefined),
    }),
  );

  it('service: encode then decode gives the same service', () => {
    fc.assert(
      fc.property(svcArb, (s) => {
        const buf = encodeIpvsMsg(FAMILY, 1, ipvsRequest.newService(s));
        const back = decodeServiceMsg(one(buf));
        expect(back).toEqual({ ...s, stats: undefined });
      }),
    );
  });

  it('dest: encode then decode gives the same dest', () => {
    const destArb = fc.record({
      af: fc.constantFrom(AF_INET as 2, AF_INET6 as 10),
      port: fc.integer({ min: 0, max: 65535 }),
      fwd: fc.constantFrom(0, 2, 3),
      weight: fc.integer({ min: 0, max: 0x7fffffff }),
      uThresh: fc.nat(),
      lThresh: fc.nat(),
      tunType: fc.constantFrom(0, 1, 2),
      tunPort: fc.integer({ min: 0, max: 65535 }),
      tunFlags: fc.constantFrom(0, 1, 2),
      v4: fc.ipV4(),
      v6: fc.ipV6(),
    });
    fc.assert(
      fc.property(destArb, ({ v4, v6, ...d }) => {
        const addr = d.af === AF_INET ? v4 : v6;
        const dest: IpvsDest =
          d.fwd === Fwd.TUNNEL ? { ...d, addr } : { ...d, addr, tunType: 0, tunPort: 0, tunFlags: 0 };
        const buf = encodeIpvsMsg(FAMILY, 1, ipvsRequest.newDest(rr80, dest));
        const back = decodeDestMsg(one(buf), AF_INET);
        expect(back).toMatchObject({ ...dest, addr: canonicalAddr(d.af, addr) });
      }),
    );
  });

  it('daemon: encode then decode', () => {
    const d = {
      state: 1,
      mcastIfn: 'eth0',
      syncId: 7,
      mcastGroup: '224.0.0.81',
      mcastPort: 8848,
      mcastTtl: 1,
    };
    const buf = encodeIpvsMsg(FAMILY, 1, ipvsRequest.newDaemon(d));
    expect(decodeDaemonMsg(one(buf))).toEqual({ ...d, syncMaxlen: undefined });
  });
});

describe('IPVS decoders fuzz: only typed errors escape', () => {
  const decoders: Array<(m: NlMsg) => unknown> = [
    decodeServiceMsg,
    (m) => decodeDestMsg(m, AF_INET),
    (m) => decodeDestMsg(m, AF_INET6),
    decodeDaemonMsg,
    decodeInfoMsg,
    decodeConfigMsg,
  ];
  const check = (bytes: Uint8Array) => {
    const payload = Buffer.from(bytes);
    for (const dec of decoders) {
      try {
        dec({ type: FAMILY, flags: 0, seq: 0, pid: 0, payload });
      } catch (e) {
        if (!isKaError(e)) throw e;
      }
    }
  };

  it('random payloads', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 });
  });

  it('mutated valid messages', () => {
    const seeds = [
      one(encodeIpvsMsg(FAMILY, 1, ipvsRequest.newService(rr80))).payload,
      one(
        encodeIpvsMsg(
          FAMILY,
          1,
          ipvsRequest.newDest(rr80, {
            af: AF_INET,
            addr: '10.0.0.9',
            port: 80,
            fwd: 2,
            weight: 1,
            uThresh: 0,
            lThresh: 0,
            tunType: 1,
            tunPort: 1,
            tunFlags: 1,
          }),
        ),
      ).payload,
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (seed, edits, cut) => {
          const b = Buffer.from(seed);
          for (const [i, v] of edits) b[i % b.length] = v;
          check(b.subarray(0, b.length - (cut % (b.length + 1))));
          // Also with the genl cmd set to every reply cmd, so each decoder walks its attributes.
          for (const cmd of [1, 5, 9, 12, 14]) check(rewriteCmd(b, cmd));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
