/**
 * Raw IPv4/IPv6 sockets for VRRP (IP protocol 112), AH (51) and ICMPv6 (58), set up the way
 * keepalived does (shared/reference/wire-and-kernel.md §1.8): bound to the device, multicast loop and
 * multicast_all off, TTL / hop limit 255, TOS / traffic class 0xc0, IPv6 checksum at offset 6.
 * Receives carry the source, destination, ifindex and TTL / hop limit from control messages.
 * IPv4 reads include the IP header (raw socket semantics); IPv6 reads start at the payload.
 */
import {
  addrBytes,
  decodeCmsgInt,
  decodeCmsgs,
  decodeCmsgTimespecUs,
  decodeIn6Pktinfo,
  decodeInPktinfo,
  decodeSockaddrInet,
  encodeCmsgs,
  ifnameOpt,
  in6Pktinfo,
  ipMreqn,
  ipv6Mreq,
  sockaddrIn,
  sockaddrIn6,
  stampToMonotonicUs,
} from './abi.js';
import { SysError, SysErrors } from './errors.js';
import { addon, k, type NativeSocket, sys, toSysError } from './native.js';
import { SysSocket } from './socket-base.js';

export const IPPROTO_VRRP = 112;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;

export interface RawSocketOptions {
  family: 4 | 6;
  /** IP protocol: 112 (VRRP), 51 (AH), 58 (ICMPv6, family 6). */
  protocol: number;
  /** Interface to bind to (SO_BINDTODEVICE) and to send multicast on. */
  ifname?: string;
  /** Interface index for multicast sends/joins; looked up from `ifname` when omitted. */
  ifindex?: number;
  /** IPv4 only: the caller writes the IP header (IP_HDRINCL), as keepalived does. Default false. */
  hdrincl?: boolean;
  /** Local address to bind to (keepalived binds receivers to the group address). */
  bindAddress?: string;
  /** IP_TOS / IPV6_TCLASS. Default 0xc0. */
  tos?: number;
  /** TTL / hop limit for unicast and multicast sends. Default 255. */
  ttl?: number;
  /** IPV6_CHECKSUM offset; default 6 for protocol 112, none otherwise (ICMPv6 is always summed by the kernel). */
  checksumOffset?: number | null;
  /** IP(V6)_MULTICAST_LOOP. Default false. */
  multicastLoop?: boolean;
  /** Start receiving at once (emit 'message'). Default true; false makes a send-only socket. */
  receive?: boolean;
  /** SO_TIMESTAMPNS: messages carry the kernel's receive time (`rxMonotonicUs`). Default false. */
  timestamps?: boolean;
  /** SO_MARK, 0..2^32−1 (needs CAP_NET_ADMIN); a failure names `option: 'SO_MARK'` in its details. */
  mark?: number;
}

export interface RawMessage {
  /** The datagram: for IPv4 starting with the IP header, for IPv6 with the payload. */
  data: Buffer;
  /** Source address of the IP packet. */
  src: string;
  /** Destination address of the IP packet (from IP_PKTINFO / IPV6_PKTINFO). */
  dst: string | undefined;
  /** TTL (IP_RECVTTL) or hop limit (IPV6_RECVHOPLIMIT). */
  ttl: number | undefined;
  /** Receiving interface index. */
  ifindex: number | undefined;
  /** TOS (IP_RECVTOS) or traffic class (IPV6_RECVTCLASS). */
  tos: number | undefined;
  /** The datagram was longer than the receive buffer. */
  truncated: boolean;
  /**
   * With `timestamps`: when the kernel received the packet, on CLOCK_MONOTONIC in integer µs (the clock
   * of `systemClock`), converted from the SO_TIMESTAMPNS realtime stamp.
   */
  rxMonotonicUs?: number;
}

export interface RawSendOptions {
  /** IPv6: source address, sent in an IPV6_PKTINFO cmsg (keepalived sends the link-local). */
  src?: string;
  /** IPv6: outgoing interface in the IPV6_PKTINFO cmsg (default: the socket's ifindex). */
  ifindex?: number;
  /** Extra sendmsg flags (e.g. MSG_DONTROUTE). */
  flags?: number;
}

type RawEvents = { message: [RawMessage]; error: [SysError] };

export class RawSocket extends SysSocket<RawEvents> {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly ifindex: number;
  private readonly sizeT: number;

  private constructor(sock: NativeSocket, family: 4 | 6, protocol: number, ifindex: number) {
    super(sock);
    this.family = family;
    this.protocol = protocol;
    this.ifindex = ifindex;
    this.sizeT = k('SIZEOF_SIZE_T');
  }

  /** Opens and configures a raw socket; throws SysError (e.g. errno ENODEV for a missing interface). */
  static open(o: RawSocketOptions): RawSocket {
    if (o.family !== 4 && o.family !== 6) {
      throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, `bad family ${String(o.family)}`, '', 'socket');
    }
    if (!Number.isInteger(o.protocol) || o.protocol < 1 || o.protocol > 255) {
      throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, `bad IP protocol ${String(o.protocol)}`, '', 'socket');
    }
    if (o.mark !== undefined && !(Number.isInteger(o.mark) && o.mark >= 0 && o.mark <= 0xffffffff)) {
      throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, `bad mark ${String(o.mark)}`, '', 'socket', {
        option: 'SO_MARK',
      });
    }
    const n = addon();
    const ctx = { ifname: o.ifname, family: o.family, protocol: o.protocol };
    const sock = sys(
      () => new n.Socket(k(o.family === 4 ? 'AF_INET' : 'AF_INET6'), k('SOCK_RAW'), o.protocol),
      ctx,
    );
    try {
      const ifindex = o.ifindex ?? (o.ifname !== undefined ? sys(() => n.ifNameToIndex(o.ifname!), ctx) : 0);
      const set = (level: string, opt: string, v: number | Buffer) =>
        sys(() => sock.setsockopt(k(level), k(opt), v), ctx);
      // the addon passes an int: marks above 2^31−1 go as their two's complement, the same 32 bits
      if (o.mark !== undefined)
        sys(() => sock.setsockopt(k('SOL_SOCKET'), k('SO_MARK'), o.mark! | 0), {
          ...ctx,
          option: 'SO_MARK',
          mark: o.mark,
        });
      if (o.ifname !== undefined) set('SOL_SOCKET', 'SO_BINDTODEVICE', ifnameOpt(o.ifname));
      const ttl = o.ttl ?? 255;
      const tos = o.tos ?? 0xc0;
      const loop = o.multicastLoop ? 1 : 0;
      if (o.family === 4) {
        if (o.hdrincl) set('IPPROTO_IP', 'IP_HDRINCL', 1);
        set('IPPROTO_IP', 'IP_MULTICAST_ALL', 0);
        set('IPPROTO_IP', 'IP_MULTICAST_LOOP', loop);
        set('IPPROTO_IP', 'IP_MULTICAST_TTL', ttl);
        set('IPPROTO_IP', 'IP_TTL', ttl);
        set('IPPROTO_IP', 'IP_TOS', tos);
        if (ifindex) set('IPPROTO_IP', 'IP_MULTICAST_IF', ipMreqn('0.0.0.0', ifindex));
        set('IPPROTO_IP', 'IP_PKTINFO', 1);
        set('IPPROTO_IP', 'IP_RECVTTL', 1);
        set('IPPROTO_IP', 'IP_RECVTOS', 1);
        if (o.bindAddress !== undefined) sys(() => sock.bind(sockaddrIn(o.bindAddress!)), ctx);
      } else {
        const csum =
          o.checksumOffset === undefined ? (o.protocol === IPPROTO_VRRP ? 6 : null) : o.checksumOffset;
        if (csum !== null) set('IPPROTO_IPV6', 'IPV6_CHECKSUM', csum);
        set('IPPROTO_IPV6', 'IPV6_MULTICAST_ALL', 0);
        set('IPPROTO_IPV6', 'IPV6_MULTICAST_LOOP', loop);
        set('IPPROTO_IPV6', 'IPV6_MULTICAST_HOPS', ttl);
        set('IPPROTO_IPV6', 'IPV6_UNICAST_HOPS', ttl);
        set('IPPROTO_IPV6', 'IPV6_TCLASS', tos);
        if (ifindex) set('IPPROTO_IPV6', 'IPV6_MULTICAST_IF', ifindex);
        set('IPPROTO_IPV6', 'IPV6_RECVPKTINFO', 1);
        set('IPPROTO_IPV6', 'IPV6_RECVHOPLIMIT', 1);
        set('IPPROTO_IPV6', 'IPV6_RECVTCLASS', 1);
        if (o.bindAddress !== undefined) sys(() => sock.bind(sockaddrIn6(o.bindAddress!, 0, ifindex)), ctx);
      }
      const rs = new RawSocket(sock, o.family, o.protocol, ifindex);
      if (o.timestamps) set('SOL_SOCKET', 'SO_TIMESTAMPNS', 1);
      if (o.receive === false) set('SOL_SOCKET', 'SO_RCVBUF', 0);
      else rs.startReceiving();
      return rs;
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  private startReceiving(): void {
    const v4 = this.family === 4;
    const lvl = k(v4 ? 'IPPROTO_IP' : 'IPPROTO_IPV6');
    const pktinfo = k(v4 ? 'IP_PKTINFO' : 'IPV6_PKTINFO');
    const ttlType = k(v4 ? 'IP_TTL' : 'IPV6_HOPLIMIT');
    const tosType = k(v4 ? 'IP_TOS' : 'IPV6_TCLASS');
    const truncFlag = k('MSG_TRUNC');
    const solSocket = k('SOL_SOCKET');
    const stampType = k('SO_TIMESTAMPNS'); // SCM_TIMESTAMPNS has the same value
    sys(() =>
      this.sock.startReceiving((err, data, name, control, flags, realtimeUs, monotonicUs) => {
        if (err || !data || !name || !control) {
          const e = toSysError(err) as SysError;
          if (this.listenerCount('error') > 0) this.emit('error', e);
          return;
        }
        const from = decodeSockaddrInet(name);
        let dst: string | undefined;
        let ifindex: number | undefined;
        let ttl: number | undefined;
        let tos: number | undefined;
        let rxMonotonicUs: number | undefined;
        for (const c of decodeCmsgs(control, this.sizeT)) {
          if (c.level === solSocket && c.type === stampType) {
            const stamp = decodeCmsgTimespecUs(c.data, this.sizeT);
            if (stamp !== undefined && realtimeUs !== undefined && monotonicUs !== undefined) {
              const mono = stampToMonotonicUs(stamp, realtimeUs, monotonicUs);
              if (mono !== undefined) rxMonotonicUs = Math.round(mono);
            }
            continue;
          }
          if (c.level !== lvl) continue;
          if (c.type === pktinfo) {
            const p = v4 ? decodeInPktinfo(c.data) : decodeIn6Pktinfo(c.data);
            if (p) {
              dst = p.dst;
              ifindex = p.ifindex;
            }
          } else if (c.type === ttlType) {
            ttl = decodeCmsgInt(c.data);
          } else if (c.type === tosType) {
            tos = decodeCmsgInt(c.data);
          }
        }
        this.emit('message', {
          data,
          src: from?.addr ?? '',
          dst,
          ttl,
          ifindex,
          tos,
          truncated: ((flags ?? 0) & truncFlag) !== 0,
          ...(rxMonotonicUs !== undefined ? { rxMonotonicUs } : {}),
        });
      }),
    );
  }

  /** Joins a multicast group on `ifindex` (default: the socket's interface). */
  join(group: string, ifindex = this.ifindex): void {
    this.membership(true, group, ifindex);
  }

  leave(group: string, ifindex = this.ifindex): void {
    this.membership(false, group, ifindex);
  }

  private membership(add: boolean, group: string, ifindex: number): void {
    const ctx = { group, ifindex };
    if (this.family === 4) {
      const mreq = ipMreqn(group, ifindex);
      const opt = k(add ? 'IP_ADD_MEMBERSHIP' : 'IP_DROP_MEMBERSHIP');
      sys(() => this.sock.setsockopt(k('IPPROTO_IP'), opt, mreq), ctx);
    } else {
      const mreq = ipv6Mreq(group, ifindex);
      const opt = k(add ? 'IPV6_JOIN_GROUP' : 'IPV6_LEAVE_GROUP');
      sys(() => this.sock.setsockopt(k('IPPROTO_IPV6'), opt, mreq), ctx);
    }
  }

  /**
   * Sends one datagram to `dst`. IPv4 with hdrincl: `data` starts with the caller's IP header.
   * IPv6: `src`/`ifindex` go into an IPV6_PKTINFO cmsg. Returns bytes sent; throws SysError (EAGAIN too).
   */
  send(data: Buffer, dst: string, o: RawSendOptions = {}): number {
    const { name, control } = this.message(dst, o);
    return sys(() => this.sock.sendmsg(data, name, control, o.flags ?? 0), { dst });
  }

  /** Builds what `send(_, dst, o)` would pass to sendmsg and sends nothing (checks `dst`; warms the path). */
  prepare(dst: string, o: RawSendOptions = {}): void {
    this.message(dst, o);
  }

  private message(dst: string, o: RawSendOptions): { name: Buffer; control: Buffer | null } {
    if (this.family === 4) return { name: sockaddrIn(dst), control: null };
    addrBytes(dst, 6);
    const name = sockaddrIn6(dst, 0, this.ifindex);
    const control =
      o.src !== undefined || o.ifindex !== undefined
        ? encodeCmsgs(
            [
              {
                level: k('IPPROTO_IPV6'),
                type: k('IPV6_PKTINFO'),
                data: in6Pktinfo(o.src ?? '::', o.ifindex ?? this.ifindex),
              },
            ],
            this.sizeT,
          )
        : null;
    return { name, control };
  }
}
