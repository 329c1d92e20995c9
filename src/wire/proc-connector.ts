/**
 * Kernel proc connector messages (pure): the `cn_msg` header that follows nlmsghdr on a
 * NETLINK_CONNECTOR socket, the PROC_CN_MCAST_LISTEN/IGNORE request and `proc_event` (fork, exec,
 * comm, exit and the listen ack). Layouts: linux/connector.h, linux/cn_proc.h. Host byte order
 * (little-endian, like the rest of the netlink framing). Netlink framing is src/wire/netlink.ts.
 *
 * cn_msg (20 bytes): idx u32, val u32, seq u32, ack u32, len u16, flags u16, then `len` data bytes.
 * proc_event: what u32 @0, cpu u32 @4, timestamp_ns u64 @8, event_data union @16 (the kernel always
 * sends the whole union, 40 bytes in all on current kernels).
 */
import { KaError } from '../core/errors.js';
import { WireErrors } from './errors.js';
import { encodeMsg, NLMSG_DONE, type NlMsg } from './netlink.js';

export const NETLINK_CONNECTOR = 11;
export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;
export const CN_MSG_LEN = 20;
export const PROC_EVENT_HDR_LEN = 16;

export const PROC_CN_MCAST_LISTEN = 1;
export const PROC_CN_MCAST_IGNORE = 2;

export const PROC_EVENT_NONE = 0;
export const PROC_EVENT_FORK = 0x1;
export const PROC_EVENT_EXEC = 0x2;
export const PROC_EVENT_UID = 0x4;
export const PROC_EVENT_GID = 0x40;
export const PROC_EVENT_SID = 0x80;
export const PROC_EVENT_PTRACE = 0x100;
export const PROC_EVENT_COMM = 0x200;
export const PROC_EVENT_COREDUMP = 0x40000000;
export const PROC_EVENT_EXIT = 0x80000000;

/** Comm length in the comm event (TASK_COMM_LEN, NUL-padded). */
export const COMM_FIELD_LEN = 16;

export interface CnMsg {
  idx: number;
  val: number;
  seq: number;
  ack: number;
  flags: number;
  /** The `len` bytes after the header. */
  data: Buffer;
}

interface EventBase {
  cpu: number;
  /** Nanoseconds since boot. */
  timestampNs: bigint;
}

/** A decoded proc_event. Kinds keepalived does not use are kept as `other` with their code. */
export type ProcEvent = EventBase &
  (
    | { what: 'ack'; err: number }
    | { what: 'fork'; parentPid: number; parentTgid: number; childPid: number; childTgid: number }
    | { what: 'exec'; pid: number; tgid: number }
    | { what: 'comm'; pid: number; tgid: number; comm: string }
    | {
        what: 'exit';
        pid: number;
        tgid: number;
        exitCode: number;
        exitSignal: number;
        /** Absent from kernels before 4.18 (16-byte exit payload). */
        parentPid?: number;
        parentTgid?: number;
      }
    | { what: 'other'; code: number; data: Buffer }
  );

function short(what: string, need: number, got: number): never {
  throw new KaError(WireErrors.KA_ERR_NL_BAD_MSG, `${what} needs ${need} bytes, got ${got}`, {
    need,
    got,
  });
}

export function encodeCnMsg(m: Omit<CnMsg, 'data'> & { data: Buffer }): Buffer {
  const buf = Buffer.alloc(CN_MSG_LEN + m.data.length);
  buf.writeUInt32LE(m.idx >>> 0, 0);
  buf.writeUInt32LE(m.val >>> 0, 4);
  buf.writeUInt32LE(m.seq >>> 0, 8);
  buf.writeUInt32LE(m.ack >>> 0, 12);
  buf.writeUInt16LE(m.data.length, 16);
  buf.writeUInt16LE(m.flags, 18);
  m.data.copy(buf, CN_MSG_LEN);
  return buf;
}

/** Decodes the cn_msg at the start of a netlink payload. Bytes after `len` (padding) are ignored. */
export function decodeCnMsg(payload: Buffer): CnMsg {
  if (payload.length < CN_MSG_LEN) short('cn_msg header', CN_MSG_LEN, payload.length);
  const len = payload.readUInt16LE(16);
  if (CN_MSG_LEN + len > payload.length) short('cn_msg data', CN_MSG_LEN + len, payload.length);
  return {
    idx: payload.readUInt32LE(0),
    val: payload.readUInt32LE(4),
    seq: payload.readUInt32LE(8),
    ack: payload.readUInt32LE(12),
    flags: payload.readUInt16LE(18),
    data: payload.subarray(CN_MSG_LEN, CN_MSG_LEN + len),
  };
}

/**
 * The whole netlink message asking the kernel to start (LISTEN) or stop (IGNORE) sending proc events
 * to this socket; nlmsg_type NLMSG_DONE as the kernel's own senders use. The 4-byte op form is
 * accepted by every kernel (6.6+ also takes an 8-byte form with an event filter).
 */
export function encodeMcastOp(
  op: typeof PROC_CN_MCAST_LISTEN | typeof PROC_CN_MCAST_IGNORE,
  o: { seq?: number; ack?: number; nlSeq?: number; pid?: number } = {},
): Buffer {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(op, 0);
  const header = encodeCnMsg({
    idx: CN_IDX_PROC,
    val: CN_VAL_PROC,
    seq: o.seq ?? 0,
    ack: o.ack ?? 0,
    flags: 0,
    data,
  });
  return encodeMsg({ type: NLMSG_DONE, flags: 0, seq: o.nlSeq ?? 0, pid: o.pid ?? 0, header });
}

/** Decodes a proc_event (the data of a CN_IDX_PROC cn_msg). */
export function decodeProcEvent(data: Buffer): ProcEvent {
  if (data.length < PROC_EVENT_HDR_LEN) short('proc_event header', PROC_EVENT_HDR_LEN, data.length);
  const code = data.readUInt32LE(0);
  const base: EventBase = { cpu: data.readUInt32LE(4), timestampNs: data.readBigUInt64LE(8) };
  const d = data.subarray(PROC_EVENT_HDR_LEN);
  const need = (n: number, what: string) => {
    if (d.length < n) short(`proc_event ${what} payload`, n, d.length);
  };
  const i32 = (off: number) => d.readInt32LE(off);
  switch (code) {
    case PROC_EVENT_NONE:
      need(4, 'ack');
      return { ...base, what: 'ack', err: d.readUInt32LE(0) };
    case PROC_EVENT_FORK:
      need(16, 'fork');
      return {
        ...base,
        what: 'fork',
        parentPid: i32(0),
        parentTgid: i32(4),
        childPid: i32(8),
        childTgid: i32(12),
      };
    case PROC_EVENT_EXEC:
      need(8, 'exec');
      return { ...base, what: 'exec', pid: i32(0), tgid: i32(4) };
    case PROC_EVENT_COMM: {
      need(8 + COMM_FIELD_LEN, 'comm');
      const raw = d.subarray(8, 8 + COMM_FIELD_LEN);
      const nul = raw.indexOf(0);
      // comm is bytes; latin1 keeps each byte as one character, like /proc/PID/stat read as latin1.
      const comm = (nul < 0 ? raw : raw.subarray(0, nul)).toString('latin1');
      return { ...base, what: 'comm', pid: i32(0), tgid: i32(4), comm };
    }
    case PROC_EVENT_EXIT: {
      need(16, 'exit');
      const ev: ProcEvent = {
        ...base,
        what: 'exit',
        pid: i32(0),
        tgid: i32(4),
        exitCode: d.readUInt32LE(8),
        exitSignal: d.readUInt32LE(12),
      };
      if (d.length >= 24) {
        ev.parentPid = i32(16);
        ev.parentTgid = i32(20);
      }
      return ev;
    }
    default:
      return { ...base, what: 'other', code, data: d };
  }
}

/** Encodes a proc_event with the kernel's full 24-byte union (for tests and the round trip). */
export function encodeProcEvent(ev: ProcEvent): Buffer {
  const buf = Buffer.alloc(PROC_EVENT_HDR_LEN + 24);
  const d = buf.subarray(PROC_EVENT_HDR_LEN);
  let code: number;
  switch (ev.what) {
    case 'ack':
      code = PROC_EVENT_NONE;
      d.writeUInt32LE(ev.err >>> 0, 0);
      break;
    case 'fork':
      code = PROC_EVENT_FORK;
      d.writeInt32LE(ev.parentPid, 0);
      d.writeInt32LE(ev.parentTgid, 4);
      d.writeInt32LE(ev.childPid, 8);
      d.writeInt32LE(ev.childTgid, 12);
      break;
    case 'exec':
      code = PROC_EVENT_EXEC;
      d.writeInt32LE(ev.pid, 0);
      d.writeInt32LE(ev.tgid, 4);
      break;
    case 'comm': {
      code = PROC_EVENT_COMM;
      d.writeInt32LE(ev.pid, 0);
      d.writeInt32LE(ev.tgid, 4);
      const c = Buffer.from(ev.comm, 'latin1');
      c.copy(d, 8, 0, Math.min(c.length, COMM_FIELD_LEN - 1));
      break;
    }
    case 'exit':
      code = PROC_EVENT_EXIT;
      d.writeInt32LE(ev.pid, 0);
      d.writeInt32LE(ev.tgid, 4);
      d.writeUInt32LE(ev.exitCode >>> 0, 8);
      d.writeUInt32LE(ev.exitSignal >>> 0, 12);
      d.writeInt32LE(ev.parentPid ?? 0, 16);
      d.writeInt32LE(ev.parentTgid ?? 0, 20);
      break;
    case 'other':
      code = ev.code;
      ev.data.copy(d, 0, 0, Math.min(ev.data.length, 24));
      break;
  }
  buf.writeUInt32LE(code >>> 0, 0);
  buf.writeUInt32LE(ev.cpu >>> 0, 4);
  buf.writeBigUInt64LE(ev.timestampNs, 8);
  return buf;
}

export interface ProcConnectorMsg {
  cn: CnMsg;
  event: ProcEvent;
}

/**
 * Decodes one netlink message received on a proc connector socket. Returns null for messages that
 * are not proc events (another connector index, NLMSG_ERROR/NOOP); throws KA_ERR_NL_BAD_MSG for a
 * truncated cn_msg or proc_event.
 */
export function decodeProcConnectorMsg(msg: NlMsg): ProcConnectorMsg | null {
  if (msg.type !== NLMSG_DONE) return null;
  const cn = decodeCnMsg(msg.payload);
  if (cn.idx !== CN_IDX_PROC || cn.val !== CN_VAL_PROC) return null;
  return { cn, event: decodeProcEvent(cn.data) };
}
