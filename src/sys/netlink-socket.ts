/**
 * Netlink transport over the addon: `request()` sends one message with a fresh sequence number and
 * resolves with the kernel's reply messages (a dump is collected until NLMSG_DONE; a change waits for
 * its ACK); kernel errors reject with SysError KA_ERR_SYS_NETLINK (errno name + ext-ack text).
 * Multicast notifications (sender sockaddr_nl with nl_groups ≠ 0) are emitted as 'event'; an ENOBUFS
 * overrun is emitted as 'resync' (state may be lost: re-dump). Facts: wire-and-kernel.md §4.1.
 * Framing is src/wire/netlink.ts; this file does no attribute encoding.
 */
import {
  decodeMsgs,
  decodeNlError,
  type EncodeMsgOptions,
  encodeMsg,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  type NlMsg,
} from '../wire/netlink.js';
import { decodeSockaddrNl, errnoName, sockaddrNl } from './abi.js';
import { SysError, SysErrors } from './errors.js';
import { addon, k, type NativeSocket, sys, toSysError } from './native.js';
import { SysSocket } from './socket-base.js';

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export interface NetlinkSocketOptions {
  /** Multicast groups to join (NETLINK_ADD_MEMBERSHIP group numbers, e.g. RTNLGRP_LINK = 1). */
  groups?: readonly number[];
  /** SO_RCVBUF in bytes (the kernel doubles it). Event sockets want a large one. */
  rcvbuf?: number;
  /** Use SO_RCVBUFFORCE (CAP_NET_ADMIN) so `rcvbuf` may exceed net.core.rmem_max, as keepalived does. */
  rcvbufForce?: boolean;
  /** NETLINK_EXT_ACK: error ACKs carry the kernel's message. Default true. */
  extAck?: boolean;
  /** NETLINK_CAP_ACK: error ACKs do not echo the request. Default true. */
  capAck?: boolean;
  /** recvmsg buffer size. Default 65536 (kernel dump parts are at most 32 KiB). */
  recvBufferSize?: number;
}

/** A request: everything `encodeMsg` takes except seq and pid, which the transport assigns. */
export type NetlinkRequest = Omit<EncodeMsgOptions, 'seq' | 'pid'>;

interface Pending {
  seq: number;
  dump: boolean;
  msgs: NlMsg[];
  resolve: (msgs: NlMsg[]) => void;
  reject: (e: Error) => void;
  type: number;
}

type NetlinkEvents = {
  /** A multicast notification. */
  event: [NlMsg];
  /** The receive queue overflowed (ENOBUFS): notifications were lost; re-dump the state you track. */
  resync: [SysError];
  /** A datagram could not be framed, or a receive error other than ENOBUFS. */
  error: [Error];
};

export class NetlinkSocket extends SysSocket<NetlinkEvents> {
  readonly protocol: number;
  /** The socket's netlink port id (nl_pid assigned by the kernel at bind). */
  readonly portId: number;
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private dumpTail: Promise<unknown> = Promise.resolve();

  private constructor(sock: NativeSocket, protocol: number, portId: number) {
    super(sock);
    this.protocol = protocol;
    this.portId = portId;
    // Random start so replies to a previous socket with a recycled port id cannot match.
    this.seq = (Math.random() * 0x7fffffff) >>> 0 || 1;
  }

  /** Opens `socket(AF_NETLINK, SOCK_RAW, protocol)`, binds (kernel-chosen port id) and joins `groups`. */
  static open(protocol: number, o: NetlinkSocketOptions = {}): NetlinkSocket {
    const n = addon();
    const ctx = { protocol };
    const sock = sys(() => new n.Socket(k('AF_NETLINK'), k('SOCK_RAW'), protocol), ctx);
    try {
      const set = (opt: string, v: number) => sys(() => sock.setsockopt(k('SOL_NETLINK'), k(opt), v), ctx);
      if (o.rcvbuf !== undefined) {
        const opt = k(o.rcvbufForce ? 'SO_RCVBUFFORCE' : 'SO_RCVBUF');
        sys(() => sock.setsockopt(k('SOL_SOCKET'), opt, o.rcvbuf!), ctx);
      }
      if (o.extAck !== false) set('NETLINK_EXT_ACK', 1);
      if (o.capAck !== false) set('NETLINK_CAP_ACK', 1);
      sys(() => sock.bind(sockaddrNl(0, 0)), ctx);
      const name = decodeSockaddrNl(sys(() => sock.getsockname(), ctx));
      const nl = new NetlinkSocket(sock, protocol, name?.pid ?? 0);
      for (const g of o.groups ?? []) nl.addMembership(g);
      sys(
        () => sock.startReceiving((err, data, from) => nl.onDatagram(err, data, from), o.recvBufferSize),
        ctx,
      );
      return nl;
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  addMembership(group: number): void {
    sys(() => this.sock.setsockopt(k('SOL_NETLINK'), k('NETLINK_ADD_MEMBERSHIP'), group), { group });
  }

  dropMembership(group: number): void {
    sys(() => this.sock.setsockopt(k('SOL_NETLINK'), k('NETLINK_DROP_MEMBERSHIP'), group), { group });
  }

  private nextSeq(): number {
    do {
      this.seq = (this.seq + 1) >>> 0;
    } while (this.seq === 0 || this.pending.has(this.seq));
    return this.seq;
  }

  /**
   * Sends `req` to the kernel. With NLM_F_DUMP in flags: resolves with every part until NLMSG_DONE.
   * Otherwise NLM_F_ACK is added and it resolves with any data messages received before the ACK
   * (e.g. a CTRL_CMD_GETFAMILY reply). Rejects with SysError KA_ERR_SYS_NETLINK on a kernel error.
   * Requests may overlap; dumps are queued behind each other because the kernel runs one dump per
   * socket at a time (a second one would fail with EBUSY).
   */
  request(req: NetlinkRequest): Promise<NlMsg[]> {
    if ((req.flags & NLM_F_DUMP) !== NLM_F_DUMP) return this.send(req, false);
    const run = this.dumpTail.then(
      () => this.send(req, true),
      () => this.send(req, true),
    );
    this.dumpTail = run.catch(() => undefined);
    return run;
  }

  private send(req: NetlinkRequest, dump: boolean): Promise<NlMsg[]> {
    if (this.closed) {
      return Promise.reject(
        new SysError(SysErrors.KA_ERR_SYS_CLOSED, 'netlink socket is closed', 'EBADF', 'sendmsg'),
      );
    }
    const seq = this.nextSeq();
    let buf: Buffer;
    try {
      buf = encodeMsg({ ...req, flags: dump ? req.flags : req.flags | NLM_F_ACK, seq, pid: 0 });
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<NlMsg[]>((resolve, reject) => {
      const p: Pending = { seq, dump, msgs: [], resolve, reject, type: req.type };
      this.pending.set(seq, p);
      try {
        this.sock.sendmsg(buf, sockaddrNl(0, 0), null, 0);
      } catch (e) {
        this.pending.delete(seq);
        reject(toSysError(e, { type: req.type }));
      }
    });
  }

  /** Sends a pre-encoded message as is (no reply tracking). */
  sendRaw(buf: Buffer): number {
    return sys(() => this.sock.sendmsg(buf, sockaddrNl(0, 0), null, 0));
  }

  private onDatagram(err: unknown, data: Buffer | undefined, from: Buffer | undefined): void {
    if (err || !data) {
      const e = toSysError(err);
      if (e instanceof SysError && e.errno === 'ENOBUFS') {
        const overrun = new SysError(
          SysErrors.KA_ERR_SYS_NETLINK_OVERRUN,
          'netlink receive queue overflowed (ENOBUFS)',
          'ENOBUFS',
          'recvmsg',
        );
        for (const p of this.takeAllPending()) p.reject(overrun);
        if (this.listenerCount('resync') > 0) this.emit('resync', overrun);
      } else if (this.listenerCount('error') > 0) {
        this.emit('error', e as Error);
      }
      return;
    }
    const sender = from ? decodeSockaddrNl(from) : undefined;
    let msgs: NlMsg[];
    try {
      msgs = decodeMsgs(data);
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e as Error);
      return;
    }
    const multicast = (sender?.groups ?? 0) !== 0;
    for (const m of msgs) {
      if (multicast || (sender && sender.pid !== 0)) {
        this.emit('event', m);
        continue;
      }
      const p = this.pending.get(m.seq);
      if (!p) {
        if (m.type !== NLMSG_NOOP) this.emit('event', m);
        continue;
      }
      this.onReply(p, m);
    }
  }

  private onReply(p: Pending, m: NlMsg): void {
    if (m.type === NLMSG_ERROR) {
      let e: ReturnType<typeof decodeNlError>;
      try {
        e = decodeNlError(m);
      } catch (err) {
        this.settle(p, err as Error);
        return;
      }
      if (e.error === 0) this.settle(p);
      else this.settle(p, kernelError(e.error, e.extMessage, e.extOffset, p.type));
      return;
    }
    if (m.type === NLMSG_DONE) {
      const code = m.payload.length >= 4 ? m.payload.readInt32LE(0) : 0;
      if (code < 0) this.settle(p, kernelError(code, undefined, undefined, p.type));
      else if (m.flags & NLM_F_DUMP_INTR) {
        this.settle(
          p,
          new SysError(
            SysErrors.KA_ERR_SYS_NETLINK_DUMP_INTR,
            'netlink dump interrupted; repeat it',
            '',
            'netlink',
          ),
        );
      } else this.settle(p);
      return;
    }
    if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) return;
    p.msgs.push(m);
  }

  private settle(p: Pending, err?: Error): void {
    this.pending.delete(p.seq);
    if (err) p.reject(err);
    else p.resolve(p.msgs);
  }

  private takeAllPending(): Pending[] {
    const all = [...this.pending.values()];
    this.pending.clear();
    return all;
  }

  /** Requests waiting for a reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Closes the socket; pending requests reject with KA_ERR_SYS_CLOSED. */
  override close(): void {
    super.close();
    const closed = new SysError(SysErrors.KA_ERR_SYS_CLOSED, 'netlink socket closed', 'EBADF', 'recvmsg');
    for (const p of this.takeAllPending()) p.reject(closed);
  }
}

function kernelError(
  error: number,
  ext: string | undefined,
  offset: number | undefined,
  type: number,
): SysError {
  const name = errnoName(error);
  const text = ext ? `${name}: ${ext}` : name;
  return new SysError(
    SysErrors.KA_ERR_SYS_NETLINK,
    `netlink request type ${type} failed: ${text}`,
    name,
    'netlink',
    {
      extAck: ext,
      extOffset: offset,
      type,
    },
  );
}
