/**
 * UDP sockets through the addon, for what node:dgram cannot do: read the received TTL / hop limit
 * (IP_RECVTTL / IPV6_RECVHOPLIMIT) and destination address (IP_PKTINFO / IPV6_RECVPKTINFO) from
 * control messages, set SO_MARK, and bind to a free port picked at random in a range (BFD, RFC 5881 §4).
 * Receives carry the datagram, its source address and port, destination, ifindex, TTL and MSG_TRUNC.
 */
import {
  decodeCmsgInt,
  decodeCmsgs,
  decodeIn6Pktinfo,
  decodeInPktinfo,
  decodeSockaddrInet,
  ifnameOpt,
  sockaddrIn,
  sockaddrIn6,
} from './abi.js';
import { SysError, SysErrors } from './errors.js';
import { addon, k, type NativeSocket, sys, toSysError } from './native.js';
import { SysSocket } from './socket-base.js';

export interface UdpSocketOptions {
  family: 4 | 6;
  /** IPv6 only: IPV6_V6ONLY (no IPv4-mapped traffic). Default: the kernel's (bindv6only). */
  v6only?: boolean;
  /** Report the TTL / hop limit of received datagrams (IP_RECVTTL / IPV6_RECVHOPLIMIT). Default false. */
  recvTtl?: boolean;
  /** Report the destination address and ifindex (IP_PKTINFO / IPV6_RECVPKTINFO). Default false. */
  recvPktinfo?: boolean;
  /** Unicast TTL / hop limit of sends (IP_TTL / IPV6_UNICAST_HOPS), 1-255. Default: the kernel's. */
  ttl?: number;
  /** SO_MARK, 0..2^32−1 (needs CAP_NET_ADMIN). */
  mark?: number;
  /** SO_BINDTODEVICE. */
  ifname?: string;
}

export interface UdpMessage {
  data: Buffer;
  src: string;
  srcPort: number;
  /** Destination address (with `recvPktinfo`). */
  dst: string | undefined;
  /** Receiving interface index (with `recvPktinfo`). */
  ifindex: number | undefined;
  /** TTL / hop limit (with `recvTtl`). */
  ttl: number | undefined;
  /** The datagram was longer than the receive buffer. */
  truncated: boolean;
}

type UdpEvents = { message: [UdpMessage]; error: [SysError] };

function badArg(message: string, details: Record<string, unknown> = {}): never {
  throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, message, '', '', details);
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Checks the options before any system call; SysError KA_ERR_SYS_BAD_ARG when one is out of range. */
export function checkUdpSocketOptions(o: UdpSocketOptions): void {
  if (o.family !== 4 && o.family !== 6) badArg(`bad family ${String(o.family)}`);
  if (o.ttl !== undefined && !isInt(o.ttl, 1, 255)) badArg(`bad TTL ${String(o.ttl)}`, { ttl: o.ttl });
  if (o.mark !== undefined && !isInt(o.mark, 0, 0xffffffff))
    badArg(`bad mark ${String(o.mark)}`, { mark: o.mark });
  if (o.v6only !== undefined && o.family !== 6) badArg('v6only on an IPv4 socket');
  if (o.ifname !== undefined) ifnameOpt(o.ifname);
}

function checkPort(port: number, min = 0): void {
  if (!isInt(port, min, 65535)) badArg(`bad port ${String(port)}`, { port });
}

/**
 * The ports `bindInRange` tries, in order: one drawn with `random` (in [0, 1)), then the next ones,
 * wrapping, until every port of [min, max] was offered once.
 */
export function* portsInRange(min: number, max: number, random: () => number): Generator<number> {
  checkPort(min, 1);
  checkPort(max, 1);
  if (min > max) badArg(`empty port range ${min}-${max}`, { min, max });
  const span = max - min + 1;
  const r = random();
  if (!(r >= 0 && r < 1)) badArg(`random() gave ${String(r)}, not in [0, 1)`);
  const first = Math.floor(r * span);
  for (let i = 0; i < span; i++) yield min + ((first + i) % span);
}

export class UdpSocket extends SysSocket<UdpEvents> {
  readonly family: 4 | 6;
  private readonly sizeT: number;
  private receiving = false;

  private constructor(sock: NativeSocket, family: 4 | 6) {
    super(sock);
    this.family = family;
    this.sizeT = k('SIZEOF_SIZE_T');
  }

  /** Opens and configures an unbound UDP socket; throws SysError. */
  static open(o: UdpSocketOptions): UdpSocket {
    checkUdpSocketOptions(o);
    const n = addon();
    const ctx = { family: o.family };
    const sock = sys(() => new n.Socket(k(o.family === 4 ? 'AF_INET' : 'AF_INET6'), k('SOCK_DGRAM'), 0), ctx);
    try {
      const set = (level: string, opt: string, v: number | Buffer, extra?: Record<string, unknown>) =>
        sys(() => sock.setsockopt(k(level), k(opt), v), { ...ctx, option: opt, ...extra });
      // the addon passes an int: marks above 2^31−1 go as their two's complement, the same 32 bits
      if (o.mark !== undefined) set('SOL_SOCKET', 'SO_MARK', o.mark | 0, { mark: o.mark });
      if (o.ifname !== undefined) set('SOL_SOCKET', 'SO_BINDTODEVICE', ifnameOpt(o.ifname));
      if (o.family === 4) {
        if (o.ttl !== undefined) set('IPPROTO_IP', 'IP_TTL', o.ttl);
        if (o.recvTtl) set('IPPROTO_IP', 'IP_RECVTTL', 1);
        if (o.recvPktinfo) set('IPPROTO_IP', 'IP_PKTINFO', 1);
      } else {
        if (o.v6only !== undefined) set('IPPROTO_IPV6', 'IPV6_V6ONLY', o.v6only ? 1 : 0);
        if (o.ttl !== undefined) set('IPPROTO_IPV6', 'IPV6_UNICAST_HOPS', o.ttl);
        if (o.recvTtl) set('IPPROTO_IPV6', 'IPV6_RECVHOPLIMIT', 1);
        if (o.recvPktinfo) set('IPPROTO_IPV6', 'IPV6_RECVPKTINFO', 1);
      }
    } catch (e) {
      sock.close();
      throw e;
    }
    return new UdpSocket(sock, o.family);
  }

  private sockaddr(addr: string | undefined, port: number): Buffer {
    if (this.family === 4) return sockaddrIn(addr ?? '0.0.0.0', port);
    return sockaddrIn6(addr ?? '::', port);
  }

  /** Binds to `addr` (default: any) and `port` (0: the kernel picks); throws SysError (EADDRINUSE, ...). */
  bind(addr?: string, port = 0): void {
    checkPort(port);
    const sa = this.sockaddr(addr, port);
    sys(() => this.sock.bind(sa), { addr, port });
  }

  /**
   * Binds to `addr` and a port of [min, max]: a random one, then the next ones while taken
   * (EADDRINUSE). Returns the port; throws the last EADDRINUSE when every port is taken, or any other
   * bind error at once.
   */
  bindInRange(
    addr: string | undefined,
    min: number,
    max: number,
    random: () => number = Math.random,
  ): number {
    let last: unknown;
    for (const port of portsInRange(min, max, random)) {
      try {
        this.bind(addr, port);
        return port;
      } catch (e) {
        if ((e as { errno?: string }).errno !== 'EADDRINUSE') throw e;
        last = e;
      }
    }
    throw last;
  }

  /** The bound address and port (getsockname). */
  address(): { addr: string; port: number } {
    const sa = decodeSockaddrInet(sys(() => this.sock.getsockname()));
    if (!sa) return badArg('getsockname returned no inet address');
    return { addr: sa.addr, port: sa.port };
  }

  /**
   * Starts emitting 'message' (and 'error') events; `bufferSize` (256 B to 16 MiB, the addon's limits)
   * bytes per read, longer datagrams arrive cut and flagged `truncated`.
   */
  startReceiving(bufferSize = 2048): void {
    if (this.receiving) return;
    if (!isInt(bufferSize, 256, 1 << 24)) badArg(`bad receive buffer size ${String(bufferSize)}`);
    const v4 = this.family === 4;
    const lvl = k(v4 ? 'IPPROTO_IP' : 'IPPROTO_IPV6');
    const ttlType = k(v4 ? 'IP_TTL' : 'IPV6_HOPLIMIT');
    const pktType = k(v4 ? 'IP_PKTINFO' : 'IPV6_PKTINFO');
    const truncFlag = k('MSG_TRUNC');
    sys(() =>
      this.sock.startReceiving((err, data, name, control, flags) => {
        if (err || !data || !name || !control) {
          if (this.listenerCount('error') > 0) this.emit('error', toSysError(err) as SysError);
          return;
        }
        const from = decodeSockaddrInet(name);
        let ttl: number | undefined;
        let dst: string | undefined;
        let ifindex: number | undefined;
        for (const c of decodeCmsgs(control, this.sizeT)) {
          if (c.level !== lvl) continue;
          if (c.type === ttlType) ttl = decodeCmsgInt(c.data);
          else if (c.type === pktType) {
            const p = v4 ? decodeInPktinfo(c.data) : decodeIn6Pktinfo(c.data);
            if (p) {
              dst = p.dst;
              ifindex = p.ifindex;
            }
          }
        }
        this.emit('message', {
          data,
          src: from?.addr ?? '',
          srcPort: from?.port ?? 0,
          dst,
          ifindex,
          ttl,
          truncated: ((flags ?? 0) & truncFlag) !== 0,
        });
      }, bufferSize),
    );
    this.receiving = true;
  }

  /** Sends one datagram to `dst` port `port`; returns bytes sent; throws SysError (EAGAIN too). */
  send(data: Buffer, dst: string, port: number): number {
    checkPort(port, 1);
    const name = this.family === 4 ? sockaddrIn(dst, port) : sockaddrIn6(dst, port);
    return sys(() => this.sock.sendmsg(data, name, null, 0), { dst, port });
  }
}
