import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KaError } from '../../../src/core/errors.js';
import { decodeMsgs, NLMSG_DONE, NLMSG_ERROR } from '../../../src/wire/netlink.js';
import {
  CN_IDX_PROC,
  CN_MSG_LEN,
  CN_VAL_PROC,
  decodeCnMsg,
  decodeProcConnectorMsg,
  decodeProcEvent,
  encodeCnMsg,
  encodeMcastOp,
  encodeProcEvent,
  PROC_CN_MCAST_IGNORE,
  PROC_CN_MCAST_LISTEN,
  type ProcEvent,
} from '../../../src/wire/proc-connector.js';

/**
 * Captured on Linux 6.18 (x86_64): a NETLINK_CONNECTOR socket joined to group CN_IDX_PROC sent
 * LISTEN (cn seq 7, ack 5); then node (pid 0x2b67) ran `sh -c 'printf renamed > /proc/self/comm;
 * exec ./trkcap 0.05'` (trkcap a copy of sleep). One datagram per line, in arrival order.
 */
const CAPTURE = {
  ack: '4c00000003000000770200000000000001000000010000007702000006000000280000000000000001000000e537dfe3de120000000000000000000000000000000000000000000000000000',
  fork: '4c00000003000000780200000000000001000000010000007802000000000000280000000100000001000000fe5720e8de120000672b0000672b0000782b0000782b00000000000000000000',
  execSh:
    '4c00000003000000790200000000000001000000010000007902000000000000280000000200000001000000a7942be8de120000782b0000782b000000000000000000000000000000000000',
  comm: '4c000000030000007a0200000000000001000000010000007a02000000000000280000000002000001000000215f47e8de120000782b0000782b000072656e616d6564000000000000000000',
  execSleep:
    '4c000000030000007b0200000000000001000000010000007b020000000000002800000002000000010000006b114be8de120000782b0000782b000000000000000000000000000000000000',
  exit: '4c000000030000007c0200000000000001000000010000007c020000000000002800000000000080010000006873e8ebde120000782b0000782b00000000000011000000672b0000672b0000',
};

const decodeCaptured = (h: string) => {
  const [m] = decodeMsgs(Buffer.from(h, 'hex'));
  if (!m) throw new Error('no message');
  const r = decodeProcConnectorMsg(m);
  if (!r) throw new Error('not a proc event');
  return r;
};

describe('proc connector codec: captured kernel messages', () => {
  it('decodes the LISTEN ack (what NONE, err 0, ack = sent ack + 1)', () => {
    const { cn, event } = decodeCaptured(CAPTURE.ack);
    expect(cn).toMatchObject({ idx: CN_IDX_PROC, val: CN_VAL_PROC, ack: 6, flags: 0 });
    expect(cn.data.length).toBe(40);
    expect(event).toMatchObject({ what: 'ack', err: 0, cpu: 1 });
  });

  it('decodes fork, exec, comm, exec, exit of one process', () => {
    const seq = [CAPTURE.fork, CAPTURE.execSh, CAPTURE.comm, CAPTURE.execSleep, CAPTURE.exit].map(
      (h) => decodeCaptured(h).event,
    );
    expect(seq.map((e) => e.what)).toEqual(['fork', 'exec', 'comm', 'exec', 'exit']);
    expect(seq[0]).toMatchObject({
      parentPid: 0x2b67,
      parentTgid: 0x2b67,
      childPid: 0x2b78,
      childTgid: 0x2b78,
    });
    expect(seq[1]).toMatchObject({ pid: 0x2b78, tgid: 0x2b78 });
    expect(seq[2]).toMatchObject({ pid: 0x2b78, tgid: 0x2b78, comm: 'renamed' });
    expect(seq[4]).toMatchObject({
      pid: 0x2b78,
      tgid: 0x2b78,
      exitCode: 0,
      exitSignal: 17,
      parentPid: 0x2b67,
      parentTgid: 0x2b67,
    });
    // timestamps are nanoseconds since boot and grow along the sequence
    const ts = seq.map((e) => e.timestampNs);
    expect([...ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ts);
  });

  it('re-encodes every captured event to the same bytes (cn_msg + proc_event)', () => {
    for (const h of Object.values(CAPTURE)) {
      const [m] = decodeMsgs(Buffer.from(h, 'hex'));
      const { cn, event } = decodeCaptured(h);
      const again = encodeCnMsg({ ...cn, data: encodeProcEvent(event) });
      expect(again.toString('hex')).toBe(m?.payload.toString('hex'));
    }
  });
});

describe('proc connector codec: encoders', () => {
  it('LISTEN / IGNORE request: nlmsghdr(NLMSG_DONE) + cn_msg(idx 1, val 1, len 4) + op', () => {
    const b = encodeMcastOp(PROC_CN_MCAST_LISTEN, { seq: 7, ack: 5 });
    expect(b.toString('hex')).toBe(
      `28000000030000000000000000000000${'01000000'}${'01000000'}${'07000000'}${'05000000'}04000000${'01000000'}`,
    );
    const [m] = decodeMsgs(encodeMcastOp(PROC_CN_MCAST_IGNORE));
    expect(m?.type).toBe(NLMSG_DONE);
    const cn = decodeCnMsg(m?.payload ?? Buffer.alloc(0));
    expect(cn.data.readUInt32LE(0)).toBe(PROC_CN_MCAST_IGNORE);
  });

  it('round-trips every event kind, also at a non-zero offset in a junk-filled buffer', () => {
    const base = { cpu: 3, timestampNs: 123456789012345n };
    const events: ProcEvent[] = [
      { ...base, what: 'ack', err: 111 },
      { ...base, what: 'fork', parentPid: 1, parentTgid: 1, childPid: 4000, childTgid: 4000 },
      { ...base, what: 'exec', pid: 4000, tgid: 4000 },
      { ...base, what: 'comm', pid: 4000, tgid: 4000, comm: 'fifteen-chars-x' },
      {
        ...base,
        what: 'exit',
        pid: 4000,
        tgid: 4000,
        exitCode: 9,
        exitSignal: 17,
        parentPid: 1,
        parentTgid: 1,
      },
      { ...base, what: 'other', code: 0x4, data: Buffer.alloc(24, 0) },
    ];
    for (const ev of events) {
      const body = encodeProcEvent(ev);
      const junk = Buffer.alloc(body.length + 9, 0xa5);
      body.copy(junk, 5);
      expect(decodeProcEvent(junk.subarray(5, 5 + body.length))).toEqual(ev);
    }
  });

  it('accepts the pre-4.18 16-byte exit payload (no parent fields)', () => {
    const full = encodeProcEvent({
      cpu: 0,
      timestampNs: 1n,
      what: 'exit',
      pid: 5,
      tgid: 5,
      exitCode: 256,
      exitSignal: 17,
    });
    const ev = decodeProcEvent(full.subarray(0, 32));
    expect(ev).toEqual({
      cpu: 0,
      timestampNs: 1n,
      what: 'exit',
      pid: 5,
      tgid: 5,
      exitCode: 256,
      exitSignal: 17,
    });
  });
});

describe('proc connector codec: bad input', () => {
  const typed = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(KaError);
      expect((e as KaError).code).toBe('KA_ERR_NL_BAD_MSG');
      return;
    }
    throw new Error('expected a typed error');
  };

  it('short cn_msg, cn len past the payload, short proc_event and short payloads are typed errors', () => {
    typed(() => decodeCnMsg(Buffer.alloc(CN_MSG_LEN - 1)));
    const lying = encodeCnMsg({ idx: 1, val: 1, seq: 0, ack: 0, flags: 0, data: Buffer.alloc(8) });
    lying.writeUInt16LE(9, 16);
    typed(() => decodeCnMsg(lying));
    typed(() => decodeProcEvent(Buffer.alloc(15)));
    const exec = encodeProcEvent({ cpu: 0, timestampNs: 0n, what: 'exec', pid: 1, tgid: 1 });
    typed(() => decodeProcEvent(exec.subarray(0, 16 + 7)));
    const comm = encodeProcEvent({ cpu: 0, timestampNs: 0n, what: 'comm', pid: 1, tgid: 1, comm: 'x' });
    typed(() => decodeProcEvent(comm.subarray(0, 16 + 23)));
  });

  it('other connector indexes and non-DONE messages are not proc events (null)', () => {
    const payload = encodeCnMsg({ idx: 0xa, val: 1, seq: 0, ack: 0, flags: 0, data: Buffer.alloc(4) });
    expect(decodeProcConnectorMsg({ type: NLMSG_DONE, flags: 0, seq: 0, pid: 0, payload })).toBeNull();
    expect(
      decodeProcConnectorMsg({ type: NLMSG_ERROR, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(20) }),
    ).toBeNull();
  });

  it('fuzz: any payload decodes or fails with KA_ERR_NL_BAD_MSG only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, asProc) => {
        const payload = Buffer.from(bytes);
        if (asProc && payload.length >= 8) {
          payload.writeUInt32LE(CN_IDX_PROC, 0);
          payload.writeUInt32LE(CN_VAL_PROC, 4);
        }
        try {
          decodeProcConnectorMsg({ type: NLMSG_DONE, flags: 0, seq: 0, pid: 0, payload });
        } catch (e) {
          if (!(e instanceof KaError) || e.code !== 'KA_ERR_NL_BAD_MSG') throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
